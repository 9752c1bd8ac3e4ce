"""Config errors before any job, through Snakemake itself: a bad config stops `snakemake` while it parses
the workflow, with one line per mistake naming its key, before the DAG is built and before any job runs.

A few representative mistakes (each Snakemake start costs seconds); every mistake's line is checked
without Snakemake in tests/test_config_schema.py. Marked faults: `make test-faults`.
"""

import pytest
import yaml
from snakemake_run import copy_workflow, snakemake

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
