"""Batch-size finder and learning-rate range test for a Lightning Fabric loop.

Fabric has no tuner, so these two helpers work on plain callables and know
nothing about our models:

* :func:`find_batch_size` -- the largest batch size whose training step fits.
  On CUDA it *tries* steps (doubling until out-of-memory, then a binary search);
  on CPU, where running out of memory means swapping or the OOM killer rather
  than an exception, it *estimates*: it measures a step's memory at a few batch
  sizes, fits ``bytes = a + b * batch_size`` and solves against a budget.

  >>> def try_step(bs):                      # one full step on a batch of bs
  ...     x = torch.randn(bs, 32, device=dev)
  ...     loss = model(x).square().mean()
  ...     fabric.backward(loss); opt.step(); opt.zero_grad()
  >>> res = find_batch_size(try_step, device=fabric.device, max_batch_size=1024)
  >>> res.batch_size, res.method             # e.g. (448, 'oom_search')

* :func:`lr_find` -- the exponential learning-rate range test (Smith 2015,
  fastai): raise the LR from ``min_lr`` to ``max_lr`` over ``num_steps``
  steps, watch the smoothed loss, suggest the LR of steepest descent.  Model,
  optimizer and RNG state are restored afterwards.

  >>> res = lr_find(model, opt, loader, lambda m, b: F.mse_loss(m(b.x), b.y),
  ...               backward=fabric.backward, out_dir="results/lr_find")
  >>> for g in opt.param_groups: g["lr"] = res.suggestion
"""

from __future__ import annotations

import copy
import csv
import gc
import json
import math
import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "BatchSizeResult",
    "LRFinderResult",
    "available_memory_bytes",
    "find_batch_size",
    "is_oom_error",
    "lr_find",
    "step_memory_bytes",
]

# Messages of allocation failures that are not (or not always) torch.OutOfMemoryError.
_OOM_MESSAGES = (
    "out of memory",
    "CUBLAS_STATUS_ALLOC_FAILED",
    "CUDNN_STATUS_NOT_SUPPORTED",  # cuDNN's way of saying "no workspace"
    "can't allocate memory",  # DefaultCPUAllocator
)


# --------------------------------------------------------------------------- batch size


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
    return isinstance(exc, RuntimeError) and any(m in str(exc) for m in _OOM_MESSAGES)


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
        a, b = _fit_line([p["batch_size"] for p in probes], [p["bytes"] for p in probes])

    def predicted_fits(bs: int) -> bool:
        return a + b * bs <= cap

    best = _largest_ok(predicted_fits, start, max_batch_size, granularity)
    if best < 1:
        warnings.warn(f"find_batch_size: predicted bytes of a batch of 1 ({a + b:.3g}) exceed the budget "
                      f"({cap}); returning 1", RuntimeWarning, stacklevel=3)
        best = 1
    return BatchSizeResult(best, "memory_estimate", probes, cap, (a, b))


def _fit_line(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares ``y = a + b x``."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return my - b * mx, b


def _tensor_bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def step_memory_bytes(
    try_step: Callable[[int], Any],
    batch_size: int,
    model: torch.nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> int:
    """Estimated peak bytes of one ``try_step(batch_size)``, counted, not sampled.

    = bytes of the tensors autograd saves for backward during the step
    (captured with ``torch.autograd.graph.saved_tensors_hooks``; each storage
    counted once, parameters excluded) + parameters + their gradients + the
    optimizer's state tensors (measured after the step, so lazily created state
    such as Adam's moments is included).  Parameters come from ``model``, else
    from ``optimizer``'s param groups.  It ignores temporaries freed during
    forward and the allocator's overhead, so it is a lower bound, but it grows
    with the batch size the way the real peak does, which is what the fit needs.

    >>> step_memory_bytes(try_step, 64, model=model, optimizer=opt)
    """
    params: list[torch.Tensor] = []
    if model is not None:
        params = list(model.parameters())
    elif optimizer is not None:
        params = [p for g in optimizer.param_groups for p in g["params"]]
    param_ptrs = {p.untyped_storage().data_ptr() for p in params}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        try:
            storage = t.untyped_storage()
            ptr = storage.data_ptr()
            if ptr not in param_ptrs:
                seen[ptr] = max(seen.get(ptr, 0), storage.nbytes())
        except (RuntimeError, NotImplementedError):  # tensors without storage (sparse, nested, ...)
            seen[id(t)] = _tensor_bytes(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        try_step(batch_size)

    total = sum(seen.values())
    unique = {p.untyped_storage().data_ptr(): p for p in params}.values()
    total += sum(_tensor_bytes(p) for p in unique)
    total += sum(_tensor_bytes(p) for p in unique if p.requires_grad)  # gradients
    if optimizer is not None:
        for state in optimizer.state.values():
            for v in state.values():
                if torch.is_tensor(v):
                    total += _tensor_bytes(v)
    return int(total)


def available_memory_bytes() -> int:
    """Memory this process may still use: MemAvailable (/proc/meminfo), psutil or sysconf,
    lowered to the cgroup limit's headroom when there is one (a SLURM job, a container)."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            import psutil

            avail = int(psutil.virtual_memory().available)
        except ImportError:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    headroom = _cgroup_headroom()
    return min(avail, headroom) if headroom is not None else avail


def _cgroup_headroom() -> int | None:
    """limit - usage of this process's memory cgroup (v2, then v1); None when unlimited/unknown."""
    pairs = [("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
             ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")]
    for limit_path, usage_path in pairs:
        try:
            limit = Path(limit_path).read_text().strip()
            usage = int(Path(usage_path).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or int(limit) >= 1 << 60:  # v1 writes a huge number for "unlimited"
            return None
        return max(0, int(limit) - usage)
    return None


# --------------------------------------------------------------------------- learning rate


@dataclass
class LRFinderResult:
    """What :func:`lr_find` found: the suggested LR and the curve it came from.

    ``losses`` are smoothed (bias-corrected exponential moving average),
    ``raw_losses`` the step losses; both align with ``lrs``.  ``stopped_early``
    is True when the loss diverged (or went non-finite) before ``num_steps``.
    """

    suggestion: float
    lrs: list[float]
    losses: list[float]
    raw_losses: list[float]
    stopped_early: bool
    method: str = "steepest"  # "steepest" | "min_loss/10" | "min_lr"

    def to_dict(self) -> dict:
        return asdict(self)


def _cycle(batches: Iterable):
    """Yield batches forever, restarting the iterable when it ends (stops if it is empty/one-shot)."""
    while True:
        empty = True
        for b in batches:
            empty = False
            yield b
        if empty:
            return


def lr_find(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable,
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    *,
    min_lr: float = 1e-6,
    max_lr: float = 1.0,
    num_steps: int = 100,
    smooth: float = 0.98,
    diverge_factor: float = 4.0,
    out_dir: str | os.PathLike | None = None,
    backward: Callable[[torch.Tensor], Any] | None = None,
) -> LRFinderResult:
    """Learning-rate range test; returns a suggested LR and restores model/optimizer/RNG.

    Step ``i`` of ``num_steps`` trains one batch at
    ``lr = min_lr * (max_lr / min_lr) ** (i / (num_steps - 1))`` (set on every
    param group): ``loss = loss_fn(model, batch)``, ``backward(loss)`` (pass
    ``fabric.backward``; default ``loss.backward()``), ``optimizer.step()``.
    ``batches`` is re-iterated when exhausted (a list or DataLoader; a one-shot
    iterator just ends the test).  The loss is smoothed with an exponential
    moving average (``smooth`` = beta) with bias correction; the test stops
    early once the smoothed loss exceeds ``diverge_factor`` x its best, or a
    loss is not finite.

    The suggestion is the LR where the smoothed loss falls fastest (most
    negative d loss / d log lr) between the first 10% of the steps (skipped:
    the average has seen few losses there, so it is noisy) and the minimum of
    the curve; when that part has fewer than 3 points or never falls, the LR
    of the minimum / 10.

    With ``out_dir``: ``lr_find.csv`` (lr, loss, raw_loss), ``lr_find.png``
    (log-x curve, suggestion marked) and ``lr_find.json`` (suggestion and
    settings).

    >>> res = lr_find(model, opt, train_loader, lambda m, b: F.cross_entropy(m(b), b.y),
    ...               backward=fabric.backward, num_steps=100, out_dir=run_dir / "lr_find")
    >>> res.suggestion
    0.0031...
    """
    if not 0 < min_lr < max_lr:
        raise ValueError("need 0 < min_lr < max_lr")
    if num_steps < 2:
        raise ValueError("num_steps must be >= 2")
    if not 0 <= smooth < 1:
        raise ValueError("smooth must be in [0, 1)")
    backward = backward or (lambda loss: loss.backward())

    model_state = copy.deepcopy(model.state_dict())
    opt_state = copy.deepcopy(optimizer.state_dict())
    was_training = model.training
    cpu_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None

    lrs: list[float] = []
    losses: list[float] = []
    raw_losses: list[float] = []
    stopped_early = False
    ratio = max_lr / min_lr
    try:
        model.train()
        avg, best = 0.0, math.inf
        for i, batch in zip(range(num_steps), _cycle(batches)):
            lr = min_lr * ratio ** (i / (num_steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model, batch)
            backward(loss)
            optimizer.step()
            raw = float(loss.detach())
            if not math.isfinite(raw):
                stopped_early = True
                break
            avg = smooth * avg + (1 - smooth) * raw
            smoothed = avg / (1 - smooth ** (i + 1))
            lrs.append(lr)
            losses.append(smoothed)
            raw_losses.append(raw)
            best = min(best, smoothed)
            if i > 0 and smoothed > diverge_factor * best:
                stopped_early = True
                break
        optimizer.zero_grad(set_to_none=True)
    finally:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(opt_state)
        model.train(was_training)
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)

    suggestion, method = _suggest(lrs, losses, min_lr)
    result = LRFinderResult(suggestion, lrs, losses, raw_losses, stopped_early, method)
    if out_dir is not None:
        _write_lr_find(Path(out_dir), result, min_lr=min_lr, max_lr=max_lr, num_steps=num_steps,
                       smooth=smooth, diverge_factor=diverge_factor)
    return result


def _suggest(lrs: list[float], losses: list[float], min_lr: float) -> tuple[float, str]:
    if not lrs:
        warnings.warn("lr_find: no finite loss recorded; suggesting min_lr", RuntimeWarning, stacklevel=3)
        return min_lr, "min_lr"
    i_min = min(range(len(losses)), key=losses.__getitem__)
    skip = len(losses) // 10
    if i_min - skip >= 2:
        x = [math.log(lr) for lr in lrs[skip: i_min + 1]]
        y = losses[skip: i_min + 1]
        # central differences inside, one-sided at the ends (as numpy.gradient)
        grads = [(y[1] - y[0]) / (x[1] - x[0])]
        grads += [(y[j + 1] - y[j - 1]) / (x[j + 1] - x[j - 1]) for j in range(1, len(x) - 1)]
        grads.append((y[-1] - y[-2]) / (x[-1] - x[-2]))
        j = min(range(len(grads)), key=grads.__getitem__)
        if grads[j] < 0 and math.isfinite(lrs[skip + j]):
            return lrs[skip + j], "steepest"
    return lrs[i_min] / 10, "min_loss/10"


def _write_lr_find(out_dir: Path, res: LRFinderResult, **settings) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "lr_find.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["lr", "loss", "raw_loss"])
        w.writerows(zip(res.lrs, res.losses, res.raw_losses))
    i_min = min(range(len(res.losses)), key=res.losses.__getitem__) if res.losses else None
    summary = {
        "suggestion": res.suggestion,
        "method": res.method,
        "stopped_early": res.stopped_early,
        "steps_run": len(res.lrs),
        "min_loss": res.losses[i_min] if i_min is not None else None,
        "lr_at_min_loss": res.lrs[i_min] if i_min is not None else None,
        **settings,
    }
    (out_dir / "lr_find.json").write_text(json.dumps(summary, indent=2) + "\n")

    # Figure + Agg canvas directly: no pyplot, so the global backend is left alone
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(res.lrs, res.raw_losses, color="0.75", lw=0.8, label="loss")
    ax.plot(res.lrs, res.losses, color="C0", label="smoothed loss")
    ax.axvline(res.suggestion, color="C3", ls="--", label=f"suggestion {res.suggestion:.2e}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    if res.losses:  # keep a diverging tail from flattening the plot
        lo, hi = min(res.losses), max(res.losses[: (i_min or 0) + 1] + [res.losses[0]])
        pad = 0.1 * (hi - lo or abs(hi) or 1.0)
        ax.set_ylim(lo - pad, hi + 2 * pad)
    ax.set_title("LR range test")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "lr_find.png")
