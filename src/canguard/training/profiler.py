"""Per-phase timing and memory of a training loop, plus a TensorBoard trace.

Fabric has no profiler, so the engine wraps the parts of each step in
:meth:`PhaseProfiler.phase` and calls :meth:`PhaseProfiler.step` once per
optimizer step; :class:`NullProfiler` has the same API and does nothing, so the
engine always calls a profiler.

>>> prof = PhaseProfiler("results/run1/profile", fabric.device, active=3) if cfg.profile \\
...     else NullProfiler()
>>> with prof:                                   # close() on exit
...     for batch in loader:                     # better: time the fetch too, see below
...         with prof.phase("forward"):
...             loss = model(batch).loss
...         with prof.phase("backward"):
...             fabric.backward(loss)
...         with prof.phase("optimizer"):
...             opt.step(); opt.zero_grad()
...         prof.step()
>>> print(summary_table(prof.summary["phases"]))

Timing the data loading: ``it = iter(loader)`` then
``with prof.phase("data"): batch = next(it)`` (plus the host-to-device copy).

Outputs under ``out_dir``:

* ``phases.json`` -- per phase: count, total_s, mean_s, p50_ms, p90_ms,
  share (of step time) and peak_memory_bytes; per step: the same timings.
* ``traces/*.pt.trace.json`` -- a ``torch.profiler`` trace of the steps chosen
  by ``schedule(wait, warmup, active)``; open with
  ``tensorboard --logdir <out_dir>/traces`` (PyTorch Profiler tab, needs the
  torch-tb-profiler plugin) or drop the file on https://ui.perfetto.dev.
  Each phase shows as a ``record_function`` range named ``phase:<name>``.
* ``cuda_memory_snapshot.pickle`` (CUDA, ``record_memory``) -- allocator
  history; drop it on https://pytorch.org/memory_viz.

What "peak memory" means:

* CUDA: ``torch.cuda.max_memory_allocated`` over the phase (the peak is reset
  on entry), i.e. bytes held by tensors, allocator cache excluded.  Nested
  phases are handled: an outer phase's peak includes its inner phases.
* CPU: the process's resident set size (RSS, /proc/self/statm) sampled at the
  phase's entry and exit, the larger of the two; the phase's max over all
  calls.  It is the whole process's footprint (model, data, Python), not what
  the phase allocated, and a short spike inside a phase is missed: a coarse
  figure, good for trends and leaks, not for sizing.

Phase timings synchronize CUDA around every phase, which removes the overlap of
CPU and GPU work: profile in a dedicated run, not in every training run.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch

from canguard.atomic import write_text

__all__ = ["NullProfiler", "PhaseProfiler", "summary_table"]

ENGINE_PHASES = ("data", "forward", "backward", "optimizer")


@contextlib.contextmanager
def _quiet_profiler() -> Iterator[None]:
    """Silence torch.profiler's "clears events at the end of each cycle" notice (expected here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Profiler clears events.*")
        yield


def _rss_bytes() -> int | None:
    """Current resident set size of this process, or None where unknown."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
        import sys

        # high-water mark, not current: KiB on Linux, bytes on macOS
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss if sys.platform == "darwin" else rss * 1024
    except (ImportError, OSError):
        return None


def _percentile(sorted_xs: list[float], q: float) -> float:
    """Linear-interpolated percentile (as numpy's default) of a sorted, non-empty list."""
    pos = (len(sorted_xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def _timing_stats(durations: list[float]) -> dict:
    xs = sorted(durations)
    total = sum(xs)
    return {
        "count": len(xs),
        "total_s": total,
        "mean_s": total / len(xs) if xs else 0.0,
        "p50_ms": _percentile(xs, 50) * 1e3 if xs else 0.0,
        "p90_ms": _percentile(xs, 90) * 1e3 if xs else 0.0,
    }


class PhaseProfiler:
    """Wall time and peak memory per named phase, a torch.profiler trace, a CUDA memory snapshot.

    ``out_dir`` is created.  ``device``: the training device (``fabric.device``).
    ``torch_trace``: run ``torch.profiler.profile`` with
    ``schedule(wait=wait, warmup=warmup, active=active, repeat=1)``, advanced by
    :meth:`step`, writing to ``out_dir/traces`` (CPU activity, plus CUDA on a
    GPU; ``record_shapes`` and ``profile_memory`` on).  ``record_memory``: on
    CUDA, record the allocator's history from construction to :meth:`close`.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        device: torch.device | str,
        *,
        torch_trace: bool = True,
        wait: int = 1,
        warmup: int = 1,
        active: int = 3,
        record_memory: bool = True,
        max_memory_entries: int = 100_000,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.device = torch.device(device)
        self.on_cuda = self.device.type == "cuda" and torch.cuda.is_available()
        self.summary: dict | None = None  # set by close()
        self._durations: dict[str, list[float]] = {}
        self._peaks: dict[str, int] = {}
        self._stack: list[dict] = []  # open phases, innermost last
        self._step_durations: list[float] = []
        self._step_start: float | None = None
        self._closed = False

        self._recording_memory = False
        if record_memory and self.on_cuda and hasattr(torch.cuda.memory, "_record_memory_history"):
            try:
                torch.cuda.memory._record_memory_history(max_entries=max_memory_entries)
                self._recording_memory = True
            except Exception as exc:  # noqa: BLE001 -- diagnostics must never break training
                warnings.warn(f"PhaseProfiler: CUDA memory history unavailable: {exc}", RuntimeWarning, stacklevel=2)

        self._prof = None
        if torch_trace:
            activities = [torch.profiler.ProfilerActivity.CPU]
            if self.on_cuda:
                activities.append(torch.profiler.ProfilerActivity.CUDA)
            self._prof = torch.profiler.profile(
                activities=activities,
                schedule=torch.profiler.schedule(wait=wait, warmup=warmup, active=active, repeat=1),
                on_trace_ready=torch.profiler.tensorboard_trace_handler(str(self.out_dir / "traces")),
                record_shapes=True,
                profile_memory=True,
            )
            self._prof.start()

    # -- recording ----------------------------------------------------------

    def _sync(self) -> None:
        if self.on_cuda:
            torch.cuda.synchronize(self.device)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time ``name`` (any string; the engine uses data/forward/backward/optimizer)."""
        if self._step_start is None:
            self._step_start = time.perf_counter()
        frame = {"peak": 0}
        self._sync()
        if self.on_cuda:
            if self._stack:  # keep the outer phase's peak so far before resetting the counter
                parent = self._stack[-1]
                parent["peak"] = max(parent["peak"], torch.cuda.max_memory_allocated(self.device))
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            frame["peak"] = _rss_bytes() or 0
        self._stack.append(frame)
        t0 = time.perf_counter()
        try:
            with torch.profiler.record_function(f"phase:{name}"):
                yield
        finally:
            self._sync()
            dt = time.perf_counter() - t0
            self._stack.pop()
            if self.on_cuda:
                peak = max(frame["peak"], torch.cuda.max_memory_allocated(self.device))
            else:
                peak = max(frame["peak"], _rss_bytes() or 0)
            if self._stack:
                self._stack[-1]["peak"] = max(self._stack[-1]["peak"], peak)
            self._durations.setdefault(name, []).append(dt)
            self._peaks[name] = max(self._peaks.get(name, 0), peak)

    def step(self) -> None:
        """End of one training step: closes its wall time and advances the trace schedule.

        A step's time runs from its first phase's entry to this call, so work
        between steps outside any phase (validation, logging) is not counted.
        """
        if self._step_start is not None:
            self._step_durations.append(time.perf_counter() - self._step_start)
            self._step_start = None
        if self._prof is not None and not self._closed:
            with _quiet_profiler():
                self._prof.step()

    # -- results ------------------------------------------------------------

    def close(self) -> dict:
        """Stop the trace, dump the memory snapshot, write ``phases.json``; return its content.

        Idempotent: a second call returns the same dict.
        """
        if self._closed:
            return self.summary
        self._closed = True
        if self._prof is not None:
            try:
                with _quiet_profiler():
                    self._prof.stop()  # saves a partial trace if stopped while recording
            except Exception as exc:  # noqa: BLE001
                warnings.warn(f"PhaseProfiler: stopping torch.profiler failed: {exc}", RuntimeWarning, stacklevel=2)
        snapshot = None
        if self._recording_memory and hasattr(torch.cuda.memory, "_dump_snapshot"):
            path = self.out_dir / "cuda_memory_snapshot.pickle"
            try:
                torch.cuda.memory._dump_snapshot(str(path))
                snapshot = str(path)
            except Exception as exc:  # noqa: BLE001
                warnings.warn(f"PhaseProfiler: memory snapshot failed: {exc}", RuntimeWarning, stacklevel=2)
            finally:
                torch.cuda.memory._record_memory_history(enabled=None)

        step_total = sum(self._step_durations)
        if not step_total:  # step() never called: shares of the top-level phase time instead
            step_total = sum(sum(d) for d in self._durations.values())
        phases = {}
        for name, durations in self._durations.items():
            stats = _timing_stats(durations)
            stats["share"] = stats["total_s"] / step_total if step_total else 0.0
            stats["peak_memory_bytes"] = self._peaks.get(name, 0)
            phases[name] = stats
        traces_dir = self.out_dir / "traces"
        self.summary = {
            "device": str(self.device),
            "memory_measure": "cuda_max_memory_allocated" if self.on_cuda else "cpu_rss_sampled_at_phase_edges",
            "steps": _timing_stats(self._step_durations),
            "phases": phases,
            "traces": sorted(str(p) for p in traces_dir.glob("*")) if traces_dir.is_dir() else [],
            "cuda_memory_snapshot": snapshot,
        }
        write_text(self.out_dir / "phases.json", json.dumps(self.summary, indent=2) + "\n")
        return self.summary

    def __enter__(self) -> PhaseProfiler:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class NullProfiler:
    """Same API as :class:`PhaseProfiler`, does nothing: the engine's default.

    >>> prof = NullProfiler()
    >>> with prof.phase("forward"):
    ...     pass
    >>> prof.step(); prof.close()
    {}
    """

    summary: dict = {}

    def __init__(self, *args, **kwargs) -> None:
        pass

    def phase(self, name: str) -> contextlib.nullcontext:
        return contextlib.nullcontext()

    def step(self) -> None:
        pass

    def close(self) -> dict:
        return {}

    def __enter__(self) -> NullProfiler:
        return self

    def __exit__(self, *exc) -> None:
        pass


def summary_table(phases: dict) -> str:
    """Text table of phase timings for logs; takes ``close()``'s dict or its ``"phases"``.

    >>> print(summary_table(prof.close()))
    phase         count   total s   mean ms    p50 ms    p90 ms  share   peak MiB
    forward           6     0.012     2.010     1.950     2.400  41.2%       61.2
    """
    if isinstance(phases.get("phases"), dict) and "count" not in phases["phases"]:
        phases = phases["phases"]
    if not phases:
        return "(no phases recorded)"
    width = max(12, *(len(n) for n in phases))
    lines = [f"{'phase':<{width}} {'count':>6} {'total s':>9} {'mean ms':>9} {'p50 ms':>9} {'p90 ms':>9} "
             f"{'share':>6} {'peak MiB':>10}"]
    for name, s in sorted(phases.items(), key=lambda kv: -kv[1].get("total_s", 0.0)):
        lines.append(
            f"{name:<{width}} {s.get('count', 0):>6d} {s.get('total_s', 0.0):>9.3f} "
            f"{s.get('mean_s', 0.0) * 1e3:>9.3f} {s.get('p50_ms', 0.0):>9.3f} {s.get('p90_ms', 0.0):>9.3f} "
            f"{s.get('share', 0.0):>6.1%} {s.get('peak_memory_bytes', 0) / 2**20:>10.1f}"
        )
    return "\n".join(lines)
