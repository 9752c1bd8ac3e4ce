"""Ingest one recording: raw log -> canonical parquet + rejects + report.

Every data line of the raw file ends up either as a row of the parquet file or
as a row of the rejects file; the report says how many of each, and why.
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
from canguard.ingest.detect import read_any
from canguard.schema import frames_to_table, write_messages

log = logging.getLogger(__name__)


def ingest_recording(entry: dict, fmt: str, parquet: str | Path, rejects: str | Path,
                     report: str | Path) -> dict:
    """Read ``entry["path"]`` (a catalog entry) and write the three outputs; returns the report."""
    raw = entry["path"]
    start = time.perf_counter()
    result = read_any(raw, fmt)
    read_s = time.perf_counter() - start
    frames = result.frames
    if entry["attack"] == "none" and np.any(frames.label == -1):
        # an unlabelled log in an attack-free recording: every message is benign
        frames.label[frames.label == -1] = 0
    metadata = {k: entry[k] for k in ("dataset", "split", "name", "key", "role", "scenario",
                                      "attack", "vehicle", "hash")}
    metadata |= {"format": result.format, "canguard_version": __version__}
    table = frames_to_table(frames, result.line, entry["attack"], raw, metadata)
    write_messages(parquet, table)

    rej = result.rejects
    rej = rej.add_column(0, "source_file", pa.array([raw] * rej.num_rows, pa.string()))
    pacsv.write_csv(rej, rejects)

    labels = {
        int(v): int(c) for v, c in zip(*np.unique(frames.label, return_counts=True))
    }
    reasons = Counter(rej.column("reason").to_pylist())
    n_lines = result.header_lines + result.rows_read
    out = {
        "recording": entry["key"],
        "source_file": raw,
        "format": result.format,
        "hash": entry["hash"],
        "lines": n_lines,
        "header_lines": result.header_lines,
        "rows_read": result.rows_read,
        "rows_kept": len(frames),
        "rows_rejected": rej.num_rows,
        "rejects_by_reason": dict(sorted(reasons.items())),
        "messages_attack": labels.get(1, 0),
        "messages_benign": labels.get(0, 0),
        "messages_unlabelled": labels.get(-1, 0),
        "distinct_ids": int(len(np.unique(frames.can_id))),
        "dlc_below_8": int(np.sum(frames.dlc < 8)),
        "duration_s": float(frames.timestamp.max() - frames.timestamp.min()) if len(frames) else 0.0,
        "timestamps_sorted": bool(np.all(np.diff(frames.timestamp) >= 0)),
        "read_seconds": round(read_s, 4),
        "rows_per_second": round(result.rows_read / read_s) if read_s > 0 else None,
    }
    if out["rows_read"] != out["rows_kept"] + out["rows_rejected"]:  # pragma: no cover - invariant
        raise AssertionError(f"{raw}: accounting broken: {out}")
    Path(report).write_text(json.dumps(out, indent=2) + "\n")
    log.info("%s: %d lines -> %d kept, %d rejected (%s) in %.2fs",
             raw, n_lines, out["rows_kept"], out["rows_rejected"], result.format, read_s)
    return out


def summarize(catalog: dict, reports: list[dict]) -> dict:
    """Dataset-level ingest report: totals, and the duplicates that were skipped."""
    keys = ("lines", "header_lines", "rows_read", "rows_kept", "rows_rejected",
            "messages_attack", "messages_benign", "messages_unlabelled")
    totals = {k: sum(r[k] for r in reports) for k in keys}
    reasons: Counter = Counter()
    for r in reports:
        reasons.update(r["rejects_by_reason"])
    return {
        "dataset": catalog["dataset"],
        "recordings": len(reports),
        "duplicates_skipped": [
            {"recording": e["key"], "duplicate_of": e["duplicate_of"]}
            for e in catalog["recordings"] if e["duplicate_of"]
        ],
        **totals,
        "rejects_by_reason": dict(sorted(reasons.items())),
        "per_recording": reports,
    }
