"""What the deployment tests share: canguard detect listening on a python-can virtual bus that a replay feeds,
and the comparison of its lines with the offline evaluation's alarms table."""

from __future__ import annotations

import argparse
import json
import threading
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from canguard.deploy.cli import add_commands, detect_main
from canguard.deploy.sources import open_bus, replay


class Lines:
    """detect's output stream, kept as parsed JSON lines."""

    def __init__(self):
        self.lines: list[dict] = []

    def write(self, text: str) -> None:
        self.lines += [json.loads(line) for line in text.splitlines() if line.strip()]

    def flush(self) -> None:
        pass


def detect_args(detector: Path, extra: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(["detect", "--model", str(detector), "--all-windows", *extra])


def detect_on_virtual_bus(detector: Path, log: Path, extra: list[str], report: Path) -> tuple[int, list[dict], dict,
                                                                                                 dict]:
    """``canguard detect --bus virtual:<new channel> --all-windows EXTRA`` in a thread, fed by a replay of ``log``
    (as fast as it goes, recorded timestamps kept); ends 1.5 s after the replay. Returns (status, lines, report,
    replay counts)."""
    channel = f"canguard-{uuid.uuid4().hex[:8]}"
    args = detect_args(detector, ["--bus", f"virtual:{channel}", "--idle", "0.3", "--stop-after-idle", "1.5",
                                  "--report", str(report), *extra])
    out, ready, result = Lines(), threading.Event(), {}
    listener = threading.Thread(target=lambda: result.setdefault("code", detect_main(args, out, ready)))
    listener.start()
    assert ready.wait(60), "detect did not start listening"
    bus = open_bus(f"virtual:{channel}")
    try:
        sent = replay(log, bus)
    finally:
        bus.shutdown()
    listener.join(120)
    assert not listener.is_alive(), "detect did not end after the bus went silent"
    return result["code"], out.lines, json.loads(Path(report).read_text()), sent


def offline_alarms(alarms: Path, protocol: str, recording: str) -> pd.DataFrame:
    """The offline evaluation's windows of one recording under one protocol (enrollment windows aside)."""
    a = pd.read_parquet(alarms)
    rows = a[(a["protocol"] == protocol) & (a["recording"] == recording) & (a["part"] != "enrollment")]
    return rows.sort_values("window").reset_index(drop=True)


def assert_same_as_offline(lines: list[dict], rows: pd.DataFrame, min_windows: int = 50) -> float:
    """Same windows (index, times), scores within 1e-5, the same alarms at the same threshold; returns max |d|."""
    got = pd.DataFrame(lines)
    assert len(got) == len(rows) > min_windows, (len(got), len(rows))
    assert np.array_equal(got["window"], rows["window"])
    assert np.array_equal(got["t_start"], rows["t_start"]) and np.array_equal(got["t_end"], rows["t_end"])
    worst = float(np.abs(got["score"].to_numpy() - rows["score"].to_numpy()).max())
    assert worst < 1e-5, worst
    assert np.array_equal(got["alarm"].to_numpy(bool), rows["alarm"].to_numpy(bool))
    assert (got["threshold"] == rows["threshold"]).all()
    return worst
