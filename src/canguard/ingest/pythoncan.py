"""Vector ASC, Vector BLF and PEAK TRC logs, read through python-can.

ASC (text, Vector CANalyzer/CANoe)::

    date Tue Nov 14 22:13:20.123 2023
    base hex  timestamps absolute
    Begin Triggerblock Tue Nov 14 22:13:20.123 2023
     0.001000 1  18FF1234x       Rx   d 2 01 02

TRC (text, PCAN-View), comment lines start with ``;``::

    ;$FILEVERSION=2.1
          1         1.000 DT  1 18FF1234 Rx -  2    01 02

BLF (binary, Vector): object stream starting with the magic ``LOGG``.

python-can yields one ``can.Message`` at a time (a Python loop per message;
the 1 M rows/s target is for the CSV formats).  Messages that are not
classic data frames are rejected, not dropped: error frames, remote frames,
CAN FD frames with more than 8 data bytes.  Labels are -1 (captures carry no
ground truth) unless the caller passes ``label=``.

Line numbers: python-can does not report them, so ASC and TRC files are
handed to python-can through a line iterator that counts; ``line`` is then
the true physical line of each message.  A line python-can raises on is
rejected with the exception text and parsing resumes after it (the header
lines are replayed to a fresh reader).  ASC lines python-can ignores
(comments, events, statistics, "Start of measurement", and unknown text,
which python-can cannot tell apart) are counted in ``header_lines``; TRC
lines outside the ``;`` header/comments that yield no message are rejected
(python-can only logs them).  For BLF, ``line`` is the 1-based index of the
message among the messages python-can yields (``header_lines`` = 0); a BLF
that python-can fails on raises NotCanDataError (no way to resync a binary
stream).  ASC timestamps are relative to the trigger block (python-can's
default: the header date is local time with millisecond resolution); BLF
and TRC timestamps are epoch seconds.
"""

from __future__ import annotations

from pathlib import Path

import can
import numpy as np
import pyarrow as pa

from canguard.frames import UNKNOWN_LABEL, Frames
from canguard.ingest.result import NotCanDataError, ReadResult

SNIFF_BYTES = 64 * 1024
BLF_MAGIC = b"LOGG"
MAX_PARSE_FAILURES = 1000
ASC_HEADER_WORDS = ("date ", "base ", "begin triggerblock", "internal events logged", "// version")


def looks_like_asc(head: bytes) -> bool:
    """Vector ASC: a ``date``/``base``/``Begin Triggerblock`` line among the first lines."""
    lines = [line.strip().lower() for line in head.decode("latin-1").splitlines()[:50]]
    return any(line.startswith(ASC_HEADER_WORDS) for line in lines)


def looks_like_trc(head: bytes) -> bool:
    """PEAK TRC: ``;$FILEVERSION`` first, or a ``;`` comment header naming PCAN / Start time."""
    text = head.decode("latin-1").lstrip()
    if text.startswith(";$FILEVERSION"):
        return True
    header = "\n".join(line for line in text.splitlines()[:40] if line.startswith(";"))
    return text.startswith(";") and any(w in header for w in ("PCAN", "Start time", "Message Number"))


def looks_like_blf(head: bytes) -> bool:
    return head[:4] == BLF_MAGIC


class _CountingLines:
    """Lines for a python-can text reader; ``number`` is the physical line last handed out."""

    def __init__(self, texts: list[str], numbers: list[int]):
        self.texts, self.numbers, self.i, self.number = texts, numbers, 0, 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.i >= len(self.texts):
            raise StopIteration
        self.number = self.numbers[self.i]
        self.i += 1
        return self.texts[self.i - 1]

    def close(self) -> None:
        pass


class _Collected:
    """Messages and rejects gathered in file order, then turned into a ReadResult."""

    def __init__(self) -> None:
        self.messages: list[can.Message] = []
        self.message_lines: list[int] = []
        self.reject_lines: list[int] = []
        self.reject_raw: list[str] = []
        self.reject_reason: list[str] = []

    def reject(self, line: int, raw: str, reason: str) -> None:
        self.reject_lines.append(line)
        self.reject_raw.append(raw)
        self.reject_reason.append(reason)

    def result(self, fmt: str, label: int, header_lines: int) -> ReadResult:
        ts, ids, dlc, data, lines = [], [], [], [], []
        for msg, line in zip(self.messages, self.message_lines):
            if msg.is_error_frame:
                self.reject(line, str(msg), "error frame is not a data frame")
            elif msg.is_remote_frame:
                self.reject(line, str(msg), "remote frame (RTR) has no payload")
            elif len(msg.data) > 8:
                self.reject(line, str(msg), f"CAN FD frame with {len(msg.data)} data bytes (more than 8) not supported")
            elif not msg.is_fd and msg.dlc != len(msg.data):
                self.reject(line, str(msg), f"DLC {msg.dlc} but {len(msg.data)} data bytes")
            elif msg.arbitration_id > 0x1FFFFFFF:
                self.reject(line, str(msg), "CAN ID over 0x1FFFFFFF")
            else:
                ts.append(msg.timestamp)
                ids.append(msg.arbitration_id)
                dlc.append(len(msg.data))
                data.append(bytes(msg.data).ljust(8, b"\0"))
                lines.append(line)
        payload = np.frombuffer(b"".join(data), dtype=np.uint8).reshape(-1, 8)
        frames = Frames(np.array(ts, np.float64), np.array(ids, np.uint32), np.array(dlc, np.uint8),
                        payload, np.full(len(ts), label, np.int8))
        order = np.argsort(np.array(self.reject_lines, np.int64), kind="stable")
        rejects = pa.table({
            "line": pa.array(np.array(self.reject_lines, np.int64)[order], pa.int64()),
            "raw": pa.array([self.reject_raw[i] for i in order], pa.string()),
            "reason": pa.array([self.reject_reason[i] for i in order], pa.string()),
        })
        return ReadResult(fmt, frames, np.array(lines, np.int64), rejects, header_lines=header_lines)


def _text_lines(path: Path) -> list[str]:
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _sniff(path: Path, looks_like, expected: str) -> None:
    """Refuse an empty file or one whose first bytes are not this format, naming the file."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    if not head:
        raise NotCanDataError(f"{path}: empty file, expected {expected}")
    if not looks_like(head):
        raise NotCanDataError(f"{path}:1: expected {expected}")


def _read_text_log(path: str | Path, reader_cls, fmt: str, looks_like, expected: str, label: int) -> ReadResult:
    path = Path(path)
    _sniff(path, looks_like, expected)
    texts = _text_lines(path)
    numbers = list(range(1, len(texts) + 1))
    got = _Collected()
    failures: list[tuple[int, str]] = []
    source = _CountingLines(texts, numbers)
    first_body = None  # 0-based index of the first line that held a message or failed
    while True:
        try:
            for msg in reader_cls(source):
                got.messages.append(msg)
                got.message_lines.append(source.number)
                first_body = source.number - 1 if first_body is None else first_body
            break
        except Exception as exc:  # python-can raises ValueError, IndexError, ... on a bad line
            failed = source.number
            failures.append((failed, f"python-can {reader_cls.__name__} could not parse this line: {exc}"))
            first_body = failed - 1 if first_body is None else first_body
            if len(failures) > MAX_PARSE_FAILURES:
                break
            # resume after the failing line, replaying the header to a fresh reader
            rest = list(range(first_body)) + list(range(failed, len(texts)))
            source = _CountingLines([texts[i] for i in rest], [numbers[i] for i in rest])
    if failures and (not got.messages or len(failures) > MAX_PARSE_FAILURES):
        line, reason = failures[0]
        raise NotCanDataError(f"{path}:{line}: expected {expected} ({reason})")
    if not got.messages:
        raise NotCanDataError(f"{path}:1: expected {expected} (python-can {reader_cls.__name__} found no CAN message)")
    for line, reason in failures:
        got.reject(line, texts[line - 1], reason)

    if fmt == "trc":  # lines outside the ';' header that python-can skipped without a message
        used = set(got.message_lines) | {line for line, _ in failures}
        for i, text in enumerate(texts):
            stripped = text.strip()
            if i + 1 not in used and not stripped.startswith(";"):
                got.reject(i + 1, text, "empty line" if not stripped else
                           "not a TRC message line: python-can TRCReader could not parse it")
    header_lines = len(texts) - len(got.messages) - len(got.reject_lines)
    return got.result(fmt, label, header_lines)


def read_asc(path: str | Path, label: int = UNKNOWN_LABEL) -> ReadResult:
    return _read_text_log(path, can.ASCReader, "asc", looks_like_asc,
                          "a Vector ASC log ('date ...' / 'base hex timestamps ...' header)", label)


def read_trc(path: str | Path, label: int = UNKNOWN_LABEL) -> ReadResult:
    return _read_text_log(path, can.TRCReader, "trc", looks_like_trc,
                          "a PEAK TRC log (';$FILEVERSION=...' or PCAN-View ';' header)", label)


def read_blf(path: str | Path, label: int = UNKNOWN_LABEL) -> ReadResult:
    path = Path(path)
    _sniff(path, looks_like_blf, "a Vector BLF log (magic 'LOGG')")
    got = _Collected()
    try:
        with can.BLFReader(str(path)) as reader:
            for msg in reader:
                got.messages.append(msg)
                got.message_lines.append(len(got.messages))
    except Exception as exc:
        raise NotCanDataError(
            f"{path}: message {len(got.messages) + 1}: python-can BLFReader failed: {type(exc).__name__}: {exc}"
        ) from exc
    return got.result("blf", label, header_lines=0)
