"""Rule train: one model of one seed: a teacher, a distilled student (its teacher of the same seed in the
loop) or a student without teacher (what distillation is measured against).  Launched by Snakemake, on
SLURM through the slurm profile, or by hand::

    canguard train --model gat --dataset synthetic

Where the ranks run (``params["launch"]``: ``distributed.<role>`` of the config, GPUs per node and nodes,
one process per GPU; :class:`canguard.training.worker.Geometry`):

* **here** (no SLURM, one process): training runs in this process, as it always did;
* **local** (no SLURM, several processes on this machine): one ``python -m canguard.training.worker JOB.json``
  process, whose Fabric launcher re-executes that clean command line for the other ranks;
* **srun** (inside a SLURM job, any number of processes): ``srun`` starts every rank as a task of a job step of
  its own (``--overlap`` when this process itself runs inside a job step).  The profiles give the train jobs
  the plugin's MPI route (resource ``mpi``), so Snakemake and this stage run in the job's batch step: SLURM's
  warning signal (``sbatch --signal=USR1@<s>``, ``scancel --signal=USR1 JOBID``) goes to job steps, so it
  reaches the ranks, which checkpoint and stop, and never the Snakemake process waiting for them.

The job description is a JSON file (``<model>/launch/job.json``); no config value passes through a shell
string.  Each rank logs to ``<rule log>.rank<R>.log`` beside the rule's log, the launcher's own output
(srun's messages, anything a rank prints) goes to ``<rule log>.launch.log``.  A stop signal that reaches this
process (Ctrl-C, a kill of the job) is passed on to the ranks, and this process waits for them to save.  When
every rank stopped on a signal, the stage raises :class:`~canguard.training.stopping.TrainingStopped` (the job
fails; Snakemake's ``retries`` run it again and it resumes from the checkpoint); when any rank failed, a
``RuntimeError`` naming that rank's log.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from canguard.detectors import Detector
from canguard.training.config import TrainConfig
from canguard.training.run import apply_tuning, train_model
from canguard.training.stopping import STOP_SIGNALS, SignalHandlers, TrainingStopped
from canguard.training.worker import EXIT_STOPPED, Geometry, WorkerJob, launch_dir, read_status

log = logging.getLogger(__name__)

# the SLURM variables a job step started from here keeps: the allocation's identity (as the jobstep plugin
# does); the rest describe the step this process is in (its task count, tasks per GPU, CPUs) and would
# silently reshape the ranks' step
SLURM_KEEP = {"SLURM_JOB_ID", "SLURM_JOBID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_CLUSTER_NAME",
              "SLURM_SUBMIT_DIR", "SLURM_SUBMIT_HOST", "SLURM_CONF"}
# what a launcher of torch.distributed left in the environment would mislead Fabric's cluster detection
DIST_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK")


def run_train(inputs, outputs, params, wildcards) -> None:
    detector = Detector(wildcards["family"], wildcards["role"])
    geometry = Geometry.from_dict(params.get("launch"))
    cfg = apply_tuning(TrainConfig.from_dict(params["training"] | {"seed": int(wildcards["seed"])}),
                       batch_size_json=inputs.get("batch_size"), lr_json=inputs.get("lr"))
    cfg = dataclasses.replace(cfg, **geometry.fabric(cfg.to_dict()))
    out_dir = Path(outputs["ckpt"]).parent
    teacher = inputs["teacher"] if detector.distilled else None
    where = launcher(geometry)
    if where == "here":
        train_model(Path(inputs["train"]).parent, detector.family, detector.architecture, cfg, out_dir=out_dir,
                    sizes=params["sizes"], teacher_ckpt=teacher)
        return
    base = _log_base(out_dir)
    job = WorkerJob(shards=str(Path(inputs["train"]).parent), family=detector.family,
                    architecture=detector.architecture, training=cfg.to_dict(), out_dir=str(out_dir),
                    sizes=dict(params["sizes"]), teacher_ckpt=str(teacher) if teacher else None,
                    log=f"{base}.rank{{rank}}.log", threads=_threads(geometry, where))
    launch(job, geometry, where, launch_log=f"{base}.launch.log")
    missing = [name for name, path in outputs.items() if not Path(path).exists()]
    if missing:
        raise RuntimeError(f"training ended without writing {', '.join(missing)}: see {base}.rank0.log")


def launcher(geometry: Geometry, environ=None) -> str:
    """Where the ranks of a job of this shape run: ``here``, ``local`` or ``srun`` (see the module docstring)."""
    environ = os.environ if environ is None else environ
    if environ.get("SLURM_JOB_ID") and shutil.which("srun", path=environ.get("PATH")):
        return "srun"
    if geometry.nodes > 1:
        raise ValueError(f"{geometry.nodes} nodes need SLURM (distributed.<role>.nodes); this job runs outside "
                         "one: use nodes: 1 for a local run, or the slurm profile")
    return "local" if geometry.distributed else "here"


def srun_command(geometry: Geometry, environ=None) -> list[str]:
    """``srun`` options that start one task per GPU, ``gpus`` per node, in a new step of this SLURM job."""
    environ = os.environ if environ is None else environ
    cmd = ["srun", f"--ntasks={geometry.processes}", f"--nodes={geometry.nodes}",
           f"--ntasks-per-node={geometry.gpus}", "--kill-on-bad-exit=1", "--label", "--input=none"]
    cpus = job_cpus_per_task(environ)
    if cpus:
        cmd.append(f"--cpus-per-task={cpus}")
    # no GPU option: a step gets every GPU of the job's node, each task seeing all of them (Fabric gives local
    # rank i cuda:i); --gpus-per-task would bind one GPU to each task
    if environ.get("SLURM_STEP_ID"):  # inside a step (e.g. srun -n1 snakemake): share its resources
        cmd.append("--overlap")
    return cmd


def job_cpus_per_task(environ=None) -> int | None:
    """CPUs per task of this SLURM job (sbatch --cpus-per-task, the profile's cpus_per_task): from the
    environment where it says (a job step), else from ``scontrol show job`` (the jobstep plugin runs Snakemake
    with the allocation's identity only); None where neither says (srun then gives each task one CPU)."""
    environ = os.environ if environ is None else environ
    cpus = environ.get("SLURM_CPUS_PER_TASK", "")
    if cpus.isdigit() and int(cpus) > 0:
        return int(cpus)
    try:
        shown = subprocess.run(["scontrol", "show", "job", "-o", environ["SLURM_JOB_ID"]], capture_output=True,
                               text=True, timeout=60, env=dict(environ)).stdout
    except (KeyError, OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\bCPUs/Task=(\d+)", shown)
    return int(found.group(1)) if found and int(found.group(1)) > 0 else None


def step_environment(environ=None) -> dict:
    """The environment of the ranks' job step: this one, less the variables of the step or batch script this
    process runs in (``SLURM_*`` but the allocation's identity, ``SRUN_*``, ``SBATCH_*``) and any
    torch.distributed rendezvous left over."""
    environ = dict(os.environ if environ is None else environ)
    return {k: v for k, v in environ.items()
            if not (k.startswith("SLURM_") and k not in SLURM_KEEP) and not k.startswith(("SRUN_", "SBATCH_"))
            and k not in DIST_VARIABLES}


def local_environment(environ=None) -> dict:
    environ = dict(os.environ if environ is None else environ)
    return {k: v for k, v in environ.items() if k not in DIST_VARIABLES}


def launch(job: WorkerJob, geometry: Geometry, where: str, launch_log: str | Path) -> None:
    """Run ``job``'s ranks (``where``: local or srun) and wait for them; raise if any did not finish."""
    folder = launch_dir(job.out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("rank*.json"):
        old.unlink()
    job_file = job.write(folder / "job.json")
    worker = [sys.executable, "-m", "canguard.training.worker", str(job_file)]
    if where == "srun":
        cmd, env = srun_command(geometry) + worker, step_environment()
    elif where == "local":
        cmd, env = worker, local_environment()
    else:
        raise ValueError(f"no launcher {where!r} (local, srun)")
    log.info("training %s %s with %d process(es) on %d node(s) (%s): %s", job.family, job.architecture,
             geometry.processes, geometry.nodes, where, " ".join(cmd))
    log.info("rank logs: %s; launcher output: %s", job.log_path("<rank>"), launch_log)
    Path(launch_log).parent.mkdir(parents=True, exist_ok=True)
    with open(launch_log, "a") as out:  # after an earlier (stopped) attempt's output
        out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n")
        out.flush()
        # a session of its own: a terminal's Ctrl-C reaches this process alone, which passes it on once
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        with _Forwarding(proc):
            code = proc.wait()
    if code == 0:
        log.info("all %d rank(s) done", geometry.processes)
        return
    _raise_for(job, geometry, code, launch_log)


def _raise_for(job: WorkerJob, geometry: Geometry, code: int, launch_log) -> None:
    statuses = {rank: read_status(job.out_dir, rank) for rank in range(geometry.processes)}
    stopped = [s for s in statuses.values() if s and s["status"] == "stopped"]
    failed = {rank: s for rank, s in statuses.items() if s and s["status"] == "failed"}
    if len(stopped) == geometry.processes or (code == EXIT_STOPPED and not failed and stopped):
        first = stopped[0]
        log.warning("rank %d: %s", first["rank"], first["message"])
        ranks = "all" if len(stopped) == geometry.processes else f"{len(stopped)} of"
        raise TrainingStopped(first.get("signal") or "a signal", f"{first.get('where', '')} on {ranks} "
                              f"{geometry.processes} rank(s) (logs {job.log_path('<rank>')})".strip())
    how = f"exit status {code}" if code >= 0 else f"killed by {_signal_name(-code)}"
    if failed:
        rank, status = next(iter(failed.items()))
        raise RuntimeError(f"training failed on rank {rank} ({status['message']}): see {job.log_path(rank)} "
                           f"(launcher {how}; its output: {launch_log})")
    silent = [rank for rank, s in statuses.items() if s is None]
    raise RuntimeError(f"training failed (launcher {how}); rank(s) {silent} reported nothing: see "
                       f"{launch_log} and {job.log_path(silent[0] if silent else 0)}")


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class _Forwarding(SignalHandlers):
    """While the ranks run: a stop signal that reaches this process goes on to the launched process (srun passes
    it to every task), and this process keeps waiting for them to checkpoint and exit."""

    def __init__(self, proc: subprocess.Popen):
        super().__init__(STOP_SIGNALS)
        self.proc = proc

    def _handle(self, signum, frame) -> None:
        log.warning("%s received: passing it on to the training processes", signal.Signals(signum).name)
        try:
            self.proc.send_signal(signum)
        except ProcessLookupError:  # pragma: no cover - already gone
            pass


def _threads(geometry: Geometry, where: str) -> int:
    """Torch threads per rank where SLURM does not say: this job's threads shared among its local processes."""
    import torch  # imported by train_model's module already

    local = geometry.gpus if where == "local" else 1
    return max(1, torch.get_num_threads() // local)


def _log_base(out_dir: Path) -> str:
    """The rule's log file less ``.log`` (rank and launcher logs go beside it); without one (a direct call),
    ``<out_dir>/logs/train``."""
    for handler in logging.getLogger().handlers:
        name = getattr(handler, "baseFilename", None)
        if isinstance(handler, logging.FileHandler) and name:
            path = Path(name).with_suffix("")
            return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    return str(out_dir / "logs" / "train")
