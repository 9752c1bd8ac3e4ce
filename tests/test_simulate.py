"""The built-in synthetic vehicle: determinism, dataset layout, traffic realism, attacks, CSV."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest

from canguard.frames import Frames
from canguard.simulate import (
    ATTACKS,
    RecordingPlan,
    SyntheticSpec,
    apply_attack,
    benign_traffic,
    generate_recording,
    make_vehicle,
    plan_intervals,
    plan_recordings,
    synthetic_vehicle,
    write_cantt_csv,
    write_recording,
)
from canguard.simulate.payload import Checksum, Counter, fill_checksum, read_field

DURATION = 5.0
SPEC = SyntheticSpec(duration_s=DURATION)
INTERVALS = np.array([[1.0, 1.8], [3.0, 3.6]])


def _plan(spec: SyntheticSpec, attack: str, vehicle: str | None = None) -> RecordingPlan:
    return next(p for p in plan_recordings(spec) if p.attack == attack and vehicle in (None, p.vehicle))


@pytest.fixture(scope="module")
def alpha():
    return synthetic_vehicle(SPEC, "alpha")


@pytest.fixture(scope="module")
def benign(alpha):
    return benign_traffic(alpha, DURATION, np.random.default_rng(1))


def _attacked(name, benign, vehicle, seed=3):
    return ATTACKS[name](benign, vehicle, INTERVALS, np.random.default_rng(seed))


def _inside(t):
    return ((t >= INTERVALS[:, 0, None]) & (t < INTERVALS[:, 1, None])).any(axis=0)


# --- spec and plan --------------------------------------------------------------------------

def test_from_config_defaults_lists_and_unknown_keys():
    assert SyntheticSpec.from_config({}) == SyntheticSpec()
    assert SyntheticSpec.from_config(None) == SyntheticSpec()
    spec = SyntheticSpec.from_config({"seed": 3, "vehicles": ["a", "b", "c"], "duration_s": 12})
    assert spec.seed == 3 and spec.vehicles == ("a", "b", "c") and spec.duration_s == 12
    assert spec.unknown_attacks == SyntheticSpec().unknown_attacks
    with pytest.raises(ValueError, match="durration_s"):
        SyntheticSpec.from_config({"durration_s": 5})
    with pytest.raises(ValueError, match="teleport"):
        SyntheticSpec.from_config({"known_attacks": ["dos", "teleport"]})
    with pytest.raises(ValueError, match="overlap"):
        SyntheticSpec.from_config({"known_attacks": ["dos"], "unknown_attacks": ["dos"]})
    with pytest.raises(ValueError, match="distinct"):
        SyntheticSpec.from_config({"vehicles": ["alpha"], "unknown_vehicles": ["alpha"]})
    with pytest.raises(ValueError, match="letters"):
        SyntheticSpec.from_config({"vehicles": ["my-car"]})


def test_default_dataset_size_is_about_1_3_million_messages():
    spec = SyntheticSpec()
    benign_total = sum(synthetic_vehicle(spec, p.vehicle).message_rate * spec.duration_s
                       for p in plan_recordings(spec))
    assert 1.1e6 < benign_total < 1.45e6


def test_plan_layout_mirrors_can_train_and_test():
    spec = SyntheticSpec()
    plans = plan_recordings(spec)
    by_split: dict[str, list[RecordingPlan]] = {}
    for p in plans:
        by_split.setdefault(p.split, []).append(p)
        assert p.name == {"none": "attack-free", "dos": "DoS"}.get(p.attack, p.attack) + "-" + p.vehicle
    assert sorted(by_split) == [
        "test_01_known_vehicle_known_attack", "test_02_unknown_vehicle_known_attack",
        "test_03_known_vehicle_unknown_attack", "test_04_unknown_vehicle_unknown_attack",
        "test_05_suppress", "test_06_masquerade", "train_01_attack_free", "train_02_with_attacks",
    ]
    known, unknown = set(spec.vehicles), set(spec.unknown_vehicles)
    assert {p.name for p in by_split["train_01_attack_free"]} == {f"attack-free-{v}" for v in known}
    train = by_split["train_02_with_attacks"]
    assert all(p.attack in spec.known_attacks and p.vehicle in known for p in train)
    assert {p.attack for p in train} == set(spec.known_attacks)
    assert {p.vehicle for p in train} == known  # spread over the known vehicles
    test1 = by_split["test_01_known_vehicle_known_attack"]
    assert {p.attack for p in test1} == set(spec.known_attacks)
    train_pairs = {(p.attack, p.vehicle) for p in train}
    assert all(p.vehicle in known and (p.attack, p.vehicle) not in train_pairs for p in test1)
    assert {(p.attack, p.vehicle) for p in by_split["test_02_unknown_vehicle_known_attack"]} == {
        (a, v) for a in spec.known_attacks for v in unknown}
    assert {(p.attack, p.vehicle) for p in by_split["test_03_known_vehicle_unknown_attack"]} == {
        (a, v) for a in spec.unknown_attacks for v in known}
    assert {(p.attack, p.vehicle) for p in by_split["test_04_unknown_vehicle_unknown_attack"]} == {
        (a, v) for a in spec.unknown_attacks for v in unknown}
    assert {(p.attack, p.vehicle) for p in by_split["test_05_suppress"]} == {("suppress", v) for v in known}
    assert {(p.attack, p.vehicle) for p in by_split["test_06_masquerade"]} == {("masquerade", v) for v in known}
    assert len({p.relpath for p in plans}) == len(plans)
    assert len({p.seed for p in plans}) == len(plans)
    assert plans == plan_recordings(SyntheticSpec())


# --- determinism ------------------------------------------------------------------------------

def test_same_plan_and_spec_give_identical_bytes(tmp_path):
    plan = _plan(SPEC, "fuzzing")
    write_recording(plan, SPEC, tmp_path / "a.csv")
    write_recording(plan, SPEC, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    other = dataclasses.replace(SPEC, seed=SPEC.seed + 1)
    write_recording(_plan(other, "fuzzing"), other, tmp_path / "c.csv")
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


def test_vehicle_profile_depends_on_seed_and_name_only():
    assert make_vehicle("alpha", 7) == make_vehicle("alpha", 7)
    assert synthetic_vehicle(SPEC, "alpha") == synthetic_vehicle(dataclasses.replace(SPEC, duration_s=60), "alpha")
    assert not np.array_equal(make_vehicle("alpha", 7).ids, make_vehicle("bravo", 7).ids)
    assert not np.array_equal(make_vehicle("alpha", 7).ids, make_vehicle("alpha", 8).ids)


def test_known_vehicle_is_the_same_in_train_and_test():
    train = generate_recording(_plan(SPEC, "none", "alpha"), SPEC)
    test = generate_recording(_plan(SPEC, "malfunction", "alpha"), SPEC)
    vehicle = synthetic_vehicle(SPEC, "alpha")
    assert set(np.unique(train.can_id)) == set(vehicle.ids) == set(np.unique(test.can_id))
    dlc_of = {s.can_id: s.dlc for s in vehicle.senders}
    for frames in (train, test):
        assert all(dlc_of[int(i)] == d for i, d in set(zip(frames.can_id.tolist(), frames.dlc.tolist())))


# --- benign traffic ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["alpha", "bravo", "charlie"])
def test_vehicle_profile_is_realistic(name):
    vehicle = synthetic_vehicle(SPEC, name)
    assert 30 <= len(vehicle.senders) <= 100
    assert np.all(vehicle.ids <= 0x7FF) and len(np.unique(vehicle.ids)) == len(vehicle.ids)
    assert abs(vehicle.message_rate - SPEC.message_rate) <= 0.05 * SPEC.message_rate
    periods = np.array([s.period_s for s in vehicle.senders])
    assert set(periods) <= {0.01, 0.02, 0.05, 0.1, 1.0}
    assert np.mean(periods <= 0.02) > 0.25 and np.mean(periods == 1.0) < 0.25
    short = np.mean([s.dlc < 8 for s in vehicle.senders])
    if name in SPEC.short_dlc_vehicles:
        assert 0.3 < short < 0.5
    else:
        assert 0.0 < short <= 0.15
    assert vehicle.role("rpm").signal("rpm") is not None
    assert vehicle.role("gear").signal("gear") is not None


def test_benign_traffic_rate_timing_and_labels(alpha, benign):
    assert np.all(np.diff(benign.timestamp) >= 0)
    assert benign.timestamp[0] >= 0 and benign.timestamp[-1] < DURATION
    assert np.all(benign.label == 0)
    assert abs(len(benign) / DURATION - alpha.message_rate) < 0.03 * alpha.message_rate
    assert set(np.unique(benign.can_id)) == set(alpha.ids)
    checked = 0
    for sender in alpha.senders:
        t = benign.timestamp[benign.can_id == sender.can_id]
        if len(t) < 40:
            continue
        gaps = np.diff(t)
        assert abs(np.median(gaps) / sender.period_s - 1) < 0.01
        assert 0.005 < np.std(gaps) / sender.period_s < 0.05
        checked += 1
    assert checked >= 20


def test_benign_payload_layouts(alpha, benign):
    assert np.any(benign.dlc < 8)
    assert benign.padding_is_zero()
    counters = checksums = 0
    for sender in alpha.senders:
        rows = benign.payload[benign.can_id == sender.can_id]
        counter = sender.field(Counter)
        if counter is not None:
            step = np.diff(read_field(rows, counter)) % counter.modulus
            assert np.all(step == 1), hex(sender.can_id)
            counters += 1
        if sender.field(Checksum) is not None:
            again = rows.copy()
            again[:, sender.field(Checksum).byte] ^= 0x5A
            fill_checksum(again, sender)
            assert np.array_equal(again, rows)
            checksums += 1
    assert counters >= 3 and checksums >= 2
    rpm = alpha.role("rpm")
    values = read_field(benign.payload[benign.can_id == rpm.can_id], rpm.signal("rpm"))
    assert values.min() >= 700 * 4 and values.max() <= 4500 * 4
    assert np.max(np.abs(np.diff(values))) < 0.05 * (values.max() - values.min() + 100)  # slowly varying


# --- attacks -------------------------------------------------------------------------------------

def test_plan_intervals_cover_10_to_30_percent_after_a_lead_in():
    for seed in range(20):
        iv = plan_intervals(np.random.default_rng(seed), 100.0)
        assert 2 <= len(iv) <= 4
        assert np.all(iv[:, 1] > iv[:, 0]) and np.all(iv[1:, 0] >= iv[:-1, 1])
        assert 8.0 <= iv[0, 0] and iv[-1, 1] <= 100.0
        assert 10.0 - 1e-9 <= np.sum(iv[:, 1] - iv[:, 0]) <= 30.0 + 1e-9


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_every_attack_returns_sorted_frames_with_both_labels(name, alpha, benign):
    out = _attacked(name, benign, alpha)
    assert np.all(np.diff(out.timestamp) >= 0)
    assert out.padding_is_zero()
    assert set(np.unique(out.label)) == {0, 1}
    assert np.all(_inside(out.timestamp[out.label == 1]))


def test_dos_floods_id_zero(alpha, benign):
    out = _attacked("dos", benign, alpha)
    attack = out.take(out.label == 1)
    assert np.all(attack.can_id == 0) and np.all(attack.dlc == 8) and not attack.payload.any()
    expected = np.sum(INTERVALS[:, 1] - INTERVALS[:, 0]) / 0.0003
    assert abs(len(attack) - expected) < 0.02 * expected
    kept = out.take(out.label == 0)
    assert np.array_equal(kept.timestamp, benign.timestamp) and np.array_equal(kept.payload, benign.payload)


def test_fuzzing_injects_ids_the_vehicle_never_uses(alpha, benign):
    out = _attacked("fuzzing", benign, alpha)
    attack = out.take(out.label == 1)
    foreign = ~np.isin(attack.can_id, alpha.ids)
    assert foreign.mean() > 0.9
    assert len(np.unique(attack.can_id)) > 200
    assert set(np.unique(attack.dlc)) == set(range(9))
    assert attack.padding_is_zero()


def test_spoofing_sends_a_fixed_forged_frame_faster_than_the_period(alpha, benign):
    out = _attacked("spoofing", benign, alpha)
    attack = out.take(out.label == 1)
    targets = {alpha.role("rpm").can_id, alpha.role("gear").can_id}
    assert set(np.unique(attack.can_id)) <= targets
    for start, end in INTERVALS:
        part = attack.take((attack.timestamp >= start) & (attack.timestamp < end))
        assert len(np.unique(part.can_id)) == 1
        assert len(np.unique(part.payload, axis=0)) == 1  # one fixed forged frame
        period = alpha.sender(int(part.can_id[0])).period_s
        assert len(part) / (end - start) > 2.5 / period


def test_replay_resends_earlier_benign_payloads(alpha, benign):
    out = _attacked("replay", benign, alpha)
    attack = out.take(out.label == 1)
    assert len(attack) > 0
    for start, end in INTERVALS:
        part = attack.take((attack.timestamp >= start) & (attack.timestamp < end))
        first = part.take(np.array([0]))
        same = (benign.can_id == first.can_id[0]) & np.all(benign.payload == first.payload[0], axis=1)
        shifts = first.timestamp[0] - benign.timestamp[same]
        shifts = shifts[shifts > 0]
        matched = False
        for shift in shifts:  # some shift maps every replayed frame onto a benign one
            origin = np.searchsorted(benign.timestamp, part.timestamp - shift - 1e-9)
            origin = np.minimum(origin, len(benign) - 1)
            if (np.allclose(benign.timestamp[origin], part.timestamp - shift, atol=1e-9)
                    and np.array_equal(benign.payload[origin], part.payload)
                    and np.array_equal(benign.can_id[origin], part.can_id)):
                matched = True
                break
        assert matched


def test_malfunction_keeps_the_id_set_and_labels_one_id(alpha, benign):
    out = _attacked("malfunction", benign, alpha)
    assert set(np.unique(out.can_id)) == set(alpha.ids)
    attack = out.take(out.label == 1)
    assert len(np.unique(attack.can_id)) == 1 and len(attack) > 10
    sender = alpha.sender(int(attack.can_id[0]))
    assert np.all(attack.dlc == sender.dlc)
    assert len(np.unique(attack.payload, axis=0)) > 0.9 * len(attack)  # random payloads


def test_suppress_removes_one_sender_and_labels_the_interval(alpha, benign):
    out = _attacked("suppress", benign, alpha)
    before = {int(i): n for i, n in zip(*np.unique(benign.can_id, return_counts=True))}
    after = {int(i): n for i, n in zip(*np.unique(out.can_id, return_counts=True))}
    lost = [i for i in before if after.get(i, 0) < before[i]]
    assert len(lost) == 1 and after[lost[0]] > 0
    inside = _inside(out.timestamp)
    assert not np.any(inside & (out.can_id == lost[0]))
    assert np.all(out.label[inside] == 1) and np.all(out.label[~inside] == 0)
    assert len(benign) - len(out) == np.sum(_inside(benign.timestamp) & (benign.can_id == lost[0]))


def test_masquerade_replaces_the_sender_at_its_own_rate(alpha, benign):
    out = _attacked("masquerade", benign, alpha)
    attack = out.take(out.label == 1)
    assert len(np.unique(attack.can_id)) == 1
    can_id = int(attack.can_id[0])
    sender = alpha.sender(can_id)
    inside = _inside(out.timestamp)
    assert not np.any(inside & (out.can_id == can_id) & (out.label == 0))
    rate_in = len(attack) / np.sum(INTERVALS[:, 1] - INTERVALS[:, 0])
    assert abs(rate_in * sender.period_s - 1) < 0.2
    counter = sender.field(Counter)
    if counter is not None:  # the attacker continues the counter of the genuine sender
        upto = (out.can_id == can_id) & (out.timestamp < INTERVALS[0, 1])
        steps = np.diff(read_field(out.payload[upto], counter)) % counter.modulus
        assert np.all(steps == 1)


def test_apply_attack_rejects_unknown_names(alpha, benign):
    with pytest.raises(ValueError, match="teleport"):
        apply_attack("teleport", benign, alpha, np.random.default_rng(0), DURATION)


# --- CSV -------------------------------------------------------------------------------------------

def test_write_cantt_csv_exact_lines(tmp_path):
    payload = np.zeros((3, 8), np.uint8)
    payload[0, :3] = [0x01, 0xAB, 0x00]
    payload[2] = np.arange(8) * 17
    frames = Frames(np.array([1.7e9 + 0.5, 1.7e9 + 0.500001, 1.7e9 + 1.25]),
                    np.array([0x0C5, 0x000, 0x7FF]), np.array([3, 0, 8]), payload, np.array([1, 0, 0]))
    write_cantt_csv(tmp_path / "x.csv", frames)
    assert (tmp_path / "x.csv").read_text() == (
        "timestamp,arbitration_id,data_field,attack\n"
        "1700000000.500000,0C5,01AB00,1\n"
        "1700000000.500001,000,,0\n"
        "1700000001.250000,7FF,0011223344556677,0\n"
    )


@pytest.mark.parametrize("attack, vehicle", [("fuzzing", "charlie"), ("none", "alpha")])
def test_csv_round_trip(tmp_path, attack, vehicle):
    plan = _plan(SPEC, attack, vehicle)
    frames = generate_recording(plan, SPEC)
    path = tmp_path / f"{plan.name}.csv"
    assert write_recording(plan, SPEC, path) == len(frames)
    table = pd.read_csv(path, dtype={"timestamp": str, "arbitration_id": str, "data_field": str},
                        keep_default_na=False)
    assert list(table.columns) == ["timestamp", "arbitration_id", "data_field", "attack"]
    assert len(table) == len(frames)
    assert table["timestamp"].str.fullmatch(r"\d{10}\.\d{6}").all()
    assert np.array_equal(table["timestamp"].astype(float).to_numpy(), frames.timestamp)
    assert 1.7e9 <= frames.timestamp[0] < 1.7e9 + 31 * 86400
    assert table["arbitration_id"].str.fullmatch(r"[0-9A-F]{3}").all()
    assert np.array_equal(table["arbitration_id"].map(lambda s: int(s, 16)).to_numpy(), frames.can_id)
    data = table["data_field"]
    assert data.str.fullmatch(r"([0-9A-F]{2})*").all()
    assert np.array_equal(data.str.len().to_numpy(), 2 * frames.dlc.astype(int))
    decoded = np.array([list(bytes.fromhex(s.ljust(16, "0"))) for s in data], dtype=np.uint8)
    assert np.array_equal(decoded, frames.payload)
    assert np.array_equal(table["attack"].to_numpy(), frames.label)
    if attack == "fuzzing":
        assert (data == "").any()  # DLC 0 frames write an empty data field
        assert re.search(r",,[01]\n", path.read_text())


def test_fleet_adds_random_training_vehicles_only():
    spec = SyntheticSpec(fleet=3, duration_s=2.0)
    fleet = [p for p in plan_recordings(spec) if p.vehicle.startswith("fleet")]
    assert {p.split for p in fleet} == {"train_01_attack_free", "train_02_with_attacks"}
    assert sorted(p.name for p in fleet) == ["DoS-fleet00", "attack-free-fleet00", "attack-free-fleet01",
                                             "attack-free-fleet02", "fuzzing-fleet01", "spoofing-fleet02"]
    vehicles = [synthetic_vehicle(spec, v) for v in spec.fleet_vehicles]
    id_sets = [set(v.ids.tolist()) for v in vehicles]
    assert all(len(a & b) < 0.5 * min(len(a), len(b)) for a in id_sets for b in id_sets if a is not b)
    assert synthetic_vehicle(spec, "fleet01") == synthetic_vehicle(SyntheticSpec(fleet=3), "fleet01")
    assert len(plan_recordings(SyntheticSpec())) == len(plan_recordings(spec)) - 6
