"""The training engine on Lightning Fabric: seeded, resumable, early-stopped, logged.

    engine = Engine(TrainConfig(max_epochs=20), out_dir="results/models/synthetic/gat_teacher")
    summary = engine.fit(task, GraphShards(".../train"), GraphShards(".../val"), fingerprint={...})

Fabric chooses accelerator, devices, strategy and precision ("auto" picks
bf16-mixed on hardware that supports it and 32-true elsewhere).  What Fabric
lacks is here: the epoch loop with gradient accumulation and clipping, AdamW
with a warm-up + cosine (or plateau) schedule, early stopping on the task's
monitored validation metric, and checkpoints in ``out_dir/checkpoints``
(:mod:`canguard.training.checkpoint`): ``best-step<N>`` (the best epoch's
model) and ``last-step<N>`` with the full state (model, optimiser, scheduler,
loop counters, RNG, the metrics of every epoch so far), each verified by the
hash its metadata names, the two newest of each kept.  Resumption: rerun an
interrupted run with the same fingerprint (config + data) and it continues
after the last epoch whose checkpoint verifies (a half-written one is passed
over with a warning), ending with the weights an uninterrupted run ends with;
a run with another fingerprint starts afresh.  When training ends, the best
checkpoint is copied to ``out_dir/best.ckpt`` (with ``best.json``) and the
history to ``out_dir/metrics.csv`` (every epoch once, across resumptions): the
stage's declared outputs.  Logs: ``logs/metrics.csv`` rewritten after each
epoch, TensorBoard under ``out_dir/tensorboard`` (appended to on resume); a
progress bar per epoch on a terminal.

NaN and infinity (:mod:`canguard.training.finite`): the settings are checked before anything is written, every
training loss as it is computed, the gradient norm before every optimiser step, the weights and the monitored
metric before every checkpoint; the first one found stops training with
:class:`~canguard.training.finite.NonFiniteError` (one line: the model, its folder, the epoch and batch), and
nothing is saved from that point on, so no best or last checkpoint ever holds a NaN.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch
from lightning.fabric import Fabric
from lightning.fabric.loggers import TensorBoardLogger
from torch.utils.data import DataLoader

from canguard.atomic import atomic_output, write_text
from canguard.graphs.dataset import GraphShards, ShardBatches
from canguard.training.checkpoint import CheckpointSeries, copy_checkpoint, rng_state, set_rng_state
from canguard.training.config import TrainConfig
from canguard.training.finite import NonFiniteError, gradients_finite, nonfinite_tensors
from canguard.training.profiler import NullProfiler, PhaseProfiler
from canguard.training.stopping import StopRequests, TrainingStopped

log = logging.getLogger(__name__)


def resolve_precision(precision: str, accelerator: str = "auto") -> str:
    """'auto' -> bf16-mixed on a GPU that supports bf16, else 32-true."""
    if precision != "auto":
        return precision
    if accelerator in ("auto", "cuda", "gpu") and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def loader_settings(device_type: str, num_workers: int | str = "auto", pin_memory: bool | str = "auto",
                    prefetch_factor: int = 4) -> dict:
    """DataLoader settings from the hardware.

    Batches are gathered from memory-mapped shards by index arithmetic, which
    costs little next to a training step: on CPU the main process does it (workers
    would only compete with the model for the same cores); on a GPU, worker
    processes prefetch batches into pinned memory while the GPU computes.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if num_workers == "auto":
        num_workers = min(4, max(cpus - 1, 0)) if device_type == "cuda" else 0
    pin = device_type == "cuda" if pin_memory == "auto" else bool(pin_memory)
    settings = {"num_workers": int(num_workers), "pin_memory": pin}
    if settings["num_workers"] > 0:
        settings |= {"persistent_workers": True, "prefetch_factor": int(prefetch_factor)}
    return settings


def fingerprint_of(*parts) -> str:
    return hashlib.blake2b(json.dumps(parts, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()


def lr_lambda(total_steps: int, warmup_steps: int, kind: str, floor: float = 0.05) -> Callable[[int], float]:
    """Multiplier of the base LR at an optimiser step: linear warm-up, then cosine decay to ``floor``."""
    def f(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        if kind != "cosine":
            return 1.0
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    return f


class Engine:
    def __init__(self, cfg: TrainConfig, out_dir: str | Path, callbacks: list[Callable[[int, dict], None]] = ()):
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.callbacks = list(callbacks)  # called as cb(epoch, metrics) after each epoch's checkpoint
        self.rank_zero = True

    @property
    def checkpoints(self) -> Path:
        return self.out_dir / "checkpoints"

    @property
    def logs(self) -> Path:
        return self.out_dir / "logs"

    @property
    def last(self) -> CheckpointSeries:
        return CheckpointSeries(self.checkpoints, "last", keep=2)

    @property
    def best(self) -> CheckpointSeries:
        # two: the last checkpoint before the newest names the best checkpoint before the newest
        return CheckpointSeries(self.checkpoints, "best", keep=2)

    def _resume_point(self, fingerprint: str, clear: bool = True):
        """(state, metadata) of the newest verified last checkpoint of this run; else clears the old run."""
        found = self.last.latest()
        if found is not None:
            path, saved, meta = found
            if meta.get("fingerprint") == fingerprint:
                return saved, meta
            log.info("%s belongs to another configuration or data: starting afresh", path)
        if not clear:
            return None
        self.last.clear()
        self.best.clear()
        (self.logs / "metrics.csv").unlink(missing_ok=True)
        shutil.rmtree(self.out_dir / "tensorboard", ignore_errors=True)
        return None

    def _fabric(self) -> Fabric:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        loggers = [TensorBoardLogger(self.out_dir, name="tensorboard", version="")]
        return Fabric(accelerator=self.cfg.accelerator, devices=self.cfg.devices, num_nodes=self.cfg.num_nodes,
                      strategy=self.cfg.strategy,
                      precision=resolve_precision(self.cfg.precision, self.cfg.accelerator), loggers=loggers)

    def fit(self, task, train: GraphShards, val: GraphShards, fingerprint: str) -> dict:
        """Train ``task`` (see :mod:`canguard.training.tasks`) and return the run summary."""
        cfg = self.cfg
        bad = cfg.nonfinite()  # what bypassed the schema (a tuner's result, a TrainConfig made by hand)
        if bad:
            raise NonFiniteError(f"{_who(task, self.out_dir)}: training setting "
                                 f"{', '.join(f'{name}={value!r}' for name, value in bad)} is not a finite number: "
                                 "refused before the first step, nothing written")
        fabric = self._fabric()
        fabric.launch()  # data-parallel: starts the other processes (or joins those srun/torchrun started)
        self.rank_zero = fabric.is_global_zero
        resume = self._resume_point(fingerprint) if self.rank_zero else None
        if fabric.world_size > 1:  # the others read what rank 0 kept (it alone clears a stale run)
            fabric.barrier()
            if not self.rank_zero:
                resume = self._resume_point(fingerprint, clear=False)
        if fabric.device.type == "cuda":
            torch.set_float32_matmul_precision("high")  # TF32 for what runs outside bf16 autocast
        task.to(fabric.device)
        trainable = task.trainable
        optimizer = torch.optim.AdamW([p for p in trainable.parameters() if p.requires_grad],
                                      lr=cfg.lr, weight_decay=cfg.weight_decay)
        n_train = task.num_training_graphs(train)
        world = fabric.world_size  # cfg.batch_size is per process: the global batch is world times that
        batches_per_epoch = math.ceil(n_train / (cfg.batch_size * world))
        if cfg.max_steps_per_epoch:
            batches_per_epoch = min(batches_per_epoch, cfg.max_steps_per_epoch)
        steps_per_epoch = math.ceil(batches_per_epoch / cfg.grad_accum)
        total = steps_per_epoch * cfg.max_epochs
        kind = cfg.scheduler if cfg.scheduler in ("cosine", "none") else "none"
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lr_lambda(total, steps_per_epoch * cfg.warmup_epochs, kind))
        plateau = (torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=task.mode, patience=2, factor=0.5)
                   if cfg.scheduler == "plateau" else None)
        model, optimizer = fabric.setup(trainable, optimizer)

        # position: where inside an epoch a run stopped on a signal (None at an epoch's end)
        state = {"epoch": -1, "global_step": 0, "best": None, "best_epoch": -1, "best_step": None, "bad_epochs": 0,
                 "stopped": False, "history": [], "position": None}
        if resume is not None:
            saved, meta = resume
            trainable.load_state_dict(saved["trainable"])
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            if plateau is not None and "plateau" in saved:
                plateau.load_state_dict(saved["plateau"])
            set_rng_state(saved["rng"], meta["rng"])
            state = meta["loop"]
            position = state.get("position")
            if position:
                log.info("resuming %s inside epoch %d after batch %d", self.out_dir, position["epoch"],
                         position["batch"])
            else:
                log.info("resuming %s after epoch %d", self.out_dir, state["epoch"])

        dataset = ShardBatches(train, cfg.batch_size * world, shuffle=True, seed=cfg.seed, label=task.train_label,
                               rank=fabric.global_rank, world_size=world)
        loader = fabric.setup_dataloaders(
            # its own generator: starting an epoch's iterator then leaves the global RNG alone, so a run
            # resumed inside an epoch draws what an uninterrupted one would
            DataLoader(dataset, batch_size=None, generator=torch.Generator().manual_seed(cfg.seed),
                       **loader_settings(fabric.device.type, cfg.num_workers, cfg.pin_memory, cfg.prefetch_factor)),
            use_distributed_sampler=False)
        profiler = (PhaseProfiler(self.out_dir / "profile", fabric.device) if cfg.profile else NullProfiler())
        started = time.perf_counter()
        with StopRequests() as stop:
            profiler = self._epochs(fabric, task, model, optimizer, scheduler, plateau, loader, dataset, val, profiler,
                         batches_per_epoch, state, fingerprint, stop, resume)
        profiler.close()
        for logger in fabric.loggers:
            logger.finalize("success")
        # the stage's outputs: written once training is complete, so that a rerun that finds
        # the run already finished (same fingerprint) still writes them
        summary = {"best_epoch": state["best_epoch"], "best": state["best"], "monitor": task.monitor,
                   "epochs_run": state["epoch"] + 1, "stopped_early": state["stopped"],
                   "global_steps": state["global_step"], "seconds_this_run": round(time.perf_counter() - started, 2),
                   "device": str(fabric.device), "precision": resolve_precision(cfg.precision, cfg.accelerator),
                   "train_graphs": n_train, "processes": world, "fingerprint": fingerprint}
        if self.rank_zero:
            copy_checkpoint(self.best.path(state["best_step"]), self.out_dir / "best.ckpt")
            write_history(self.out_dir / "metrics.csv", state["history"])
            write_text(self.out_dir / "train_summary.json", json.dumps(summary, indent=2) + "\n")
        fabric.barrier()
        return summary

    def _epochs(self, fabric, task, model, optimizer, scheduler, plateau, loader, dataset, val, profiler,
                batches_per_epoch, state, fingerprint, stop, resume):
        """The epoch loop, from where ``state`` says the run is (an epoch's end, or a position inside one);
        returns the profiler still open."""
        cfg = self.cfg
        position = state.get("position")
        first = position["epoch"] if position else state["epoch"] + 1
        for epoch in range(first, cfg.max_epochs):
            if state["stopped"]:
                break
            if _agreed(fabric, stop):  # arrived during validation: the epoch's checkpoint is already saved
                raise TrainingStopped(stop.signal_name, f"after epoch {state['epoch']}")
            dataset.set_epoch(epoch)
            task.set_epoch(epoch)
            if position and position["epoch"] == epoch:
                task.set_generator_states(resume[0]["augmentation"])
            else:
                position = None
            train_logs = self._train_epoch(fabric, task, model, optimizer, scheduler, plateau, loader, profiler,
                                           batches_per_epoch, epoch, state, fingerprint, stop, position)
            position = None
            if cfg.profile and state["global_step"] >= cfg.profile_steps and not isinstance(profiler, NullProfiler):
                profiler.close()
                profiler = NullProfiler()
            with torch.no_grad():
                task.eval()
                metrics = task.validate(val.batches(cfg.batch_size), fabric)
                task.train()
            if fabric.world_size > 1:  # each process validated the whole set: rank 0's numbers decide for all
                metrics = fabric.broadcast(metrics, src=0)
            metrics = {f"val_{k}": v for k, v in metrics.items()} | train_logs
            metrics |= {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"]}
            current = metrics[task.monitor]
            # nothing non-finite becomes a checkpoint: neither the weights nor the metric that elects the best
            self._check_weights(fabric, task, f"after epoch {epoch}")
            if not math.isfinite(current):
                raise NonFiniteError(f"{_who(task, self.out_dir)}: validation {task.monitor} is {current!r} after "
                                     f"epoch {epoch} (optimiser step {state['global_step']}): stopped, nothing saved "
                                     "from this epoch; the checkpoints saved before it are kept")
            if state["best"] is None:
                improved = True
            elif task.mode == "max":
                improved = current > state["best"] + cfg.min_delta
            else:
                improved = current < state["best"] - cfg.min_delta
            if plateau is not None:
                plateau.step(current)
            state["epoch"] = epoch
            state["history"] = [*state["history"], metrics]
            if improved:
                state |= {"best": current, "best_epoch": epoch, "best_step": state["global_step"], "bad_epochs": 0}
                self._save_best(task, metrics, fingerprint, state)
            else:
                state["bad_epochs"] += 1
                state["stopped"] = state["bad_epochs"] >= cfg.patience
            self._save_last(task, optimizer, scheduler, plateau, state, fingerprint)
            # logged once the epoch is committed: a resumed run neither loses nor repeats an epoch
            if self.rank_zero:
                write_history(self.logs / "metrics.csv", state["history"])
            fabric.log_dict(metrics, step=epoch)
            log.info("epoch %d: %s%s", epoch, _fmt(metrics), " (best)" if improved else "")
            for cb in self.callbacks:
                cb(epoch, metrics)
        if _agreed(fabric, stop) and not state["stopped"] and state["epoch"] + 1 < cfg.max_epochs:
            raise TrainingStopped(stop.signal_name, f"after epoch {state['epoch']}")
        return profiler

    def _train_epoch(self, fabric, task, model, optimizer, scheduler, plateau, loader, profiler, max_batches, epoch,
                     state, fingerprint, stop, position):
        """One epoch's batches (from ``position["batch"]`` when resuming inside it); stops after the next
        optimiser step once a stop is requested, with a checkpoint of the position reached."""
        cfg = self.cfg
        task.train()
        start = position["batch"] if position else 0
        total, count = (position["loss_sum"], position["batches"]) if position else (0.0, 0)
        progress = _progress(max_batches, f"epoch {epoch}")
        steps = StepLog(epoch, max_batches, start, cfg.log_every_s if self.rank_zero else 0.0,
                        console_prefix=f"[{self.out_dir}] ")
        # the loss is checked as it is computed: at once in one process; with several, at the next optimiser
        # step, where every process agrees (one stopping alone would leave the others waiting in the all-reduce)
        bad_loss = None
        check_gradients = getattr(fabric.strategy.precision, "scaler", None) is None  # a loss scaler skips them
        iterator = iter(loader)
        for _ in range(start):  # the epoch's order is fixed by (seed, epoch): skip what was trained
            next(iterator)
        if progress is not None:
            progress.update(start)
        for i in range(start, max_batches):
            with profiler.phase("data"):
                try:
                    batch = next(iterator)
                except StopIteration:
                    break
            accumulating = (i + 1) % cfg.grad_accum != 0 and i + 1 < max_batches
            with fabric.no_backward_sync(model, enabled=accumulating):
                with profiler.phase("forward"):
                    loss, _ = task.training_loss(batch)
                value = float(loss.detach())
                if not math.isfinite(value) and bad_loss is None:
                    bad_loss = f"training loss is {value!r} at epoch {epoch}, batch {i + 1} of {max_batches}"
                    if fabric.world_size == 1:
                        self._stop_nonfinite(task, bad_loss, state)
                with profiler.phase("backward"):
                    fabric.backward(loss / cfg.grad_accum)
            if not accumulating:
                with profiler.phase("optimizer"):
                    norm = None
                    if cfg.grad_clip:
                        norm = fabric.clip_gradients(model, optimizer, max_norm=cfg.grad_clip, error_if_nonfinite=False)
                    problem = bad_loss
                    if problem is None and check_gradients:
                        problem = _nonfinite_gradients(optimizer, norm, epoch, i, max_batches)
                    if _any_rank(fabric, problem is not None):
                        self._stop_nonfinite(task, problem or "a non-finite loss or gradient on another "
                                             f"process at epoch {epoch}, batch {i + 1} of {max_batches}", state)
                    bad_loss = None
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    scheduler.step()
                state["global_step"] += 1
            profiler.step()
            total += value
            count += 1
            if progress is not None:
                progress.update(1)
                progress.set_postfix(loss=f"{total / count:.4f}")
            steps.step(i + 1, batch.num_graphs, total / count)
            if not accumulating and i + 1 < max_batches and _agreed(fabric, stop):
                self._check_weights(fabric, task, f"in epoch {epoch} after batch {i + 1}")
                state["position"] = {"epoch": epoch, "batch": i + 1, "loss_sum": total, "batches": count}
                self._save_last(task, optimizer, scheduler, plateau, state, fingerprint,
                                augmentation=task.generator_states())
                state["position"] = None
                raise TrainingStopped(stop.signal_name, f"in epoch {epoch} after batch {i + 1} of {max_batches}")
        if progress is not None:
            progress.close()
        loss = total / max(count, 1)
        if fabric.world_size > 1:
            loss = float(fabric.all_reduce(torch.tensor(loss, device=fabric.device), reduce_op="mean"))
        return {"train_loss": loss}

    def _stop_nonfinite(self, task, problem: str, state: dict) -> None:
        raise NonFiniteError(f"{_who(task, self.out_dir)}: {problem} (before optimiser step "
                             f"{state['global_step'] + 1}): stopped before the step, nothing saved from it; the "
                             "checkpoints saved before it are kept")

    def _check_weights(self, fabric, task, where: str) -> None:
        """NonFiniteError where a weight (or buffer) of the trained modules is NaN or infinite; every process
        checks, and all stop together."""
        bad = nonfinite_tensors(task.trainable.state_dict().items())
        if _any_rank(fabric, bool(bad)):
            names = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "") if bad else (
                "on another process")
            raise NonFiniteError(f"{_who(task, self.out_dir)}: non-finite weights {where} ({names}): stopped, "
                                 "nothing saved from them; the checkpoints saved before are kept")

    def _meta(self, task, fingerprint: str, epoch: int) -> dict:
        return {"task": task.describe(), "config": self.cfg.to_dict(), "fingerprint": fingerprint, "epoch": epoch}

    def _save_best(self, task, metrics: dict, fingerprint: str, state: dict) -> None:
        if not self.rank_zero:
            return
        self.best.save(state["global_step"], {"model": task.model.state_dict()},
                       self._meta(task, fingerprint, state["epoch"]) | {"metrics": metrics})

    def _save_last(self, task, optimizer, scheduler, plateau, state: dict, fingerprint: str,
                   augmentation: dict | None = None) -> None:
        if not self.rank_zero:  # the processes hold the same weights; only rank 0 writes
            return
        tensors, plain = rng_state()
        saved = {"trainable": task.trainable.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "rng": tensors}
        if augmentation is not None:  # inside an epoch: where the augmentation generators are
            saved["augmentation"] = augmentation
        if plateau is not None:
            saved["plateau"] = plateau.state_dict()
        self.last.save(state["global_step"], saved,
                       self._meta(task, fingerprint, state["epoch"]) | {"loop": state, "rng": plain})


def _who(task, out_dir: Path) -> str:
    """The model a message is about: ``gat teacher in results/<run>/models/<dataset>/gat_teacher/seed0``."""
    d = task.describe()
    distilled = " (distilled)" if d.get("distilled_from") else ""
    return f"{d.get('family', '?')} {d.get('role', '?')}{distilled} in {out_dir}"


def _nonfinite_gradients(optimizer, norm, epoch: int, batch: int, batches: int) -> str | None:
    """What is wrong with the gradients about to be stepped on (None: all finite): their total norm, the one
    clipping computed or computed here, is NaN or infinite, and so is some gradient (a norm can overflow in 16-bit
    where every gradient is finite)."""
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if not grads:
        return None
    if norm is None:
        norm = torch.nn.utils.get_total_norm(grads)
    if bool(torch.isfinite(norm)) or gradients_finite(grads):
        return None
    return f"gradient norm is {float(norm)!r} at epoch {epoch}, batch {batch + 1} of {batches}"


def _any_rank(fabric, flag: bool) -> bool:
    """Whether ``flag`` holds in any process (every process calls this at the same point)."""
    if fabric.world_size == 1:
        return flag
    return fabric.strategy.reduce_boolean_decision(flag, all=False)


def _agreed(fabric, stop) -> bool:
    """Whether any process was asked to stop: all stop at the same step (a lone one would hang the others)."""
    if fabric.world_size == 1:
        return stop.requested
    return fabric.strategy.reduce_boolean_decision(stop.requested, all=False)


def write_history(path: Path, history: list[dict]) -> None:
    """The metrics of every epoch so far as one CSV (columns in order of first appearance), atomically."""
    with atomic_output(path) as tmp:
        pd.DataFrame(history).to_csv(tmp, index=False)


def _fmt(metrics: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())


class StepLog:
    """A progress line inside an epoch every ``every_s`` seconds (0: none), in the rule's log as on a console:
    ``epoch 3: batch 1200/5000 (24%), 850 graphs/s, loss 0.2141, epoch ETA 4:28``."""

    def __init__(self, epoch: int, total: int, start: int, every_s: float, clock=time.perf_counter,
                 console_prefix: str = ""):
        self.epoch, self.total, self.every_s, self.clock = epoch, total, every_s, clock
        self.console_prefix = console_prefix
        self.t0 = self.last = clock()
        self.first, self.graphs = start, 0

    def step(self, batch: int, graphs: int, loss: float) -> None:
        if not self.every_s:
            return
        self.graphs += graphs
        now = self.clock()
        if now - self.last < self.every_s:
            return
        self.last = now
        done, elapsed = batch - self.first, now - self.t0
        eta = elapsed / max(done, 1) * (self.total - batch)
        minutes, seconds = divmod(int(eta), 60)
        line = (f"epoch {self.epoch}: batch {batch}/{self.total} ({100 * batch // max(self.total, 1)}%), "
                f"{self.graphs / elapsed:.0f} graphs/s, loss {loss:.4f}, epoch ETA {minutes}:{seconds:02d}")
        log.info("%s", line)
        # a rule's log is a file: the line goes to the console (Snakemake's terminal) as well
        if not any(type(h) is logging.StreamHandler for h in logging.getLogger().handlers):
            print(f"{self.console_prefix}{line}", file=sys.stderr, flush=True)


def _progress(total: int, desc: str):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, desc=desc, leave=False, disable=None, mininterval=2.0)
