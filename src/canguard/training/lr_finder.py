"""Learning-rate range test for a Lightning Fabric loop (Fabric has none).

The exponential range test (Smith 2015, fastai): raise the LR from ``min_lr`` to ``max_lr``
over ``num_steps`` steps, watch the smoothed loss, suggest the LR of steepest descent.  Model,
optimizer and RNG state are restored afterwards.

  >>> res = lr_find(model, opt, loader, lambda m, b: F.mse_loss(m(b.x), b.y),
  ...               backward=fabric.backward, out_dir="results/lr_find")
  >>> for g in opt.param_groups: g["lr"] = res.suggestion
"""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from canguard.atomic import atomic_output, write_text


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
    with atomic_output(out_dir / "lr_find.csv") as tmp, open(tmp, "w", newline="") as f:
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
    write_text(out_dir / "lr_find.json", json.dumps(summary, indent=2) + "\n")

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
    with atomic_output(out_dir / "lr_find.png") as tmp:
        fig.savefig(tmp, format="png")
