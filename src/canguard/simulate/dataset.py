"""The synthetic dataset: its spec, the plan of recordings, and the can-train-and-test writer.

Layout (as can-train-and-test v1.5; file stems ``<attack>-<vehicle>``)::

    train_01_attack_free/attack-free-<known vehicle>.csv
    train_02_with_attacks/<known attack>-<known vehicle>.csv    (attacks spread over vehicles)
    test_01_known_vehicle_known_attack/<known attack>-<known vehicle>.csv  (the other vehicle)
    test_02_unknown_vehicle_known_attack/<known attack>-<unknown vehicle>.csv
    test_03_known_vehicle_unknown_attack/<unknown attack>-<known vehicle>.csv
    test_04_unknown_vehicle_unknown_attack/<unknown attack>-<unknown vehicle>.csv
    test_05_suppress/suppress-<known vehicle>.csv
    test_06_masquerade/masquerade-<known vehicle>.csv
    train_01_attack_free/attack-free-fleetNN.csv, train_02_with_attacks/<known attack>-fleetNN.csv
                                                 (with ``fleet``: random vehicles that only train)

Unlike the real distribution, the attack-free files are written once (not again into
train_02). CSV: ``timestamp,arbitration_id,data_field,attack``; timestamp epoch seconds
with 6 decimals, ID as 3 upper-case hex digits, payload as 2*DLC hex digits.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from canguard.atomic import atomic_output
from canguard.frames import Frames
from canguard.ingest.hexcodec import encode_hex_id, encode_hex_payload, string_buffers
from canguard.simulate.attacks import ATTACKS, apply_attack
from canguard.simulate.traffic import benign_traffic
from canguard.simulate.vehicle import SyntheticVehicle, derive_seed, make_vehicle

HEADER = "timestamp,arbitration_id,data_field,attack\n"
BENIGN = "none"
STEM_NAMES = {
    BENIGN: "attack-free", "dos": "DoS", "fuzzing": "fuzzing", "spoofing": "spoofing",
    "replay": "replay", "malfunction": "malfunction", "suppress": "suppress",
    "masquerade": "masquerade",
}
SCENARIO_ATTACKS = {"suppress": "test_05_suppress", "masquerade": "test_06_masquerade"}
TRAIN_FREE = "train_01_attack_free"
TRAIN_ATTACKS = "train_02_with_attacks"
TEST_KV_KA = "test_01_known_vehicle_known_attack"
TEST_UV_KA = "test_02_unknown_vehicle_known_attack"
TEST_KV_UA = "test_03_known_vehicle_unknown_attack"
TEST_UV_UA = "test_04_unknown_vehicle_unknown_attack"
RECORDING_SPREAD_S = 30 * 86400  # recordings start within 30 days after start_epoch
_VEHICLE_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate. Vehicle names: letters, digits, underscore (they end file stems)."""
    seed: int = 7
    duration_s: float = 30.0
    message_rate: float = 2000.0
    vehicles: tuple[str, ...] = ("alpha", "bravo")
    unknown_vehicles: tuple[str, ...] = ("charlie",)
    short_dlc_vehicles: tuple[str, ...] = ("charlie",)
    known_attacks: tuple[str, ...] = ("dos", "fuzzing", "spoofing")
    unknown_attacks: tuple[str, ...] = ("replay", "malfunction")
    scenario_attacks: tuple[str, ...] = ("suppress", "masquerade")
    start_epoch: float = 1.7e9
    fleet: int = 0  # extra random training vehicles fleet00, fleet01, ...: train_01 and train_02 only

    def __post_init__(self) -> None:
        for name in ("vehicles", "unknown_vehicles", "short_dlc_vehicles",
                     "known_attacks", "unknown_attacks", "scenario_attacks"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise ValueError(f"synthetic.{name} must be a list, got the string {value!r}")
            object.__setattr__(self, name, tuple(value))
        if not self.vehicles:
            raise ValueError("synthetic.vehicles: at least one known vehicle is needed")
        everyone = self.vehicles + self.unknown_vehicles
        for v in everyone:
            if not _VEHICLE_NAME.match(v):
                raise ValueError(f"synthetic vehicle name {v!r}: use letters, digits and _ only")
        if len(set(everyone)) != len(everyone):
            raise ValueError("synthetic.vehicles and synthetic.unknown_vehicles must be distinct names")
        stray = set(self.short_dlc_vehicles) - set(everyone)
        if stray:
            raise ValueError(f"synthetic.short_dlc_vehicles names unknown vehicles: {sorted(stray)}")
        for name in ("known_attacks", "unknown_attacks"):
            bad = [a for a in getattr(self, name) if a not in ATTACKS]
            if bad:
                raise ValueError(f"synthetic.{name}: unknown attack(s) {bad}; known: {sorted(ATTACKS)}")
        bad = [a for a in self.scenario_attacks if a not in SCENARIO_ATTACKS]
        if bad:
            raise ValueError(f"synthetic.scenario_attacks: {bad} not in {sorted(SCENARIO_ATTACKS)}")
        if set(self.known_attacks) & set(self.unknown_attacks):
            raise ValueError("synthetic.known_attacks and synthetic.unknown_attacks overlap")
        if not (self.duration_s >= 2.0):
            raise ValueError(f"synthetic.duration_s must be >= 2 s, got {self.duration_s}")
        if not (300.0 <= self.message_rate <= 5000.0):
            raise ValueError(f"synthetic.message_rate must be in [300, 5000] msg/s, got {self.message_rate}")
        if isinstance(self.fleet, bool) or not isinstance(self.fleet, (int, np.integer)) or not 0 <= self.fleet <= 999:
            raise ValueError(f"synthetic.fleet must be an integer in [0, 999], got {self.fleet!r}")
        if set(self.fleet_vehicles) & set(everyone):
            raise ValueError(f"synthetic vehicle names {sorted(set(self.fleet_vehicles) & set(everyone))} "
                             "are taken by the fleet (fleet00, fleet01, ...)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ValueError(f"synthetic.seed must be an integer, got {self.seed!r}")
        if self.seed < 0:
            raise ValueError(f"synthetic.seed must be >= 0, got {self.seed}")

    @property
    def fleet_vehicles(self) -> tuple[str, ...]:
        """Names of the fleet: random vehicles that only train (each its own IDs, periods, DLCs, layouts)."""
        return tuple(f"fleet{i:02d}" for i in range(self.fleet))

    @classmethod
    def from_config(cls, d: dict | None) -> SyntheticSpec:
        """Build from a config mapping; missing keys take defaults, unknown keys raise ValueError."""
        d = dict(d or {})
        known = {f.name for f in dataclasses.fields(cls)}
        for key in d:
            if key not in known:
                raise ValueError(f"unknown synthetic config key {key!r}; known: {sorted(known)}")
        return cls(**d)


@dataclass(frozen=True)
class RecordingPlan:
    """One CSV file of the dataset: ``<split>/<name>.csv``; ``attack`` is "none" when benign."""
    split: str
    name: str
    vehicle: str
    attack: str
    seed: int

    @property
    def relpath(self) -> str:
        return f"{self.split}/{self.name}.csv"


def _plan(spec: SyntheticSpec, split: str, attack: str, vehicle: str) -> RecordingPlan:
    name = f"{STEM_NAMES[attack]}-{vehicle}"
    seed = int(derive_seed(spec.seed, "recording", split, name).generate_state(1, np.uint64)[0])
    return RecordingPlan(split=split, name=name, vehicle=vehicle, attack=attack, seed=seed)


def plan_recordings(spec: SyntheticSpec) -> list[RecordingPlan]:
    """Every recording of the dataset, in a fixed order.

    Known attack i goes to known vehicle i mod n in train_02 and to vehicle i+1 mod n in
    test_01 (as the real set: DoS-kia in train, DoS-sonata in test). Unknown vehicles get
    every known attack (test_02) and every unknown attack (test_04); known vehicles get
    every unknown attack (test_03) and every scenario attack (test_05, test_06).
    """
    known, unknown = spec.vehicles, spec.unknown_vehicles
    plans = [_plan(spec, TRAIN_FREE, BENIGN, v) for v in known]
    # the fleet: each random vehicle one attack-free and one attacked training recording
    plans += [_plan(spec, TRAIN_FREE, BENIGN, v) for v in spec.fleet_vehicles]
    plans += [_plan(spec, TRAIN_ATTACKS, spec.known_attacks[i % len(spec.known_attacks)], v)
              for i, v in enumerate(spec.fleet_vehicles) if spec.known_attacks]
    plans += [_plan(spec, TRAIN_ATTACKS, a, known[i % len(known)]) for i, a in enumerate(spec.known_attacks)]
    plans += [_plan(spec, TEST_KV_KA, a, known[(i + 1) % len(known)]) for i, a in enumerate(spec.known_attacks)]
    plans += [_plan(spec, TEST_UV_KA, a, v) for a in spec.known_attacks for v in unknown]
    plans += [_plan(spec, TEST_KV_UA, a, v) for a in spec.unknown_attacks for v in known]
    plans += [_plan(spec, TEST_UV_UA, a, v) for a in spec.unknown_attacks for v in unknown]
    plans += [_plan(spec, SCENARIO_ATTACKS[a], a, v) for a in spec.scenario_attacks for v in known]
    return plans


def synthetic_vehicle(spec: SyntheticSpec, name: str) -> SyntheticVehicle:
    """The synthetic vehicle ``name``: from spec.seed and the name only (plus the rate/DLC options)."""
    if name in spec.fleet_vehicles:  # rate and DLC mix drawn per fleet vehicle, from the seed and its name
        rng = np.random.default_rng(derive_seed(spec.seed, "fleet", name))
        rate = float(np.clip(spec.message_rate * rng.uniform(0.6, 1.4), 300.0, 5000.0))
        return make_vehicle(name, spec.seed, rate, bool(rng.random() < 1 / 3))
    if name not in spec.vehicles + spec.unknown_vehicles:
        raise KeyError(f"vehicle {name!r} is not in the spec")
    return make_vehicle(name, spec.seed, spec.message_rate, name in spec.short_dlc_vehicles)


def generate_recording(plan: RecordingPlan, spec: SyntheticSpec) -> Frames:
    """The recording's Frames, sorted by time, timestamps in epoch seconds rounded to 1 us.

    Deterministic in (plan, spec): traffic, attack and start time come from plan.seed.
    """
    vehicle = synthetic_vehicle(spec, plan.vehicle)
    traffic_ss, attack_ss, clock_ss = np.random.SeedSequence(plan.seed).spawn(3)
    frames = benign_traffic(vehicle, spec.duration_s, np.random.default_rng(traffic_ss))
    if plan.attack != BENIGN:
        frames = apply_attack(plan.attack, frames, vehicle, np.random.default_rng(attack_ss), spec.duration_s)
    offset_us = int(np.random.default_rng(clock_ss).integers(0, RECORDING_SPREAD_S * 10**6))
    start_us = int(round(spec.start_epoch * 1e6)) + offset_us
    micros = start_us + np.rint(frames.timestamp * 1e6).astype(np.int64)
    frames.timestamp = micros / 1e6
    return frames


def _timestamp_strings(timestamp: np.ndarray) -> pa.Array:
    """Epoch seconds as 'S.ffffff' strings (6 decimals), exact for |t| < 2**53 us."""
    micros = np.rint(np.asarray(timestamp, dtype=np.float64) * 1e6).astype(np.int64)
    seconds = pc.cast(pa.array(micros // 10**6), pa.large_string())
    fraction = pc.utf8_lpad(pc.cast(pa.array(micros % 10**6), pa.large_string()), width=6, padding="0")
    return pc.binary_join_element_wise(seconds, fraction, pa.scalar(".", pa.large_string()))


def write_cantt_csv(path: str | Path, frames: Frames) -> None:
    """Write ``frames`` as a can-train-and-test v1.5 CSV (vectorised; no loop per row)."""
    n = len(frames)
    if np.any(frames.label < 0):
        raise ValueError("write_cantt_csv needs labels 0/1; got unknown (-1) labels")
    label = (pa.array(np.where(frames.label > 0, "1\n", "0\n"), pa.large_string()) if n
             else pa.array([], pa.large_string()))
    lines = pc.binary_join_element_wise(
        _timestamp_strings(frames.timestamp),
        encode_hex_id(frames.can_id),
        encode_hex_payload(frames.payload, frames.dlc),
        label,
        pa.scalar(",", pa.large_string()),
    )
    offsets, data = string_buffers(lines) if n else (np.zeros(1, np.int64), np.empty(0, np.uint8))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        fh.write(HEADER.encode())
        fh.write(memoryview(data[offsets[0]: offsets[-1]]))


def write_recording(plan: RecordingPlan, spec: SyntheticSpec, path: str | Path) -> int:
    """Generate the recording and write it to ``path``; returns its number of messages."""
    frames = generate_recording(plan, spec)
    write_cantt_csv(path, frames)
    return len(frames)


def write_dataset(spec: SyntheticSpec, root: str | Path) -> list[Path]:
    """Write every planned recording under ``root`` (``root/<split>/<name>.csv``); returns the paths."""
    root = Path(root)
    paths = []
    for plan in plan_recordings(spec):
        path = root / plan.relpath
        write_recording(plan, spec, path)
        paths.append(path)
    return paths
