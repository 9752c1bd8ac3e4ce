"""Where a detector's messages come from: a log file, stdin (candump lines), a live python-can bus.

Each source yields :class:`canguard.deploy.detector.Chunk`s: the messages it accepted and,
with a reason, what it did not (malformed lines, error frames, CAN FD frames with more than
8 data bytes...), by the same rules as the ingest of a recording
(:mod:`canguard.ingest`): a stream and the offline evaluation see the same messages.

* :func:`file_chunks`: any format canguard ingests, read by its reader; as fast as possible,
  or at recorded speed (``realtime``: each message handed over when its timestamp comes due).
* :func:`stdin_chunks`: ``candump -L`` lines as they arrive (``candump -L vcan0 | canguard detect -``).
* :func:`bus_chunks`: ``interface:channel`` through python-can (``socketcan:vcan0``,
  ``virtual:demo``, ``udp_multicast:239.74.163.2``); a silence longer than ``idle_s`` is
  reported, and ends the stream with ``stop_after_idle``.
* :func:`replay`: a log onto a python-can bus, as fast as possible or at recorded speed
  (``canguard replay``): a real bus fed by a real recording.
"""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from canguard.deploy.detector import Chunk
from canguard.frames import UNKNOWN_LABEL, Frames
from canguard.ingest.candump import parse_candump
from canguard.ingest.detect import read_any
from canguard.ingest.lines import REJECTS_SCHEMA, split_lines

CHUNK_MESSAGES = 25_600
READ_BYTES = 1 << 16


class SourceError(ValueError):
    """An input that is unusable as a whole (a missing file, no CAN log, an unknown bus interface)."""


def file_chunks(path: str | Path, realtime: bool = False, chunk_messages: int = CHUNK_MESSAGES,
                fmt: str = "auto") -> Iterator[Chunk]:
    """A log's messages, in file order (its rejects come with the first chunk)."""
    if not Path(path).is_file():
        raise SourceError(f"{path}: no such file (expected a CAN log)")
    result = read_any(path, fmt)
    frames, rejects = result.frames, result.rejects
    if len(frames) == 0:
        yield Chunk(frames, rejects)
        return
    if not realtime:
        for lo in range(0, len(frames), chunk_messages):
            yield Chunk(frames.take(np.arange(lo, min(len(frames), lo + chunk_messages))), rejects if lo == 0 else None)
        return
    t0, wall0 = float(frames.timestamp[0]), time.perf_counter()
    lo, first = 0, True
    while lo < len(frames):
        due = np.searchsorted(frames.timestamp, t0 + (time.perf_counter() - wall0), side="right")
        hi = max(int(due), lo + 1)
        yield Chunk(frames.take(np.arange(lo, hi)), rejects if first else None)
        first, lo = False, hi
        if lo < len(frames):
            wait = (frames.timestamp[lo] - t0) - (time.perf_counter() - wall0)
            if wait > 0:
                time.sleep(min(wait, 0.5))


def stdin_chunks(fd: int | None = None, idle_s: float = 1.0, on_silence: Callable[[float], None] | None = None,
                 stop: Callable[[], bool] | None = None, stop_after_idle: float | None = None,
                 max_lines: int = 4096) -> Iterator[Chunk]:
    """candump lines from a file descriptor (stdin) as they arrive; ends at end of input (or ``stop``)."""
    fd = sys.stdin.fileno() if fd is None else fd
    rest, line_no, quiet_since = b"", 1, time.monotonic()
    while stop is None or not stop():
        ready, _, _ = select.select([fd], [], [], idle_s)
        if not ready:
            quiet = time.monotonic() - quiet_since
            if on_silence is not None:
                on_silence(quiet)
            if stop_after_idle is not None and quiet >= stop_after_idle:
                break
            continue
        data = os.read(fd, READ_BYTES)
        quiet_since = time.monotonic()
        if not data:
            break
        rest += data
        cut = rest.rfind(b"\n")
        if cut < 0:
            continue
        complete, rest = rest[: cut + 1], rest[cut + 1:]
        lines = split_lines(complete)
        for lo in range(0, len(lines), max_lines):
            part = lines.slice(lo, max_lines)
            yield _candump_chunk(part, line_no)
            line_no += len(part)
    if rest:  # a last line without newline
        yield _candump_chunk(split_lines(rest), line_no)


def _candump_chunk(lines: pa.Array, first_line: int) -> Chunk:
    line_numbers = np.arange(first_line, first_line + len(lines))
    result = parse_candump(lines, "<stdin>", UNKNOWN_LABEL, line_numbers=line_numbers, refuse=False)
    return Chunk(result.frames, result.rejects)


def parse_bus(spec: str) -> tuple[str, str]:
    """``interface:channel`` -> (interface, channel)."""
    interface, sep, channel = spec.partition(":")
    if not sep or not interface or not channel:
        raise SourceError(f"--bus {spec!r}: expected INTERFACE:CHANNEL, e.g. socketcan:vcan0, virtual:demo, "
                          f"udp_multicast:239.74.163.2")
    return interface, channel


def open_bus(spec: str, **kwargs):
    import can

    interface, channel = parse_bus(spec)
    if interface not in can.VALID_INTERFACES:
        raise SourceError(f"--bus {spec!r}: python-can has no interface {interface!r} "
                          f"(it has {', '.join(sorted(can.VALID_INTERFACES))})")
    if interface == "virtual":  # a replay's recorded timestamps travel with its messages, as on a real log
        kwargs.setdefault("preserve_timestamps", True)
    try:
        return can.Bus(interface=interface, channel=channel, **kwargs)
    except (can.CanError, OSError, ValueError, ImportError) as e:
        raise SourceError(f"--bus {spec!r}: cannot open it: {e}") from None


def bus_chunks(bus, idle_s: float = 1.0, stop_after_idle: float | None = None, max_batch: int = 1024,
               on_silence: Callable[[float], None] | None = None, stop: Callable[[], bool] | None = None
               ) -> Iterator[Chunk]:
    """Messages of a python-can bus: each batch of what has arrived (at most ``max_batch``), at once."""
    from canguard.ingest.pythoncan import _frame

    rows: list[tuple] = []
    bad: list[dict] = []
    seen = 0
    quiet_since = time.monotonic()
    while stop is None or not stop():
        msg = bus.recv(timeout=idle_s if not rows else 0.0)
        if msg is not None:
            seen += 1
            quiet_since = time.monotonic()
            got = _frame(msg)
            if isinstance(got, str):
                bad.append({"line": seen, "raw": repr(msg)[:200], "reason": got})
            else:
                frame_type, data, dlc = got
                rows.append((msg.timestamp, msg.arbitration_id, dlc, data, frame_type))
            if len(rows) + len(bad) < max_batch:
                continue
        if rows or bad:
            yield Chunk(_frames_of(rows), pa.Table.from_pylist(bad, REJECTS_SCHEMA) if bad else None)
            rows, bad = [], []
            continue
        quiet = time.monotonic() - quiet_since
        if on_silence is not None:
            on_silence(quiet)
        if stop_after_idle is not None and quiet >= stop_after_idle:
            return


def _frames_of(rows: list[tuple]) -> Frames:
    if not rows:
        return Frames.empty()
    payload = np.zeros((len(rows), 8), np.uint8)
    for i, r in enumerate(rows):
        if r[3]:
            payload[i, : len(r[3])] = np.frombuffer(r[3], np.uint8)
    return Frames(np.fromiter((r[0] for r in rows), np.float64, len(rows)),
                  np.fromiter((r[1] for r in rows), np.uint32, len(rows)),
                  np.fromiter((r[2] for r in rows), np.uint8, len(rows)), payload,
                  np.full(len(rows), UNKNOWN_LABEL, np.int8), np.fromiter((r[4] for r in rows), np.int8, len(rows)))


def replay(path: str | Path, bus, realtime: bool = False, fmt: str = "auto") -> dict:
    """Send a log's messages onto ``bus`` (python-can), with their recorded timestamps; returns counts."""
    import can

    from canguard.frames import FRAME_FD, FRAME_REMOTE

    sent = 0
    rejected = 0
    for chunk in file_chunks(path, realtime=realtime, fmt=fmt):
        rejected += chunk.rejects.num_rows if chunk.rejects is not None else 0
        f = chunk.frames
        for i in range(len(f)):
            kind = int(f.frame_type[i])
            n = int(f.dlc[i])
            bus.send(can.Message(timestamp=float(f.timestamp[i]), arbitration_id=int(f.can_id[i]),
                                 is_extended_id=bool(f.can_id[i] > 0x7FF), is_remote_frame=kind == FRAME_REMOTE,
                                 is_fd=kind == FRAME_FD, dlc=n,
                                 data=b"" if kind == FRAME_REMOTE else f.payload[i, :n].tobytes()))
            sent += 1
    return {"sent": sent, "rejected": rejected}
