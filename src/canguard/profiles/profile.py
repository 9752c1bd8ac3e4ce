"""Vehicle profiles: what one vehicle's normal traffic looks like, learnt from benign messages.

A profile is fitted on *segments*: stretches of one vehicle's traffic, each
contiguous in time (an attack-free recording, the first seconds of a recording,
the benign training blocks of a recording).  Per CAN ID the vehicle sends it holds::

    messages, share        messages of the ID, and their share of all the profile's messages
    iat_median             its period: median inter-arrival time (s) between consecutive messages
    iat_p01, iat_max       1st percentile and largest inter-arrival time seen: how fast it may
                           come, the longest normal silence
    iat_samples            inter-arrival times measured
    dlc_mask               DLC values seen (bit d set: DLC d)
    byte_min, byte_max     (8,) range of each payload byte over the messages that carry it
                           (-1 where no message carries the byte)
    value_seen             (8, 256) the values each byte took
    delta_seen             (8, 256) the changes (v - previous v) mod 256 of each byte between
                           consecutive messages of the ID that both carry it
    pairs, changes         (8,) consecutive pairs measured, and how many changed the byte
    count_mean, count_std  messages of the ID per window of ``window_size`` messages

Inter-arrival times and deltas never cross a segment boundary.  The file form
(:meth:`VehicleProfile.to_json`) is plain JSON, one readable entry per ID, with the
256-value sets as 64-digit hex strings; it loads without unpickling anything.

    profile = fit_profile([frames_a, frames_b], window_size=100, vehicle="kia",
                          source={"recordings": [...]})
    profile.row(np.array([0x18E, 0x999]))   # -> [i, -1]: row of each ID, -1 = never sent
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from canguard.atomic import write_text
from canguard.frames import Frames, previous_same_id

_BITS = 256


@dataclass
class VehicleProfile:
    """One vehicle's normal traffic; arrays have one row per CAN ID (K IDs, ascending)."""

    vehicle: str
    window_size: int
    source: dict
    duration_s: float
    can_id: np.ndarray        # (K,) int64
    messages: np.ndarray      # (K,) int64
    iat_median: np.ndarray    # (K,) float64 seconds; nan where the ID was seen once per segment
    iat_p01: np.ndarray       # (K,)
    iat_max: np.ndarray       # (K,)
    iat_samples: np.ndarray   # (K,) int64
    dlc_mask: np.ndarray      # (K,) int64
    byte_min: np.ndarray      # (K, 8) int16, -1 = never carried
    byte_max: np.ndarray      # (K, 8) int16
    value_seen: np.ndarray    # (K, 8, 256) bool
    delta_seen: np.ndarray    # (K, 8, 256) bool
    pairs: np.ndarray         # (K, 8) int64
    changes: np.ndarray       # (K, 8) int64
    count_mean: np.ndarray    # (K,) float64
    count_std: np.ndarray     # (K,) float64
    _digest: str | None = field(default=None, repr=False, compare=False)

    @property
    def num_ids(self) -> int:
        return len(self.can_id)

    @property
    def total_messages(self) -> int:
        return int(self.messages.sum())

    @property
    def share(self) -> np.ndarray:
        return self.messages / max(self.total_messages, 1)

    def row(self, can_id: np.ndarray) -> np.ndarray:
        """Row of each CAN ID in this profile, -1 for an ID the vehicle was never seen sending."""
        can_id = np.asarray(can_id, dtype=np.int64)
        if self.num_ids == 0:
            return np.full(len(can_id), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.can_id, can_id), self.num_ids - 1)
        return np.where(self.can_id[pos] == can_id, pos, -1).astype(np.int64)

    def change_rate(self) -> np.ndarray:
        """(K, 8) share of consecutive pairs that changed the byte, Laplace-smoothed: (c + 0.5) / (n + 1)."""
        return (self.changes + 0.5) / (self.pairs + 1.0)

    # --- file form ------------------------------------------------------------------------

    def to_json(self) -> dict:
        ids = []
        for k in range(self.num_ids):
            ids.append({
                "can_id": int(self.can_id[k]), "can_id_hex": f"{int(self.can_id[k]):03X}",
                "messages": int(self.messages[k]), "share": round(float(self.share[k]), 8),
                "iat_median_s": _num(self.iat_median[k]), "iat_p01_s": _num(self.iat_p01[k]),
                "iat_max_s": _num(self.iat_max[k]), "iat_samples": int(self.iat_samples[k]),
                "dlc": [d for d in range(9) if self.dlc_mask[k] >> d & 1],
                "count_per_window": {"mean": float(self.count_mean[k]), "std": float(self.count_std[k])},
                "bytes": [{"min": int(self.byte_min[k, j]), "max": int(self.byte_max[k, j]),
                           "values": _hex(self.value_seen[k, j]), "deltas": _hex(self.delta_seen[k, j]),
                           "pairs": int(self.pairs[k, j]), "changes": int(self.changes[k, j])}
                          for j in range(8)],
            })
        return {"vehicle": self.vehicle, "window_size": self.window_size, "source": self.source,
                "duration_s": self.duration_s, "messages": self.total_messages, "num_ids": self.num_ids,
                "ids": ids}

    @classmethod
    def from_json(cls, d: dict) -> VehicleProfile:
        ids = d["ids"]
        arr = lambda key, dtype=np.float64: np.asarray([e[key] for e in ids], dtype=dtype).reshape(len(ids))  # noqa: E731
        by_byte = lambda key: np.asarray([[b[key] for b in e["bytes"]] for e in ids], np.int64).reshape(-1, 8)  # noqa: E731
        bits = lambda key: np.asarray([[_unhex(b[key]) for b in e["bytes"]] for e in ids], bool).reshape(-1, 8, _BITS)  # noqa: E731
        return cls(
            vehicle=d["vehicle"], window_size=int(d["window_size"]), source=d["source"],
            duration_s=float(d["duration_s"]), can_id=arr("can_id", np.int64), messages=arr("messages", np.int64),
            iat_median=_nan(arr("iat_median_s", object)), iat_p01=_nan(arr("iat_p01_s", object)),
            iat_max=_nan(arr("iat_max_s", object)), iat_samples=arr("iat_samples", np.int64),
            dlc_mask=np.asarray([sum(1 << x for x in e["dlc"]) for e in ids], np.int64),
            byte_min=by_byte("min").astype(np.int16), byte_max=by_byte("max").astype(np.int16),
            value_seen=bits("values"), delta_seen=bits("deltas"), pairs=by_byte("pairs"),
            changes=by_byte("changes"),
            count_mean=np.asarray([e["count_per_window"]["mean"] for e in ids], np.float64),
            count_std=np.asarray([e["count_per_window"]["std"] for e in ids], np.float64),
        )

    def save(self, path: str | Path) -> None:
        write_text(path, json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> VehicleProfile:
        return cls.from_json(json.loads(Path(path).read_text()))

    def digest(self) -> str:
        if self._digest is None:
            blob = json.dumps(self.to_json(), sort_keys=True).encode()
            self._digest = hashlib.blake2b(blob, digest_size=8).hexdigest()
        return self._digest


def _num(v: float) -> float | None:
    return None if np.isnan(v) else float(v)


def _nan(a: np.ndarray) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in a], dtype=np.float64)


def _hex(bits: np.ndarray) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def _unhex(text: str) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes.fromhex(text), np.uint8)).astype(bool)


def _group_quantile(values: np.ndarray, group: np.ndarray, num_groups: int, q: float) -> np.ndarray:
    """Linear-interpolated quantile ``q`` of ``values`` per group; nan for an empty group."""
    order = np.lexsort((values, group))
    v, g = values[order], group[order]
    counts = np.bincount(g, minlength=num_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full(num_groups, np.nan)
    has = counts > 0
    pos = starts[has] + q * (counts[has] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, starts[has] + counts[has] - 1)
    out[has] = v[lo] + (pos - lo) * (v[hi] - v[lo])
    return out


def fit_profile(segments: list[Frames], window_size: int, vehicle: str, source: dict | None = None) -> VehicleProfile:
    """The profile of ``vehicle`` from its segments (each contiguous in time; benign by the caller's choice).

    Every message of every segment counts: callers drop labelled attack messages
    beforehand where labels are known and legitimate to use (training data), and
    keep them where a deployed detector could not tell (enrollment traffic).
    """
    segments = [s for s in segments if len(s)]
    can_ids = (np.unique(np.concatenate([s.can_id for s in segments])).astype(np.int64) if segments
               else np.zeros(0, np.int64))
    K = len(can_ids)
    messages = np.zeros(K, np.int64)
    dlc_mask = np.zeros(K, np.int64)
    value_hist = np.zeros((K, 8, _BITS), np.int64)
    delta_hist = np.zeros((K, 8, _BITS), np.int64)
    iat_code, iats, window_counts = [], [], []
    duration = 0.0
    for seg in segments:
        code = np.searchsorted(can_ids, seg.can_id.astype(np.int64))
        messages += np.bincount(code, minlength=K)
        for d in np.unique(seg.dlc):
            dlc_mask[np.unique(code[seg.dlc == d])] |= 1 << int(d)
        duration += float(seg.timestamp[-1] - seg.timestamp[0])
        prev = previous_same_id(code, K)
        has_prev = prev >= 0
        iat_code.append(code[has_prev])
        iats.append(seg.timestamp[has_prev] - seg.timestamp[prev[has_prev]])
        for j in range(8):
            carried = seg.dlc > j
            value_hist[:, j] += np.bincount(code[carried] * _BITS + seg.payload[carried, j],
                                            minlength=K * _BITS).reshape(K, _BITS)
            both = has_prev & carried & (seg.dlc[np.maximum(prev, 0)] > j)
            delta = (seg.payload[both, j].astype(np.int64) - seg.payload[prev[both], j]) % _BITS
            delta_hist[:, j] += np.bincount(code[both] * _BITS + delta, minlength=K * _BITS).reshape(K, _BITS)
        n_windows = len(seg) // window_size
        if n_windows:
            win = np.arange(n_windows * window_size) // window_size
            window_counts.append(np.bincount(win * K + code[: n_windows * window_size],
                                             minlength=n_windows * K).reshape(n_windows, K))
    iat_code = np.concatenate(iat_code) if iat_code else np.zeros(0, np.int64)
    iats = np.concatenate(iats) if iats else np.zeros(0)
    value_seen = value_hist > 0
    carried_any = value_seen.any(axis=2)
    byte_min = np.where(carried_any, value_seen.argmax(axis=2), -1).astype(np.int16)
    byte_max = np.where(carried_any, _BITS - 1 - value_seen[:, :, ::-1].argmax(axis=2), -1).astype(np.int16)
    pairs = delta_hist.sum(axis=2)
    if window_counts:
        counts = np.concatenate(window_counts).astype(np.float64)
        count_mean, count_std = counts.mean(axis=0), counts.std(axis=0)
    else:
        count_mean = messages / max(messages.sum(), 1) * window_size
        count_std = np.zeros(K)
    return VehicleProfile(
        vehicle=vehicle, window_size=int(window_size), source=dict(source or {}), duration_s=duration,
        can_id=can_ids, messages=messages,
        iat_median=_group_quantile(iats, iat_code, K, 0.5), iat_p01=_group_quantile(iats, iat_code, K, 0.01),
        iat_max=_group_quantile(iats, iat_code, K, 1.0), iat_samples=np.bincount(iat_code, minlength=K),
        dlc_mask=dlc_mask, byte_min=byte_min, byte_max=byte_max, value_seen=value_seen,
        delta_seen=delta_hist > 0, pairs=pairs, changes=pairs - delta_hist[:, :, 0],
        count_mean=count_mean, count_std=count_std,
    )
