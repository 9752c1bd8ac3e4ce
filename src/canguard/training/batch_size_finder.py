"""Batch-size finder for a Lightning Fabric loop (Fabric has none): the largest batch size whose
training step fits, on plain callables that know nothing about our models.

On CUDA it *tries* steps (doubling until out-of-memory, then a binary search); on CPU, where
running out of memory means swapping or the OOM killer rather than an exception, it
*estimates*: it measures a step's memory at a few batch sizes, fits ``bytes = a + b *
batch_size`` and solves against a budget (:mod:`canguard.training.memory`).

  >>> def try_step(bs):                      # one full step on a batch of bs
  ...     x = torch.randn(bs, 32, device=dev)
  ...     loss = model(x).square().mean()
  ...     fabric.backward(loss); opt.step(); opt.zero_grad()
  >>> res = find_batch_size(try_step, device=fabric.device, max_batch_size=1024)
  >>> res.batch_size, res.method             # e.g. (448, 'oom_search')
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from canguard.training.memory import OOM_MESSAGES, available_memory_bytes, fit_line, step_memory_bytes


@dataclass
class BatchSizeResult:
    """What :func:`find_batch_size` found.

    ``probes`` lists every batch size tried (oom_search) or measured
    (memory_estimate), in order: ``{"batch_size", "ok", "bytes"}`` where
    ``bytes`` is the step's peak memory (None when it failed or is unknown).
    ``budget_bytes`` is the memory the search aimed to stay under, already
    multiplied by ``target_memory_usage``.  ``fit`` is ``(a, b)`` of the CPU
    estimate ``bytes = a + b * batch_size`` (None for the OOM search).
    """

    batch_size: int
    method: str  # "oom_search" | "memory_estimate"
    probes: list[dict] = field(default_factory=list)
    budget_bytes: int | None = None
    fit: tuple[float, float] | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def is_oom_error(exc: BaseException) -> bool:
    """True for an allocation failure: torch.OutOfMemoryError or a RuntimeError saying so."""
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    return isinstance(exc, RuntimeError) and any(m in str(exc) for m in OOM_MESSAGES)


def _free_memory(device: torch.device) -> None:
    """Drop garbage and the CUDA cache so the next probe starts clean (nothing to do on CPU)."""
    if device.type == "cuda" and torch.cuda.is_available():
        gc.collect()
        torch.cuda.empty_cache()


def _largest_ok(ok: Callable[[int], bool], start: int, max_batch_size: int, granularity: int) -> int:
    """Largest n in [1, max_batch_size] with ok(n), assuming ok is monotone (true, then false).

    Doubles from ``start`` until ``ok`` fails or ``max_batch_size`` is reached,
    then binary-searches between the last good and the first bad size until
    they are ``granularity`` apart (1: exact).  Never calls ``ok`` above
    ``max_batch_size``.  Returns 0 when even 1 fails.
    """
    good, bad = 0, None
    n = max(1, min(start, max_batch_size))
    while True:
        if ok(n):
            good = n
            if n >= max_batch_size:
                return n
            n = min(2 * n, max_batch_size)
        else:
            bad = n
            break
    while bad - good > max(1, granularity):
        mid = (good + bad) // 2
        if ok(mid):
            good = mid
        else:
            bad = mid
    return good


def find_batch_size(
    try_step: Callable[[int], Any],
    *,
    device: torch.device | str,
    start: int = 16,
    max_batch_size: int = 4096,
    target_memory_usage: float = 0.8,
    memory_budget_bytes: int | None = None,
    measure: Callable[[int], int] | None = None,
    search: str = "auto",
    granularity: int = 1,
    model: torch.nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> BatchSizeResult:
    """Largest batch size whose training step fits in memory.

    ``try_step(batch_size)`` runs one *full* step (forward, backward, optimizer
    step, zero_grad) on a batch of that size; the caller builds the batch (e.g.
    by repeating or slicing real samples).  Its weight updates are not undone:
    call this before training, or restore a state dict afterwards.

    ``search``: ``"auto"`` picks ``"oom"`` on a CUDA device, else ``"estimate"``.

    * ``"oom"``: double from ``start`` until a step raises out-of-memory (see
      :func:`is_oom_error`), reaches ``max_batch_size``, or its CUDA peak
      (``max_memory_allocated`` after ``reset_peak_memory_stats``) exceeds
      ``target_memory_usage`` x budget, where budget is ``memory_budget_bytes``
      or the GPU's total memory; then binary-search between the last good and
      first bad size.  Stops when they are ``granularity`` apart (default 1:
      the exact largest size).  Forcing ``"oom"`` on CPU is for tests with a
      ``try_step`` that raises a simulated OOM above a limit (no peak check).
    * ``"estimate"``: measure a step's bytes at three sizes (``start``, 2x,
      4x, capped by ``max_batch_size``) with ``measure(bs)`` or, by default,
      :func:`step_memory_bytes` (pass ``model``/``optimizer`` so it counts
      their parameters, gradients and state); least-squares fit
      ``bytes = a + b * bs``; return the largest bs in [1, max_batch_size]
      with ``a + b * bs <= target_memory_usage * budget``, where budget is
      ``memory_budget_bytes`` or :func:`available_memory_bytes`.  At least 1
      (with a warning if even that does not fit).

    Raises RuntimeError when the OOM search finds that a batch of 1 does not fit.
    """
    device = torch.device(device)
    if search == "auto":
        search = "oom" if device.type == "cuda" else "estimate"
    if search not in ("oom", "estimate"):
        raise ValueError(f"search must be 'auto', 'oom' or 'estimate', not {search!r}")
    if max_batch_size < 1 or start < 1:
        raise ValueError("start and max_batch_size must be >= 1")
    if not 0 < target_memory_usage <= 1:
        raise ValueError("target_memory_usage must be in (0, 1]")
    if search == "oom":
        return _oom_search(try_step, device, start, max_batch_size, target_memory_usage,
                           memory_budget_bytes, granularity)
    return _memory_estimate(try_step, device, start, max_batch_size, target_memory_usage,
                            memory_budget_bytes, measure, granularity, model, optimizer)


def _oom_search(try_step, device, start, max_batch_size, target, budget, granularity) -> BatchSizeResult:
    on_cuda = device.type == "cuda" and torch.cuda.is_available()
    if budget is None and on_cuda:
        budget = torch.cuda.get_device_properties(device).total_memory
    cap = int(target * budget) if budget is not None else None
    probes: list[dict] = []

    def ok(bs: int) -> bool:
        _free_memory(device)
        if on_cuda:
            torch.cuda.reset_peak_memory_stats(device)
        oom = False
        try:
            try_step(bs)
            if on_cuda:
                torch.cuda.synchronize(device)
        except Exception as exc:  # noqa: BLE001 -- re-raised unless it is an OOM
            if not is_oom_error(exc):
                raise
            oom = True
        # outside the except block, so the traceback (and the tensors its frames hold) is gone
        if oom:
            _free_memory(device)
            probes.append({"batch_size": bs, "ok": False, "bytes": None})
            return False
        peak = torch.cuda.max_memory_allocated(device) if on_cuda else None
        fits = peak is None or cap is None or peak <= cap
        probes.append({"batch_size": bs, "ok": fits, "bytes": peak})
        return fits

    best = _largest_ok(ok, start, max_batch_size, granularity)
    _free_memory(device)
    if best < 1:
        raise RuntimeError(f"find_batch_size: even a batch of 1 does not fit on {device} (probes: {probes})")
    return BatchSizeResult(best, "oom_search", probes, cap)


def _memory_estimate(try_step, device, start, max_batch_size, target, budget, measure, granularity,
                     model, optimizer) -> BatchSizeResult:
    if budget is None:
        budget = available_memory_bytes()
    cap = int(target * budget)
    if measure is None:
        def measure(bs: int) -> int:
            return step_memory_bytes(try_step, bs, model=model, optimizer=optimizer)

    sizes = sorted({min(max_batch_size, start * k) for k in (1, 2, 4)})
    if len(sizes) < 2:  # start >= max_batch_size: measure below it instead
        sizes = sorted({max(1, max_batch_size // 4), max(1, max_batch_size // 2), max_batch_size})
    probes = []
    for bs in sizes:
        nbytes = int(measure(bs))
        probes.append({"batch_size": bs, "ok": True, "bytes": nbytes})
        _free_memory(device)

    if len(sizes) == 1:  # max_batch_size == 1
        a, b = float(probes[0]["bytes"]), 0.0
    else:
        a, b = fit_line([p["batch_size"] for p in probes], [p["bytes"] for p in probes])

    def predicted_fits(bs: int) -> bool:
        return a + b * bs <= cap

    best = _largest_ok(predicted_fits, start, max_batch_size, granularity)
    if best < 1:
        warnings.warn(f"find_batch_size: predicted bytes of a batch of 1 ({a + b:.3g}) exceed the budget "
                      f"({cap}); returning 1", RuntimeWarning, stacklevel=3)
        best = 1
    return BatchSizeResult(best, "memory_estimate", probes, cap, (a, b))
