"""The cluster path: training rules submitted through SLURM by Snakemake's executor plugin.

Needs a SLURM cluster: CI starts a real single-node one (munge, slurmctld, slurmd, slurmdbd; fake
GPUs as GRES) with .ci/slurm/cluster.sh (`make cluster-up`) before `make test-slurm`. The data stages
run locally first; the GPU rule (train: teachers and a distilled student) then goes through sbatch to the
gpu partition with --gpus=1, and sacct must show them COMPLETED with a GPU allocated.

Then, in copies of that finished run (its shards reused):

* a one-GPU job runs Snakemake in the job's batch step and its one rank in a step of its own (the target
  of the warning signal), and trains exactly what a local run of the same job trains;
* a 2-GPU teacher (``distributed.teacher.gpus: 2``; CPU processes stand in for the fake GPUs) is one job of
  gres/gpu=2 whose training step has 2 tasks;
* that teacher and a 1-GPU student, each sent SIGUSR1 while it trains (``scancel --signal=USR1``: to the job's
  steps, as the profile's ``--signal=USR1@60`` does before the time limit), checkpoint mid-epoch on every
  rank, the job fails, Snakemake's retry (more runtime and memory) resumes it, and it ends with the weights
  of an uninterrupted local run (2 local processes for the teacher).
"""

import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import torch
from snakemake_run import copy_workflow, snakemake

from canguard.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.slurm

MODELS = "results/test/models/synthetic"
# the 2-GPU teacher: 2 CPU processes; batches of 1 so that an epoch lasts seconds (the signal lands inside one)
DISTRIBUTED = """\
distributed: {teacher: {gpus: 2}}
training: {accelerator: cpu, batch_size: 1, max_epochs: 3, max_steps_per_epoch: 0}
"""
# signalled while they train: model -> its processes (teachers have 2 GPUs in DISTRIBUTED, students 1)
PREEMPTED = {"gat_teacher": 2, "vgae_student_scratch": 1}
SACCT_FIELDS = "JobID,State,ExitCode,NTasks,Timelimit,AllocTRES,SubmitLine"


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


# ------------------------------------------------------------------------------------------------
# helpers: sacct, copies of the finished run, checkpoints


def sacct(*args: str) -> list[dict]:
    """sacct rows (allocations and their steps) as dicts of SACCT_FIELDS; SubmitLine last (it has spaces)."""
    out = subprocess.run(["sacct", "--parsable2", "--noheader", "--starttime", "now-1days",
                          f"--format={SACCT_FIELDS}", *args], capture_output=True, text=True, check=True).stdout
    names = SACCT_FIELDS.split(",")
    return [dict(zip(names, line.split("|", len(names) - 1))) for line in out.strip().splitlines()]


def jobs_of(run_id: str) -> dict[str, list[dict]]:
    """Each job of a Snakemake run (its run ID is the job name): its allocation row first, then its steps."""
    jobs: dict[str, list[dict]] = {}
    for row in sacct("-X", "--name", run_id):
        jobs.setdefault(row["JobID"], [])
    for job_id in jobs:
        jobs[job_id] = sacct("-j", job_id)
    return jobs


def training_steps(rows: list[dict]) -> list[dict]:
    return [r for r in rows if "." in r["JobID"] and r["JobID"].split(".")[1].isdigit()]


def copy_run(work, dest):
    """A copy of a finished run (results, logs, Snakemake's metadata and timestamps): its data stages are done."""
    shutil.copytree(work, dest, symlinks=True)
    return dest


def same_weights(a, b) -> None:
    (sa, _), (sb, _) = load_checkpoint(a), load_checkpoint(b)
    assert sa["model"].keys() == sb["model"].keys()
    for key, tensor in sa["model"].items():
        assert torch.equal(tensor, sb["model"][key]), f"{key} differs: {a} vs {b}"


# ------------------------------------------------------------------------------------------------
# one GPU: the rank's own job step, and the same weights as a local run


def test_a_one_gpu_job_runs_snakemake_in_the_batch_step_and_its_rank_in_a_step(cluster_run):
    """The only job step of each training job is srun's step of the training worker (1 task): Snakemake
    itself runs in the batch step, which SLURM's warning signal does not reach."""
    work, run_id = cluster_run
    for rows in jobs_of(run_id).values():
        steps = training_steps(rows)
        assert len(steps) == 1, rows
        step = steps[0]
        assert step["State"] == "COMPLETED" and step["NTasks"] == "1", step
        assert "canguard.training.worker" in step["SubmitLine"] and "snakemake" not in step["SubmitLine"], step
        assert "--signal=USR1@60" in rows[0]["SubmitLine"], rows[0]  # the profile's warning before the limit


def test_a_cluster_job_trains_what_a_local_run_of_it_trains(cluster_run, tmp_path_factory):
    work, _ = cluster_run
    local = copy_run(work, tmp_path_factory.mktemp("local1") / "work")
    shutil.rmtree(local / MODELS / "gat_teacher/seed0")
    # one torch thread, as the cluster job's rank had (cpus_per_task 1 in profiles/slurm-ci)
    run = snakemake(local, f"{MODELS}/gat_teacher/seed0/best.ckpt", "--set-threads", "train=1")
    assert run.returncode == 0, run.stderr[-3000:]
    same_weights(work / MODELS / "gat_teacher/seed0/best.ckpt", local / MODELS / "gat_teacher/seed0/best.ckpt")


# ------------------------------------------------------------------------------------------------
# two GPUs: two tasks; the warning signal, the retry and the resumed weights


def signal_each_when_training(proc, output, work, models, timeout: float = 600) -> dict[str, str]:
    """Once the first attempt of each model's train job has logged its first epoch (rank 0), send that job
    SIGUSR1 (to its steps, as `--signal=USR1@<s>` does); returns model -> job ID signalled."""
    deadline = time.monotonic() + timeout
    signalled: dict[str, str] = {}
    while len(signalled) < len(models) and time.monotonic() < deadline:
        assert proc.poll() is None, "snakemake ended before training ran:\n" + output.read_text()[-3000:]
        submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: \S*rule_train/test_synthetic_(\w+)_0/",
                               output.read_text())
        for job_id, model in submitted:
            rank0 = work / f"logs/test/train/synthetic/{model}/seed0.rank0.log"
            if model not in signalled and rank0.exists() and "epoch 0:" in rank0.read_text():
                subprocess.run(["scancel", "--signal=USR1", job_id], check=True)
                signalled[model] = job_id
        time.sleep(0.2)
    if len(signalled) < len(models):
        proc.send_signal(2)
        pytest.fail(f"signalled only {signalled}:\n" + output.read_text()[-3000:])
    return signalled


@pytest.fixture(scope="module")
def preempted_run(cluster_run, tmp_path_factory):
    """The 2-GPU teacher and a 1-GPU student through profiles/slurm-ci, each sent SIGUSR1 in its second epoch."""
    work, _ = cluster_run
    run = copy_run(work, tmp_path_factory.mktemp("preempted") / "work")
    (run / "config/distributed.yaml").write_text(DISTRIBUTED)
    for model in PREEMPTED:
        shutil.rmtree(run / "logs/test/train/synthetic" / model, ignore_errors=True)
    output = run / "snakemake.out"
    cmd = ["timeout", "-s", "INT", "-k", "30", "900", sys.executable, "-m", "snakemake", "--profile",
           "profiles/slurm-ci", *(f"{MODELS}/{m}/seed0/best.ckpt" for m in PREEMPTED), "--configfile",
           "config/test.yaml", "config/distributed.yaml"]
    with open(output, "w") as out:
        proc = subprocess.Popen(cmd, cwd=run, stdout=out, stderr=subprocess.STDOUT,
                                env=os.environ | {"PYTHONUNBUFFERED": "1"})
        signalled = signal_each_when_training(proc, output, run, PREEMPTED)
        code = proc.wait(timeout=900)
    text = output.read_text()
    assert code == 0, text[-4000:]
    run_id = re.findall(r"SLURM run ID: ([0-9a-f-]+)", text)
    assert run_id, text[-3000:]
    return run, run_id[-1], signalled


@pytest.fixture(scope="module")
def uninterrupted_local_run(cluster_run, tmp_path_factory):
    """The same jobs locally, never stopped: the teacher's 2 processes through the stage's local launcher, the
    student in the stage's own process."""
    work, _ = cluster_run
    local = copy_run(work, tmp_path_factory.mktemp("local2") / "work")
    (local / "config/distributed.yaml").write_text(DISTRIBUTED)
    # one torch thread per process, as each rank had on the cluster (cpus_per_task 1)
    run = snakemake(local, *(f"{MODELS}/{m}/seed0/best.ckpt" for m in PREEMPTED), "--set-threads", "train=1",
                    configfiles=("config/test.yaml", "config/distributed.yaml"))
    assert run.returncode == 0, run.stderr[-3000:]
    return local


def jobs_of_model(run_id: str, model: str) -> list[list[dict]]:
    """The train jobs of one model in a run, oldest first (each: allocation row, then its steps)."""
    jobs = jobs_of(run_id)
    mine = [rows for job_id, rows in jobs.items() if f"_wildcards_test_synthetic_{model}_0" in rows[0]["SubmitLine"]]
    return sorted(mine, key=lambda rows: int(rows[0]["JobID"]))


def test_a_two_gpu_job_is_one_allocation_of_two_gpus_whose_training_step_has_two_tasks(preempted_run):
    run, run_id, _ = preempted_run
    last = jobs_of_model(run_id, "gat_teacher")[-1]
    job, steps = last[0], training_steps(last)
    assert job["State"] == "COMPLETED" and "gres/gpu=2" in job["AllocTRES"], job
    assert "--ntasks-per-gpu=1" in job["SubmitLine"] and "--gpus=2" in job["SubmitLine"], job["SubmitLine"]
    assert len(steps) == 1, last
    assert steps[0]["NTasks"] == "2" and "gres/gpu=2" in steps[0]["AllocTRES"], steps[0]
    assert "--ntasks=2" in steps[0]["SubmitLine"] and "canguard.training.worker" in steps[0]["SubmitLine"]
    assert '"processes": 2' in (run / MODELS / "gat_teacher/seed0/train_summary.json").read_text()


@pytest.mark.parametrize("model", PREEMPTED)
def test_the_warning_signal_checkpoints_mid_epoch_and_the_retry_resumes_to_the_same_weights(
        preempted_run, uninterrupted_local_run, model):
    run, run_id, signalled = preempted_run
    tasks = str(PREEMPTED[model])
    jobs = jobs_of_model(run_id, model)
    assert [rows[0]["JobID"] for rows in jobs][:1] == [signalled[model]] and len(jobs) == 2, jobs
    first, retry = jobs
    # the first attempt: every rank stopped at the same step with a checkpoint (exit 75), the job failed
    assert first[0]["State"] == "FAILED", first
    (step,) = training_steps(first)
    # the first rank out exits 75; srun (--kill-on-bad-exit) then ends a rank still on its way out, which
    # has reported its stop and passed the barrier after rank 0's checkpoint by then
    ended = step["ExitCode"] == "75:0" or (step["State"] == "CANCELLED" and step["ExitCode"] == "0:15")
    assert step["NTasks"] == tasks and ended, step
    slurm_log = run / f".snakemake/slurm_logs/rule_train/test_synthetic_{model}_0/{signalled[model]}.log"
    stop = re.search(r"TrainingStopped: training stopped by SIGUSR1 in epoch (\d+) after batch (\d+) of (\d+) "
                     rf"on all {tasks} rank\(s\)", slurm_log.read_text())
    assert stop, slurm_log.read_text()[-3000:]
    assert int(stop.group(2)) < int(stop.group(3)), stop.group(0)  # inside the epoch
    for rank in range(int(tasks)):  # each rank's log (the retry appends to it) says where it stopped
        text = (run / f"logs/test/train/synthetic/{model}/seed0.rank{rank}.log").read_text()
        assert f"rank {rank}: training stopped by SIGUSR1 in epoch {stop.group(1)} after batch {stop.group(2)} " \
               f"of {stop.group(3)}" in text, text[-2000:]
    # the retry (attempt 2): more time and memory, resumed from that batch, completed
    assert retry[0]["State"] == "COMPLETED", retry
    assert (first[0]["Timelimit"], retry[0]["Timelimit"]) == ("00:30:00", "01:00:00")
    assert "mem=3000M" in first[0]["AllocTRES"] and "mem=6000M" in retry[0]["AllocTRES"]
    rank0 = (run / f"logs/test/train/synthetic/{model}/seed0.rank0.log").read_text()
    assert f"inside epoch {stop.group(1)} after batch {stop.group(2)}" in rank0, rank0[-2000:]
    # ... to the weights of a local run that was never stopped
    same_weights(run / MODELS / model / "seed0/best.ckpt", uninterrupted_local_run / MODELS / model / "seed0/best.ckpt")
