"""Data-parallel training jobs without SLURM: the `distributed` knob -> Snakemake resources and Fabric settings,
the worker's JSON job description, where the ranks run, and a 2-process run through the train stage.

The same jobs on a real SLURM cluster (srun, the warning signal, retries): tests/test_slurm.py.
"""

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from snakemake_run import copy_workflow, snakemake
from test_training import shards  # noqa: F401  (a fixture: train/val shards of two synthetic recordings)  # noqa: F811

from canguard.logs import setup_logging
from canguard.stages import train as stage
from canguard.training.checkpoint import load_checkpoint
from canguard.training.config import TrainConfig
from canguard.training.stopping import TrainingStopped
from canguard.training.worker import EXIT_STOPPED, Geometry, WorkerJob, process_rank, rank_threads, status_path

TINY = {"hidden": 16, "layers": 2, "heads": 2, "id_dim": 4}


# ------------------------------------------------------------------------------------------------
# the knob: resources and Fabric settings


def test_one_gpu_is_the_job_of_before():
    g = Geometry()
    assert (g.processes, g.distributed) == (1, False)
    # one task, one GPU; mpi present but false: the plugin's submit side adds nothing, its jobstep runs Snakemake
    # in the batch step (the ranks' srun step gets the warning signal alone)
    assert g.resources() == {"gpu": 1, "nodes": 1, "tasks": 1, "tasks_per_gpu": 1, "mpi": 0}
    # training.devices / num_nodes stay what the config says, whatever they are
    assert g.fabric({"devices": "auto", "num_nodes": 1}) == {}
    assert g.fabric({"devices": 3, "num_nodes": 2}) == {}


@pytest.mark.parametrize("gpus, nodes", [(2, 1), (4, 1), (1, 2), (4, 2)])
def test_several_gpus_are_one_task_each(gpus, nodes):
    g = Geometry(gpus=gpus, nodes=nodes)
    assert g.resources() == {"gpu": gpus * nodes, "nodes": nodes, "tasks": gpus * nodes, "tasks_per_gpu": 1,
                             "mpi": "srun"}
    assert g.fabric({"devices": "auto", "num_nodes": 1}) == {"devices": gpus, "num_nodes": nodes}
    assert g.fabric({"devices": str(gpus), "num_nodes": nodes}) == {"devices": gpus, "num_nodes": nodes}


def test_a_config_that_contradicts_the_knob_is_refused_naming_both_keys():
    with pytest.raises(ValueError, match=r"training\.devices is 1 but distributed asks for 2"):
        Geometry(gpus=2).fabric({"devices": 1})
    with pytest.raises(ValueError, match=r"training\.num_nodes is 3 but distributed asks for 2"):
        Geometry(gpus=1, nodes=2).fabric({"devices": "auto", "num_nodes": 3})
    with pytest.raises(ValueError, match="gpus must be a positive integer"):
        Geometry(gpus=0)
    with pytest.raises(ValueError, match="unknown launch setting"):
        Geometry.from_dict({"gpus": 1, "gpu": 2})


def test_the_workflow_gives_each_role_its_resources(tmp_path):
    """A dry run: distributed.teacher.gpus 2 makes the teachers' jobs 2 tasks of one GPU each; the students
    keep one GPU and the plugin's single-task form of the MPI route."""
    work = copy_workflow(tmp_path)
    (work / "config/dist.yaml").write_text("distributed: {teacher: {gpus: 2}}\n")
    targets = [f"results/test/models/synthetic/{m}/seed0/best.ckpt" for m in ("gat_student", "vgae_student_scratch")]
    dry = snakemake(work, "--dry-run", *targets, configfiles=("config/test.yaml", "config/dist.yaml"))
    assert dry.returncode == 0, dry.stderr[-3000:]
    resources = {}
    model = None
    for line in dry.stdout.splitlines():
        line = line.strip()
        if line.startswith("output: results/test/models/"):
            model = line.split("/")[4]
        elif line.startswith("resources:") and model:
            resources[model] = dict(kv.split("=", 1) for kv in line[len("resources:"):].strip().split(", "))
            model = None
    assert set(resources) == {"gat_teacher", "gat_student", "vgae_student_scratch"}, dry.stdout[-3000:]
    teacher = resources["gat_teacher"]
    assert (teacher["gpu"], teacher["tasks"], teacher["tasks_per_gpu"], teacher["nodes"], teacher["mpi"]) == \
        ("2", "2", "1", "1", "srun")
    for student in ("gat_student", "vgae_student_scratch"):
        assert (resources[student]["gpu"], resources[student]["tasks"], resources[student]["mpi"]) == ("1", "1", "0")


def test_a_training_devices_that_contradicts_the_knob_stops_the_run_before_any_job(tmp_path):
    work = copy_workflow(tmp_path)
    (work / "config/bad.yaml").write_text("distributed: {teacher: {gpus: 2}}\ntraining: {devices: 1}\n")
    dry = snakemake(work, "--dry-run", "results/test/models/synthetic/gat_teacher/seed0/best.ckpt",
                    configfiles=("config/test.yaml", "config/bad.yaml"))
    assert dry.returncode != 0
    assert "training.devices is 1 but distributed asks for 2 GPU(s) per node" in dry.stdout + dry.stderr


# ------------------------------------------------------------------------------------------------
# the worker's job description and environment


def test_a_worker_job_survives_its_json_round_trip(tmp_path):
    cfg = TrainConfig(max_epochs=3, lr=3e-4, devices=2, num_nodes=1, accelerator="cpu", seed=7, pin_memory=True,
                      num_workers="auto")
    job = WorkerJob(shards="results/x/shards/ds", family="gat", architecture="student", training=cfg.to_dict(),
                    out_dir="results/x/models/ds/gat_student/seed7", sizes={"hidden": 8, "heads": 2},
                    teacher_ckpt="results/x/models/ds/gat_teacher/seed7/best.ckpt", log="logs/seed7.rank{rank}.log",
                    threads=3)
    back = WorkerJob.read(job.write(tmp_path / "job.json"))
    assert back == job
    assert back.config() == cfg  # floats, "auto", booleans and devices come back as they were
    assert back.log_path(1) == "logs/seed7.rank1.log"
    assert json.loads((tmp_path / "job.json").read_text())["training"]["lr"] == 3e-4


def test_a_worker_job_with_unknown_or_missing_keys_is_refused():
    good = json.loads(WorkerJob("s", "gat", "teacher", {}, "o").to_json())
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['extra'\]"):
        WorkerJob.from_json(json.dumps(good | {"extra": 1}))
    with pytest.raises(ValueError, match=r"missing key\(s\) \['out_dir'\]"):
        WorkerJob.from_json(json.dumps({k: v for k, v in good.items() if k != "out_dir"}))
    with pytest.raises(ValueError, match="version 99"):
        WorkerJob.from_json(json.dumps(good | {"version": 99}))


def test_a_bad_command_line_or_job_file_exits_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    for args in ([], ["a", "b"], [str(bad)], [str(tmp_path / "missing.json")]):
        run = subprocess.run([sys.executable, "-m", "canguard.training.worker", *args], capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 2, (args, run.stderr)


def test_the_rank_and_threads_of_a_process():
    assert process_rank({}) == 0
    assert process_rank({"LOCAL_RANK": "1"}) == 1  # started by Fabric's launcher
    assert process_rank({"SLURM_PROCID": "3", "SLURM_STEP_ID": "0", "LOCAL_RANK": "1"}) == 3  # by srun
    job = WorkerJob("s", "gat", "teacher", {}, "o", threads=4)
    assert rank_threads(job, {}) == 4
    assert rank_threads(job, {"SLURM_CPUS_PER_TASK": "8", "SLURM_STEP_ID": "1"}) == 8
    assert rank_threads(job, {"SLURM_CPUS_PER_TASK": "8"}) == 4  # a batch script's value is not this task's


def fake_scontrol(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in (("scontrol", f"#!/bin/sh\necho '{text}'\n"), ("srun", "#!/bin/sh\nexit 0\n")):
        (folder / name).write_text(body)
        (folder / name).chmod(stat.S_IRWXU)
    return folder


def test_where_the_ranks_run(tmp_path):
    bin_dir = fake_scontrol(tmp_path / "bin", "JobId=1 NumCPUs=16 CPUs/Task=8 TRES=cpu=16,gres/gpu=2")
    local = {"PATH": "/usr/bin:/bin"}
    assert stage.launcher(Geometry(), local) == "here"
    assert stage.launcher(Geometry(gpus=2), local) == "local"
    with pytest.raises(ValueError, match="2 nodes need SLURM"):
        stage.launcher(Geometry(gpus=2, nodes=2), local)
    slurm = {"PATH": f"{bin_dir}:/usr/bin:/bin", "SLURM_JOB_ID": "42"}
    assert stage.launcher(Geometry(), slurm) == "srun"  # one task too: its own step gets the signal
    assert stage.launcher(Geometry(gpus=4, nodes=2), slurm) == "srun"


def test_the_srun_command_of_a_job(tmp_path):
    bin_dir = fake_scontrol(tmp_path / "bin", "JobId=42 NumCPUs=16 CPUs/Task=8 TRES=cpu=16,gres/gpu=2")
    # the batch step (the jobstep plugin leaves only the job's identity): CPUs per task from scontrol
    batch = {"PATH": f"{bin_dir}:/usr/bin:/bin", "SLURM_JOB_ID": "42"}
    assert stage.srun_command(Geometry(gpus=2, nodes=2), batch) == [
        "srun", "--ntasks=4", "--nodes=2", "--ntasks-per-node=2", "--kill-on-bad-exit=1", "--label", "--input=none",
        "--cpus-per-task=8"]
    # inside a step (srun -n1 snakemake ...): its CPUs per task, and --overlap to share the step's resources
    step = batch | {"SLURM_STEP_ID": "0", "SLURM_CPUS_PER_TASK": "3"}
    cmd = stage.srun_command(Geometry(), step)
    assert cmd[1:4] == ["--ntasks=1", "--nodes=1", "--ntasks-per-node=1"]
    assert "--cpus-per-task=3" in cmd and cmd[-1] == "--overlap"
    assert stage.job_cpus_per_task({"PATH": "/nonexistent", "SLURM_JOB_ID": "42"}) is None


def test_the_ranks_step_does_not_inherit_the_shape_of_the_step_it_starts_from():
    env = stage.step_environment({"SLURM_JOB_ID": "42", "SLURM_NTASKS": "1", "SLURM_NTASKS_PER_GPU": "1",
                                  "SLURM_CPUS_PER_TASK": "2", "SRUN_CPUS_PER_TASK": "2", "SBATCH_GRES": "gpu:1",
                                  "SLURM_CONF": "/etc/slurm/slurm.conf", "MASTER_PORT": "1234", "PATH": "/bin"})
    assert env == {"SLURM_JOB_ID": "42", "SLURM_CONF": "/etc/slurm/slurm.conf", "PATH": "/bin"}


def test_the_stage_says_what_the_ranks_said(tmp_path):
    job = WorkerJob("s", "gat", "teacher", {}, str(tmp_path), log="logs/seed0.rank{rank}.log")
    status_path(tmp_path, 0).parent.mkdir(parents=True)

    def said(rank, status, message, **extra):
        status_path(tmp_path, rank).write_text(json.dumps({"rank": rank, "status": status, "message": message}
                                                          | extra))

    for rank in (0, 1):
        said(rank, "stopped", "training stopped by SIGUSR1 in epoch 1 after batch 3 of 9: checkpoint saved, rerun "
             "to resume", signal="SIGUSR1", where="in epoch 1 after batch 3 of 9")
    with pytest.raises(TrainingStopped, match="SIGUSR1 in epoch 1 after batch 3 of 9 on all 2 rank"):
        stage._raise_for(job, Geometry(gpus=2), EXIT_STOPPED, "logs/seed0.launch.log")
    said(1, "failed", "RuntimeError: gloo: connection closed")
    with pytest.raises(RuntimeError, match=r"failed on rank 1 \(RuntimeError: gloo.*see logs/seed0\.rank1\.log"):
        stage._raise_for(job, Geometry(gpus=2), 1, "logs/seed0.launch.log")
    status_path(tmp_path, 1).unlink()
    status_path(tmp_path, 0).unlink()
    with pytest.raises(RuntimeError, match=r"killed by SIGKILL.*\[0, 1\] reported nothing.*seed0\.launch\.log"):
        stage._raise_for(job, Geometry(gpus=2), -9, "logs/seed0.launch.log")


# ------------------------------------------------------------------------------------------------
# two local processes through the stage function


@pytest.fixture
def no_rule_log():
    """No rule log (a log file another test set up would be taken for this job's)."""
    setup_logging(None)
    yield
    setup_logging(None)


def stage_call(shards: Path, out: Path, gpus: int, **training):  # noqa: F811
    """run_train's four dicts for a tiny GAT teacher on ``shards`` (what rule train gives it)."""
    training = {"accelerator": "cpu", "max_epochs": 2, "max_steps_per_epoch": 4, "batch_size": 16, "lr": 3e-3,
                "warmup_epochs": 0} | training
    return ({"train": str(shards / "train"), "val": str(shards / "val")},
            {"ckpt": str(out / "best.ckpt"), "meta": str(out / "best.json"), "metrics": str(out / "metrics.csv")},
            {"training": training, "sizes": TINY, "launch": {"gpus": gpus, "nodes": 1}},
            {"family": "gat", "role": "teacher", "seed": "0"})


def test_two_local_processes_through_the_stage(shards, tmp_path, no_rule_log):  # noqa: F811
    out = tmp_path / "models/gat_teacher/seed0"
    stage.run_train(*stage_call(shards, out, gpus=2))
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["processes"] == 2
    assert all(json.loads((out / f"launch/rank{r}.json").read_text())["status"] == "done" for r in (0, 1))
    job = json.loads((out / "launch/job.json").read_text())
    assert (job["training"]["devices"], job["training"]["num_nodes"]) == (2, 1)
    state, meta = load_checkpoint(out / "best.ckpt")
    assert meta["config"]["devices"] == 2 and state["model"]
    assert (out / "logs/train.rank1.log").exists()  # no rule log here: beside the run's own logs


def test_a_failing_rank_fails_the_stage_naming_its_log(shards, tmp_path, no_rule_log):  # noqa: F811
    out = tmp_path / "models/gat_teacher/seed0"
    inputs, outputs, params, wildcards = stage_call(shards, out, gpus=2)
    inputs["train"] = str(tmp_path / "no_such_shards/train")
    with pytest.raises(RuntimeError, match=r"failed on rank 0 .*see .*logs/train\.rank0\.log"):
        stage.run_train(inputs, outputs, params, wildcards)
    assert "Traceback" in (out / "logs/train.rank0.log").read_text()


@pytest.mark.slow
def test_a_stop_signal_to_the_stage_reaches_the_ranks_and_the_rerun_ends_the_same(shards, tmp_path):  # noqa: F811
    """SIGTERM to the process running the stage (2 local ranks): passed on, every rank saves the same step and
    stops, the stage raises TrainingStopped; the rerun resumes there and ends with the weights of a run
    never stopped."""
    slow = {"batch_size": 1, "max_steps_per_epoch": 0, "max_epochs": 3}
    script = ("import json, sys; from canguard.logs import setup_logging; from canguard.stages.train import run_train; "
              "setup_logging(sys.argv[2]); run_train(*json.loads(open(sys.argv[1]).read()))")
    results = {}
    for name in ("stopped", "whole"):
        out = tmp_path / name
        call = tmp_path / f"{name}.json"
        call.write_text(json.dumps(stage_call(shards, out, gpus=2, **slow)))
        cmd = [sys.executable, "-c", script, str(call), str(tmp_path / f"{name}.log")]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if name == "stopped":
            rank0 = tmp_path / "stopped.rank0.log"
            deadline = time.monotonic() + 300
            while not (rank0.exists() and "epoch 0:" in rank0.read_text()) and time.monotonic() < deadline:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.1)
            os.kill(proc.pid, signal.SIGTERM)
            output, _ = proc.communicate(timeout=300)
            assert proc.returncode != 0 and "TrainingStopped: training stopped by SIGTERM in epoch 1" in output
            assert "on all 2 rank(s)" in output
            assert "SIGTERM received: passing it on" in (tmp_path / "stopped.log").read_text()
            stops = [json.loads((out / f"launch/rank{r}.json").read_text()) for r in (0, 1)]
            assert [s["status"] for s in stops] == ["stopped", "stopped"] and stops[0]["where"].startswith("in epoch 1")
            assert stops[0]["where"] == stops[1]["where"]  # the same step on both
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.wait(timeout=600) == 0, proc.stdout.read()
        results[name] = load_checkpoint(out / "best.ckpt")[0]["model"]
    assert "resuming" in (tmp_path / "stopped.rank0.log").read_text()
    for key, tensor in results["whole"].items():
        assert torch.equal(tensor, results["stopped"][key]), key
