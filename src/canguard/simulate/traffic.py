"""Benign traffic of a synthetic vehicle: timestamps and payloads of every sender.

Vectorised with numpy: one loop per sender and per payload field, none per message.
Times are seconds relative to the start of the recording, in [0, duration_s).
"""

from __future__ import annotations

import numpy as np

from canguard.frames import Frames
from canguard.simulate.payload import Checksum, Const, Counter, Flags, Signal, fill_checksum, put_field
from canguard.simulate.vehicle import Sender, SyntheticVehicle

WALK_STEP_S = 0.05  # finest grid of the random-walk signals, interpolated at message times


def sender_times(sender: Sender, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """(m,) float64 send times in [0, duration_s), ascending.

    Nominal grid phase + k * period * (1 + drift), plus an independent Gaussian offset
    per message with std period * jitter / sqrt(2), so inter-arrival times have std
    ``jitter * period``. Offsets are clipped to +-0.25 period: order is kept.
    """
    period = sender.period_s * (1.0 + sender.drift_ppm * 1e-6)
    phase = rng.uniform(0.0, sender.period_s)
    k = np.arange(int(np.ceil((duration_s - phase) / period)) + 1)
    offset = rng.normal(0.0, sender.jitter * sender.period_s / np.sqrt(2.0), size=len(k))
    t = phase + k * period + np.clip(offset, -0.25 * period, 0.25 * period)
    return t[(t >= 0.0) & (t < duration_s)]


def unit_wave(signal: Signal, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(m,) values in [0, 1] of the signal's waveform at times ``t`` (seconds, ascending)."""
    if len(t) == 0:
        return np.zeros(0)
    if signal.wave == "sine":
        p1 = signal.tau_s
        p2 = signal.tau_s * rng.uniform(0.15, 0.45)
        a = rng.uniform(0.55, 0.85)
        ph1, ph2 = rng.uniform(0, 2 * np.pi, size=2)
        y = a * np.sin(2 * np.pi * t / p1 + ph1) + (1 - a) * np.sin(2 * np.pi * t / p2 + ph2)
        return 0.5 + 0.5 * y
    if signal.wave == "steps":
        # level changes (+-1) at Poisson times, mean spacing tau_s, reflected into [0, 1]
        n_levels = signal.hi - signal.lo + 1
        span = t[-1] + 1e-9
        n_events = rng.poisson(span / signal.tau_s)
        when = np.sort(rng.uniform(0.0, span, size=n_events))
        walk = int(rng.integers(0, n_levels)) + np.concatenate([[0], np.cumsum(rng.choice([-1, 1], size=n_events))])
        m = np.mod(walk, 2 * (n_levels - 1)) if n_levels > 1 else np.zeros_like(walk)
        level = np.where(m > n_levels - 1, 2 * (n_levels - 1) - m, m)
        return level[np.searchsorted(when, t, side="right")] / max(n_levels - 1, 1)
    # reflected random walk, crossing the range in about tau_s, on a grid of tau_s / 20
    # (at least WALK_STEP_S) and linearly interpolated: smooth at the message rate
    step_s = max(WALK_STEP_S, signal.tau_s / 20)
    grid = np.arange(0.0, t[-1] + 2 * step_s, step_s)
    steps = rng.normal(0.0, np.sqrt(step_s / signal.tau_s), size=len(grid))
    y = rng.uniform(0, 1) + np.cumsum(steps)
    m = np.mod(y, 2.0)
    x = np.where(m > 1.0, 2.0 - m, m)
    return np.interp(t, grid, x)


def signal_raw(signal: Signal, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(m,) int64 raw values in [lo, hi] at times ``t``, with +-1 LSB sensor noise on 16-bit signals."""
    raw = np.rint(signal.lo + (signal.hi - signal.lo) * unit_wave(signal, t, rng)).astype(np.int64)
    if signal.width == 2 and signal.wave != "steps":
        raw += rng.integers(-1, 2, size=len(raw))
    return np.clip(raw, signal.lo, signal.hi)


def flag_raw(flags: Flags, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(m,) int64 byte values: ``base`` with each masked bit toggled at Poisson times."""
    value = np.full(len(t), flags.base, dtype=np.int64)
    span = (t[-1] if len(t) else 0.0) + 1e-9
    for bit in range(8):  # loop over bits of one byte
        if not flags.mask >> bit & 1:
            continue
        toggles = np.sort(rng.uniform(0.0, span, size=rng.poisson(flags.rate_hz * span)))
        state = np.searchsorted(toggles, t, side="right") & 1
        value |= state.astype(np.int64) << bit
    return value


def sender_payloads(sender: Sender, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(m, 8) uint8 payloads of ``sender`` at times ``t``; bytes >= dlc are 0."""
    m = len(t)
    payload = np.zeros((m, 8), dtype=np.uint8)
    for field in sender.fields:
        if isinstance(field, Const):
            put_field(payload, field, np.full(m, field.value))
        elif isinstance(field, Counter):
            put_field(payload, field, int(rng.integers(0, field.modulus)) + np.arange(m))
        elif isinstance(field, Signal):
            put_field(payload, field, signal_raw(field, t, rng))
        elif isinstance(field, Flags):
            put_field(payload, field, flag_raw(field, t, rng))
        elif not isinstance(field, Checksum):
            raise TypeError(f"unknown field {field!r}")
    fill_checksum(payload, sender)
    payload[:, sender.dlc:] = 0
    return payload


def sender_frames(sender: Sender, t: np.ndarray, payload: np.ndarray, label: int = 0) -> Frames:
    """Frames of one sender at times ``t`` (m,) with payloads (m, 8)."""
    m = len(t)
    return Frames(t, np.full(m, sender.can_id), np.full(m, sender.dlc), payload, np.full(m, label))


def benign_traffic(vehicle: SyntheticVehicle, duration_s: float, rng: np.random.Generator) -> Frames:
    """All senders of ``vehicle`` over [0, duration_s) seconds, sorted by time, label 0."""
    parts = []
    for sender in vehicle.senders:
        t = sender_times(sender, duration_s, rng)
        parts.append(sender_frames(sender, t, sender_payloads(sender, t, rng)))
    return Frames.concat(parts).sorted_by_time()
