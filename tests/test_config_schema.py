"""The schema is the one source of defaults and the one description of every config key.

Each key has a description and a default; the dataclasses that mirror a section hold the same
defaults; config/config.yaml repeats none of them; and every key is read by the workflow, by the
dataclass its section becomes, or by the function its section is handed to.

Every key is typed and bounded and every mapping rejects unknown keys; canguard.config_checks turns
each mistake into one line naming its key path and what is allowed, and checks keys against each
other (the GPU a config asks for against the machine and the executor). The same mistakes through
Snakemake itself: tests/test_faults_config.py.
"""

import copy
import dataclasses
import inspect
import re
import subprocess
import sys
import typing

import pytest
import yaml
from snakemake.utils import validate
from snakemake_run import REPO

from canguard.config_checks import ConfigError, check_workflow_config, cross_check, detect_executor, validate_config
from canguard.detectors import FAMILIES, all_names
from canguard.models.sizes import DEFAULT_SIZES
from canguard.profiles import plan
from canguard.simulate import SyntheticSpec
from canguard.training.config import TrainConfig

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
RULES = "\n".join(p.read_text() for p in sorted((REPO / "workflow/rules").glob("*.smk")))

# sections handed whole to code that reads them: section -> (what reads it, its source)
WHOLE_SECTIONS = {
    "training": inspect.getsource(TrainConfig),
    "synthetic": inspect.getsource(SyntheticSpec),
    "enrollment": inspect.getsource(plan.plan_enrollment),
    "split": inspect.getsource(__import__("canguard.graphs.split", fromlist=["x"]).split_training_windows),
    "evaluation.efficiency": (REPO / "src/canguard/stages/efficiency.py").read_text(),
    "evaluation.incidents": inspect.getsource(__import__("canguard.evaluation.incidents",
                                                         fromlist=["x"]).IncidentRule),
}
# keys without a default, and why
NO_DEFAULT = {"datasets.*.root": "derived: datasets/<name>, or results/<run>/simulate/<name> for a synthetic one",
              "datasets.*.format": "falls back to ingest.format"}


def leaves(node: dict, path: str = ""):
    """(dotted path, schema) of every key that holds a value, datasets.<name>.* as datasets.*.*"""
    for key, sub in node.get("properties", {}).items():
        p = f"{path}.{key}" if path else key
        if "properties" in sub:
            yield from leaves(sub, p)
        else:
            yield p, sub
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and "properties" in extra:
            yield from leaves(extra, f"{p}.*")


def section(path: str) -> dict:
    node = SCHEMA
    for key in path.split("."):
        node = node["properties"][key]
    return node["properties"]


def test_every_key_has_a_description_and_a_default():
    for path, sub in leaves(SCHEMA):
        assert sub.get("description"), path
        assert "default" in sub or path in NO_DEFAULT, path


def test_dataclasses_mirror_the_schema_defaults():
    for name, cls, own in (("training", TrainConfig, {"seed"}), ("synthetic", SyntheticSpec, set())):
        fields = {f.name: f.default for f in dataclasses.fields(cls)}
        props = section(name)
        assert set(fields) - own == set(props), name
        for key, default in fields.items():
            if key in own:
                continue
            value = props[key]["default"]
            assert (list(default) if isinstance(default, tuple) else default) == value, f"{name}.{key}"


def test_the_default_config_repeats_no_default():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())

    def walk(values: dict, node: dict, path: str = ""):
        for key, value in values.items():
            sub = node["properties"][key]
            p = f"{path}.{key}" if path else key
            if isinstance(value, dict) and "properties" in sub:
                walk(value, sub, p)
            elif key not in ("datasets", "run"):
                assert value != sub.get("default"), f"config/config.yaml repeats the default of {p}"

    walk(config, SCHEMA)


def test_every_key_is_read():
    for path, _ in leaves(SCHEMA):
        parts = path.split(".")
        key = parts[-1]
        whole = next((WHOLE_SECTIONS[s] for s in WHOLE_SECTIONS if path.startswith(s + ".")), None)
        if whole is not None:
            assert re.search(rf"\b{key}\b", whole) or f'["{key}"]' in RULES, f"{path}: read by nothing"
        elif parts[0] == "datasets" and len(parts) > 2:
            assert re.search(rf'(\["{key}"\]|get\("{key}"|setdefault\("{key}")', RULES), path
        else:
            access = "".join(f'["{p}"]' for p in parts)
            assert f"config{access}" in RULES or (len(parts) == 1 and f'config.get("{key}")' in RULES), path


# ------------------------------------------------------------------------------------------------
# config errors before any job (canguard.config_checks): every mistake one line naming its key

SCHEMA_PATH = REPO / "workflow/schemas/config.schema.yaml"
SHIPPED = ("config/test.yaml", "config/hcrl_sa.yaml", "config/hcrl_sa_fleet.yaml")


def merged(*layers: dict) -> dict:
    """Config layers merged as Snakemake merges --configfile's over config/config.yaml (nested mappings
    updated key by key)."""
    out: dict = {}
    for layer in layers:
        for key, value in copy.deepcopy(layer).items():
            out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def config_with(*files: str, extra: dict | None = None) -> dict:
    layers = [yaml.safe_load((REPO / f).read_text()) or {} for f in ("config/config.yaml", *files)]
    return merged(*layers, extra or {})


def errors_of(extra: dict) -> list[str]:
    """Schema errors of config/test.yaml with ``extra`` over it."""
    return validate_config(config_with("config/test.yaml", extra=extra), SCHEMA_PATH)


def checked(extra: dict, **kw) -> tuple[list[str], list[str]]:
    """(errors, warnings) of the cross-key checks of config/test.yaml with ``extra`` (which the schema passes)."""
    config = config_with("config/test.yaml", extra=extra)
    assert validate_config(config, SCHEMA_PATH) == []
    kw.setdefault("gpu_available", lambda: False)
    kw.setdefault("module_available", lambda name: False)
    return cross_check(config, **kw)


def no_gpu_asked():
    raise AssertionError("asked whether this machine has a GPU, although the config asks for none")


@pytest.mark.parametrize("files", [(), *((f,) for f in SHIPPED)], ids=["config.yaml", *SHIPPED])
def test_the_shipped_configs_validate_and_pass_the_checks(files):
    config = config_with(*files)
    assert validate_config(config, SCHEMA_PATH) == []
    assert cross_check(config, gpu_available=no_gpu_asked) == ([], [])


@pytest.mark.parametrize("files", [(), *((f,) for f in SHIPPED)], ids=["config.yaml", *SHIPPED])
def test_defaults_are_filled_in_as_snakemake_fills_them(files):
    ours, theirs = config_with(*files), config_with(*files)
    assert validate_config(ours, SCHEMA_PATH) == []
    validate(theirs, str(SCHEMA_PATH))
    assert ours == theirs
    assert ours["training"]["devices"] == "auto" and ours["models"]["sizes"].get("vgae", {}) == theirs["models"][
        "sizes"].get("vgae", {})


def test_the_values_the_key_test_sets_pass_the_schema():
    """tests/test_config_keys.py (slow) changes every key alone: each of its values is valid."""
    from test_config_keys import KEYS, changed, effective_config, get, nested

    effective = effective_config()
    for path, sub in KEYS:
        value = changed(path, sub, copy.deepcopy(get(effective, path)))
        assert errors_of(nested(path, value)) == [], path


def every_object(node, path="$"):
    """(path, schema) of every mapping the schema describes, $defs included."""
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield path, node
        for key, sub in node.items():
            yield from every_object(sub, f"{path}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from every_object(sub, f"{path}/{i}")


def test_every_mapping_rejects_unknown_keys():
    derived = {"$/properties/datasets/additionalProperties/properties/spec"}  # `synthetic`'s keys (load_schema)
    for path, node in every_object(SCHEMA):
        if path in derived:
            continue
        if "$ref" in node:  # models.sizes: the mapping it refers to
            node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
        extra = node.get("additionalProperties")
        assert extra is False or isinstance(extra, dict), f"{path}: a misspelt key would pass"


def test_every_key_is_typed_and_numbers_are_bounded_below():
    for path, sub in leaves(SCHEMA):
        assert {"type", "enum", "const", "anyOf", "$ref"} & set(sub), f"{path}: untyped"
        if sub.get("type") in ("integer", "number") or sub.get("type") == ["number", "null"]:
            assert {"minimum", "exclusiveMinimum"} & set(sub), f"{path}: no lower bound"
    for name in ("gat_sizes", "vgae_sizes", "vehicle_enrollment"):
        for key, sub in SCHEMA["$defs"][name]["properties"].items():
            assert sub.get("description") and {"type", "enum"} & set(sub), f"$defs.{name}.{key}"
            assert "default" not in sub, f"$defs.{name}.{key}: a default here would be filled into every config"


def test_the_size_tables_name_every_default_size():
    for family, by_architecture in DEFAULT_SIZES.items():
        allowed = set(SCHEMA["$defs"][f"{family}_sizes"]["properties"])
        for architecture, sizes in by_architecture.items():
            assert set(sizes) <= allowed, (family, architecture)
            assert errors_of({"models": {"sizes": {family: {architecture: sizes}}}}) == []
    assert SCHEMA["properties"]["models"]["properties"]["families"]["items"]["enum"] == list(FAMILIES)
    assert set(SCHEMA["$defs"]["model_sizes"]["properties"]) == set(FAMILIES)
    score_models = SCHEMA["properties"]["figures"]["properties"]["score_models"]["items"]["enum"]
    assert score_models == all_names()


def test_fabric_accepts_what_the_schema_allows():
    """accelerator, precision and strategy: Lightning Fabric's own names (less TPU/XLA), and the devices forms."""
    from lightning.fabric.accelerators import ACCELERATOR_REGISTRY
    from lightning.fabric.plugins.precision.precision import _PRECISION_INPUT_STR
    from lightning.fabric.strategies import STRATEGY_REGISTRY

    training = section("training")
    assert set(training["accelerator"]["enum"]) == {"auto", "gpu"} | set(ACCELERATOR_REGISTRY) - {"tpu"}
    assert set(training["precision"]["enum"]) == {"auto", *typing.get_args(_PRECISION_INPUT_STR)}
    fabric = {s for s in STRATEGY_REGISTRY.available_strategies() if "xla" not in s and "tpu" not in s}
    assert set(training["strategy"]["enum"]) == {"auto"} | fabric - {"ddp_notebook"}
    for good in ("auto", 1, 4, -1, [0], [0, 1], "0,1", "1,", "2", "-1", " 0, 2 "):
        assert errors_of({"training": {"devices": good}}) == [], good
    for bad in ("banana", 0, "0", [], [0, 0], [-2], -2, True, 1.5, "0,a"):
        assert errors_of({"training": {"devices": bad}}), bad


ALLOWED_DEVICES = '(allowed: "auto", a positive integer (a device count), -1 (every GPU), a list of device indices'
# (the config over config/test.yaml, the one line it gives)
MISTAKES = {
    "misspelt size": ({"models": {"sizes": {"gat": {"teacher": {"hiden": 32}}}}},
                      "config error: models.sizes.gat.teacher.hiden: unknown key, did you mean hidden? (allowed: "
                      "hidden, layers, heads, id_dim, dropout, share_weights, norm, act)"),
    "misspelt family": ({"models": {"sizes": {"gatt": {"teacher": {"hidden": 32}}}}},
                        "config error: models.sizes.gatt: unknown key, did you mean gat? (allowed: gat, vgae)"),
    "misspelt architecture": ({"models": {"sizes": {"vgae": {"teachers": {}}}}},
                              "config error: models.sizes.vgae.teachers: unknown key, did you mean teacher? "
                              "(allowed: teacher, student)"),
    "layers 0": ({"models": {"sizes": {"gat": {"student": {"layers": 0}}}}},
                 "config error: models.sizes.gat.student.layers: 0 is not valid (allowed: an integer in [1, 64])"),
    "dropout 1": ({"models": {"sizes": {"vgae": {"teacher": {"dropout": 1.0}}}}},
                  "config error: models.sizes.vgae.teacher.dropout: 1.0 is not valid (allowed: a number in [0, 1))"),
    "devices banana": ({"training": {"devices": "banana"}},
                       f"config error: training.devices: 'banana' is not valid {ALLOWED_DEVICES}, or a string like "
                       '"0,1")'),
    "accelerator tpu": ({"training": {"accelerator": "tpu"}},
                        "config error: training.accelerator: 'tpu' is not valid (allowed: \"auto\", \"cpu\", \"gpu\", "
                        "\"cuda\", \"mps\")"),
    "precision alias": ({"training": {"precision": "16"}},
                        "config error: training.precision: '16' is not valid (allowed: \"auto\", \"32-true\", "
                        "\"bf16-mixed\", \"16-mixed\", \"bf16-true\", \"16-true\", \"64-true\", "
                        "\"transformer-engine\", \"transformer-engine-float16\")"),
    "lr 0": ({"training": {"lr": 0}}, "config error: training.lr: 0 is not valid (allowed: a number in (0, 10])"),
    "lr as YAML string": ({"training": {"lr": "1e-3"}},
                          "config error: training.lr: '1e-3' is not valid (allowed: a number in (0, 10]); YAML reads "
                          "1e-3 as a string: write it with a dot, e.g. 1.0e-3"),
    "misspelt training key": ({"training": {"max_epoch": 3}},
                              "config error: training.max_epoch: unknown key, did you mean max_epochs? (allowed: "
                              "max_epochs, batch_size, lr, weight_decay, scheduler, warmup_epochs, grad_accum, "
                              "grad_clip, precision, accelerator, devices, num_nodes, strategy, patience, min_delta, "
                              "loss, focal_gamma, unknown_id_rate, profile_dropout, kl_weight, temperature, alpha, "
                              "beta, num_workers, pin_memory, prefetch_factor, max_steps_per_epoch, log_every_s, "
                              "profile, profile_steps)"),
    "families []": ({"models": {"families": []}},
                    'config error: models.families: [] is not valid (allowed: a non-empty list of: "gat", "vgae"; '
                    "no repeats)"),
    "unknown family": ({"models": {"families": ["gat", "gcn"]}},
                       'config error: models.families[1]: \'gcn\' is not valid (allowed: "gat", "vgae")'),
    "efficiency device gpu": ({"evaluation": {"efficiency": {"device": "gpu"}}},
                              "config error: evaluation.efficiency.device: 'gpu' is not valid (allowed: \"cpu\", "
                              "\"cuda\" or \"cuda:<index>\")"),
    "misspelt dataset key": ({"datasets": {"synthetic": {"formt": "candump"}}},
                             "config error: datasets.synthetic.formt: unknown key, did you mean format? (allowed: "
                             "synthetic, root, format, train_with, spec, vehicles)"),
    "misspelt spec key": ({"datasets": {"synthetic": {"spec": {"sed": 3}}}},
                          "config error: datasets.synthetic.spec.sed: unknown key, did you mean seed? (allowed: seed, "
                          "duration_s, message_rate, vehicles, unknown_vehicles, short_dlc_vehicles, known_attacks, "
                          "unknown_attacks, scenario_attacks, fleet, start_epoch)"),
    "spec out of bounds": ({"datasets": {"synthetic": {"spec": {"fleet": 1000}}}},
                           "config error: datasets.synthetic.spec.fleet: 1000 is not valid (allowed: an integer in "
                           "[0, 999])"),
    "misspelt vehicle enrollment": ({"enrollment": {"vehicles": {"charlie": {"sorce": "prefix"}}}},
                                    "config error: enrollment.vehicles.charlie.sorce: unknown key, did you mean "
                                    "source? (allowed: source, seconds, recordings)"),
    "bad dataset name": ({"run": ["synthetic"], "datasets": {"my data": {}}},
                         "config error: datasets: the name 'my data' is not valid (allowed: a dataset name (letters, "
                         "digits, _ and -))"),
    "unknown section": ({"trainig": {"lr": 0.01}},
                        "config error: trainig: unknown key, did you mean training? (allowed: hardware, run_name, run, "
                        "datasets, "
                        "synthetic, ingest, windows, split, enrollment, shards, models, training, tuning, distributed, "
                        "evaluation, "
                        "figures, deploy)"),
    "section not a mapping": ({"tuning": True},
                              "config error: tuning: true is not valid (allowed: a mapping with keys batch_size, lr, "
                              "max_batch_size, target_memory_usage, memory_budget_mb, lr_steps)"),
    "score model": ({"figures": {"score_models": ["gat_teachr"]}},
                    'config error: figures.score_models[0]: \'gat_teachr\' is not valid (allowed: "rules", '
                    '"gat_teacher", "gat_student", "gat_student_scratch", "vgae_teacher", "vgae_student", '
                    '"vgae_student_scratch", "fusion_teacher", "fusion_student")'),
}


@pytest.mark.parametrize("extra, line", MISTAKES.values(), ids=MISTAKES)
def test_each_mistake_is_one_line_naming_its_key(extra, line):
    assert errors_of(extra) == [line]


def test_every_mistake_is_reported_at_once():
    config = config_with("config/test.yaml", extra=merged(*(extra for extra, _ in MISTAKES.values())))
    with pytest.raises(ConfigError) as caught:
        check_workflow_config(config, SCHEMA_PATH, executor="local", gpu_available=no_gpu_asked)
    lines = str(caught.value).splitlines()
    assert lines == caught.value.lines and len(lines) >= 15
    assert all(line.startswith("config error: ") for line in lines)
    for expected in ("models.sizes.gat.teacher.hiden", "training.devices", "training.accelerator", "trainig"):
        assert any(line.startswith(f"config error: {expected}: ") for line in lines), expected


# (the config over config/test.yaml, the error lines, the warning lines)
CROSS = {
    "stride > size": ({"windows": {"size": 50, "stride": 80}}, [],
                      ["config warning: windows.stride: 80 > windows.size 50: after each window 30 messages are in "
                       "no window (never scored)"]),
    "run names no dataset": ({"run": ["synthetic", "hcrl"]},
                             ["config error: run[1]: 'hcrl' is not a dataset (defined under datasets: synthetic)"], []),
    "train_with names no dataset": ({"datasets": {"synthetic": {"train_with": ["fleet"]}}},
                                    ["config error: datasets.synthetic.train_with[0]: 'fleet' is not a dataset "
                                     "(defined under datasets: synthetic)"], []),
    "attack known and unknown": ({"synthetic": {"unknown_attacks": ["dos", "replay"]}},
                                 ["config error: synthetic.unknown_attacks: ['dos'] also in synthetic.known_attacks "
                                  "(an attack is known or unknown, not both)"], []),
    "spec makes an attack known and unknown": (
        {"datasets": {"synthetic": {"spec": {"known_attacks": ["malfunction"]}}}},
        ["config error: datasets.synthetic.spec.known_attacks: ['malfunction'] also in synthetic.unknown_attacks (an "
         "attack is known or unknown, not both)"], []),
    "vehicle known and unknown": ({"synthetic": {"vehicles": ["alpha", "charlie"]}},
                                  ["config error: synthetic.unknown_vehicles: ['charlie'] also in synthetic.vehicles "
                                   "(a vehicle is known or unknown, not both)"], []),
    "short-DLC vehicle of no one": ({"synthetic": {"short_dlc_vehicles": ["delta"]}},
                                    ["config error: synthetic.short_dlc_vehicles: ['delta'] not among the vehicles "
                                     "(synthetic.vehicles, synthetic.unknown_vehicles)"], []),
    "hidden not divisible by heads": ({"models": {"sizes": {"gat": {"teacher": {"hidden": 30, "heads": 4}}}}},
                                      ["config error: models.sizes.gat.teacher.heads: hidden 30 is not divisible by "
                                       "heads 4 (each head has hidden / heads channels)"], []),
    "VGAE encoder heads": ({"models": {"sizes": {"vgae": {"student": {"hidden": 12, "encoder_heads": 8}}}}},
                           ["config error: models.sizes.vgae.student.encoder_heads: hidden 12 is not divisible by "
                            "encoder_heads 8 (each head has hidden / heads channels)"], []),
    "both head counts": ({"models": {"sizes": {"vgae": {"student": {"hidden": 13}}}}},
                         ["config error: models.sizes.vgae.student.encoder_heads: hidden 13 is not divisible by "
                          "encoder_heads 2 (each head has hidden / heads channels)",
                          "config error: models.sizes.vgae.student.decoder_heads: hidden 13 is not divisible by "
                          "decoder_heads 2 (each head has hidden / heads channels)"], []),
    # config/test.yaml sizes both families and draws the scores of fusion_teacher only
    "a family not trained": ({"models": {"families": ["gat"]}}, [],
                             ["config warning: models.sizes.vgae: vgae is not trained (models.families: ['gat']): "
                              "these sizes are unused",
                              "config warning: figures.score_models: none of ['fusion_teacher'] is evaluated with "
                              "models.families ['gat']: no score histogram or timeline is drawn"]),
    "split by recording without recordings": ({"split": {"method": "recording"}},
                                              ["config error: split.val_recordings: empty, but split.method is "
                                               "'recording' (allowed: a non-empty list of training recordings "
                                               "<split>/<name>)"], []),
    "enrollment recordings missing": ({"enrollment": {"vehicles": {"charlie": {"source": "recordings"}}}},
                                      ["config error: enrollment.vehicles.charlie.recordings: missing, but the source "
                                       "is 'recordings' (allowed: a non-empty list of recordings <split>/<name>)"], []),
    "device indices on cpu": ({"training": {"accelerator": "cpu", "devices": [0, 1]}},
                              ["config error: training.devices: [0, 1] is not valid with training.accelerator 'cpu' "
                               "(allowed: \"auto\", a positive integer (a number of processes))"], []),
    "warm-up as long as training": ({"training": {"warmup_epochs": 2}}, [],
                                    ["config warning: training.warmup_epochs: 2 >= training.max_epochs 2: training "
                                     "ends within the warm-up (no cosine schedule)"]),
    "incident rule k over n": ({"evaluation": {"incidents": {"k": 4, "n": 3}}},
                               ["config error: evaluation.incidents.k: 4 > evaluation.incidents.n 3: an incident "
                                "needs k alarming windows among the last n"], []),
    "deepspeed not installed": ({"training": {"strategy": "deepspeed"}},
                                ["config error: training.strategy: 'deepspeed' needs the deepspeed package, which is "
                                 "not installed"], []),
}


@pytest.mark.parametrize("extra, errors, warnings", CROSS.values(), ids=CROSS)
def test_cross_key_checks(extra, errors, warnings):
    assert checked(extra, gpu_available=no_gpu_asked) == (errors, warnings)


def test_hidden_is_checked_against_the_default_heads():
    config = config_with(extra={"models": {"sizes": {"gat": {"teacher": {"hidden": 60}}}}})
    assert validate_config(config, SCHEMA_PATH) == []
    assert cross_check(config, gpu_available=no_gpu_asked)[0] == [
        "config error: models.sizes.gat.teacher.hidden: hidden 60 is not divisible by heads 8 (each head has hidden / "
        "heads channels)"]


EFFICIENCY_NO_GPU = ("config error: evaluation.efficiency.device: 'cuda', but this machine has no CUDA GPU "
                     "(torch.cuda.is_available() is false) and the efficiency jobs run here (allowed here: \"cpu\")")
TRAINING_NO_GPU = ("config warning: training.accelerator: 'cuda' asks for a GPU but this machine has none "
                   "(torch.cuda.is_available() is false): train and tuner jobs run here will fail; use auto or cpu, "
                   "or run on SLURM (--profile profiles/slurm)")
EFFICIENCY_SLURM = ("config warning: evaluation.efficiency.device: 'cuda', but rule efficiency is given no GPU on "
                    "SLURM (the profiles send it to the cpu partition): its jobs will fail unless set-resources gives "
                    "efficiency a GPU (gpu=1, slurm_partition=gpu)")


@pytest.mark.parametrize("executor, gpu, resources, errors, warnings", [
    ("local", False, {}, [EFFICIENCY_NO_GPU], [TRAINING_NO_GPU]),
    ("local", True, {}, [], []),
    ("slurm", False, {}, [], [EFFICIENCY_SLURM]),  # train jobs go to the GPU partition; efficiency does not
    ("slurm", False, {"efficiency": {"gpu": 1, "slurm_partition": "gpu"}}, [], []),
])
def test_gpu_requests_against_the_machine_and_the_executor(executor, gpu, resources, errors, warnings):
    extra = {"training": {"accelerator": "cuda"}, "evaluation": {"efficiency": {"device": "cuda"}}}
    assert checked(extra, executor=executor, gpu_available=lambda: gpu, resources=resources) == (errors, warnings)
    # a job's own Snakemake process checks nothing of its machine
    assert checked(extra, executor=executor, gpu_available=no_gpu_asked, main_process=False) == ([], [])


def test_device_indices_with_auto_ask_for_a_gpu():
    errors, warnings = checked({"training": {"devices": [0, 1]}})
    assert errors == [] and warnings == [
        "config warning: training.devices: [0, 1] asks for a GPU but this machine has none (torch.cuda.is_available() "
        "is false): train and tuner jobs run here will fail; use auto or cpu, or run on SLURM (--profile "
        "profiles/slurm)"]
    assert checked({"training": {"devices": 2}}, gpu_available=no_gpu_asked) == ([], [])


def test_no_torch_import_unless_a_gpu_is_asked_for():
    """Validation and checks run at every Snakemake start: torch (seconds to import) only where a GPU is asked."""
    code = ("import sys, yaml\n"
            "from canguard.config_checks import check_workflow_config\n"
            f"config = yaml.safe_load(open({str(REPO / 'config/test.yaml')!r}))\n"
            f"check_workflow_config(config, {str(SCHEMA_PATH)!r}, executor='local')\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("argv, environ, executor", [
    ([], {}, "local"),  # profiles/default, the workflow profile Snakemake picks up by itself, sets none
    (["--profile", "profiles/slurm"], {}, "slurm"),
    (["--profile=profiles/slurm-ci", "-n"], {}, "slurm"),
    (["--executor", "slurm"], {}, "slurm"),
    (["-e", "local", "--profile", "profiles/slurm"], {}, "local"),  # the command line wins
    ([], {"SNAKEMAKE_PROFILE": "profiles/slurm"}, "slurm"),
    (["--profile", "profiles/default"], {"SNAKEMAKE_PROFILE": "profiles/slurm"}, "local"),
    (["--profile", "none"], {}, "local"),
])
def test_the_executor_is_read_as_snakemake_reads_it(argv, environ, executor):
    assert detect_executor(argv, environ, cwd=REPO) == executor
