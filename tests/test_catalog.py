"""Dataset discovery, recording names and deduplication of byte-identical recordings."""

import pytest

from canguard.catalog import build_catalog, discover, parse_recording_name, unique_recordings


@pytest.mark.parametrize("stem, expected", [
    ("DoS-kia", ("dos", "kia")),
    ("fuzzing-Spark", ("fuzzing", "spark")),
    ("attack-free-sonata", ("none", "sonata")),
    ("malfunction-spark", ("malfunction", "spark")),
    ("gear_dataset", ("spoofing_gear", "unknown")),
    ("RPM_dataset", ("spoofing_rpm", "unknown")),
    ("Fuzzy_dataset", ("fuzzing", "unknown")),
    ("normal_run_data", ("none", "unknown")),
    # can-train-and-test set_01..set_04: a trailing number indexes the recording, never a vehicle
    ("accessory-3", ("none", "unknown")),
    ("attack-free-1", ("none", "unknown")),
    ("rpm-accessory-1", ("spoofing_rpm_accessory", "unknown")),
    ("speed-accessory-2", ("spoofing_speed_accessory", "unknown")),
    ("force-neutral-4", ("force_neutral", "unknown")),
    ("DoS-3", ("dos", "unknown")),
    ("double-1", ("double", "unknown")),
    ("interval-timed-4", ("interval_timed", "unknown")),
])
def test_recording_names(stem, expected):
    assert parse_recording_name(stem) == expected


def test_vehicle_from_folder_where_names_carry_none(tmp_path):
    """set_0N: an unknown-vehicle folder is one vehicle absent from training; config overrides win."""
    for split, name in (("train_01_attack_free", "accessory-1"), ("train_02_with_attacks", "DoS-1"),
                        ("test_01_known_vehicle_known_attack", "rpm-2"),
                        ("test_02_unknown_vehicle_known_attack", "DoS-3"),
                        ("test_04_unknown_vehicle_unknown_attack", "speed-accessory-3"),
                        ("test_03_known_vehicle_unknown_attack", "malfunction-kia")):
        (tmp_path / split).mkdir()
        (tmp_path / split / f"{name}.csv").write_text(name)
    found = {r.key: (r.vehicle, r.vehicle_source) for r in discover("toy", tmp_path)}
    assert found == {
        "train_01_attack_free/accessory-1": ("training_vehicle", "folder"),
        "train_02_with_attacks/DoS-1": ("training_vehicle", "folder"),
        "test_01_known_vehicle_known_attack/rpm-2": ("training_vehicle", "folder"),
        "test_02_unknown_vehicle_known_attack/DoS-3": ("unseen_vehicle", "folder"),
        "test_04_unknown_vehicle_unknown_attack/speed-accessory-3": ("unseen_vehicle", "folder"),
        "test_03_known_vehicle_unknown_attack/malfunction-kia": ("kia", "name"),
    }
    overridden = {r.key: r.vehicle for r in discover("toy", tmp_path, {"test_0[24]_*/*": "forester"})}
    assert overridden["test_02_unknown_vehicle_known_attack/DoS-3"] == "forester"
    assert overridden["test_04_unknown_vehicle_unknown_attack/speed-accessory-3"] == "forester"
    assert overridden["train_02_with_attacks/DoS-1"] == "training_vehicle"


def test_real_hcrl_sa_duplicates_found_and_used_once(hcrl_sa_sample):
    catalog = build_catalog(discover("hcrl_sa", hcrl_sa_sample))
    assert catalog["n_recordings"] == 13
    dupes = {e["key"]: e["duplicate_of"] for e in catalog["recordings"] if e["duplicate_of"]}
    assert dupes == {
        "train_02_with_attacks/attack-free-kia": "train_01_attack_free/attack-free-kia",
        "train_02_with_attacks/attack-free-sonata": "train_01_attack_free/attack-free-sonata",
    }
    kept = unique_recordings(catalog)
    assert len(kept) == 11 and len({e["hash"] for e in kept}) == 11
    scenarios = {e["scenario"] for e in kept}
    assert scenarios == {"train", "test_01_known_vehicle_known_attack", "test_02_unknown_vehicle_known_attack",
                         "test_03_known_vehicle_unknown_attack", "test_04_unknown_vehicle_unknown_attack"}


def test_same_name_different_content_is_not_a_duplicate(tmp_path):
    for split, body in (("train_01_attack_free", "a"), ("train_02_with_attacks", "b")):
        (tmp_path / split).mkdir()
        (tmp_path / split / "attack-free-x.csv").write_text(body)
    (tmp_path / "train_02_with_attacks" / "README.md").write_text("not a recording")
    catalog = build_catalog(discover("toy", tmp_path))
    assert catalog["n_recordings"] == 2 and catalog["n_duplicates"] == 0


def test_missing_or_empty_root_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        discover("nope", tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no recordings under"):
        discover("empty", tmp_path)
