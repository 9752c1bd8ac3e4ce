"""The cluster path: training rules submitted through SLURM by Snakemake's executor plugin.

Needs a SLURM cluster: CI starts a real single-node one (munge, slurmctld, slurmd, slurmdbd; fake
GPUs as GRES) with .ci/slurm/cluster.sh (`make cluster-up`) before `make test-slurm`. The data stages
run locally first; the GPU rule (train: teachers and a distilled student) then goes through sbatch to the
gpu partition with --gpus=1, and sacct must show them COMPLETED with a GPU allocated.
"""

import re
import shutil
import subprocess
import sys

import pytest
from snakemake_run import copy_workflow, snakemake

pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    if shutil.which("sbatch") is None or shutil.which("sacct") is None:
        pytest.fail("no SLURM cluster: run `bash .ci/slurm/cluster.sh up` (make cluster-up) first (CI does)")
    work = copy_workflow(tmp_path_factory.mktemp("slurm"))
    local = snakemake(work, "results/test/shards/synthetic/val", "results/test/shards/synthetic/train", local=False)
    assert local.returncode == 0, local.stderr[-3000:]
    base = [sys.executable, "-m", "snakemake", "--configfile", "config/test.yaml"]
    targets = ["results/test/models/synthetic/gat_student/seed0/best.ckpt",
               "results/test/models/synthetic/vgae_teacher/seed0/best.ckpt"]
    # SIGINT, not SIGTERM, makes snakemake cancel its SLURM jobs if the limit is hit
    cluster = subprocess.run(["timeout", "-s", "INT", "-k", "30", "900", *base, "--profile", "profiles/slurm-ci",
                              *targets], cwd=work, capture_output=True, text=True)
    assert cluster.returncode == 0, cluster.stdout[-3000:] + cluster.stderr[-3000:]
    run_id = re.findall(r"SLURM run ID: ([0-9a-f-]+)", cluster.stdout + cluster.stderr)
    assert run_id, "the SLURM executor did not run"
    return work, run_id[-1]


def test_gpu_rules_ran_as_slurm_jobs_with_a_gpu(cluster_run):
    work, run_id = cluster_run
    sacct = subprocess.run(["sacct", "-X", "--parsable2", "--noheader", "--name", run_id, "--starttime", "now-1days",
                            "--format=JobID,Partition,State,AllocTRES"], capture_output=True, text=True, check=True)
    jobs = [line.split("|") for line in sacct.stdout.strip().splitlines()]
    assert len(jobs) == 3, sacct.stdout  # gat teacher, gat student, vgae teacher
    for job_id, partition, state, tres in jobs:
        assert partition == "gpu" and state == "COMPLETED" and "gres/gpu=1" in tres, (job_id, partition, state, tres)
    assert len(list((work / ".snakemake/slurm_logs" / "rule_train").rglob("*.log"))) == 3
    assert (work / "results/test/models/synthetic/gat_student/seed0/best.ckpt").exists()
