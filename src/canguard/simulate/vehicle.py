"""A synthetic vehicle: its CAN senders, their periods, DLCs and payload layouts.

A :class:`SyntheticVehicle` is drawn once from a seed and a vehicle name and then
fixed: every recording of that vehicle (train and test) uses the same IDs,
periods, DLCs and byte layouts; only the signal trajectories, phases and jitter
differ between recordings.

Each :class:`Sender` is one periodic ECU message (11-bit ID). Its payload is a
tuple of fields (:mod:`canguard.simulate.payload`), each owning some bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from canguard.simulate.payload import (
    Field,
    Signal,
    gear_layout,
    random_layout,
    rpm_layout,
)

PERIODS_S = (0.010, 0.020, 0.050, 0.100, 1.000)
# share of IDs per period before the rate adjustment: many 10/20 ms, few 1 s
PERIOD_WEIGHTS = (0.30, 0.20, 0.12, 0.30, 0.08)
MIN_SENDERS, MAX_SENDERS = 30, 100
SHORT_DLC_SHARE_NORMAL = (0.05, 0.10)  # share of IDs with DLC < 8 (Kia/Sonata-like)
SHORT_DLC_SHARE_SPARK = 0.40           # Chevrolet-Spark-like vehicles


@dataclass(frozen=True)
class Sender:
    """One periodic message of the vehicle.

    period_s  nominal period in seconds (one of PERIODS_S)
    jitter    std of the inter-arrival time as a fraction of the period (0.01..0.03)
    drift_ppm clock drift of the sending ECU, parts per million
    role      "rpm", "gear" or "" (targets of spoofing)
    """
    can_id: int
    period_s: float
    dlc: int
    jitter: float
    drift_ppm: float
    fields: tuple[Field, ...]
    role: str = ""

    def field(self, kind: type) -> Field | None:
        """The first field of the given class, or None."""
        return next((f for f in self.fields if isinstance(f, kind)), None)

    def signal(self, name: str | None = None) -> Signal | None:
        """The first Signal field (with that name, if given), or None."""
        return next((f for f in self.fields if isinstance(f, Signal) and name in (None, f.name)), None)


@dataclass(frozen=True)
class SyntheticVehicle:
    name: str
    senders: tuple[Sender, ...]  # sorted by can_id

    @property
    def ids(self) -> np.ndarray:
        """(n_senders,) uint32 CAN IDs, ascending."""
        return np.array([s.can_id for s in self.senders], dtype=np.uint32)

    @property
    def message_rate(self) -> float:
        """Nominal benign messages per second of the whole vehicle."""
        return float(sum(1.0 / s.period_s for s in self.senders))

    def sender(self, can_id: int) -> Sender:
        for s in self.senders:
            if s.can_id == can_id:
                return s
        raise KeyError(f"vehicle {self.name} has no sender 0x{can_id:03X}")

    def role(self, role: str) -> Sender:
        """The sender designated "rpm" or "gear"."""
        for s in self.senders:
            if s.role == role:
                return s
        raise KeyError(f"vehicle {self.name} has no {role} sender")


# --- seeds -------------------------------------------------------------------------------

def derive_seed(*parts: int | str) -> np.random.SeedSequence:
    """A SeedSequence from ints and strings, stable across runs and platforms (no hash())."""
    entropy: list[int] = []
    for p in parts:
        if isinstance(p, str):
            raw = p.encode()
            entropy += [1, len(raw), *raw]
        else:
            if int(p) < 0:
                raise ValueError(f"seed parts must be non-negative, got {p}")
            entropy += [0, int(p)]
    return np.random.SeedSequence(entropy)


# --- drawing a vehicle ------------------------------------------------------------------

def _periods_for_rate(rng: np.random.Generator, n: int, message_rate: float) -> np.ndarray:
    """(n,) periods in seconds drawn from PERIODS_S, nudged one step at a time toward the rate.

    One step changes the rate by at most 50 msg/s, so the result is within 50 msg/s of
    ``message_rate`` whenever the rate is reachable with n senders.
    """
    steps = rng.choice(len(PERIODS_S), size=n, p=PERIOD_WEIGHTS)
    periods = np.asarray(PERIODS_S)
    for _ in range(20 * n):  # bounded: each step moves one sender one period class
        rate = float(np.sum(1.0 / periods[steps]))
        if abs(rate - message_rate) <= 50.0:
            break
        if rate < message_rate:
            candidates = np.flatnonzero(steps > 0)
            delta = -1
        else:  # slow senders down to 100 ms first: keep 1 s senders few
            candidates = np.flatnonzero(steps < len(PERIODS_S) - 2)
            if len(candidates) == 0:
                candidates = np.flatnonzero(steps < len(PERIODS_S) - 1)
            delta = +1
        if len(candidates) == 0:
            break
        steps[rng.choice(candidates)] += delta
    return periods[steps]


def make_vehicle(name: str, seed: int, message_rate: float = 2000.0,
                 short_dlc: bool = False) -> SyntheticVehicle:
    """Draw a vehicle from ``seed`` and ``name`` alone (same inputs, same vehicle).

    message_rate  target benign messages per second of the whole vehicle
    short_dlc     Spark-like: ~40 % of IDs send DLC < 8 (else 5-10 %)
    """
    return _make_vehicle(name, int(seed), float(message_rate), bool(short_dlc))


@lru_cache(maxsize=64)
def _make_vehicle(name: str, seed: int, message_rate: float, short_dlc: bool) -> SyntheticVehicle:
    rng = np.random.default_rng(derive_seed(seed, "vehicle", name))
    mean_rate_per_id = float(np.dot(PERIOD_WEIGHTS, 1.0 / np.asarray(PERIODS_S)))
    n = int(np.clip(round(message_rate / mean_rate_per_id * rng.uniform(0.8, 1.4)), MIN_SENDERS, MAX_SENDERS))

    ids = np.sort(rng.choice(np.arange(0x040, 0x7F0), size=n, replace=False))
    periods = np.sort(_periods_for_rate(rng, n, message_rate))
    # low IDs tend to be the fast ones (arbitration priority), but not strictly
    order = np.argsort(np.arange(n) + rng.normal(0.0, 0.15 * n, size=n), kind="stable")
    periods = periods[np.argsort(order, kind="stable")]

    # designated spoofing targets: a fastest sender carries RPM, a 20-100 ms one the gear
    fastest = np.flatnonzero(periods == periods.min())
    rpm_i = int(rng.choice(fastest))
    gear_pool = np.flatnonzero((periods >= 0.020) & (periods <= 0.100) & (np.arange(n) != rpm_i))
    if len(gear_pool) == 0:
        gear_pool = np.flatnonzero(np.arange(n) != rpm_i)
    gear_i = int(rng.choice(gear_pool))

    dlcs = np.full(n, 8)
    share = SHORT_DLC_SHARE_SPARK if short_dlc else rng.uniform(*SHORT_DLC_SHARE_NORMAL)
    others = np.setdiff1d(np.arange(n), [rpm_i, gear_i])
    n_short = max(1, int(round(share * n)))
    short = rng.choice(others, size=min(n_short, len(others)), replace=False)
    dlcs[short] = rng.choice([1, 2, 3, 4, 5, 6, 7], size=len(short),
                             p=[0.04, 0.16, 0.12, 0.2, 0.16, 0.16, 0.16])

    senders = []
    for i in range(n):
        if i == rpm_i:
            fields, role = rpm_layout(rng), "rpm"
        elif i == gear_i:
            fields, role = gear_layout(rng), "gear"
        else:
            fields, role = random_layout(rng, int(dlcs[i])), ""
        senders.append(Sender(
            can_id=int(ids[i]), period_s=float(periods[i]), dlc=int(dlcs[i]),
            jitter=float(rng.uniform(0.01, 0.03)), drift_ppm=float(rng.uniform(-80, 80)),
            fields=fields, role=role,
        ))
    return SyntheticVehicle(name=name, senders=tuple(senders))
