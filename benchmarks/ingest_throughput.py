"""Ingest throughput on one core: rows/s of each text reader, of its general path alone, of a naive pandas reader.

    make bench                               # all benchmarks -> benchmarks/results.json
    python benchmarks/ingest_throughput.py   # this one alone, printed

Inputs are built from real hcrl_sa messages when ../shared/datasets/hcrl_sa is
present (the Kia DoS recording, repeated to 1 million rows), from the synthetic
vehicle otherwise, and written in each text format.  Each reader runs on one
pinned core with Arrow limited to one thread; the best of three runs counts.
The naive reference (pandas.read_csv, then bytes.fromhex per row) and the
parser's limit (pyarrow's CSV reader keeping every column as a string, one
thread) run in the same process, so the ratios are robust to a noisy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from canguard.frames import Frames
from canguard.ingest.cantt import read_cantt_csv
from canguard.ingest.detect import read_general_path
from canguard.ingest.hexcodec import encode_hex_id, encode_hex_payload

REPO = Path(__file__).resolve().parents[1]
HCRL_SA = REPO.parent / "shared" / "datasets" / "hcrl_sa"


def machine() -> str:
    model = platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)


def source_frames(n_rows: int) -> tuple[Frames, str]:
    if HCRL_SA.is_dir():
        base = read_cantt_csv(HCRL_SA / "train_02_with_attacks" / "DoS-kia.csv").frames
        origin = "hcrl_sa train_02_with_attacks/DoS-kia.csv, repeated"
    else:
        from canguard.simulate import SyntheticSpec, generate_recording, plan_recordings
        spec = SyntheticSpec.from_config({})
        base = generate_recording(plan_recordings(spec)[0], spec)
        origin = "synthetic vehicle"
    reps = -(-n_rows // len(base))
    idx = np.tile(np.arange(len(base)), reps)[:n_rows]
    frames = base.take(idx)
    frames.timestamp = frames.timestamp[0] + np.arange(n_rows) * 5e-4
    return frames, origin


def _join(*columns) -> bytes:
    columns = [pa.scalar(c, pa.large_string()) if isinstance(c, str) else c.cast(pa.large_string())
               for c in columns]
    lines = pc.binary_join_element_wise(*columns, pa.scalar("", pa.large_string()))
    return b"\n".join(lines.cast(pa.large_binary()).to_pylist()) + b"\n"


def _ts(frames: Frames) -> pa.Array:
    return pa.array(np.char.mod("%.6f", frames.timestamp).astype(str))


def write_formats(frames: Frames, folder: Path) -> dict[str, Path]:
    ids, data = encode_hex_id(frames.can_id), encode_hex_payload(frames.payload, frames.dlc)
    ts = _ts(frames)
    flag01 = pa.array(np.where(frames.label == 1, "1", "0"))
    files = {}
    files["cantt_csv"] = folder / "cantt.csv"
    header = b"timestamp,arbitration_id,data_field,attack\n"
    files["cantt_csv"].write_bytes(header + _join(ts, ",", ids, ",", data, ",", flag01))
    # Car-Hacking CSV: bytes comma-separated, DLC column, R/T flag after the last byte
    spaced = pc.utf8_rtrim(pc.replace_substring_regex(data, r"(..)", r"\1,"), ",")
    dlc = pa.array(frames.dlc.astype(str))
    sep = pa.array(np.where(frames.dlc > 0, ",", ""))
    flag = pa.array(np.where(frames.label == 1, "T", "R"))
    files["hcrl_ch_csv"] = folder / "car_hacking.csv"
    files["hcrl_ch_csv"].write_bytes(_join(ts, ",", ids, ",", dlc, sep, spaced, ",", flag))
    files["candump"] = folder / "candump.log"
    files["candump"].write_bytes(_join("(", ts, ") can0 ", ids, "#", data))
    spaced_txt = pc.utf8_rtrim(pc.replace_substring_regex(data, r"(..)", r"\1 "), " ")
    files["hcrl_ch_txt"] = folder / "normal_run_data.txt"
    files["hcrl_ch_txt"].write_bytes(_join("Timestamp: ", ts, "        ID: ", pc.utf8_lpad(ids, 4, "0"),
                                           "    000    DLC: ", dlc, "    ", spaced_txt))
    return files


def naive_pandas(path: Path) -> int:
    """What research code typically does: pandas.read_csv, then Python per row for the payload."""
    import pandas as pd
    df = pd.read_csv(path, dtype={"arbitration_id": str, "data_field": str})
    ids = df["arbitration_id"].map(lambda s: int(s, 16))
    payload = df["data_field"].fillna("").map(lambda s: bytes.fromhex(s).ljust(8, b"\0"))
    return len(ids) + 0 * len(payload)


def pyarrow_strings(path: Path) -> int:
    """The parser's limit: pyarrow's CSV reader, one thread, every column kept as a string (no decoding,
    no validation): what a reader of this file cannot beat."""
    import pyarrow.csv as pacsv
    names = ["timestamp", "arbitration_id", "data_field", "attack"]
    table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(use_threads=False),
                           convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}))
    return table.num_rows


FAST_PATH_FORMATS = ("cantt_csv", "candump", "hcrl_ch_csv")
TARGET_ROWS_PER_SECOND = 3_000_000


def best_time(fn, path, repeat=3) -> tuple[float, int]:
    best, rows = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(path)
        best = min(best, time.perf_counter() - t0)
        rows = out if isinstance(out, int) else out.rows_read
    return best, rows


def run(n_rows: int = 1_000_000) -> dict:
    from canguard.ingest.detect import READERS
    pin_one_core()
    frames, origin = source_frames(n_rows)
    results = {"machine": machine(), "rows": n_rows, "input": origin,
               "cores_used": 1, "readers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        files = write_formats(frames, Path(tmp))
        for fmt, path in files.items():
            seconds, rows = best_time(READERS[fmt], path)
            results["readers"][fmt] = {"seconds": round(seconds, 3), "rows_per_second": round(rows / seconds),
                                       "mb_per_second": round(path.stat().st_size / seconds / 1e6, 1)}
            if fmt in FAST_PATH_FORMATS:
                general_s, _ = best_time(lambda p, fmt=fmt: read_general_path(p, fmt), path)
                results["readers"][fmt] |= {"general_path_rows_per_second": round(rows / general_s),
                                            "speedup_vs_general_path": round(general_s / seconds, 1),
                                            "meets_target": rows / seconds >= TARGET_ROWS_PER_SECOND}
        seconds, rows = best_time(naive_pandas, files["cantt_csv"], repeat=1)
        results["naive_pandas_cantt_csv"] = {"seconds": round(seconds, 3), "rows_per_second": round(rows / seconds)}
        seconds, rows = best_time(pyarrow_strings, files["cantt_csv"])
        results["pyarrow_string_parse_cantt_csv"] = {"seconds": round(seconds, 3),
                                                     "rows_per_second": round(rows / seconds)}
    results["target_rows_per_second"] = TARGET_ROWS_PER_SECOND
    results["share_of_parse_limit"] = round(results["readers"]["cantt_csv"]["rows_per_second"]
                                            / results["pyarrow_string_parse_cantt_csv"]["rows_per_second"], 3)
    results["speedup_vs_naive"] = round(results["readers"]["cantt_csv"]["rows_per_second"]
                                        / results["naive_pandas_cantt_csv"]["rows_per_second"], 1)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(json.dumps(run(args.rows), indent=2))
