"""Input that ``canguard detect`` and the ingest must survive (issue 20): an endless line on stdin, a line longer
than any CAN log line in a file, time that runs backwards or off the scale, a candump ID over 29 bits, a directory
or a device as the log.  Every case is refused with status 2 and one line naming the input, or kept and counted,
with no traceback; the stream and the offline ingest of the same bytes see the same messages and rejects.  The
detector is a small real folder (tests/detector_folder.py: an untrained GAT student exported to ONNX)."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import can
import numpy as np
import pytest
from detector_folder import build_detector, synthetic_logs

from canguard.catalog import build_catalog, scan
from canguard.cli import main as cli
from canguard.deploy.sources import LineBuffer, bus_chunks, open_bus, stdin_chunks
from canguard.frames import Frames
from canguard.ingest.candump import read_candump
from canguard.ingest.detect import read_any, read_general_path
from canguard.ingest.lines import LONG_LINE_REASON, MAX_LINE_BYTES, RAW_PREFIX_CHARS
from canguard.ingest.pipeline import ingest_recording, summarize
from canguard.ingest.result import ID_OVER_29_BITS
from canguard.ingest.timestamps import AFTER_2100, NEGATIVE, NOT_FINITE

pytestmark = pytest.mark.faults

ELLIPSIS = "\u2026"


def candump(frames: Frames) -> list[bytes]:
    return [f"({t:.6f}) vcan0 {cid:03X}#{bytes(p[:d]).hex().upper()}".encode()
            for t, cid, d, p in zip(frames.timestamp, frames.can_id, frames.dlc, frames.payload)]


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> Path:
    return build_detector(tmp_path_factory.mktemp("detector") / "alpha")


@pytest.fixture(scope="module")
def alpha() -> Frames:
    return synthetic_logs()["attack-free-alpha"]


def detect(capsys, detector: Path, *args: str) -> tuple[int, list[dict], str]:
    """``canguard detect --model DETECTOR --vehicle alpha --all-windows ARGS`` in this process: status, lines,
    stderr."""
    capsys.readouterr()
    code = cli(["detect", "--model", str(detector), "--vehicle", "alpha", "--all-windows", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def report_of(err: str) -> dict:
    return json.loads(next(line for line in err.splitlines() if line.startswith("{")))


def stream(data: bytes) -> tuple[Frames, list[dict]]:
    """``data`` as ``canguard detect -`` reads it (through a pipe): the frames and rejects of stdin_chunks."""
    read, write = os.pipe()

    def send() -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(write, view):]
        os.close(write)

    writer = threading.Thread(target=send)
    writer.start()
    frames, rejects = [], []
    try:
        for chunk in stdin_chunks(read, idle_s=5.0):
            frames.append(chunk.frames)
            rejects += chunk.rejects.to_pylist() if chunk.rejects is not None else []
    finally:
        writer.join()
        os.close(read)
    return Frames.concat(frames), rejects


def same_frames(a: Frames, b: Frames) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("timestamp", "can_id", "dlc", "payload",
                                                                      "frame_type"))


# --- 4. an endless line on stdin ---------------------------------------------------------------

def test_an_endless_line_on_stdin_is_dropped_in_bounded_memory_and_sigint_ends_detect_within_a_second(detector):
    """``canguard detect - < /dev/zero``: zeros without a newline, fed through a pipe (so that the zeros read are
    counted: the command is then surely in its read loop).  Read at full speed (no rescans) in constant memory,
    SIGINT ends it at once, the report quotes 120 characters of the line and says how long it was."""
    read, write = os.pipe()
    child = subprocess.Popen([sys.executable, "-m", "canguard.cli", "detect", "--model", str(detector), "--vehicle",
                              "alpha", "-"], stdin=read, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(read)
    fed = [0]

    def feed() -> None:
        zeros = bytes(1 << 20)
        try:
            while True:
                fed[0] += os.write(write, zeros)
        except OSError:  # the child is gone
            pass

    threading.Thread(target=feed, daemon=True).start()

    def resident_mib() -> float:
        status = Path(f"/proc/{child.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024

    try:
        deadline = time.monotonic() + 120
        while fed[0] < 64 << 20:  # 64 MiB of zeros consumed: detect is in its read loop
            assert child.poll() is None and time.monotonic() < deadline, "detect did not start reading stdin"
            time.sleep(0.02)
        rss0, fed0, t0 = resident_mib(), fed[0], time.monotonic()
        time.sleep(1.5)
        rss1, fed1, t1 = resident_mib(), fed[0], time.monotonic()
        rate = (fed1 - fed0) / (t1 - t0)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        err = b""
        while not any(line.startswith(b"{") for line in err.splitlines(keepends=True) if line.endswith(b"\n")):
            part = os.read(child.stderr.fileno(), 1 << 16)
            if not part:
                break
            err += part
        reported = time.monotonic() - sent
        rest_out, rest_err = child.communicate(timeout=60)
        exited = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
        os.close(write)
    err += rest_err
    text = err.decode()
    assert rate > 50e6, f"read {rate / 1e6:.1f} MB/s (quadratic rescans read 0.64 MB/s)"
    assert rss1 - rss0 < 16, f"resident memory grew from {rss0:.0f} to {rss1:.0f} MiB"
    assert reported < 1.0, f"the report came {reported:.2f} s after SIGINT"
    assert exited < 30, exited  # then the interpreter's teardown (torch's), over a second on a loaded 2-core VM
    assert "Traceback" not in text and rest_out == b""
    assert len(err) < 8192, f"{len(err)} bytes on stderr"
    report = report_of(text)
    assert report["messages"] == 0 and report["rejects_by_reason"] == {LONG_LINE_REASON: 1}
    (first,) = report["first_rejects"]
    assert first["line"] == 1 and first["raw"] == "\0" * RAW_PREFIX_CHARS + ELLIPSIS
    assert first["raw_bytes"] >= fed1 - (1 << 20) * 2
    assert child.returncode == 2
    assert text.strip().splitlines()[-1].startswith("canguard detect: <stdin>:1: no CAN frame in 1 line(s)")


# --- 4. a long line in a file ------------------------------------------------------------------

def test_a_line_longer_than_the_limit_is_rejected_reading_resumes_and_only_a_prefix_is_quoted(detector, alpha,
                                                                                              capsys, tmp_path):
    """A 1 MB line, a line one byte over the limit that is valid candump but for its interface name (a line the
    byte-level fast path could otherwise keep), and one at the limit, among real lines: the long ones are rejected
    with their length, reading resumes at the next line; the file, the ingest and stdin see the same; the rejects
    file and detect's report quote RAW_PREFIX_CHARS characters."""
    lines = candump(alpha.take(np.arange(600)))
    frame = lines[150].split(b" ", 2)[2]  # ID#data

    def of_length(n: int) -> bytes:  # a valid candump line of n bytes: a long interface name
        return b"(1.0) " + b"x" * (n - 7 - len(frame)) + b" " + frame

    over, at_limit = of_length(MAX_LINE_BYTES + 1), of_length(MAX_LINE_BYTES)
    assert len(over) == MAX_LINE_BYTES + 1 and len(at_limit) == MAX_LINE_BYTES
    huge = b"(1.0) vcan0 123#" + b"AB" * 500_000
    body = lines[:100] + [huge] + lines[100:200] + [over + b"\r"] + lines[200:300] + [at_limit] + lines[300:]
    log = tmp_path / "ds" / "train_01_attack_free" / "attack-free-alpha.log"
    log.parent.mkdir(parents=True)
    log.write_bytes(b"\n".join(body) + b"\n")

    for result in (read_any(log), read_general_path(log, "candump")):
        assert len(result.frames) == 601 and result.line.tolist() == [*range(1, 101), *range(102, 202),
                                                                      *range(203, 604)]
        rejects = result.rejects.to_pylist()
        assert [(r["line"], r["raw_bytes"], r["reason"]) for r in rejects] == [
            (101, len(huge), LONG_LINE_REASON), (202, MAX_LINE_BYTES + 1, LONG_LINE_REASON)]
        assert rejects[0]["raw"] == huge[:RAW_PREFIX_CHARS].decode() + ELLIPSIS
        assert rejects[1]["raw"] == over[:RAW_PREFIX_CHARS].decode() + ELLIPSIS
    offline = read_any(log)

    # stdin: the same frames and rejects, whatever the pieces the bytes arrive in
    frames, rejects = stream(log.read_bytes())
    assert same_frames(frames, offline.frames) and rejects == offline.rejects.to_pylist()
    rng, data = random.Random(5), log.read_bytes()
    buffer, out, at = LineBuffer(), [], 0  # out: each line as it comes out, whole or dropped (line number, length)
    while at < len(data):
        n = rng.choice([1, 7, 100, 4097, 65536, 300_000])
        done, dropped = buffer.feed(data[at:at + n])
        at += n
        out += [("dropped", line, length) for line, _, length in dropped] + done.split(b"\n")[:-1]
    assert buffer.end() == (b"", [])
    assert len(out) == len(body) and out[100] == ("dropped", 101, len(huge))  # whole, a line is at most 4 KiB
    for i, (got, line) in enumerate(zip(out, body)):
        length = len(line.rstrip(b"\r"))
        assert got == line or (got == ("dropped", i + 1, length) and length > MAX_LINE_BYTES), (i, got[:3])

    # the ingest's rejects file quotes the prefix, with the length
    catalog = build_catalog(*_scanned(tmp_path / "ds"))
    out = {k: tmp_path / f"alpha.{k}" for k in ("parquet", "rejects", "report")}
    report = ingest_recording(catalog["recordings"][0], "auto", **out)
    assert report["rows_kept"] == 601 and report["rejects_by_reason"] == {LONG_LINE_REASON: 2}
    rows = list(csv.DictReader(out["rejects"].open(encoding="utf-8")))
    assert [(r["line"], r["raw_bytes"], len(r["raw"])) for r in rows] == [
        ("101", str(len(huge)), RAW_PREFIX_CHARS + 1), ("202", str(MAX_LINE_BYTES + 1), RAW_PREFIX_CHARS + 1)]
    assert out["rejects"].stat().st_size < 2048

    # detect's report quotes the prefix too
    code, windows, err = detect(capsys, detector, str(log))
    assert code == 0 and len(windows) == 6 and "Traceback" not in err and len(err) < 8192
    first = report_of(err)["first_rejects"]
    assert [(r["line"], r["raw_bytes"], r["raw"]) for r in first] == [(r["line"], r["raw_bytes"], r["raw"])
                                                                     for r in offline.rejects.to_pylist()]


def _scanned(root: Path):
    found = scan("toy", root)
    return found.recordings, found.ignored


# --- 5. time that runs backwards or off the scale --------------------------------------------

def test_time_backwards_negative_nan_or_off_the_scale_is_refused_or_kept_and_counted_by_kind(detector, alpha, capsys,
                                                                                             tmp_path):
    """candump lines at (-5.0), (1e300), (nan), (inf), one 10 s before the frame before it, and 12 s of silence in
    message time: the first four rejected by kind, the step back and the gaps kept in arrival order and counted,
    the same in the ingest report, the dataset's and detect's report; the window holding the step back says so,
    every score is finite.  A python-can bus is held to the same rules."""
    frames = alpha.take(np.arange(1000))
    t = frames.timestamp.copy()
    t[520] = t[519] - 10.0  # a step back of 10 s (then a step forward of about 10 s: a gap)
    t[800:] += 12.0          # 12 s of silence in message time
    frames = Frames(t, frames.can_id, frames.dlc, frames.payload, frames.label)
    lines = candump(frames)
    frames.timestamp = np.array([float(line[1:line.index(b")")]) for line in lines])  # as written: to the µs
    bad = [b"(-5.0) vcan0 123#00", b"(1e300) vcan0 123#00", b"(nan) vcan0 123#00", b"(inf) vcan0 123#00"]
    log = tmp_path / "ds" / "train_01_attack_free" / "attack-free-alpha.log"
    log.parent.mkdir(parents=True)
    log.write_bytes(b"\n".join(lines[:250] + bad + lines[250:]) + b"\n")

    result = read_any(log)
    assert same_frames(result.frames, frames)  # kept, in arrival order, never re-sorted
    assert result.rejects.column("reason").to_pylist() == [NEGATIVE, AFTER_2100, NOT_FINITE, NOT_FINITE]
    assert result.rejects.column("line").to_pylist() == [251, 252, 253, 254]
    streamed, rejects = stream(log.read_bytes())
    assert same_frames(streamed, frames) and rejects == result.rejects.to_pylist()

    expected = {"rejected_not_finite": 2, "rejected_negative": 1, "rejected_after_2100": 1, "steps_back": 1,
                "gaps": 2, "gap_s": 1.0}
    catalog = build_catalog(*_scanned(tmp_path / "ds"))
    out = {k: tmp_path / f"alpha.{k}" for k in ("parquet", "rejects", "report")}
    ingested = ingest_recording(catalog["recordings"][0], "auto", **out)["time"]
    assert {k: ingested[k] for k in expected} == expected
    assert ingested["largest_step_back_s"] == pytest.approx(10.0, abs=0.01)
    assert ingested["longest_step_s"] == pytest.approx(12.0, abs=0.01)
    assert summarize(catalog, [json.loads(out["report"].read_text())])["time"] == ingested

    code, windows, err = detect(capsys, detector, str(log), "--report", str(tmp_path / "detect.json"))
    assert code == 0 and "Traceback" not in err
    report = json.loads((tmp_path / "detect.json").read_text())
    assert report["time"] == ingested and report["messages"] == 1000 and report["rejected"] == 4
    assert {w["window"]: w.get("steps_back", 0) for w in windows} == {k: int(k == 5) for k in range(10)}
    assert all(np.isfinite(w["score"]) for w in windows)

    # a live bus: the same reasons for the same timestamps (python-can's messages, one rule)
    channel = f"time-{os.getpid()}"
    sender, receiver = open_bus(f"virtual:{channel}"), open_bus(f"virtual:{channel}")
    try:
        for stamp in (1.0, -5.0, 1e300, float("nan"), float("inf"), 2.0, 0.5):
            sender.send(can.Message(timestamp=stamp, arbitration_id=0x123, is_extended_id=False, data=b"\0"))
        chunks = list(bus_chunks(receiver, idle_s=0.2, stop_after_idle=0.5))
    finally:
        sender.shutdown()
        receiver.shutdown()
    got = Frames.concat([c.frames for c in chunks])
    reasons = [r["reason"] for c in chunks if c.rejects is not None for r in c.rejects.to_pylist()]
    assert got.timestamp.tolist() == [1.0, 2.0, 0.5] and reasons == [NEGATIVE, AFTER_2100, NOT_FINITE, NOT_FINITE]


# --- smaller: a candump ID over 29 bits -----------------------------------------------------------

def test_a_candump_id_over_29_bits_is_rejected_as_such_not_as_not_hex(tmp_path):
    lines = [b"(1.0) can0 40000000#00", b"(1.1) can0 1FFFFFFF#00", b"(1.2) can0 8ABCDEF0#0011",
             b"(1.3) can0 D0000000#", b"(1.4) can0 4000000G#00", b"(1.5) can0 20000004#00", b"(1.6) can0 123#00"]
    log = tmp_path / "ids.log"
    log.write_bytes(b"\n".join(lines) + b"\n")
    results = [read_candump(log), read_general_path(log, "candump")]
    for result in results:
        assert result.line.tolist() == [2, 7] and result.frames.can_id.tolist() == [0x1FFFFFFF, 0x123]
        assert result.rejects.column("reason").to_pylist() == [
            ID_OVER_29_BITS, ID_OVER_29_BITS, ID_OVER_29_BITS, "CAN ID is not hex",
            "error frame (CAN_ERR_FLAG set in the ID) is not a data frame"]
        assert results[0].rejects.to_pylist() == result.rejects.to_pylist()
    frames, rejects = stream(log.read_bytes())
    assert same_frames(frames, results[0].frames) and rejects == results[0].rejects.to_pylist()
    assert ID_OVER_29_BITS == "CAN ID over 0x1FFFFFFF (more than 29 bits)"


# --- smaller: a directory, a device or a FIFO as the log ------------------------------------------

def test_a_directory_a_device_or_a_fifo_as_detects_log_is_refused_saying_what_it_is(detector, capsys, tmp_path):
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    folder = tmp_path / "logs"
    folder.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    for path, says in ((folder, "is a directory"), (Path("/dev/zero"), "not a regular file (a character device)"),
                       (fifo, "not a regular file (a named pipe (FIFO))"),
                       (tmp_path / "missing.log", "no such file")):
        code, windows, err = detect(capsys, detector, str(path))
        assert code == 2 and windows == [] and "Traceback" not in err, err
        assert err.strip().splitlines()[-1].startswith(f"canguard detect: {path}: {says}"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
