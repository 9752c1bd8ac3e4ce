"""Ingest one recording: raw log -> canonical parquet + rejects + report.

Every data line of the raw file ends up either as a row of the parquet file or
as a row of the rejects file; the report says how many of each, and why, and
(``time``) how many messages were refused for their timestamp, by kind, and how often
the time of those kept steps back or jumps (:mod:`canguard.ingest.timestamps`).  Each
output is written whole or not at all (:func:`canguard.atomic.atomic_output`),
the report last.

A recording that cannot be used fails (:class:`UnusableRecordingError`) with no
parquet and no report left behind: one whose every data line was rejected, and a
training recording with attacks whose messages carry no label (a candump log in
``train_02_with_attacks/``), which the classifier cannot be trained on.  The
rejects are still written, and kept beside them as ``<name>.rejects.failed.csv``
(Snakemake removes a failed job's outputs).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from canguard import __version__
from canguard.atomic import atomic_output, copy_file, write_text
from canguard.frames import FRAME_TYPE_NAMES
from canguard.ingest.detect import read_any
from canguard.ingest.result import ReadResult
from canguard.ingest.timestamps import TimeSteps, merge_time_reports, time_report
from canguard.schema import frames_to_table, write_messages

log = logging.getLogger(__name__)
TOP_REASONS = 3  # reject reasons named in the error of a file with no line kept


class UnusableRecordingError(ValueError):
    """A recording was read but cannot be used; the message reads ``<path>: <what is wrong and what was expected>``."""


def failed_rejects_path(rejects: str | Path) -> Path:
    """Where the rejects of a failed ingest are kept: ``x.rejects.csv`` -> ``x.rejects.failed.csv``."""
    rejects = Path(rejects)
    return rejects.with_name(rejects.name.removesuffix(".csv") + ".failed.csv")


def ingest_recording(entry: dict, fmt: str, parquet: str | Path, rejects: str | Path,
                     report: str | Path) -> dict:
    """Read ``entry["path"]`` (a catalog entry) and write the three outputs; returns the report.

    Raises :class:`UnusableRecordingError` (after writing the rejects, leaving no parquet and no
    report) where no line was kept or a training recording with attacks is unlabelled.
    """
    raw = entry["path"]
    start = time.perf_counter()
    result = read_any(raw, fmt)
    read_s = time.perf_counter() - start
    frames = result.frames
    if entry["attack"] == "none" and np.any(frames.label == -1):
        # an unlabelled log in an attack-free recording: every message is benign
        frames.label[frames.label == -1] = 0
    rej = result.rejects
    rej = rej.add_column(0, "source_file", pa.array([raw] * rej.num_rows, pa.string()))
    with atomic_output(rejects) as tmp:
        pacsv.write_csv(rej, tmp)
    try:
        check_usable(entry, result, rejects)
    except UnusableRecordingError:
        for stale in (parquet, report):
            Path(stale).unlink(missing_ok=True)
        copy_file(rejects, failed_rejects_path(rejects))
        raise
    failed_rejects_path(rejects).unlink(missing_ok=True)

    metadata = {k: entry[k] for k in ("dataset", "split", "name", "key", "role", "scenario",
                                      "attack", "vehicle", "hash")}
    metadata |= {"format": result.format, "canguard_version": __version__}
    table = frames_to_table(frames, result.line, entry["attack"], raw, metadata)
    with atomic_output(parquet) as tmp:
        write_messages(tmp, table)

    out = recording_report(entry, result, rej, read_s)
    write_text(report, _json(out))
    log.info("%s: %d lines -> %d kept, %d rejected (%s) in %.2fs",
             raw, out["lines"], out["rows_kept"], out["rows_rejected"], result.format, read_s)
    return out


def check_usable(entry: dict, result: ReadResult, rejects: str | Path) -> None:
    """Raise :class:`UnusableRecordingError` where no line was kept, or where a training recording
    with attacks has unlabelled (-1) messages."""
    raw, frames = entry["path"], result.frames
    if len(frames) == 0:
        reasons = Counter(result.rejects.column("reason").to_pylist()).most_common(TOP_REASONS)
        top = "; ".join(f"{reason!r} x {n}" for reason, n in reasons) or "no data line at all"
        raise UnusableRecordingError(
            f"{raw}: no message kept: {result.rejects.num_rows} data row(s) rejected, expected at least one "
            f"{result.format} message (top reasons: {top}); every rejected line with its reason is in "
            f"{failed_rejects_path(rejects)}"
        )
    unlabelled = int(np.sum(frames.label == -1))
    if entry["role"] == "train" and entry["attack"] != "none" and unlabelled:
        raise UnusableRecordingError(
            f"{raw}: {unlabelled} of {len(frames)} unlabelled messages in a training recording with attack "
            f"{entry['attack']!r}: labels needed to train the classifier (a {result.format} log carries none); "
            f"put unlabelled attack-free captures in an attack-free folder (train_NN_attack_free), "
            f"or give labelled recordings"
        )


def recording_report(entry: dict, result: ReadResult, rej: pa.Table, read_s: float) -> dict:
    """The report of one ingested recording: lines read = kept + rejected, labels, IDs, speed."""
    raw, frames = entry["path"], result.frames
    labels = {int(v): int(c) for v, c in zip(*np.unique(frames.label, return_counts=True))}
    reasons = Counter(rej.column("reason").to_pylist())
    steps = TimeSteps()
    steps.add(frames.timestamp)
    out = {
        "recording": entry["key"],
        "source_file": raw,
        "format": result.format,
        "hash": entry["hash"],
        "lines": result.header_lines + result.rows_read,
        "header_lines": result.header_lines,
        "rows_read": result.rows_read,
        "rows_kept": len(frames),
        "rows_rejected": rej.num_rows,
        "rejects_by_reason": dict(sorted(reasons.items())),
        "messages_attack": labels.get(1, 0),
        "messages_benign": labels.get(0, 0),
        "messages_unlabelled": labels.get(-1, 0),
        "frames_by_type": {name: int(np.sum(frames.frame_type == code)) for code, name in enumerate(FRAME_TYPE_NAMES)},
        "distinct_ids": int(len(np.unique(frames.can_id))),
        "dlc_below_8": int(np.sum(frames.dlc < 8)),
        "duration_s": float(frames.timestamp.max() - frames.timestamp.min()) if len(frames) else 0.0,
        "timestamps_sorted": bool(np.all(np.diff(frames.timestamp) >= 0)),
        "time": time_report(steps, reasons),
        "read_seconds": round(read_s, 4),
        "rows_per_second": round(result.rows_read / read_s) if read_s > 0 else None,
    }
    if out["rows_read"] != out["rows_kept"] + out["rows_rejected"]:  # pragma: no cover - invariant
        raise AssertionError(f"{raw}: accounting broken: {out}")
    return out


def _json(obj) -> str:
    return json.dumps(obj, indent=2) + "\n"


def summarize(catalog: dict, reports: list[dict]) -> dict:
    """Dataset-level ingest report: the files found (recordings ingested + duplicates skipped + files
    ignored, with the reasons), and the totals of the recordings' reports.

    Raises ValueError where the reports are not exactly those of the catalog's unique recordings.
    """
    unique = [e["key"] for e in catalog["recordings"] if e["duplicate_of"] is None]
    _check_reports(catalog["dataset"], unique, [r["recording"] for r in reports])
    keys = ("lines", "header_lines", "rows_read", "rows_kept", "rows_rejected",
            "messages_attack", "messages_benign", "messages_unlabelled")
    totals = {k: sum(r[k] for r in reports) for k in keys}
    reasons: Counter = Counter()
    frame_types: Counter = Counter()
    for r in reports:
        reasons.update(r["rejects_by_reason"])
        frame_types.update(r.get("frames_by_type", {}))
    duplicates = [{"recording": e["key"], "duplicate_of": e["duplicate_of"]}
                  for e in catalog["recordings"] if e["duplicate_of"]]
    ignored = catalog.get("ignored", [])
    return {
        "dataset": catalog["dataset"],
        "files": {"found": len(catalog["recordings"]) + len(ignored), "recordings": len(reports),
                  "duplicates": len(duplicates), "ignored": len(ignored)},
        "recordings": len(reports),
        "duplicates_skipped": duplicates,
        "ignored": ignored,
        "ignored_by_reason": dict(sorted(Counter(i["reason"] for i in ignored).items())),
        **totals,
        "rejects_by_reason": dict(sorted(reasons.items())),
        "frames_by_type": dict(frame_types),
        "time": merge_time_reports([r.get("time", {}) for r in reports]),
        "per_recording": reports,
    }


def _check_reports(dataset: str, unique: list[str], reported: list[str]) -> None:
    """Raise ValueError unless ``reported`` holds each key of ``unique`` once, and nothing else."""
    missing = sorted(set(unique) - set(reported))
    extra = sorted(set(reported) - set(unique))
    twice = sorted({k for k in reported if reported.count(k) > 1})
    if missing or extra or twice:
        raise ValueError(f"dataset {dataset!r}: the ingest reports do not match the catalog's unique recordings "
                         f"(missing {missing}, not in the catalog {extra}, reported twice {twice})")


def _json(obj) -> str:
    return json.dumps(obj, indent=2) + "\n"
