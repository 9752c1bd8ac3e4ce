"""Fault injection into dataset layouts: hostile folders and files through the catalog, ingest and ingest_report
stages, which must account for every file found and never let an unusable recording through.

Each test builds a small dataset in tmp_path and runs the stage functions as the workflow does
(plain dicts of inputs, outputs, params and wildcards).
"""

import csv
import json
import os

import pyarrow.parquet as pq
import pytest

from canguard.ingest.pipeline import UnusableRecordingError, failed_rejects_path
from canguard.stages import read_json
from canguard.stages.catalog import run_catalog
from canguard.stages.ingest import run_ingest
from canguard.stages.ingest_report import run_ingest_report

pytestmark = pytest.mark.faults

CANTT = "timestamp,arbitration_id,data_field,attack\n1513921815.350702,081,7F84690000000069,0\n" \
        "1513921815.360702,081,7F84690000000069,1\n"
CANDUMP = "(1436509052.249713) vcan0 044#2A366C2BBA\n(1436509052.250000) vcan0 1F3#\n"
TAB_SEPARATED = "timestamp,arbitration_id,data_field,attack\n" + "1513921815.35\t081\t7F84\t0\n" * 4
LOWER_DIGITS = "(NN two digits, lower case)"


def _write(root, files: dict[str, str | bytes]):
    """Write ``files`` (path relative to ``root`` -> content) under ``root``; returns ``root``."""
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body.encode() if isinstance(body, str) else body)
    return root


def _catalog(tmp_path, root) -> dict:
    """The catalog stage on ``root`` (dataset "toy"); returns the catalog written."""
    out = tmp_path / "results" / "catalog.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    run_catalog({}, {"catalog": str(out)}, {"root": str(root), "vehicles": {}, "train_with": {}}, {"dataset": "toy"})
    return read_json(out)


def _outputs(tmp_path, entry) -> dict[str, str]:
    """The ingest rule's outputs of one catalog entry (results/<split>/<name>.*)."""
    stem = tmp_path / "results" / entry["split"] / entry["name"]
    stem.parent.mkdir(parents=True, exist_ok=True)
    return {k: f"{stem}.{suffix}" for k, suffix in
            (("parquet", "parquet"), ("rejects", "rejects.csv"), ("report", "report.json"))}


def _ingest(tmp_path, entry) -> dict[str, str]:
    """The ingest stage on one catalog entry; returns its outputs."""
    out = _outputs(tmp_path, entry)
    run_ingest({"raw": entry["path"]}, out, {"entry": entry, "format": "auto"},
               {"dataset": "toy", "split": entry["split"], "recording": entry["name"]})
    return out


def _ingest_all(tmp_path, catalog) -> dict:
    """Ingest every unique recording, then the ingest_report stage; returns the dataset's report."""
    reports = [_ingest(tmp_path, e)["report"] for e in catalog["recordings"] if e["duplicate_of"] is None]
    out = tmp_path / "results" / "ingest_report.json"
    run_ingest_report({"catalog": str(tmp_path / "results" / "catalog.json"), "reports": reports},
                      {"report": str(out)}, {}, {"dataset": "toy"})
    return read_json(out)


def test_same_stem_twice_in_a_folder_is_ingested_twice_under_distinct_names(tmp_path):
    """a.csv and a.log in one split folder: two recordings, two parquets, each counted once."""
    root = _write(tmp_path / "ds", {"train_01_attack_free/a.csv": CANTT.replace(",1\n", ",0\n"),
                                    "train_01_attack_free/a.log": CANDUMP,
                                    "test_01_known_vehicle_known_attack/a.csv": CANTT})
    catalog = _catalog(tmp_path, root)
    keys = [e["key"] for e in catalog["recordings"]]
    assert keys == ["train_01_attack_free/a_csv", "train_01_attack_free/a_log", "test_01_known_vehicle_known_attack/a"]
    report = _ingest_all(tmp_path, catalog)
    assert [r["recording"] for r in report["per_recording"]] == keys
    assert [r["source_file"].rsplit("/", 1)[1] for r in report["per_recording"]] == ["a.csv", "a.log", "a.csv"]
    assert report["files"] == {"found": 3, "recordings": 3, "duplicates": 0, "ignored": 0}
    assert report["rows_kept"] == 2 + 2 + 2
    assert (tmp_path / "results/train_01_attack_free/a_csv.parquet").exists()
    assert (tmp_path / "results/train_01_attack_free/a_log.parquet").exists()


def test_names_clashing_even_with_suffixes_fail_the_catalog_naming_both(tmp_path):
    """a.log beside a_log.csv would both be a_log: the catalog fails, naming both files."""
    root = _write(tmp_path / "ds", {"train_01_attack_free/a.log": CANDUMP, "train_01_attack_free/a.csv": CANTT,
                                    "train_01_attack_free/a_log.csv": CANTT})
    with pytest.raises(ValueError, match="same recording 'a_log'") as err:
        _catalog(tmp_path, root)
    assert "a.log" in str(err.value) and "a_log.csv" in str(err.value)


def test_every_unrecognised_file_is_listed_with_its_reason_and_accounted_for(tmp_path, caplog):
    root = _write(tmp_path / "ds", {
        "train_01_attack_free/attack-free-x.csv": CANTT.replace(",1\n", ",0\n"),
        "train_02_with_attacks/attack-free-x.csv": CANTT.replace(",1\n", ",0\n"),  # a duplicate
        "Train_03_caps/DoS-x.csv": CANTT,
        "test_1_bad/DoS-x.csv": CANTT,
        "test_01_known_vehicle_known_attack/DoS-y.csv.gz": b"\x1f\x8b junk",
        "test_01_known_vehicle_known_attack/logs.zip": b"PK",
        "test_01_known_vehicle_known_attack/capture": "no suffix",
        "README.md": "about this dataset",
        "test_01_known_vehicle_known_attack/README.txt": "about this split",
        ".DS_Store": b"\0",
        "train_01_attack_free/.attack-free-x.csv.123.tmp": "half written",
        ".git/config": "[core]",
        "train_02_with_attacks/extra/DoS-z.csv": CANTT,
    })
    os.symlink(root / "missing.csv", root / "train_02_with_attacks" / "broken.csv")
    os.symlink(root, root / "train_02_with_attacks" / "loop")
    os.mkfifo(root / "train_02_with_attacks" / "pipe.log")
    catalog = _catalog(tmp_path, root)
    reasons = {i["path"][len(str(root)) + 1:]: i["reason"] for i in catalog["ignored"]}
    assert reasons == {
        ".DS_Store": "hidden file",
        ".git/config": "in the hidden folder .git",
        "README.md": "not in a split folder (train_NN_* / test_NN_*)",
        "test_01_known_vehicle_known_attack/README.txt": "a documentation file (changelog, citation, licence, "
                                                         "license, notes, readme), not a recording",
        "Train_03_caps/DoS-x.csv": f"folder Train_03_caps does not match train_NN_* / test_NN_* {LOWER_DIGITS}: "
                                   "rename it to train_03_caps",
        "test_01_known_vehicle_known_attack/DoS-y.csv.gz": "suffix .gz is not a CAN log format "
                                                           "(.asc, .blf, .csv, .log, .trc, .txt): decompress it",
        "test_01_known_vehicle_known_attack/logs.zip": "suffix .zip is not a CAN log format "
                                                       "(.asc, .blf, .csv, .log, .trc, .txt): unpack it into the "
                                                       "split folder",
        "test_01_known_vehicle_known_attack/capture": "no suffix: not a CAN log format "
                                                    "(.asc, .blf, .csv, .log, .trc, .txt)",
        "test_1_bad/DoS-x.csv": f"folder test_1_bad does not match train_NN_* / test_NN_* {LOWER_DIGITS}: "
                                "rename it to test_01_bad",
        "train_01_attack_free/.attack-free-x.csv.123.tmp": "hidden file",
        "train_02_with_attacks/broken.csv": "not a regular file (a broken link, a pipe, ...)",
        "train_02_with_attacks/extra/DoS-z.csv": "nested below the split folder train_02_with_attacks: "
                                                 "recordings must sit directly in it",
        "train_02_with_attacks/loop": "link to a folder it is in (a loop): not followed",
        "train_02_with_attacks/pipe.log": "not a regular file (a broken link, a pipe, ...)",
    }
    assert catalog["n_files"] == 16 == catalog["n_unique"] + catalog["n_duplicates"] + catalog["n_ignored"]
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert all(path.rsplit("/", 1)[-1] in warned for path in reasons)

    report = _ingest_all(tmp_path, catalog)
    assert report["files"] == {"found": 16, "recordings": 1, "duplicates": 1, "ignored": 14}
    assert report["ignored"] == catalog["ignored"] and sum(report["ignored_by_reason"].values()) == 14


def test_symlinked_split_folder_is_followed(tmp_path):
    """A split folder may be a link to the data elsewhere: its recordings are found."""
    elsewhere = _write(tmp_path / "elsewhere", {"DoS-x.csv": CANTT})
    root = _write(tmp_path / "ds", {"train_01_attack_free/attack-free-x.csv": CANTT.replace(",1\n", ",0\n")})
    os.symlink(elsewhere, root / "train_02_with_attacks")
    catalog = _catalog(tmp_path, root)
    assert [e["key"] for e in catalog["recordings"]] == ["train_01_attack_free/attack-free-x",
                                                          "train_02_with_attacks/DoS-x"]
    assert catalog["n_ignored"] == 0


@pytest.mark.parametrize("name", ["capture-kia.log", "drive1.log", "capture kia 2.log"])
def test_unlabelled_capture_in_attack_free_folder_is_benign_and_never_reaches_training_as_minus_one(tmp_path, name):
    root = _write(tmp_path / "ds", {f"train_01_attack_free/{name}": CANDUMP, "train_02_with_attacks/DoS-x.csv": CANTT})
    catalog = _catalog(tmp_path, root)
    capture = catalog["recordings"][0]
    assert capture["attack"] == "none" and capture["role"] == "train"
    report = _ingest_all(tmp_path, catalog)
    assert report["messages_unlabelled"] == 0 and report["messages_benign"] == 2 + 1
    for entry in catalog["recordings"]:
        labels = pq.read_table(_outputs(tmp_path, entry)["parquet"]).column("label").to_pylist()
        assert set(labels) <= {0, 1}


@pytest.mark.parametrize("split, name", [("train_02_with_attacks", "capture-kia.log"),
                                         ("train_02_with_attacks", "DoS-kia.log")])
def test_unlabelled_training_recording_with_attacks_fails_its_ingest(tmp_path, split, name):
    root = _write(tmp_path / "ds", {"train_01_attack_free/attack-free-x.csv": CANTT.replace(",1\n", ",0\n"),
                                    f"{split}/{name}": CANDUMP})
    entry = next(e for e in _catalog(tmp_path, root)["recordings"] if e["split"] == split)
    with pytest.raises(UnusableRecordingError, match="unlabelled messages in a training recording with attack") as err:
        _ingest(tmp_path, entry)
    message = str(err.value)
    assert message.startswith(str(root / split / name)) and "labels needed to train the classifier" in message
    assert not os.path.exists(_outputs(tmp_path, entry)["parquet"])


def test_unlabelled_test_recording_is_ingested_as_unlabelled(tmp_path):
    """Outside training, an unlabelled log is kept: its messages stay -1 (unknown), for scoring only."""
    root = _write(tmp_path / "ds", {"train_01_attack_free/attack-free-x.csv": CANTT.replace(",1\n", ",0\n"),
                                    "test_01_known_vehicle_known_attack/DoS-kia.log": CANDUMP})
    report = _ingest_all(tmp_path, _catalog(tmp_path, root))
    assert report["messages_unlabelled"] == 2


def test_attack_named_file_in_attack_free_folder_fails_the_catalog(tmp_path):
    root = _write(tmp_path / "ds", {"train_01_attack_free/fuzzing-kia.csv": CANTT})
    with pytest.raises(ValueError, match="fuzzing-kia.csv: the name says attack 'fuzzing' but the folder "
                                         "train_01_attack_free is attack-free"):
        _catalog(tmp_path, root)


ALL_REJECTED = {  # read by a reader that keeps going: the ingest refuses the file, the rejects say why
    "cantt tab-separated": (TAB_SEPARATED, 4, "'expected 4 fields: timestamp,arbitration_id,data_field,attack' x 4"),
    "cantt header only": ("timestamp,arbitration_id,data_field,attack\n", 0, "no data line at all"),
}
REFUSED_BY_READER = {  # line formats: a file with no line of the format is not that format
    "candump odd hex": ("a.log", "(1436509052.249800) vcan0 044#2A366C2BB\n" * 4),
    "hcrl_ch csv bad hex": ("a.csv", "1478198376.389500,0316,8,05,21,6g,09,21,21,00,6f,R\n" * 4),
    "hcrl_ch txt bad dlc": ("a.txt", "Timestamp: 1479121434.850600        ID: 02c0    000    DLC: 9    "
                                     "14 00 00 00 00 00 00 00 00\n" * 4),
}


@pytest.mark.parametrize("case", ALL_REJECTED)
def test_csv_with_no_row_kept_fails_its_ingest_naming_rows_reasons_and_rejects(tmp_path, case):
    body, rows, reasons = ALL_REJECTED[case]
    root = _write(tmp_path / "ds", {"train_01_attack_free/a.csv": body})
    entry = _catalog(tmp_path, root)["recordings"][0]
    with pytest.raises(UnusableRecordingError, match="no message kept") as err:
        _ingest(tmp_path, entry)
    out = _outputs(tmp_path, entry)
    message = str(err.value)
    assert message.startswith(entry["path"]) and f"{rows} data row(s) rejected" in message and reasons in message
    assert str(failed_rejects_path(out["rejects"])) in message
    with open(failed_rejects_path(out["rejects"])) as f:
        assert len(list(csv.DictReader(f))) == rows
    assert not os.path.exists(out["parquet"]) and not os.path.exists(out["report"])


@pytest.mark.parametrize("case", REFUSED_BY_READER)
def test_line_format_file_with_no_row_kept_fails_its_ingest(tmp_path, case):
    name, body = REFUSED_BY_READER[case]
    root = _write(tmp_path / "ds", {f"train_01_attack_free/{name}": body})
    entry = _catalog(tmp_path, root)["recordings"][0]
    with pytest.raises(ValueError) as err:  # NotCanDataError from the reader, or UnusableRecordingError
        _ingest(tmp_path, entry)
    assert str(err.value).startswith(entry["path"])
    out = _outputs(tmp_path, entry)
    assert not os.path.exists(out["parquet"]) and not os.path.exists(out["report"])


def test_failed_ingest_removes_outputs_of_an_earlier_run_and_a_good_rerun_cleans_up(tmp_path):
    """A recording that turns bad leaves no stale parquet or report; once fixed, no stale failed rejects."""
    root = _write(tmp_path / "ds", {"train_01_attack_free/a.csv": CANTT.replace(",1\n", ",0\n")})
    entry = _catalog(tmp_path, root)["recordings"][0]
    out = _ingest(tmp_path, entry)
    assert os.path.exists(out["parquet"]) and json.loads(open(out["report"]).read())["rows_kept"] == 2
    (root / "train_01_attack_free/a.csv").write_text(TAB_SEPARATED)
    with pytest.raises(UnusableRecordingError):
        _ingest(tmp_path, entry)
    assert not os.path.exists(out["parquet"]) and not os.path.exists(out["report"])
    (root / "train_01_attack_free/a.csv").write_text(CANTT.replace(",1\n", ",0\n"))
    _ingest(tmp_path, entry)
    assert os.path.exists(out["parquet"]) and not failed_rejects_path(out["rejects"]).exists()
