"""Attacks on benign synthetic traffic, with per-message labels (1 = attack, 0 = benign).

Every attack has the signature ``attack(frames, vehicle, intervals, rng) -> Frames``:

    frames     benign Frames of ``vehicle``, times in seconds from the recording start
    intervals  (k, 2) float64 [start, end) seconds in which the attack is active
               (see :func:`plan_intervals`: a few intervals covering 10-30 % of the
               recording, after a benign lead-in)
    returns    new Frames sorted by time; injected or altered messages labelled 1

Attacks:
    dos          ID 0x000, DLC 8, all-zero payload, every ~0.3 ms
    fuzzing      random 11-bit IDs (mostly ones the vehicle never uses), random DLC 0-8
                 and random payload, every ~0.5-1 ms
    spoofing     the RPM- or gear-like sender's frame with a fixed forged value, sent
                 3-10x faster than its period (the real sender keeps sending)
    replay       a captured benign segment of 1-4 senders re-sent later, shifted in time
    malfunction  random payloads on one existing ID: extra frames at 3x its rate or its
                 own frames' payloads replaced; the ID set is unchanged
    suppress     one sender is silent in the intervals (its messages removed); since a
                 per-message label cannot mark an absence, EVERY message that remains
                 inside a suppression interval is labelled 1
    masquerade   the real sender is silenced and the attacker sends at its period, with
                 the counter continued, one field forged and the checksum recomputed
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from canguard.frames import Frames
from canguard.simulate.payload import Const, Counter, Flags, Signal, fill_checksum, put_field, read_field
from canguard.simulate.traffic import sender_frames, sender_times
from canguard.simulate.vehicle import Sender, SyntheticVehicle

DOS_PERIOD_S = 0.0003
FUZZ_PERIOD_S = (0.0005, 0.001)

Attack = Callable[[Frames, SyntheticVehicle, np.ndarray, np.random.Generator], Frames]


def plan_intervals(rng: np.random.Generator, duration_s: float,
                   coverage: tuple[float, float] = (0.10, 0.30),
                   count: tuple[int, int] = (2, 4),
                   lead_in: tuple[float, float] = (0.08, 0.15)) -> np.ndarray:
    """(k, 2) [start, end) seconds of the attack intervals, ascending and disjoint.

    k in ``count``; total length a ``coverage`` fraction of ``duration_s``; the first
    starts after a benign lead-in of a ``lead_in`` fraction of the recording.
    """
    k = int(rng.integers(count[0], count[1] + 1))
    total = rng.uniform(*coverage) * duration_s
    lengths = total * rng.dirichlet(np.full(k, 4.0))
    lead = rng.uniform(*lead_in) * duration_s
    gaps = (duration_s - lead - total) * rng.dirichlet(np.ones(k + 1))
    starts = lead + np.cumsum(gaps[:k]) + np.concatenate([[0.0], np.cumsum(lengths[:-1])])
    return np.stack([starts, starts + lengths], axis=1)


def in_intervals(t: np.ndarray, intervals: np.ndarray) -> np.ndarray:
    """(n,) bool: ``t`` lies in one of the [start, end) intervals (ascending, disjoint)."""
    i = np.searchsorted(intervals[:, 0], t, side="right") - 1
    ok = i >= 0
    return ok & (t < intervals[np.maximum(i, 0), 1])


def _injected(t: np.ndarray, can_id, dlc, payload: np.ndarray) -> Frames:
    m = len(t)
    return Frames(t, np.broadcast_to(can_id, m), np.broadcast_to(dlc, m), payload, np.ones(m))


def _merge(frames: Frames, *parts: Frames) -> Frames:
    return Frames.concat([frames, *parts]).sorted_by_time()


def _grid(rng: np.random.Generator, start: float, end: float, period: float, jitter: float = 0.05) -> np.ndarray:
    """Times start + (k + 1/2)*period with uniform +-jitter*period noise (jitter < 0.5), kept in [start, end)."""
    t = np.arange(start + period / 2, end, period)
    t = np.sort(t + rng.uniform(-jitter, jitter, size=len(t)) * period)
    return t[(t >= start) & (t < end)]


def _target(vehicle: SyntheticVehicle, rng: np.random.Generator, max_period_s: float = 0.1,
            min_dlc: int = 1) -> Sender:
    """A random sender fast enough to have messages in every interval."""
    pool = [s for s in vehicle.senders if s.period_s <= max_period_s and s.dlc >= min_dlc]
    return pool[int(rng.integers(len(pool)))]


def _random_payload(rng: np.random.Generator, dlc: np.ndarray) -> np.ndarray:
    payload = rng.integers(0, 256, size=(len(dlc), 8), dtype=np.uint8)
    payload[np.arange(8)[None, :] >= np.asarray(dlc)[:, None]] = 0
    return payload


def _last_payload_before(frames: Frames, can_id: int, t: float) -> np.ndarray:
    """(8,) payload of the sender's last message before ``t`` (its first one if none)."""
    idx = np.flatnonzero((frames.can_id == can_id) & (frames.label == 0))
    before = idx[frames.timestamp[idx] < t]
    return frames.payload[before[-1] if len(before) else idx[0]].copy()


def dos(frames: Frames, vehicle: SyntheticVehicle, intervals: np.ndarray, rng: np.random.Generator) -> Frames:
    """Flood of ID 0x000 (highest priority), DLC 8, payload 00..00, every ~0.3 ms."""
    t = np.concatenate([_grid(rng, s, e, DOS_PERIOD_S) for s, e in intervals])
    return _merge(frames, _injected(t, 0, 8, np.zeros((len(t), 8), np.uint8)))


def fuzzing(frames: Frames, vehicle: SyntheticVehicle, intervals: np.ndarray, rng: np.random.Generator) -> Frames:
    """Random IDs 0x000-0x7FF, random DLC 0-8 and random payloads, every 0.5-1 ms."""
    period = rng.uniform(*FUZZ_PERIOD_S)
    t = np.concatenate([_grid(rng, s, e, period, jitter=0.3) for s, e in intervals])
    dlc = rng.integers(0, 9, size=len(t))
    ids = rng.integers(0, 0x800, size=len(t))
    return _merge(frames, _injected(t, ids, dlc, _random_payload(rng, dlc)))


def spoofing(frames: Frames, vehicle: SyntheticVehicle, intervals: np.ndarray, rng: np.random.Generator) -> Frames:
    """The RPM or gear frame (alternating per interval) with a fixed forged value, 3-10x its rate.

    The forged frame is the last genuine one before the interval with the signal set to a
    constant and the checksum recomputed; counter frozen (a constant injected frame).
    """
    parts = []
    first = int(rng.integers(2))
    for i, (s, e) in enumerate(intervals):
        sender = vehicle.role(("rpm", "gear")[(first + i) % 2])
        signal = sender.signal(sender.role)
        payload = _last_payload_before(frames, sender.can_id, s)[None, :]
        put_field(payload, signal, [int(rng.integers(signal.lo, signal.hi + 1))])
        fill_checksum(payload, sender)
        t = _grid(rng, s, e, max(0.001, sender.period_s / int(rng.integers(3, 11))))
        parts.append(_injected(t, sender.can_id, sender.dlc, np.repeat(payload, len(t), axis=0)))
    return _merge(frames, *parts)


def replay(frames: Frames, vehicle: SyntheticVehicle, intervals: np.ndarray, rng: np.random.Generator) -> Frames:
    """Benign messages of 1-4 senders captured earlier, re-sent shifted into each interval.

    The captured window has the interval's length and ends before the interval starts
    (shortened to [0, start) when the interval is longer than the time before it).
    """
    parts = []
    fast = np.array([s.can_id for s in vehicle.senders if s.period_s <= 0.1])
    benign = frames.label == 0
    for s, e in intervals:
        ids = rng.choice(fast, size=int(rng.integers(1, 5)), replace=False)
        length = min(e - s, s)
        c = rng.uniform(0.0, s - length)
        pick = benign & np.isin(frames.can_id, ids) & (frames.timestamp >= c) & (frames.timestamp < c + length)
        seg = frames.take(pick)
        parts.append(Frames(seg.timestamp + (s - c), seg.can_id, seg.dlc, seg.payload, np.ones(len(seg))))
    return _merge(frames, *parts)


def malfunction(frames: Frames, vehicle: SyntheticVehicle, intervals: np.ndarray, rng: np.random.Generator) -> Frames:
    """Random payloads on one existing sender (DLC >= 2, period <= 50 ms), per interval either
    interleaved (extra frames at 3x its rate) or replacing its own frames' payloads."""
    sender = _target(vehicle, rng, max_period_s=0.05, min_dlc=2)
    out = frames.take(np.arange(len(frames)))
    parts = []
    for s, e in intervals:
        if rng.random() < 0.5:
            t = _grid(rng, s, e, sender.period_s / 3, jitter=0.1)
            dlc = np.full(len(t), sender.dlc)
            parts.append(_injected(t, sender.can_id, sender.dlc, _random_payload(rng, dlc)))
        else:
            hit = (out.can_id == sender.can_id) & (out.timestamp >= s) & (out.timestamp < e)
            out.payload[hit] = _random_payload(rng, out.dlc[hit])
            out.label[hit] = 1
    return _merge(out, *parts)


def suppress(frames: Frames, vehicle: SyntheticVehicle, intervals: np.ndarray, rng: np.random.Generator) -> Frames:
    """One sender (period <= 100 ms) goes silent in the intervals: its messages there are removed.

    Labelling rule: every message remaining inside a suppression interval is labelled 1
    (the absence itself cannot carry a label); messages outside keep their labels.
    """
    sender = _target(vehicle, rng)
    inside = in_intervals(frames.timestamp, intervals)
    out = frames.take(~(inside & (frames.can_id == sender.can_id)))
    out.label[in_intervals(out.timestamp, intervals)] = 1
    return out


def _forged_field(sender: Sender, rng: np.random.Generator):
    """The field a masquerading attacker forges: a signal, else flags/constant, else byte 0."""
    for kind in (Signal, Flags, Const):
        pool = [f for f in sender.fields if isinstance(f, kind)]
        if pool:
            return pool[int(rng.integers(len(pool)))]
    return Const(0, 0)


def masquerade(frames: Frames, vehicle: SyntheticVehicle, intervals: np.ndarray, rng: np.random.Generator) -> Frames:
    """The real sender (period <= 100 ms) is silenced; the attacker sends at its period.

    Attacker frames: last genuine payload before the interval, counter continued, one field
    set to a constant forged value, checksum recomputed; own clock and jitter. Labelled 1.
    """
    sender = _target(vehicle, rng)
    counter = sender.field(Counter)
    forged = _forged_field(sender, rng)
    inside = in_intervals(frames.timestamp, intervals)
    out = frames.take(~(inside & (frames.can_id == sender.can_id)))
    parts = []
    for s, e in intervals:
        t = s + sender_times(sender, e - s, rng)
        payload = np.repeat(_last_payload_before(frames, sender.can_id, s)[None, :], len(t), axis=0)
        if counter is not None:
            put_field(payload, counter, read_field(payload[:1], counter)[0] + 1 + np.arange(len(t)))
        if isinstance(forged, Signal):
            value = int(rng.integers(forged.lo, forged.hi + 1))
        else:
            value = int(rng.integers(0, 256))
        if forged.byte < sender.dlc:
            put_field(payload, forged, np.full(len(t), value))
        fill_checksum(payload, sender)
        parts.append(sender_frames(sender, t, payload, label=1))
    return _merge(out, *parts)


ATTACKS: dict[str, Attack] = {
    "dos": dos, "fuzzing": fuzzing, "spoofing": spoofing, "replay": replay,
    "malfunction": malfunction, "suppress": suppress, "masquerade": masquerade,
}


def apply_attack(name: str, frames: Frames, vehicle: SyntheticVehicle, rng: np.random.Generator,
                 duration_s: float | None = None) -> Frames:
    """Run attack ``name`` over intervals planned by :func:`plan_intervals` on [0, duration_s)."""
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; known: {sorted(ATTACKS)}")
    if duration_s is None:
        duration_s = float(frames.timestamp[-1]) if len(frames) else 0.0
    intervals = plan_intervals(rng, duration_s)
    return ATTACKS[name](frames, vehicle, intervals, rng)
