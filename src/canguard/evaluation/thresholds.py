"""Decision thresholds from a false-alarm budget on benign windows, for every detector alike.

The threshold of a detector is the score that benign traffic of the vehicle is
expected to reach at most ``false_alarms_per_hour`` times per hour of traffic.
It is fitted on benign windows only (validation windows of the training
vehicles, or a vehicle's enrollment windows): attack windows never shape it, so
it does not overfit the attacks seen in training and holds for attacks never
seen.  (A threshold that maximises F1 on validation attacks sits just below the
DoS and fuzzing scores and misses a subtler attack such as malfunction.)

The budget is a rate of about one alarm in ``1 / alpha`` windows,
``alpha = false_alarms_per_hour * seconds_per_window / 3600``, usually far
smaller than what a few hundred fit windows can resolve.  So:

* with at least ``min_tail / alpha`` windows: the empirical ``1 - alpha`` quantile;
* with fewer: a peaks-over-threshold estimate.  The largest ``k`` scores
  (``k = max(min_tail, tail_fraction * n)``) are taken as the tail, their excesses
  over the (k+1)-th largest score ``u`` are modelled as exponential with mean
  ``beta`` (the generalised Pareto tail with shape 0), and the threshold is the
  score exceeded with probability ``alpha``: ``u + beta * ln(k / (n * alpha))``.

A detector's scores are only compared with thresholds fitted on the same kind of
windows (the same protocol, the same vehicle or profile situation).
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_FALSE_ALARMS_PER_HOUR = 10.0
TAIL_FRACTION = 0.1
MIN_TAIL = 20


def false_alarm_threshold(scores: np.ndarray, seconds_per_window: float, false_alarms_per_hour: float,
                          tail_fraction: float = TAIL_FRACTION, min_tail: int = MIN_TAIL) -> dict:
    """The threshold (alarm when ``score >= value``) and how it was found, from benign ``scores``."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    s = s[np.isfinite(s)]
    n = len(s)
    if n == 0:
        raise ValueError("no benign windows to fit a threshold on")
    if not (seconds_per_window > 0 and false_alarms_per_hour > 0):
        raise ValueError(f"need seconds_per_window > 0 and false_alarms_per_hour > 0, got "
                         f"{seconds_per_window} and {false_alarms_per_hour}")
    alpha = min(false_alarms_per_hour * seconds_per_window / 3600.0, 0.5)
    info = {"false_alarms_per_hour": false_alarms_per_hour, "alpha": alpha, "fit_windows": n,
            "seconds_per_window": seconds_per_window, "fit_max": float(s[-1]),
            "fit_quantile_99": float(np.quantile(s, 0.99))}
    if n * alpha >= min_tail:
        value = float(np.quantile(s, 1.0 - alpha))
        return info | {"value": value, "method": "empirical quantile", "tail_scale": _scale(s)}
    k = int(min(n - 1, max(min_tail, math.ceil(tail_fraction * n))))
    if k < 2:
        return info | {"value": float(s[-1]), "method": "maximum (too few windows for a tail)",
                       "tail_scale": _scale(s)}
    u = s[n - k - 1]
    beta = float(np.mean(s[n - k:] - u))
    if beta <= 0:  # a flat tail: every top score equal
        return info | {"value": float(np.nextafter(s[-1], np.inf)), "method": "maximum (flat tail)",
                       "tail_scale": _scale(s)}
    value = float(u + beta * math.log(k / (n * alpha)))
    return info | {"value": value, "method": "exponential tail (peaks over threshold)", "tail_u": float(u),
                   "tail_k": k, "tail_scale": beta}


def _scale(s: np.ndarray) -> float:
    """A spread of the fit scores, for putting detectors on one scale (fusion); never 0."""
    q = np.quantile(s, [0.75, 0.99])
    spread = float(q[1] - q[0]) or float(np.std(s))
    return spread if spread > 0 else 1.0


def seconds_per_window(t_start: np.ndarray, t_end: np.ndarray, size: int, stride: int) -> float:
    """Traffic time per window: the mean window duration, times S / W for overlapping windows."""
    d = np.asarray(t_end, np.float64) - np.asarray(t_start, np.float64)
    d = d[np.isfinite(d) & (d > 0)]
    if len(d) == 0:
        raise ValueError("no window with a duration to take the traffic time from")
    return float(d.mean() * stride / size)
