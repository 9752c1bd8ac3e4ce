"""Dataset discovery, recording names and deduplication of byte-identical recordings."""

import logging
from pathlib import Path

import pytest

from canguard.catalog import (
    build_catalog,
    discover,
    listing_digest,
    parse_recording_name,
    recording_attack,
    scan,
    suggested_split_name,
    unique_recordings,
)
from canguard.stages import read_json
from canguard.stages.catalog import run_catalog


def _tree(root, files: dict[str, str]):
    """Write ``files`` (path relative to ``root`` -> text) and return ``root``."""
    for rel, body in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(body)
    return root


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


# every file of can-train-and-test v1.5 (333 CSVs: hcrl_ch, hcrl_sa, set_01..set_04), one <set>/<folder>/<file>.csv
# a line: the names from a complete public copy of the distribution (the README of ../shared/datasets says what is
# here of it); the attack each name means, by its name without the trailing recording number
CANTT_FILES = Path(__file__).parent / "data" / "can_train_and_test_v1.5_files.txt"
CANTT_ATTACKS = {
    "attack-free": "none", "accessory": "none",
    "DoS": "dos", "fuzzing": "fuzzing", "gear": "spoofing_gear", "rpm": "spoofing_rpm", "speed": "spoofing_speed",
    "rpm-accessory": "spoofing_rpm_accessory", "speed-accessory": "spoofing_speed_accessory",
    "force-neutral": "force_neutral", "standstill": "standstill", "double": "double", "triple": "triple",
    "interval": "interval", "systematic": "systematic", "valid_systematic": "valid_systematic",
    "targeted_payload_fuzzing": "targeted_payload_fuzzing", "untargeted_payload_fuzzing": "untargeted_payload_fuzzing",
    "suppress": "suppress", "masquerade-timed": "masquerade_timed", "masquerade-untimed": "masquerade_untimed",
    "malfunction": "malfunction",
}
HCRL_SA_VEHICLES = {"kia", "sonata", "spark"}


def test_every_file_name_of_can_train_and_test_parses_to_its_attack_and_no_false_vehicle():
    """set_0N and hcrl_ch names carry no vehicle: an underscore or a split word (DoS-train) is never one."""
    lines = CANTT_FILES.read_text().split()
    assert len(lines) == 333
    seen = set()
    for line in lines:
        dataset, split, name = line.split("/")
        stem = name.removesuffix(".csv")
        words = stem.split("-")
        vehicle = words.pop().lower() if dataset == "hcrl_sa" and words[-1].lower() in HCRL_SA_VEHICLES else None
        if dataset == "hcrl_ch" and words[-1] in ("train", "test"):
            words.pop()
        if words[-1].isdigit():
            words.pop()
        expected = CANTT_ATTACKS["-".join(words)]
        assert recording_attack(split, stem) == (expected, vehicle or "unknown"), line
        seen.add(expected)
    assert seen == set(CANTT_ATTACKS.values())  # every attack of the table occurs


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
    found = scan("toy", tmp_path)
    catalog = build_catalog(found.recordings, found.ignored)
    assert catalog["n_recordings"] == 2 and catalog["n_duplicates"] == 0
    assert [i["reason"] for i in catalog["ignored"]] == [
        "a documentation file (changelog, citation, licence, license, notes, readme), not a recording"]


def test_missing_or_empty_root_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        discover("nope", tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no recordings under"):
        discover("empty", tmp_path)


def test_same_stem_in_one_folder_gets_a_name_each(tmp_path):
    """a.csv and a.log: both recordings, named a_csv and a_log; a stem of its own keeps its name."""
    _tree(tmp_path, {"train_01_attack_free/a.csv": "1", "train_01_attack_free/a.log": "2",
                     "train_01_attack_free/b.csv": "3", "test_01_known/a.csv": "4"})
    catalog = build_catalog(discover("toy", tmp_path))
    assert [e["key"] for e in catalog["recordings"]] == [
        "train_01_attack_free/a_csv", "train_01_attack_free/a_log", "train_01_attack_free/b",
        "test_01_known/a"]
    assert catalog["n_unique"] == 4


def test_names_still_clashing_fail_naming_both_files(tmp_path):
    """a.CSV and a.csv would be one recording on a case-insensitive file system."""
    _tree(tmp_path, {"train_01_attack_free/a.CSV": "1", "train_01_attack_free/a.csv": "2"})
    with pytest.raises(ValueError, match="same recording") as err:
        discover("toy", tmp_path)
    assert "a.CSV" in str(err.value) and "a.csv" in str(err.value)


def test_every_file_is_a_recording_or_ignored_with_its_reason(tmp_path):
    _tree(tmp_path, {"train_01_attack_free/a.csv": "1", "README.md": "x", "Train_03_caps/b.csv": "2",
                     "test_1_bad/c.csv": "3", "train_01_attack_free/d.csv.gz": "4",
                     "train_01_attack_free/.e.csv": "5", "train_01_attack_free/sub/f.csv": "6",
                     "train_01_attack_free/README.txt": "7"})
    found = scan("toy", tmp_path)
    reasons = {str(i.path)[len(str(tmp_path)) + 1:]: i.reason for i in found.ignored}
    assert reasons == {
        "README.md": "not in a split folder (train_NN_* / test_NN_*)",
        "Train_03_caps/b.csv": "folder Train_03_caps does not match train_NN_* / test_NN_* (NN two digits, "
                               "lower case): rename it to train_03_caps",
        "test_1_bad/c.csv": "folder test_1_bad does not match train_NN_* / test_NN_* (NN two digits, lower case): "
                            "rename it to test_01_bad",
        "train_01_attack_free/d.csv.gz": "suffix .gz is not a CAN log format (.asc, .blf, .csv, .log, .trc, .txt): "
                                         "decompress it",
        "train_01_attack_free/.e.csv": "hidden file",
        "train_01_attack_free/README.txt": "a documentation file (changelog, citation, licence, license, notes, "
                                           "readme), not a recording",
        "train_01_attack_free/sub/f.csv": "nested below the split folder train_01_attack_free: recordings must sit "
                                          "directly in it",
    }
    catalog = build_catalog(found.recordings, found.ignored)
    assert catalog["n_files"] == 8 == catalog["n_unique"] + catalog["n_duplicates"] + catalog["n_ignored"]


def test_no_recording_error_names_the_files_ignored(tmp_path):
    _tree(tmp_path, {"Train_01_attack_free/a.csv": "1"})
    with pytest.raises(FileNotFoundError, match="rename it to train_01_attack_free"):
        discover("toy", tmp_path)


@pytest.mark.parametrize("name, expected", [
    ("Train_03_caps", "train_03_caps"), ("test_1_bad", "test_01_bad"),
    ("train-02-with-attacks", "train_02_with_attacks"), ("validation", None), ("train_123", None),
])
def test_suggested_split_name(name, expected):
    assert suggested_split_name(name) == expected


@pytest.mark.parametrize("stem, expected", [
    ("capture-kia", ("none", "kia")), ("drive1", ("none", "unknown")), ("attack-free-kia", ("none", "kia")),
    ("accessory-3", ("none", "unknown")),
])
def test_unlabelled_capture_in_an_attack_free_folder_is_attack_free(stem, expected):
    assert recording_attack("train_01_attack_free", stem) == expected
    assert recording_attack("train_02_with_attacks", stem) == parse_recording_name(stem)


def test_attack_name_in_an_attack_free_folder_fails(tmp_path):
    _tree(tmp_path, {"train_01_attack_free/DoS-kia.csv": "1"})
    with pytest.raises(ValueError, match="DoS-kia.csv: the name says attack 'dos' but the folder"):
        discover("toy", tmp_path)


def test_catalog_stage_lists_and_warns_about_ignored_files(tmp_path, caplog):
    root = _tree(tmp_path / "ds", {"train_01_attack_free/a.csv": "1", "train_01_attack_free/plot.png": "x"})
    out = tmp_path / "catalog.json"
    with caplog.at_level(logging.WARNING, logger="canguard.stages.catalog"):
        run_catalog({}, {"catalog": str(out)}, {"root": str(root), "vehicles": {}, "train_with": {}},
                    {"dataset": "toy"})
    catalog = read_json(out)
    assert catalog["n_files"] == 2 and catalog["ignored"][0]["path"] == str(root / "train_01_attack_free/plot.png")
    assert any("plot.png" in r.getMessage() and "suffix .png" in r.getMessage() for r in caplog.records)


def test_listing_digest_changes_with_any_file_added(tmp_path):
    """Adding an ignored file changes the digest (a catalog param: the catalog reruns and lists it)."""
    root = _tree(tmp_path / "ds", {"train_01_attack_free/a.csv": "1"})
    before = listing_digest(root)
    (root / "README.md").write_text("x")
    assert listing_digest(root) != before and listing_digest(tmp_path / "missing") == ""
