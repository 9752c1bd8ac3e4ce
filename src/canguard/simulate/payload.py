"""The payload of a synthetic sender: its fields, how they are written and read, random layouts.

Each field owns some bytes of a message:

    Const     a fixed byte
    Counter   rolling counter, 4-bit nibble or full byte, +1 per message
    Signal    physical value (8- or 16-bit, big/little-endian), slowly varying
    Flags     a byte whose masked bits toggle now and then
    Checksum  XOR or sum (mod 256) of the other data bytes, in the last byte

Bytes at index >= dlc are padding and always 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from canguard.simulate.vehicle import Sender

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


# --- random layouts ---------------------------------------------------------------------

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


def rpm_layout(rng: np.random.Generator) -> tuple[Field, ...]:
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


def gear_layout(rng: np.random.Generator) -> tuple[Field, ...]:
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
