"""Where a detector's messages come from: a log file, stdin (candump lines), a live python-can bus.

Each source yields :class:`canguard.deploy.detector.Chunk`s: the messages it accepted and,
with a reason, what it did not (malformed lines, error frames, CAN FD frames with more than
8 data bytes...), by the same rules as the ingest of a recording
(:mod:`canguard.ingest`): a stream and the offline evaluation see the same messages.

* :func:`file_chunks`: any format canguard ingests, read by its reader; as fast as possible,
  or at recorded speed (``realtime``: each message handed over when its timestamp comes due).
* :func:`stdin_chunks`: ``candump -L`` lines as they arrive (``candump -L vcan0 | canguard detect -``),
  in bounded memory whatever arrives: a line longer than
  :data:`canguard.ingest.lines.MAX_LINE_BYTES` is dropped up to its newline and counted as one
  reject (an endless line, ``< /dev/zero``, too), and ``stop`` is looked at after every read.
* :func:`bus_chunks`: ``interface:channel`` through python-can (``socketcan:vcan0``,
  ``virtual:demo``, ``udp_multicast:239.74.163.2``); a silence longer than ``idle_s`` is
  reported, and ends the stream with ``stop_after_idle``.
* :func:`replay`: a log onto a python-can bus, as fast as possible or at recorded speed
  (``canguard replay``): a real bus fed by a real recording.
"""

from __future__ import annotations

import os
import select
import stat
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
from canguard.ingest.lines import LONG_LINE_REASON, MAX_LINE_BYTES, RAW_PREFIX_CHARS, rejects_table, split_lines

CHUNK_MESSAGES = 25_600
READ_BYTES = 1 << 16
STOP_POLL_S = 0.2  # a quiet stdin or bus is waited on this long at a time: a stop request is seen this soon


class SourceError(ValueError):
    """An input that is unusable as a whole (a missing file, no CAN log, an unknown bus interface)."""


def file_chunks(path: str | Path, realtime: bool = False, chunk_messages: int = CHUNK_MESSAGES,
                fmt: str = "auto") -> Iterator[Chunk]:
    """A log's messages, in file order (its rejects come with the first chunk)."""
    check_log_file(path)
    result = read_any(path, fmt)
    frames, rejects = result.frames, result.rejects
    if len(frames) == 0:
        yield Chunk(frames, rejects)
        return
    if not realtime:
        for lo in range(0, len(frames), chunk_messages):
            yield Chunk(frames.take(np.arange(lo, min(len(frames), lo + chunk_messages))), rejects if lo == 0 else None)
        return
    # when each message is due: a message whose time steps back comes right after the one before it (arrival order)
    due_at = np.maximum.accumulate(frames.timestamp)
    t0, wall0 = float(due_at[0]), time.perf_counter()
    lo, first = 0, True
    while lo < len(frames):
        due = np.searchsorted(due_at, t0 + (time.perf_counter() - wall0), side="right")
        hi = max(int(due), lo + 1)
        yield Chunk(frames.take(np.arange(lo, hi)), rejects if first else None)
        first, lo = False, hi
        if lo < len(frames):
            wait = (due_at[lo] - t0) - (time.perf_counter() - wall0)
            if wait > 0:
                time.sleep(min(wait, 0.5))


def check_log_file(path: str | Path) -> None:
    """Raise SourceError unless ``path`` is a regular file (a log), saying what it is instead."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file (expected a CAN log)") from None
    except OSError as e:
        raise SourceError(f"{path}: cannot be read: {e.strerror or e} (expected a CAN log)") from None
    if stat.S_ISREG(mode):
        try:
            with open(path, "rb"):
                return
        except OSError as e:
            raise SourceError(f"{path}: cannot be read: {e.strerror or e} (expected a CAN log)") from None
    if stat.S_ISDIR(mode):
        raise SourceError(f"{path}: is a directory (expected a CAN log file)")
    kind = ("a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode)
            else "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file")
    raise SourceError(f"{path}: not a regular file ({kind}): expected a CAN log file; for a stream of candump "
                      f"lines, give - and send them on stdin")


class LineBuffer:
    """The pending bytes of a stream of lines: complete lines out as they arrive, in memory bounded by
    MAX_LINE_BYTES.

    Each byte is searched for a newline once (only the new bytes of a read are searched).  A line that
    grows past MAX_LINE_BYTES (a trailing ``\\r`` allowed, as a file's reader strips it) is no longer kept:
    its first bytes are (for the quote), the rest is counted and dropped up to its newline, and it comes
    out as one reject (:data:`~canguard.ingest.lines.LONG_LINE_REASON`, ``raw_bytes`` its length), the
    reject a file's reader gives such a line.
    """

    def __init__(self, first_line: int = 1):
        self.line_no = first_line           # number of the next line to come out
        self._pending: list[bytes] = []      # the start of the current line, shorter than the limit
        self._pending_bytes = 0
        self._dropping = False               # the current line is over the limit: its bytes are counted
        self._head = b""                     # the first bytes of a dropped line (what is quoted)
        self._length = 0                     # bytes of the dropped line so far
        self._last = b""                     # its last byte (a \r before the newline is not counted)

    def feed(self, data: bytes) -> tuple[bytes, list[tuple[int, bytes, int]]]:
        """The complete lines ``data`` ends (one bytes object, each line with its newline) and the rejects of
        the over-long lines it ends, as (line, first bytes, length); earlier lines always come first: a
        reject's line is the number of the line after the complete lines returned before it."""
        long: list[tuple[int, bytes, int]] = []
        complete = b""
        start = 0
        if self._dropping:
            end = data.find(b"\n")
            if end < 0:
                self._drop(data)
                return b"", long
            self._drop(data[:end])
            long.append(self._end_dropped())
            start = end + 1
        cut = data.rfind(b"\n", start)
        if cut >= 0:
            complete = b"".join([*self._pending, data[start:cut + 1]])
            self._pending, self._pending_bytes = [], 0
            self.line_no += complete.count(b"\n")
            start = cut + 1
        tail = data[start:]
        if tail:
            if self._pending_bytes + len(tail) > MAX_LINE_BYTES + 1:  # over the limit, even without a \r
                self._dropping = True
                self._head = b"".join([*self._pending, tail])[: 4 * RAW_PREFIX_CHARS]
                self._length, self._last = self._pending_bytes, b""
                self._pending, self._pending_bytes = [], 0
                self._drop(tail)
            else:
                self._pending.append(tail)
                self._pending_bytes += len(tail)
        return complete, long

    def end(self) -> tuple[bytes, list[tuple[int, bytes, int]]]:
        """At the end of input: the last line if it has no newline, or the reject of a line being dropped."""
        if self._dropping:
            return b"", [self._end_dropped()]
        last = b"".join(self._pending)
        self._pending, self._pending_bytes = [], 0
        return last, []

    def _drop(self, part: bytes) -> None:
        self._length += len(part)
        if part:
            self._last = part[-1:]

    def _end_dropped(self) -> tuple[int, bytes, int]:
        length = self._length - (self._last == b"\r")
        reject = (self.line_no, self._head, length)
        self.line_no += 1
        self._dropping, self._head, self._length, self._last = False, b"", 0, b""
        return reject


def stdin_chunks(fd: int | None = None, idle_s: float = 1.0, on_silence: Callable[[float], None] | None = None,
                 stop: Callable[[], bool] | None = None, stop_after_idle: float | None = None,
                 max_lines: int = 4096) -> Iterator[Chunk]:
    """candump lines from a file descriptor (stdin) as they arrive; ends at end of input (or ``stop``, looked at
    after every read of at most READ_BYTES).  Lines over MAX_LINE_BYTES: see :class:`LineBuffer`."""
    fd = sys.stdin.fileno() if fd is None else fd
    buffer, quiet_since = LineBuffer(), time.monotonic()
    while stop is None or not stop():
        ready, _, _ = select.select([fd], [], [], min(idle_s, STOP_POLL_S))
        if not ready:
            quiet = time.monotonic() - quiet_since
            if on_silence is not None and quiet >= idle_s:
                on_silence(quiet)
            if stop_after_idle is not None and quiet >= stop_after_idle:
                break
            continue
        data = os.read(fd, READ_BYTES)
        quiet_since = time.monotonic()
        if not data:
            break
        line_no = buffer.line_no
        complete, long = buffer.feed(data)
        if long:  # a dropped line ended: it comes before the complete lines
            yield _long_lines_chunk(long)
            line_no += len(long)
        yield from _candump_chunks(complete, line_no, max_lines)
    last, long = buffer.end()
    if long:
        yield _long_lines_chunk(long)
    if last:  # a last line without newline
        yield _candump_chunk(split_lines(last), buffer.line_no)


def _candump_chunks(complete: bytes, line_no: int, max_lines: int) -> Iterator[Chunk]:
    if not complete:
        return
    lines = split_lines(complete)
    for lo in range(0, len(lines), max_lines):
        part = lines.slice(lo, max_lines)
        yield _candump_chunk(part, line_no)
        line_no += len(part)


def _long_lines_chunk(long: list[tuple[int, bytes, int]]) -> Chunk:
    """The rejects of lines dropped for their length (line, first bytes, length)."""
    return Chunk(Frames.empty(), rejects_table([line for line, _, _ in long], [head for _, head, _ in long],
                                               [LONG_LINE_REASON] * len(long), [n for _, _, n in long]))


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
    bad: list[tuple[int, str, str]] = []
    seen = 0
    quiet_since = time.monotonic()
    while stop is None or not stop():
        msg = bus.recv(timeout=min(idle_s, STOP_POLL_S) if not rows else 0.0)
        if msg is not None:
            seen += 1
            quiet_since = time.monotonic()
            got = _frame(msg)
            if isinstance(got, str):
                bad.append((seen, str(msg), got))
            else:
                frame_type, data, dlc = got
                rows.append((msg.timestamp, msg.arbitration_id, dlc, data, frame_type))
            if len(rows) + len(bad) < max_batch:
                continue
        if rows or bad:
            yield Chunk(_frames_of(rows), rejects_table(*zip(*bad)) if bad else None)
            rows, bad = [], []
            continue
        quiet = time.monotonic() - quiet_since
        if on_silence is not None and quiet >= idle_s:
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
