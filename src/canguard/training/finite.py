"""NaN and infinity in training: where the engine looks for them, and the error that stops it.

The engine (:mod:`canguard.training.engine`) checks

* the settings, before the first step: a NaN or infinite learning rate, clipping norm, ... (the workflow's
  schema refuses them before any job; this catches what bypasses it: a tuner's result, a hand-made
  :class:`~canguard.training.config.TrainConfig`);
* every training loss, as it is computed (it costs nothing: the loss is read back for the epoch mean anyway);
* the gradient norm at every optimiser step, before the step (the norm clipping computes, or computed for the
  check where clipping is off); not under a loss scaler (``16-mixed``), whose skipped steps on an infinite
  gradient are how it finds its scale;
* the weights and the monitored validation metric before every checkpoint.

The first one found raises :class:`NonFiniteError`, one line naming the model and its folder, the epoch and
the batch or step; nothing is saved from that point, so no best or last checkpoint ever holds a NaN, and the
checkpoints already written stay those of the last finite state. With several processes all of them stop at
the same step.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class NonFiniteError(RuntimeError):
    """Training met a NaN or an infinity (a setting, a loss, a gradient, the weights, the monitored metric) and
    stopped there, saving nothing from it; the message is one line."""


def nonfinite_tensors(named: Iterable[tuple[str, torch.Tensor]]) -> list[str]:
    """Names of the floating-point tensors of ``named`` that hold a NaN or an infinity (one device sync)."""
    named = [(name, t) for name, t in named if isinstance(t, torch.Tensor) and t.is_floating_point()]
    if not named:
        return []
    flags = torch.stack([torch.isfinite(t.detach()).all() for _, t in named])
    return [name for (name, _), ok in zip(named, flags.tolist()) if not ok]


def gradients_finite(grads: list[torch.Tensor]) -> bool:
    """Whether every element of ``grads`` is finite (a norm that overflowed, as it can in 16-bit, is not a
    non-finite gradient)."""
    if not grads:
        return True
    return bool(torch.stack([torch.isfinite(g).all() for g in grads]).all())
