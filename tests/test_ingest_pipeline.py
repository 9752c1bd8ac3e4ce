"""Ingest of one recording: parquet, rejects and report account for every line."""

import csv
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from test_cantt import BAD_CORPUS, EXPECTED_REJECTS

from canguard.catalog import build_catalog, discover, scan
from canguard.ingest.errors import NotCanDataError
from canguard.ingest.pipeline import UnusableRecordingError, failed_rejects_path, ingest_recording, summarize
from canguard.schema import MESSAGE_SCHEMA, read_metadata, table_to_frames


def _dataset(tmp_path, files: dict[str, bytes]):
    for rel, body in files.items():
        path = tmp_path / "ds" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    found = scan("toy", tmp_path / "ds")
    return build_catalog(found.recordings, found.ignored)


def _ingest(tmp_path, entry, fmt="auto"):
    out = {k: tmp_path / f"{entry['name']}.{k}" for k in ("parquet", "rejects", "report")}
    report = ingest_recording(entry, fmt, **out)
    return report, out


def test_every_line_is_kept_or_rejected(tmp_path):
    catalog = _dataset(tmp_path, {"train_02_with_attacks/DoS-toy.csv": BAD_CORPUS.encode()})
    entry = catalog["recordings"][0]
    report, out = _ingest(tmp_path, entry)

    assert report["lines"] == BAD_CORPUS.count("\n")
    assert report["rows_read"] == report["rows_kept"] + report["rows_rejected"]
    assert report["rows_rejected"] == len(EXPECTED_REJECTS)
    assert json.loads(out["report"].read_text()) == report

    with open(out["rejects"]) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["line"]) for r in rows] == sorted(EXPECTED_REJECTS)
    assert all(r["source_file"] == entry["path"] and r["reason"] for r in rows)

    table = pq.read_table(out["parquet"])
    assert table.schema.remove_metadata() == MESSAGE_SCHEMA
    assert table.column("source_line").to_pylist() == [2, 3, 5, 14]
    assert table.column("attack_type").to_pylist() == ["none", "dos", "none", "none"]
    assert set(table.column("source_line").to_pylist()).isdisjoint(int(r["line"]) for r in rows)
    meta = read_metadata(out["parquet"])
    assert meta["attack"] == "dos" and meta["split"] == "train_02_with_attacks" and meta["format"] == "cantt_csv"


def test_parquet_round_trips_frames_and_padding(hcrl_sa_sample, tmp_path):
    catalog = build_catalog(discover("hcrl_sa", hcrl_sa_sample))
    entry = next(e for e in catalog["recordings"] if e["name"] == "DoS-spark")
    _, out = _ingest(tmp_path, entry)
    frames = table_to_frames(pq.read_table(out["parquet"]))
    assert len(frames) == 2999 and frames.padding_is_zero()
    assert np.any(frames.dlc < 8)


def test_unlabelled_log_in_attack_free_recording_is_benign(tmp_path):
    log = b"(1436509052.249713) vcan0 044#2A366C2BBA\n(1436509052.250000) vcan0 1F3#\n"
    catalog = _dataset(tmp_path, {"train_01_attack_free/attack-free-car.log": log,
                                  "test_01_known_vehicle_known_attack/fuzzing-car.log": log + b"\n"})
    benign, attack = (_ingest(tmp_path, e)[0] for e in catalog["recordings"])
    assert benign["messages_benign"] == 2 and benign["messages_unlabelled"] == 0
    assert attack["messages_unlabelled"] == 2 and attack["rows_rejected"] == 1  # the empty line


@pytest.mark.parametrize("body, match", [
    (b"", "empty"),
    (b"\x00\x01\x02binary junk\xff" * 10, "not a CAN log"),
    (b"foo;bar;baz\n1;2;3\n", "not a CAN log"),
])
def test_not_can_data_fails_naming_the_file(tmp_path, body, match):
    catalog = _dataset(tmp_path, {"train_01_attack_free/attack-free-x.csv": body})
    with pytest.raises(NotCanDataError, match=match) as err:
        _ingest(tmp_path, catalog["recordings"][0])
    assert "attack-free-x.csv" in str(err.value) and "\n" not in str(err.value)


def test_summary_counts_duplicates_and_totals(hcrl_sa_sample, tmp_path):
    catalog = build_catalog(discover("hcrl_sa", hcrl_sa_sample))
    reports = [_ingest(tmp_path, e)[0] for e in catalog["recordings"] if e["duplicate_of"] is None]
    summary = summarize(catalog, reports)
    assert summary["rows_read"] == sum(r["rows_read"] for r in reports) == 11 * 2999
    assert len(summary["duplicates_skipped"]) == 2
    assert summary["files"] == {"found": 13, "recordings": 11, "duplicates": 2, "ignored": 0}
    with pytest.raises(ValueError, match="missing .*fuzzing-sonata"):
        summarize(catalog, [r for r in reports if "fuzzing-sonata" not in r["recording"]])


def test_summary_accounts_for_every_file_found(tmp_path):
    """files found = recordings ingested + duplicates skipped + files ignored (with their reasons)."""
    log = b"(1436509052.249713) vcan0 044#2A366C2BBA\n"
    catalog = _dataset(tmp_path, {"train_01_attack_free/a.log": log, "train_02_with_attacks/a.log": log,
                                  "train_01_attack_free/b.log.gz": b"x", "notes.txt": b"x"})
    summary = summarize(catalog, [_ingest(tmp_path, catalog["recordings"][0])[0]])
    assert summary["files"] == {"found": 4, "recordings": 1, "duplicates": 1, "ignored": 2}
    assert [i["path"].rsplit("/", 1)[1] for i in summary["ignored"]] == ["notes.txt", "b.log.gz"]
    assert sum(summary["ignored_by_reason"].values()) == 2


def test_file_with_no_row_kept_fails_and_leaves_no_parquet(tmp_path):
    """Correct header, tab-separated rows: every row rejected; the error says how many, why and where."""
    body = "timestamp,arbitration_id,data_field,attack\n" + "1513921815.35\t081\t7F84\t0\n" * 3
    catalog = _dataset(tmp_path, {"train_01_attack_free/attack-free-x.csv": body.encode()})
    entry = catalog["recordings"][0]
    out = {k: tmp_path / f"x.{k}" for k in ("parquet", "rejects", "report")}
    with pytest.raises(UnusableRecordingError, match="no message kept: 3 data row") as err:
        ingest_recording(entry, "auto", **out)
    message = str(err.value)
    assert message.startswith(entry["path"]) and "expected 4 fields" in message
    assert str(failed_rejects_path(out["rejects"])) in message
    assert not out["parquet"].exists() and not out["report"].exists()
    assert len(list(csv.DictReader(failed_rejects_path(out["rejects"]).open()))) == 3


def test_unlabelled_training_recording_with_attacks_fails(tmp_path):
    """A candump log carries no labels: in train_02_with_attacks it cannot train the classifier."""
    log = b"(1436509052.249713) vcan0 044#2A366C2BBA\n(1436509052.250000) vcan0 1F3#\n"
    catalog = _dataset(tmp_path, {"train_02_with_attacks/DoS-car.log": log})
    with pytest.raises(UnusableRecordingError, match="2 of 2 unlabelled messages in a training recording with "
                                                     "attack 'dos': labels needed") as err:
        _ingest(tmp_path, catalog["recordings"][0])
    assert "DoS-car.log" in str(err.value)
    assert not (tmp_path / "DoS-car.parquet").exists()


def test_unlabelled_capture_in_attack_free_folder_is_benign(tmp_path):
    """capture-kia.log / drive1.log in train_01_attack_free: attack none, every message benign (label 0)."""
    log = b"(1436509052.249713) vcan0 044#2A366C2BBA\n"
    catalog = _dataset(tmp_path, {"train_01_attack_free/capture-kia.log": log, "train_01_attack_free/drive1.log": log})
    found = [(e["attack"], e["vehicle"]) for e in catalog["recordings"]]
    assert found == [("none", "kia"), ("none", "training_vehicle")]
    for entry in catalog["recordings"]:
        _, out = _ingest(tmp_path, entry)
        assert pq.read_table(out["parquet"]).column("label").to_pylist() == [0]
