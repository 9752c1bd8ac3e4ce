"""Config errors before any job, through Snakemake itself: a bad config stops `snakemake` while it parses
the workflow, with one line per mistake naming its key, before the DAG is built and before any job runs.

A few representative mistakes (each Snakemake start costs seconds); every mistake's line is checked
without Snakemake in tests/test_config_schema.py. Marked faults: `make test-faults`.
"""

import copy
import json
import math
import re

import pytest
import yaml
from snakemake_run import copy_workflow, snakemake
from test_training import TINY, shards  # noqa: F401  (shards is a fixture)

from canguard.config_checks import cuda_available

pytestmark = pytest.mark.faults

SCHEMA_MISTAKES = {
    "models": {"sizes": {"gat": {"teacher": {"hiden": 32}, "student": {"layers": 0}}}},
    "training": {"devices": "banana", "accelerator": "tpu"},
}
SCHEMA_LINES = [
    "config error: models.sizes.gat.teacher.hiden: unknown key, did you mean hidden? (allowed: hidden, layers, heads, "
    "id_dim, dropout, share_weights, norm, act)",
    "config error: models.sizes.gat.student.layers: 0 is not valid (allowed: an integer in [1, 64])",
    "config error: training.accelerator: 'tpu' is not valid (allowed: \"auto\", \"cpu\", \"gpu\", \"cuda\", \"mps\")",
    "config error: training.devices: 'banana' is not valid (allowed: \"auto\", a positive integer (a device count), "
    "-1 (every GPU), a list of device indices, or a string like \"0,1\")",
]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("faults_config"))


def run_with(work, name: str, config: dict, *args: str, **kw):
    """Snakemake on config/test.yaml with ``config`` over it; ``.lines``: what it printed (a dry run prints
    its messages on stdout, a run on stderr), line by line."""
    (work / "config" / f"{name}.yaml").write_text(yaml.safe_dump(config))
    run = snakemake(work, *args, configfiles=("config/test.yaml", f"config/{name}.yaml"), timeout=120, **kw)
    run.lines = (run.stdout + "\n" + run.stderr).splitlines()
    return run


def stopped_before_any_job(run) -> None:
    text = "\n".join(run.lines)
    assert run.returncode != 0, text[-3000:]
    assert "Building DAG of jobs" not in text, text[-3000:]
    assert not any(line.startswith(("rule ", "localrule ", "checkpoint ")) for line in run.lines), text[-3000:]
    assert "Error validating config file" not in text  # Snakemake's own, multi-line validation message


def test_schema_mistakes_stop_a_real_run_before_any_job_all_at_once(work):
    run = run_with(work, "schema", SCHEMA_MISTAKES)
    stopped_before_any_job(run)
    lines = run.lines
    for line in SCHEMA_LINES:
        assert line in lines, run.stdout[-1500:] + run.stderr[-1500:]
    assert not (work / "results").exists() and not (work / "logs").exists()


def test_an_empty_family_list_stops_the_dry_run(work):
    run = run_with(work, "families", {"models": {"families": []}}, "--dry-run")
    stopped_before_any_job(run)
    assert ('config error: models.families: [] is not valid (allowed: a non-empty list of: "gat", "vgae"; no repeats)'
            in run.lines), run.stdout[-1500:] + run.stderr[-1500:]


def test_a_dataset_run_lists_but_none_defines_stops_the_dry_run(work):
    run = run_with(work, "undefined", {"run": ["synthetic", "hcrl"]}, "--dry-run")
    stopped_before_any_job(run)
    assert ("config error: run[1]: 'hcrl' is not a dataset (defined under datasets: synthetic)"
            in run.lines), run.stdout[-1500:] + run.stderr[-1500:]


def test_a_stride_longer_than_the_window_is_a_warning(work):
    run = run_with(work, "stride", {"windows": {"size": 50, "stride": 80}}, "--dry-run")
    assert run.returncode == 0, run.stdout[-1500:] + run.stderr[-1500:]
    assert ("config warning: windows.stride: 80 > windows.size 50: after each window 30 messages are in no window "
            "(never scored)" in run.lines), run.stdout[-1500:] + run.stderr[-1500:]


def test_gpu_requests_locally_and_on_slurm(work):
    if cuda_available():
        pytest.skip("this machine has a CUDA GPU")
    gpu = {"training": {"accelerator": "cuda"}, "evaluation": {"efficiency": {"device": "cuda"}}}
    local = run_with(work, "gpu", gpu, "--dry-run")
    stopped_before_any_job(local)
    lines = local.lines
    assert any(line.startswith("config error: evaluation.efficiency.device: 'cuda', but this machine has no CUDA GPU")
               for line in lines), local.stdout[-1500:] + local.stderr[-1500:]
    assert any(line.startswith("config warning: training.accelerator: 'cuda' asks for a GPU") for line in lines)
    # on SLURM the train jobs go to the GPU partition: only the efficiency jobs (cpu partition) are warned about
    slurm = run_with(work, "gpu", gpu, "--dry-run", "--profile", "profiles/slurm")
    assert slurm.returncode == 0, slurm.stdout[-1500:] + slurm.stderr[-1500:]
    lines = slurm.lines
    assert any(line.startswith("config warning: evaluation.efficiency.device: 'cuda', but rule efficiency is given no "
                               "GPU on SLURM") for line in lines), slurm.stdout[-1500:] + slurm.stderr[-1500:]
    assert not any(line.startswith("config warning: training.accelerator") for line in lines)


# --- numbers are finite (NaN, +-infinity), config files that are not YAML or not a mapping, NaN in training ---

NONFINITE_YAML = """\
training: {grad_clip: .nan, lr: .nan, beta: .inf}
tuning: {memory_budget_mb: .inf}
synthetic: {duration_s: .nan}
models: {sizes: {gat: {teacher: {dropout: .nan}}}}
evaluation: {false_alarms_per_hour: -.inf}
"""
NONFINITE_JSON = '{"training": {"kl_weight": Infinity, "min_delta": NaN}}'  # JSON's spellings, which Python reads
NONFINITE_LINES = [
    "config error: training.grad_clip: nan is not a finite number (allowed: a number >= 0)",
    "config error: training.lr: nan is not a finite number (allowed: a number in (0, 10])",
    "config error: training.beta: inf is not a finite number (allowed: a number >= 0)",
    "config error: training.kl_weight: inf is not a finite number (allowed: a number >= 0)",
    "config error: training.min_delta: nan is not a finite number (allowed: a number >= 0)",
    "config error: tuning.memory_budget_mb: inf is not a finite number (allowed: a number > 0, or null)",
    "config error: synthetic.duration_s: nan is not a finite number (allowed: a number in [2, 86400])",
    "config error: models.sizes.gat.teacher.dropout: nan is not a finite number (allowed: a number in [0, 1))",
    "config error: evaluation.false_alarms_per_hour: -inf is not a finite number (allowed: a number in (0, 3600000])",
]


def test_nan_and_infinity_in_config_numbers_stop_a_real_run_before_any_job_naming_each_key(work):
    """`training: {grad_clip: .nan}` trained and saved a NaN model; `lr: .nan` failed late in torch: now every
    NaN or infinity, YAML's or JSON's, is one line with its key path, all at once, before any job."""
    (work / "config" / "nonfinite.yaml").write_text(NONFINITE_YAML)
    (work / "config" / "nonfinite.json").write_text(NONFINITE_JSON)
    run = snakemake(work, configfiles=("config/test.yaml", "config/nonfinite.yaml", "config/nonfinite.json"),
                    timeout=120)
    run.lines = (run.stdout + "\n" + run.stderr).splitlines()
    stopped_before_any_job(run)
    for line in NONFINITE_LINES:
        assert line in run.lines, run.stdout[-1500:] + run.stderr[-1500:]
    assert len([line for line in run.lines if line.startswith("config error:")]) == len(NONFINITE_LINES)
    assert not (work / "results").exists() and not (work / "logs").exists()


def _numeric_keys(schema, root, path=""):
    """(key path, schema) of every key of the schema that takes a number or an integer (datasets.*.spec as
    datasets.synthetic.spec, per-vehicle enrollment as enrollment.vehicles.v)."""
    from canguard.config_checks.schema import _resolve, _takes_numbers

    schema = _resolve(schema, root)
    if _takes_numbers(schema, root):
        yield path, schema
    for key, sub in schema.get("properties", {}).items():
        yield from _numeric_keys(sub, root, f"{path}.{key}" if path else key)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and path in ("datasets", "enrollment.vehicles"):
        yield from _numeric_keys(extra, root, f"{path}.{'synthetic' if path == 'datasets' else 'v'}")


def test_every_numeric_key_refuses_nan_and_infinity_unless_its_schema_allows_them():
    """All 21 number keys took .nan (6 also .inf, having no maximum), the integer keys said 'not valid': each
    numeric key of the schema, with NaN, +inf and -inf, now gives exactly one line naming it; a key whose entry
    says `allowNonFinite: true` takes them."""
    from snakemake_run import REPO

    from canguard.config_checks import load_schema, validate_config

    schema_path = REPO / "workflow/schemas/config.schema.yaml"
    schema = load_schema(schema_path)
    keys = list(_numeric_keys(schema, schema))
    assert sum(1 for _, sub in keys if sub.get("type") in ("number", ["number", "null"])) >= 21
    base = yaml.safe_load((REPO / "config/test.yaml").read_text())
    base.setdefault("datasets", {}).setdefault("synthetic", {"synthetic": True})
    for path, _ in keys:
        for value in (float("nan"), float("inf"), float("-inf")):
            config = copy.deepcopy(base)
            node, parts = config, path.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
            lines = validate_config(config, schema_path)
            assert len(lines) == 1 and lines[0].startswith(
                f"config error: {path}: {value!r} is not a finite number (allowed: "), (path, value, lines)
    allowing = {"type": "object", "properties": {"x": {"type": "number", "minimum": 0, "allowNonFinite": True},
                                                 "y": {"type": "number", "minimum": 0}}}
    assert validate_config({"x": float("inf"), "y": 1.0}, allowing) == []
    assert validate_config({"x": 1.0, "y": float("inf")}, allowing) == [
        "config error: y: inf is not a finite number (allowed: a number >= 0)"]


def test_nan_and_infinity_in_canguard_train_settings_are_refused_in_one_line_each(tmp_path, capsys):
    """`canguard train` reads no schema: its --config JSON (NaN, Infinity), its --configfile and the settings
    they make are checked for NaN and infinity by name, exit 2, before any training."""
    from canguard.cli import main

    common = ["train", "--model", "gat", "--shards", str(tmp_path / "none"), "--out", str(tmp_path / "out")]
    assert main([*common, "--configfile", "none", "--config", '{"learning_rate": NaN, "grad_clip": Infinity}']) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["canguard train: --config: learning_rate: nan is not a finite number",
                   "canguard train: --config: grad_clip: inf is not a finite number"]
    configfile = tmp_path / "nan.yaml"
    configfile.write_text("training: {grad_clip: .nan}\n")
    assert main([*common, "--configfile", str(configfile)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"canguard train: config error: {configfile}: training.grad_clip: nan is not a finite number"]
    assert not (tmp_path / "out").exists()
    from canguard.training.config import TrainConfig

    with pytest.raises(ValueError, match=r"^training\.lr: -inf is not a finite number$"):
        TrainConfig.from_dict({"lr": float("-inf")})  # what a hardware preset's settings pass through too


BAD_YAML = "training:\n  lr: 1.0e-3\n  grad_clip: [1\n"  # an unclosed flow list
BAD_YAML_LINE = ("config error: {path}, line 4, column 1: not valid YAML: expected ',' or ']', but got "
                 "'<stream end>' (while parsing a flow sequence that starts at line 3, column 14)")
LIST_YAML = "# a list, not a mapping\n- training\n- lr\n"
LIST_YAML_LINE = ("config error: {path}, line 2, column 1: the top level is a list, not a mapping of config "
                  "sections (e.g. training: {{lr: 1.0e-3}})")


def test_a_yaml_syntax_error_or_a_top_level_list_names_the_file_and_line(tmp_path, capsys):
    """Snakemake's own message for both ('Config file is not valid JSON or YAML', 'must be given as JSON or
    YAML with keys at top level') names no file: `make run | dry-run | plan` check the files first
    (`python -m canguard.config_checks`), the Snakefile checks config/config.yaml, `canguard train` its
    --configfile: one line naming the file and line, exit 2, no traceback, no job."""
    import subprocess
    import sys
    from pathlib import Path

    from snakemake_run import REPO, copy_workflow

    from canguard.cli import main

    bad, listed = tmp_path / "bad.yaml", tmp_path / "listed.yaml"
    bad.write_text(BAD_YAML)
    listed.write_text(LIST_YAML)
    expected = [BAD_YAML_LINE.format(path=bad), LIST_YAML_LINE.format(path=listed)]
    check = subprocess.run([sys.executable, "-m", "canguard.config_checks", str(bad), str(listed)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 2 and check.stderr.splitlines() == expected, check.stderr
    # make dry-run CONFIG=... (the virtualenv's stamp taken as up to date: no reinstall from a test)
    venv = Path(sys.executable).parent.parent
    for path, line in zip((bad, listed), expected):
        run = subprocess.run(["make", "-s", "-o", f"{venv}/.canguard-installed", "dry-run", f"CONFIG={path}",
                              f"VENV={venv}"], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert run.returncode == 2, run.stdout[-1500:] + run.stderr[-1500:]
        assert run.stderr.splitlines()[0] == line, run.stderr
        assert "WorkflowError" not in run.stderr and "Traceback" not in run.stderr and "Building DAG" not in run.stdout
    # plain snakemake: a broken config/config.yaml (the Snakefile's own config file)
    (tmp_path / "wf").mkdir()
    work = copy_workflow(tmp_path / "wf")
    (work / "config" / "config.yaml").write_text(BAD_YAML)
    run = snakemake(work, "--dry-run", configfiles=(), timeout=120)
    assert run.returncode != 0
    assert BAD_YAML_LINE.format(path="config/config.yaml") in (run.stdout + run.stderr).splitlines(), run.stderr
    assert "Building DAG of jobs" not in run.stdout + run.stderr
    # canguard train --configfile
    assert main(["train", "--model", "gat", "--shards", str(tmp_path / "none"), "--configfile", str(listed)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"canguard train: {expected[1]}"]


def _all_finite_on_disk(run_dir):
    """Every checkpoint under ``run_dir`` loads and holds finite tensors only (weights, optimiser state)."""
    import torch

    from canguard.training.checkpoint import load_checkpoint

    found = sorted(run_dir.rglob("*.ckpt"))
    for path in found:
        state, meta = load_checkpoint(path)
        stack = [state]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                stack += list(node.values())
            elif isinstance(node, (list, tuple)):
                stack += list(node)
            elif isinstance(node, torch.Tensor) and node.is_floating_point():
                assert torch.isfinite(node).all(), path
        for value in meta.get("metrics", {}).values():
            assert not isinstance(value, float) or math.isfinite(value), (path, meta)
    return found


@pytest.mark.parametrize("where", ["loss", "gradient", "weights"])
def test_training_that_meets_nan_stops_naming_model_epoch_and_batch_and_saves_no_nan(
        shards, tmp_path, monkeypatch, capsys, where):  # noqa: F811
    """A NaN loss (epoch 1, batch 3), a NaN gradient with a finite loss (the same batch), NaN weights after the
    last step of epoch 1: training stops with NonFiniteError, one line naming the model, its folder, the epoch
    and the batch; on disk only epoch 0's checkpoints (step 5), all finite, no best.ckpt; the rerun resumes from
    them and ends with finite weights. `canguard train` says it in one line, exit 1."""
    import torch

    from canguard.cli import main
    from canguard.training.checkpoint import CheckpointSeries
    from canguard.training.config import TrainConfig
    from canguard.training.finite import NonFiniteError
    from canguard.training.run import train_model
    from canguard.training.tasks import ClassifierTask

    settings = TrainConfig(max_epochs=2, batch_size=32, lr=3e-3, patience=10, warmup_epochs=0, max_steps_per_epoch=5)
    real_loss, real_step, calls = ClassifierTask.training_loss, torch.optim.AdamW.step, {"loss": 0, "step": 0}

    def poisoned_loss(self, batch):
        loss, logs = real_loss(self, batch)
        calls["loss"] += 1
        if calls["loss"] == 8 and where == "loss":
            loss = loss * float("nan")
        elif calls["loss"] == 8 and where == "gradient":  # sqrt at 0: a finite value, a NaN gradient
            loss = loss + (0 * sum(p.sum() for p in self.trainable.parameters())).sqrt()
        return loss, logs

    def poisoned_step(self, *args, **kwargs):
        out = real_step(self, *args, **kwargs)
        calls["step"] += 1
        if calls["step"] == 10 and where == "weights":  # the last step of epoch 1
            with torch.no_grad():
                self.param_groups[0]["params"][0].fill_(float("nan"))
        return out

    monkeypatch.setattr(ClassifierTask, "training_loss", poisoned_loss)
    monkeypatch.setattr(torch.optim.AdamW, "step", poisoned_step)
    out = tmp_path / "run"
    expected = {"loss": r"training loss is nan at epoch 1, batch 3 of 5 \(before optimiser step 8\)",
                "gradient": r"gradient norm is nan at epoch 1, batch 3 of 5 \(before optimiser step 8\)",
                "weights": r"non-finite weights after epoch 1 \("}[where]
    with pytest.raises(NonFiniteError, match=rf"^gat teacher in {re.escape(str(out))}: {expected}") as caught:
        train_model(shards, "gat", "teacher", settings, out, sizes=TINY["gat"])
    assert "\n" not in str(caught.value)
    found = _all_finite_on_disk(out)
    best, last = (CheckpointSeries(out / "checkpoints", prefix) for prefix in ("best", "last"))
    assert best.steps() == [5] and last.steps() == [5] and len(found) == 2, found  # epoch 0's, nothing later
    assert not (out / "best.ckpt").exists()
    assert last.latest()[2]["epoch"] == 0
    if where == "loss":  # the command line: one line, exit 1
        calls["loss"] = 0
        config = json.dumps(settings.to_dict() | {"sizes": TINY["gat"]})
        capsys.readouterr()
        assert main(["train", "--model", "gat", "--shards", str(shards), "--out", str(tmp_path / "cli"),
                     "--config", config, "--configfile", "none"]) == 1
        err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("canguard train:")]
        assert len(err) == 1 and "training loss is nan at epoch 1, batch 3 of 5" in err[0], err
        assert _all_finite_on_disk(tmp_path / "cli")
    monkeypatch.undo()
    summary = train_model(shards, "gat", "teacher", settings, out, sizes=TINY["gat"])  # resumes after epoch 0
    assert summary["epochs_run"] == 2 and summary["global_steps"] == 10
    assert out / "best.ckpt" in _all_finite_on_disk(out) and max(last.steps()) == 10


@pytest.mark.parametrize("setting", ["lr", "grad_clip"])
def test_a_nan_setting_that_bypasses_the_schema_is_refused_before_training_writes_anything(
        shards, tmp_path, setting):  # noqa: F811
    """A TrainConfig made by hand, or a tuner's NaN suggestion (apply_tuning): NonFiniteError naming the
    setting before Fabric starts; the output folder is not even made."""
    from canguard.training.config import TrainConfig
    from canguard.training.finite import NonFiniteError
    from canguard.training.run import train_model

    settings = TrainConfig(max_epochs=1, batch_size=32, max_steps_per_epoch=2)
    setattr(settings, setting, float("nan"))
    with pytest.raises(NonFiniteError, match=rf"gat teacher in .*: training setting {setting}=nan is not a finite "
                       "number: refused before the first step, nothing written"):
        train_model(shards, "gat", "teacher", settings, tmp_path / "run", sizes=TINY["gat"])
    assert not (tmp_path / "run").exists()
