"""One rank of a training job, started from a JSON job description; and the shape of a job's ranks.

    python -m canguard.training.worker results/<run>/models/<dataset>/<model>/seed0/launch/job.json

The train stage (:mod:`canguard.stages.train`) writes a :class:`WorkerJob` (everything
:func:`canguard.training.run.train_model` takes: shards, model, the resolved training settings, output
folder, sizes, teacher) as JSON and starts this module where its ranks need processes of their own:

* under SLURM, ``srun`` starts every rank (one task per GPU) in a job step of its own; Fabric's
  SLURMEnvironment takes each rank from srun's environment;
* locally with several processes, the stage starts one process and Fabric's launcher re-executes
  ``python -m canguard.training.worker JOB.json`` (a clean ``sys.argv``, unlike a Snakemake script)
  for the other local ranks.

Config values travel in the JSON file, never through a shell string.  Each rank logs to its own file
(``WorkerJob.log`` with ``{rank}`` filled in) and, when it ends, writes a status file
(``launch/rank<R>.json``: done, stopped or failed, with the message) that the stage reads to say
what happened.  Exit status: 0 done, :data:`EXIT_STOPPED` (75) when a stop signal (SIGUSR1 from
``sbatch --signal``, SIGTERM, SIGINT) made training save a checkpoint and stop (a rerun resumes from
it), 1 on any other error, 2 on a bad command line.

:class:`Geometry` is the shape of a training job: GPUs per node and nodes (``distributed.<role>`` of
the workflow config), one process per GPU.  It gives the job's Snakemake resources for the SLURM
executor plugin and the Fabric settings of its ranks.  This module imports no torch until a rank runs:
the workflow reads :class:`Geometry` while it builds the DAG.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from canguard.atomic import write_text
from canguard.logs import setup_logging
from canguard.training.stopping import TrainingStopped

log = logging.getLogger("canguard.training.worker")  # the same name when run as __main__

EXIT_STOPPED = 75  # EX_TEMPFAIL: stopped on a signal after a checkpoint; run again to resume
JOB_VERSION = 1
LAUNCH_DIR = "launch"  # in the model's output folder: job.json and the ranks' status files


@dataclass(frozen=True)
class Geometry:
    """GPUs per node and nodes of a training job; one process (rank, SLURM task) per GPU."""

    gpus: int = 1
    nodes: int = 1

    def __post_init__(self):
        for name in ("gpus", "nodes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    @classmethod
    def from_dict(cls, d: dict | None) -> Geometry:
        d = dict(d or {})
        unknown = sorted(set(d) - {"gpus", "nodes"})
        if unknown:
            raise ValueError(f"unknown launch setting(s): {', '.join(unknown)} (known: gpus, nodes)")
        return cls(**d)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def processes(self) -> int:
        return self.gpus * self.nodes

    @property
    def distributed(self) -> bool:
        return self.processes > 1

    def resources(self) -> dict:
        """The train job's Snakemake resources, read by snakemake-executor-plugin-slurm (2.8) and its jobstep
        plugin (0.6):

        * ``gpu`` (all GPUs of the job: ``sbatch --gpus``), ``nodes`` (``--nodes``), ``tasks_per_gpu=1``
          (``--ntasks-per-gpu=1``: one task per GPU; without it the plugin would turn ``tasks`` into
          ``--ntasks-per-gpu``), ``tasks`` (all tasks, which the plugin's MPI route checks);
        * ``mpi``: its presence makes the jobstep run Snakemake in the job's batch step instead of inside
          ``srun -n1``; the train stage then starts its ranks with ``srun`` in a job step of their own, so
          that SLURM's warning signal (``--signal=USR1@<s>`` and ``scancel --signal=USR1 JOBID`` go to job
          steps, not to the batch step) reaches the ranks and never the Snakemake process that waits for
          them.  Its value is the launcher, ``srun``, where the plugin accepts an MPI job (more than one
          task); with one task the plugin refuses a true value, and ``0`` (false for the submit side,
          present for the jobstep) keeps the same route.
        """
        return {"gpu": self.processes, "nodes": self.nodes, "tasks": self.processes, "tasks_per_gpu": 1,
                "mpi": "srun" if self.distributed else 0}

    def fabric(self, training: dict) -> dict:
        """What this shape sets of Fabric's settings (``training.devices``, ``training.num_nodes``).

        One process: nothing (``training.devices`` and ``num_nodes`` stay as the config gives them).
        Several: ``devices`` = GPUs (processes) per node, ``num_nodes`` = nodes; a config that sets them
        to something else is refused, naming both keys.
        """
        if not self.distributed:
            return {}
        devices = training.get("devices", "auto")
        if devices not in ("auto", self.gpus, str(self.gpus)):
            raise ValueError(f"training.devices is {devices!r} but distributed asks for {self.gpus} GPU(s) per node: "
                             "leave training.devices at auto (distributed sets it)")
        num_nodes = training.get("num_nodes", 1)
        if num_nodes not in (1, self.nodes):
            raise ValueError(f"training.num_nodes is {num_nodes!r} but distributed asks for {self.nodes} node(s): "
                             "leave training.num_nodes at 1 (distributed sets it)")
        return {"devices": self.gpus, "num_nodes": self.nodes}


@dataclass
class WorkerJob:
    """What one rank runs: the arguments of :func:`canguard.training.run.train_model`, as JSON."""

    shards: str  # folder holding train/ and val/
    family: str  # gat | vgae
    architecture: str  # teacher | student (train_model's role)
    training: dict  # TrainConfig.to_dict(), resolved (seed, tuning, devices)
    out_dir: str
    sizes: dict = field(default_factory=dict)
    teacher_ckpt: str | None = None
    log: str | None = None  # each rank's log file, with {rank}; None: stderr
    threads: int = 1  # torch threads per rank where SLURM does not say (SLURM_CPUS_PER_TASK)
    version: int = JOB_VERSION

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> WorkerJob:
        d = json.loads(text)
        if not isinstance(d, dict):
            raise ValueError("a worker job is a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown, missing = sorted(set(d) - names), sorted({"shards", "family", "architecture", "training",
                                                           "out_dir"} - set(d))
        if unknown or missing:
            raise ValueError(f"worker job: unknown key(s) {unknown}, missing key(s) {missing}")
        if d.get("version", JOB_VERSION) != JOB_VERSION:
            raise ValueError(f"worker job version {d['version']}, this code reads {JOB_VERSION}")
        return cls(**d)

    def write(self, path: str | Path) -> Path:
        write_text(path, self.to_json())
        return Path(path)

    @classmethod
    def read(cls, path: str | Path) -> WorkerJob:
        return cls.from_json(Path(path).read_text())

    def log_path(self, rank: int) -> str | None:
        return self.log.format(rank=rank) if self.log else None

    def status_path(self, rank: int) -> Path:
        return status_path(self.out_dir, rank)

    def config(self):
        from canguard.training.config import TrainConfig

        return TrainConfig.from_dict(self.training)


def launch_dir(out_dir: str | Path) -> Path:
    return Path(out_dir) / LAUNCH_DIR


def status_path(out_dir: str | Path, rank: int) -> Path:
    return launch_dir(out_dir) / f"rank{rank}.json"


def read_status(out_dir: str | Path, rank: int) -> dict | None:
    """What rank ``rank`` said when it ended ({"status": done|stopped|failed, "message": ...}), or None."""
    try:
        return json.loads(status_path(out_dir, rank).read_text())
    except (FileNotFoundError, ValueError):
        return None


def process_rank(environ=None) -> int:
    """This process's global rank, known before Fabric starts: srun's SLURM_PROCID, torchrun's RANK, or the
    LOCAL_RANK Fabric's launcher gives the processes it starts on one node (0 for the first)."""
    environ = os.environ if environ is None else environ
    for name in ("SLURM_PROCID", "RANK", "LOCAL_RANK"):
        if environ.get(name, "").isdigit() and (name != "SLURM_PROCID" or "SLURM_STEP_ID" in environ):
            return int(environ[name])
    return 0


def rank_threads(job: WorkerJob, environ=None) -> int:
    """Torch threads of one rank: the CPUs SLURM gave each task, else what the job description says."""
    environ = os.environ if environ is None else environ
    cpus = environ.get("SLURM_CPUS_PER_TASK", "")
    if "SLURM_STEP_ID" in environ and cpus.isdigit() and int(cpus) > 0:
        return int(cpus)
    return max(1, int(job.threads))


def _die_with_parent() -> None:
    """Linux: get SIGTERM (a stop request: checkpoint, then exit) when the process that started this one dies,
    so that no rank outlives its launcher and trains on unwatched."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover
        pass


def _write_status(job: WorkerJob, rank: int, status: str, message: str = "", **extra) -> None:
    try:
        write_text(job.status_path(rank), json.dumps({"rank": rank, "status": status, "message": message,
                                                      "pid": os.getpid()} | extra, indent=2) + "\n")
    except OSError as e:  # pragma: no cover - the exit status still says it
        log.warning("could not write the status of rank %d: %s", rank, e)


def _where(stopped: TrainingStopped) -> str:
    """Where training stopped ("in epoch 1 after batch 7 of 63"), from the stop's message."""
    text = str(stopped)
    head, tail = f"training stopped by {stopped.signal_name} ", ": checkpoint saved, rerun to resume"
    return text[len(head):-len(tail)] if text.startswith(head) and text.endswith(tail) else text


def _barrier() -> None:
    """Wait for the other ranks (all of them stop at the same step): rank 0 has then saved its checkpoint
    before any rank exits, so that a launcher which ends the others at the first exit loses nothing."""
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()
    except Exception as e:  # pragma: no cover - a peer that died: its launcher reports it
        log.warning("barrier after the stop failed: %s", e)


def _close_process_group() -> None:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    except Exception:  # pragma: no cover
        pass


def run(job: WorkerJob, rank: int | None = None) -> int:
    """Run one rank of ``job``; returns the process exit status (see the module docstring)."""
    rank = process_rank() if rank is None else rank
    logfile = job.log_path(rank)
    if logfile:
        Path(logfile).parent.mkdir(parents=True, exist_ok=True)
    setup_logging(logfile, append=True)  # a resumed attempt keeps the stopped one's log above its own
    threads = rank_threads(job)
    # Fabric's launcher sets the thread count itself unless OMP_NUM_THREADS says it
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "SLURM_STEP_ID" not in os.environ:  # started here on purpose, not by srun: Fabric's hint does not apply
        warnings.filterwarnings("ignore", message="The `srun` command is available")
    log.info("rank %d of %s %s (pid %d, %d thread(s)); job %s", rank, job.family, job.architecture, os.getpid(),
             threads, launch_dir(job.out_dir) / "job.json")
    try:
        import torch

        from canguard.training.run import train_model

        torch.set_num_threads(threads)
        summary = train_model(job.shards, job.family, job.architecture, job.config(), out_dir=job.out_dir,
                              sizes=job.sizes, teacher_ckpt=job.teacher_ckpt)
    except TrainingStopped as e:
        log.warning("rank %d: %s", rank, e)
        _write_status(job, rank, "stopped", str(e), signal=e.signal_name, where=_where(e))
        _barrier()
        return EXIT_STOPPED
    except BaseException as e:
        log.error("rank %d failed: %s: %s", rank, type(e).__name__, e, exc_info=True)
        _write_status(job, rank, "failed", f"{type(e).__name__}: {e}")
        return 1
    _write_status(job, rank, "done", "", processes=summary.get("processes"))
    _close_process_group()
    log.info("rank %d done", rank)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m canguard.training.worker JOB.json", file=sys.stderr)
        return 2
    _die_with_parent()
    try:
        job = WorkerJob.read(argv[0])
    except (OSError, ValueError) as e:
        print(f"canguard.training.worker: {argv[0]}: {e}", file=sys.stderr)
        return 2
    return run(job)


if __name__ == "__main__":
    sys.exit(main())
