"""A synthetic vehicle: its CAN senders, their periods, DLCs and payload layouts.

A :class:`SyntheticVehicle` is drawn once from a seed and a vehicle name and then
fixed: every recording of that vehicle (train and test) uses the same IDs,
periods, DLCs and byte layouts; only the signal trajectories, phases and jitter
differ between recordings.

Each :class:`Sender` is one periodic ECU message (11-bit ID). Its payload is a
tuple of fields, each owning some bytes:

    Const     a fixed byte
    Counter   rolling counter, 4-bit nibble or full byte, +1 per message
    Signal    physical value (8- or 16-bit, big/little-endian), slowly varying
    Flags     a byte whose masked bits toggle now and then
    Checksum  XOR or sum (mod 256) of the other data bytes, in the last byte

Bytes at index >= dlc are padding and always 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

PERIODS_S = (0.010, 0.020, 0.050, 0.100, 1.000)
# share of IDs per period before the rate adjustment: many 10/20 ms, few 1 s
PERIOD_WEIGHTS = (0.30, 0.20, 0.12, 0.30, 0.08)
MIN_SENDERS, MAX_SENDERS = 30, 100
SHORT_DLC_SHARE_NORMAL = (0.05, 0.10)  # share of IDs with DLC < 8 (Kia/Sonata-like)
SHORT_DLC_SHARE_SPARK = 0.40           # Chevrolet-Spark-like vehicles
RPM_SCALE = 4                          # raw = rpm * 4 (0.25 rpm/bit, as in many EMS frames)


@dataclass(frozen=True)
class Const:
    byte: int
    value: int


@dataclass(frozen=True)
class Counter:
    """Rolling counter in ``byte``: ``bits`` 8 (full byte) or 4 (nibble at ``shift`` 0 or 4).

    For a nibble counter the other nibble holds ``rest`` (already shifted into place).
    """
    byte: int
    bits: int = 8
    shift: int = 0
    rest: int = 0

    @property
    def modulus(self) -> int:
        return 1 << self.bits


@dataclass(frozen=True)
class Signal:
    """A physical value, raw integer in [lo, hi], stored in ``width`` bytes from ``byte``.

    ``wave``: "walk" (reflected random walk), "sine" (two slow sinusoids) or
    "steps" (piecewise constant levels, e.g. a gear). ``tau_s`` is its time
    scale in seconds. ``name`` is "rpm", "gear", "speed", "steering" or "signal".
    """
    byte: int
    width: int
    endian: str
    lo: int
    hi: int
    wave: str
    tau_s: float
    name: str = "signal"


@dataclass(frozen=True)
class Flags:
    """A byte equal to ``base`` with the ``mask`` bits toggling ``rate_hz`` times per second."""
    byte: int
    base: int
    mask: int
    rate_hz: float


@dataclass(frozen=True)
class Checksum:
    """Checksum of bytes 0..byte-1 (``method`` "xor" or "sum" mod 256, plus ``salt``)."""
    byte: int
    method: str
    salt: int = 0


Field = Const | Counter | Signal | Flags | Checksum


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


# --- byte encoding (vectorised over messages) ------------------------------------------

def put_field(payload: np.ndarray, field: Field, raw: np.ndarray) -> None:
    """Write raw values (m,) of ``field`` into ``payload`` (m, 8) uint8, in place."""
    raw = np.asarray(raw, dtype=np.int64)
    if isinstance(field, Counter):
        if field.bits == 8:
            payload[:, field.byte] = raw & 0xFF
        else:
            payload[:, field.byte] = ((raw & 0xF) << field.shift) | field.rest
    elif isinstance(field, Signal):
        if field.width == 1:
            payload[:, field.byte] = raw & 0xFF
        else:
            hi_b, lo_b = (raw >> 8) & 0xFF, raw & 0xFF
            first, second = (hi_b, lo_b) if field.endian == "big" else (lo_b, hi_b)
            payload[:, field.byte] = first
            payload[:, field.byte + 1] = second
    elif isinstance(field, (Const, Flags)):
        payload[:, field.byte] = raw & 0xFF
    else:
        raise TypeError(f"put_field does not write {type(field).__name__}; use fill_checksum")


def read_field(payload: np.ndarray, field: Counter | Signal) -> np.ndarray:
    """Raw values (m,) int64 of a counter or signal field from ``payload`` (m, 8)."""
    p = payload.astype(np.int64)
    if isinstance(field, Counter):
        return p[:, field.byte] if field.bits == 8 else (p[:, field.byte] >> field.shift) & 0xF
    if field.width == 1:
        return p[:, field.byte]
    a, b = p[:, field.byte], p[:, field.byte + 1]
    return (a << 8) | b if field.endian == "big" else (b << 8) | a


def fill_checksum(payload: np.ndarray, sender: Sender) -> None:
    """Recompute the sender's checksum byte (if it has one) of every row of ``payload`` (m, 8)."""
    ck = sender.field(Checksum)
    if ck is None:
        return
    body = payload[:, : ck.byte]
    if ck.method == "xor":
        value = np.bitwise_xor.reduce(body, axis=1) if ck.byte else np.zeros(len(payload), np.uint8)
        value = value ^ ck.salt
    else:
        value = body.astype(np.int64).sum(axis=1) + ck.salt
    payload[:, ck.byte] = np.asarray(value, dtype=np.int64) & 0xFF


# --- drawing a vehicle ------------------------------------------------------------------

def _random_signal(rng: np.random.Generator, byte: int, width: int) -> Signal:
    if width == 2:
        lo = int(rng.integers(0, 4000))
        hi = int(min(0xFFFF, lo + rng.integers(800, 40000)))
        name = str(rng.choice(["speed", "steering", "signal"], p=[0.2, 0.2, 0.6]))
    else:
        lo = int(rng.integers(0, 60))
        hi = int(rng.integers(lo + 20, 256))
        name = "signal"
    wave = "walk" if rng.random() < 0.6 else "sine"
    return Signal(byte, width, str(rng.choice(["big", "little"])), lo, hi, wave,
                  float(rng.uniform(3.0, 30.0)), name)


def _random_const(rng: np.random.Generator, byte: int) -> Const:
    u = rng.random()
    value = 0x00 if u < 0.5 else 0xFF if u < 0.65 else int(rng.integers(1, 255))
    return Const(byte, value)


def _random_counter(rng: np.random.Generator, byte: int) -> Counter:
    if rng.random() < 0.6:
        shift = int(rng.choice([0, 4]))
        rest = int(rng.integers(0, 16)) << (4 - shift) if rng.random() < 0.4 else 0
        return Counter(byte, 4, shift, rest)
    return Counter(byte, 8)


def random_layout(rng: np.random.Generator, dlc: int) -> tuple[Field, ...]:
    """Fields covering bytes 0..dlc-1 of one sender: counters/checksums at the end, data first."""
    fields: list[Field] = []
    end = dlc
    tail: list[Field] = []
    if dlc >= 3 and rng.random() < 0.5:
        tail.append(Checksum(dlc - 1, str(rng.choice(["xor", "sum"])), int(rng.integers(0, 256))))
        end -= 1
    if end >= 2 and rng.random() < (0.85 if tail else 0.45):
        tail.insert(0, _random_counter(rng, end - 1))
        end -= 1
    pos = 0
    while pos < end:
        u = rng.random()
        if end - pos >= 2 and u < 0.30:
            fields.append(_random_signal(rng, pos, 2))
            pos += 2
            continue
        if u < 0.45:
            fields.append(_random_signal(rng, pos, 1))
        elif u < 0.60:
            bits = rng.choice(8, size=int(rng.integers(1, 3)), replace=False)
            mask = int(np.bitwise_or.reduce(1 << bits))
            fields.append(Flags(pos, int(rng.integers(0, 256)) & ~mask, mask, float(rng.uniform(0.05, 1.0))))
        else:
            fields.append(_random_const(rng, pos))
        pos += 1
    return tuple(fields + tail)


def _rpm_layout(rng: np.random.Generator) -> tuple[Field, ...]:
    """EMS-like frame: flags, constant, RPM (16-bit LE, 0.25 rpm/bit), throttle, counter, checksum."""
    return (
        Flags(0, 0x05, 0x01, 0.2),
        Const(1, int(rng.integers(0, 256))),
        Signal(2, 2, "little", 700 * RPM_SCALE, 4500 * RPM_SCALE, "walk", float(rng.uniform(6, 15)), "rpm"),
        Signal(4, 1, "big", 0, 200, "sine", float(rng.uniform(5, 20)), "throttle"),
        Const(5, 0x00),
        Counter(6, 4, 4, 0),
        Checksum(7, "xor", int(rng.integers(0, 256))),
    )


def _gear_layout(rng: np.random.Generator) -> tuple[Field, ...]:
    """TCU-like frame: gear position (0..7), constants, counter, checksum."""
    return (
        Signal(0, 1, "big", 0, 7, "steps", float(rng.uniform(4, 12)), "gear"),
        Const(1, 0x00),
        Signal(2, 2, "big", 0, 260 * 100, "walk", float(rng.uniform(8, 20)), "speed"),
        Const(4, int(rng.integers(0, 256))),
        Const(5, 0xFF),
        Counter(6, 8),
        Checksum(7, "sum", int(rng.integers(0, 256))),
    )


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
            fields, role = _rpm_layout(rng), "rpm"
        elif i == gear_i:
            fields, role = _gear_layout(rng), "gear"
        else:
            fields, role = random_layout(rng, int(dlcs[i])), ""
        senders.append(Sender(
            can_id=int(ids[i]), period_s=float(periods[i]), dlc=int(dlcs[i]),
            jitter=float(rng.uniform(0.01, 0.03)), drift_ppm=float(rng.uniform(-80, 80)),
            fields=fields, role=role,
        ))
    return SyntheticVehicle(name=name, senders=tuple(senders))
