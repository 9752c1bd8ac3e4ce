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
the 1 M rows/s target is for the CSV formats).  Frame types follow the rule
of every reader (see :mod:`canguard.schema`): remote frames are kept
(frame_type "remote", ``dlc`` = the requested length, payload all 0); CAN FD
frames are kept when their data fits in 8 bytes (frame_type "fd", ``dlc`` =
data bytes) and rejected with "CAN FD frame with N data bytes (more than 8):
the schema holds 8" otherwise; a CAN FD frame python-can marks as remote is
an FD frame with no data (ASC writes a 0-byte FD frame that way, and CAN FD
has no remote frames); error frames are rejected.  Labels are -1 (captures
carry no ground truth) unless the caller passes ``label=``.

Line numbers: python-can does not report them, so ASC and TRC files are
handed to python-can through a line iterator that counts; ``line`` is then
the true physical line of each message.  A line python-can raises on is
rejected with the exception text and parsing resumes after it (the few
header lines that set python-can's state, date/base or the TRC ``;$``
lines, are replayed to a fresh reader: constant work per bad line).  Every
other line that yields no message is a header line only when it belongs to
the format: for ASC the header and statement lines ``date``, ``base``,
``internal events logged``, ``// comments``, ``Begin/End Triggerblock`` and
the timestamped events ``Start of measurement``, ``Statistic:``, ``CAN n
Status:/Error:``, ``log trigger event``, ``Log direct start/stop``, ``SV:``,
``EV:``, ``J1939TP``; for TRC the ``;`` lines.  Any other line (garbage,
empty) is rejected with its line number and a reason.  Text in UTF-16,
UTF-32 or with a UTF-8 byte-order mark is transcoded first
(:func:`canguard.ingest.lines.to_utf8`).

For BLF, ``line`` is the 1-based index of the message among the messages
python-can yields (``header_lines`` = 0).  A BLF cut short (its last object
runs past the end of the file, or the file header declares more bytes than
there are) keeps the messages before the cut and gets one reject row
"truncated BLF: data ends at byte N of M ..."; an object stream python-can
fails on after some messages gets one reject row with the exception (the
rest cannot be resynchronised), and so does an object declaring 0 bytes or
more than 16 MiB, which python-can would loop on forever (or carry to the end
of the file); a BLF that yields no message before such a failure raises
NotCanDataError.  ASC timestamps are relative to the trigger
block (python-can's default: the header date is local time with millisecond
resolution); BLF and TRC timestamps are epoch seconds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import can
import numpy as np
from can.io.blf import FILE_HEADER_STRUCT, OBJ_HEADER_BASE_STRUCT, BLFParseError

from canguard.frames import FRAME_DATA, FRAME_FD, FRAME_REMOTE, UNKNOWN_LABEL, Frames
from canguard.ingest.lines import LONG_LINE_REASON, MAX_LINE_BYTES, rejects_table, to_utf8
from canguard.ingest.result import ID_OVER_29_BITS, MAX_DATA_BYTES, NotCanDataError, ReadResult, fd_too_long
from canguard.ingest.timestamps import time_reason

SNIFF_BYTES = 64 * 1024
BLF_MAGIC = b"LOGG"
ASC_HEADER_WORDS = ("date ", "base ", "begin triggerblock", "internal events logged", "// version")

# python-can ASCReader._extract_header's leading block: these lines set its state (date, base)
ASC_DATE_RE = re.compile(r"date\s+\w+\s+(?P<datetime_string>.+)", re.IGNORECASE)
ASC_BASE_RE = re.compile(r"base\s+(?P<base>hex|dec)(?:\s+timestamps\s+(?P<timestamp_format>absolute|relative))?",
                         re.IGNORECASE)
ASC_COMMENT_RE = re.compile(r"//.*")
ASC_EVENTS_RE = re.compile(r"(?P<no_events>no)?\s*internal\s+events\s+logged", re.IGNORECASE)
# every ASC line that belongs to the format without being a CAN message (counted as a header line)
ASC_FORMAT_LINE_RE = re.compile(
    r"""(?:date\s+\w+\s+\S|base\s+(?:hex|dec)\b|(?:no\s+)?internal\s+events\s+logged|//
        |begin\s+triggerblock\b|end\s+triggerblock\b
        |\d+\.\d+\s+(?:start\s+of\s+measurement|(?:\d+\s+)?statistic:|can\s+\d+\s+(?:status|error)\b
                    |log\s+trigger\s+event|log\s+direct\s+(?:start|stop)|(?:sv|ev):|j1939tp))""",
    re.IGNORECASE | re.VERBOSE,
)
TRC_STATE_PREFIXES = (";$FILEVERSION", ";$STARTTIME", ";$COLUMNS")
SYNTHETIC = -1  # index of the empty line fed to python-can to end its header scan (not a line of the file)


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


# --- messages to frames ------------------------------------------------------------------------

def _frame(msg: can.Message) -> tuple[int, bytes, int] | str:
    """(frame_type, data, dlc) of a message the schema holds, else the reason to reject it."""
    n = len(msg.data)
    bad_time = time_reason(msg.timestamp)
    if bad_time is not None:
        return bad_time
    if msg.is_error_frame:
        return "error frame is not a data frame"
    if msg.arbitration_id > 0x1FFFFFFF:
        return ID_OVER_29_BITS
    if msg.is_fd:
        return fd_too_long(n) if n > MAX_DATA_BYTES else (FRAME_FD, bytes(msg.data), n)
    if msg.is_remote_frame:
        if msg.dlc > MAX_DATA_BYTES:
            return f"remote frame (RTR) requests {msg.dlc} bytes (more than {MAX_DATA_BYTES})"
        return FRAME_REMOTE, b"", msg.dlc
    if n > MAX_DATA_BYTES:
        return f"classic CAN frame with {n} data bytes (more than {MAX_DATA_BYTES})"
    if msg.dlc != n:
        return f"DLC {msg.dlc} but {n} data bytes"
    return FRAME_DATA, bytes(msg.data), n


class _Collected:
    """Messages and rejects gathered in file order, then turned into a ReadResult."""

    def __init__(self) -> None:
        self.messages: list[can.Message] = []
        self.message_lines: list[int] = []
        self.reject_lines: list[int] = []
        self.reject_raw: list[str] = []
        self.reject_reason: list[str] = []

    def add(self, msg: can.Message, line: int) -> None:
        self.messages.append(msg)
        self.message_lines.append(line)

    def reject(self, line: int, raw: str, reason: str) -> None:
        self.reject_lines.append(line)
        self.reject_raw.append(raw)
        self.reject_reason.append(reason)

    def result(self, fmt: str, label: int, header_lines: int) -> ReadResult:
        ts, ids, dlc, data, kind, lines = [], [], [], [], [], []
        for msg, line in zip(self.messages, self.message_lines):
            frame = _frame(msg)
            if isinstance(frame, str):
                self.reject(line, str(msg), frame)
                continue
            ts.append(msg.timestamp)
            ids.append(msg.arbitration_id)
            kind.append(frame[0])
            data.append(frame[1].ljust(8, b"\0"))
            dlc.append(frame[2])
            lines.append(line)
        payload = np.frombuffer(b"".join(data), dtype=np.uint8).reshape(-1, 8)
        frames = Frames(np.array(ts, np.float64), np.array(ids, np.uint32), np.array(dlc, np.uint8),
                        payload, np.full(len(ts), label, np.int8), np.array(kind, np.int8))
        order = np.argsort(np.array(self.reject_lines, np.int64), kind="stable")
        rejects = rejects_table(np.array(self.reject_lines, np.int64)[order], [self.reject_raw[i] for i in order],
                                [self.reject_reason[i] for i in order])
        return ReadResult(fmt, frames, np.array(lines, np.int64), rejects, header_lines=header_lines)


# --- text formats ------------------------------------------------------------------------------

class _Feed:
    """Lines for a python-can text reader: ``prefix`` (indices, SYNTHETIC for an empty line), then
    ``texts[start:]``.  ``number`` is the 1-based physical line last handed out (0 for SYNTHETIC)."""

    def __init__(self, texts: list[str], prefix: list[int], start: int):
        self.texts, self.prefix, self.start = texts, prefix, start
        self.k, self.number = 0, 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        i = self.prefix[self.k] if self.k < len(self.prefix) else self.start + self.k - len(self.prefix)
        if i >= len(self.texts):
            raise StopIteration
        self.k += 1
        self.number = i + 1
        return "" if i == SYNTHETIC else self.texts[i]

    def close(self) -> None:
        pass


def _asc_header(texts: list[str]) -> tuple[int, list[int]]:
    """(end of the leading header block python-can's ASCReader scans, the date/base lines in it)."""
    state: dict[str, int] = {}
    for i, text in enumerate(texts):
        line = text.strip()
        if ASC_DATE_RE.match(line):
            state["date"] = i
        elif ASC_BASE_RE.match(line):
            state["base"] = i
        elif ASC_COMMENT_RE.match(line):
            continue
        else:  # python-can consumes an events line as the header's last, and stops at any other line
            return i + bool(ASC_EVENTS_RE.match(line)), sorted(state.values())
    return len(texts), sorted(state.values())


def _trc_header(texts: list[str]) -> tuple[int, list[int]]:
    """(end of the leading ';' block, the last ;$FILEVERSION / ;$STARTTIME / ;$COLUMNS lines in it)."""
    state: dict[str, int] = {}
    for i, text in enumerate(texts):
        line = text.strip()
        if not line.startswith(";"):
            return i, sorted(state.values())
        for prefix in TRC_STATE_PREFIXES:
            if line.startswith(prefix):
                state[prefix] = i
    return len(texts), sorted(state.values())


@dataclass(frozen=True)
class _TextFormat:
    fmt: str
    reader_cls: type
    looks_like: Callable[[bytes], bool]
    expected: str
    header: Callable[[list[str]], tuple[int, list[int]]]  # (end of the header block, lines to replay)
    is_format_line: Callable[[str], bool]  # a line that is no message but belongs to the format
    end_header: bool  # feed an empty line after the header block so python-can's header scan stops there
    skipped: str  # the reason for a non-empty line that is neither a message nor a format line


ASC = _TextFormat(
    "asc", can.ASCReader, looks_like_asc, "a Vector ASC log ('date ...' / 'base hex timestamps ...' header)",
    _asc_header, lambda text: bool(ASC_FORMAT_LINE_RE.match(text.strip())), True,
    "not an ASC message, header, comment or event line (python-can ASCReader skipped it)",
)
TRC = _TextFormat(
    "trc", can.TRCReader, looks_like_trc, "a PEAK TRC log (';$FILEVERSION=...' or PCAN-View ';' header)",
    _trc_header, lambda text: text.strip().startswith(";"), False,
    "not a TRC message line: python-can TRCReader could not parse it",
)


def _text_lines(path: Path) -> list[str]:
    text = to_utf8(path.read_bytes(), path).decode("utf-8", errors="replace")
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _sniff(path: Path, looks_like, expected: str, text: bool) -> None:
    """Refuse an empty file or one whose first bytes are not this format, naming the file."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    if text:
        head = to_utf8(head, path)
    if not head:
        raise NotCanDataError(f"{path}: empty file, expected {expected}")
    if not looks_like(head):
        raise NotCanDataError(f"{path}:1: expected {expected}")


@contextmanager
def _quiet_python_can():
    """python-can logs every line it drops; here each is a reject row instead, so silence the per-line log."""
    loggers = [logging.getLogger(name) for name in ("can.io.asc", "can.io.trc")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for log, level in zip(loggers, levels):
            log.setLevel(level)


def _parse_text(path: Path, texts: list[str], spec: _TextFormat, got: _Collected) -> list[tuple[int, str]]:
    """Run python-can over ``texts``, resuming after each line it raises on; returns those (line, reason)."""
    end, replay = spec.header(texts)
    tail = [SYNTHETIC] if spec.end_header else []
    prefix, start = list(range(end)) + tail, end
    failures: list[tuple[int, str]] = []
    with _quiet_python_can():
        while True:
            feed = _Feed(texts, prefix, start)
            try:
                for msg in spec.reader_cls(feed):
                    got.add(msg, feed.number)
                return failures
            except Exception as exc:  # python-can raises ValueError, IndexError, ... on a bad line
                failed = feed.number
                reason = f"python-can {spec.reader_cls.__name__} could not parse this line: {exc}"
                if failed <= end or (got.message_lines and failed <= got.message_lines[-1]):
                    raise NotCanDataError(f"{path}:{max(failed, 1)}: expected {spec.expected} ({reason})") from exc
                failures.append((failed, reason))
                if failed >= len(texts):
                    return failures
                prefix, start = replay + tail, failed  # resume after the failed line


def _read_text_log(path: str | Path, spec: _TextFormat, label: int) -> ReadResult:
    path = Path(path)
    _sniff(path, spec.looks_like, spec.expected, text=True)
    texts = _text_lines(path)
    # a line longer than MAX_LINE_BYTES is rejected as in every reader: python-can sees it as an empty line
    long_lines = {i: text for i, text in enumerate(texts) if len(text) > MAX_LINE_BYTES // 4
                  and len(text.encode("utf-8", errors="replace")) > MAX_LINE_BYTES}
    for i in long_lines:
        texts[i] = ""
    got = _Collected()
    failures = [(line, reason) for line, reason in _parse_text(path, texts, spec, got) if line - 1 not in long_lines]
    if not got.messages:
        first = min([*(line for line, _ in failures), *(i + 1 for i in long_lines)], default=None)
        reason = (LONG_LINE_REASON if first - 1 in long_lines else dict(failures)[first]) if first else \
            f"python-can {spec.reader_cls.__name__} found no CAN message"
        raise NotCanDataError(f"{path}:{first or 1}: expected {spec.expected} ({reason})")
    for line, reason in failures:
        got.reject(line, texts[line - 1], reason)
    for i, text in long_lines.items():
        got.reject(i + 1, text, LONG_LINE_REASON)
    used = set(got.message_lines) | {line for line, _ in failures} | {i + 1 for i in long_lines}
    header_lines = 0
    for i, text in enumerate(texts):
        if i + 1 in used:
            continue
        if spec.is_format_line(text):
            header_lines += 1
        else:
            got.reject(i + 1, text, spec.skipped if text.strip() else "empty line")
    return got.result(spec.fmt, label, header_lines)


def read_asc(path: str | Path, label: int = UNKNOWN_LABEL) -> ReadResult:
    return _read_text_log(path, ASC, label)


def read_trc(path: str | Path, label: int = UNKNOWN_LABEL) -> ReadResult:
    return _read_text_log(path, TRC, label)


# --- BLF ---------------------------------------------------------------------------------------

BLF_EXPECTED = "a Vector BLF log (magic 'LOGG')"


def _cut(size: int, expected: int, detail: str) -> str:
    return f"truncated BLF: data ends at byte {size} of {expected} ({detail})"


def blf_truncation(path: str | Path) -> str | None:
    """Why the BLF file at ``path`` is cut short ("truncated BLF: data ends at byte N of M ..."), or None.

    Walks the top-level objects (log containers: a few per MB) by their declared sizes, and compares
    the file size with the one its header declares.  A broken object signature is not truncation
    (python-can reports it).
    """
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(FILE_HEADER_STRUCT.size)
        if len(head) < FILE_HEADER_STRUCT.size:
            return _cut(size, FILE_HEADER_STRUCT.size, "the file header is cut")
        header = FILE_HEADER_STRUCT.unpack(head)
        header_size, declared = header[1], header[10]
        if header_size < FILE_HEADER_STRUCT.size:
            raise NotCanDataError(f"{path}: BLF file header declares {header_size} bytes, "
                                  f"expected at least {FILE_HEADER_STRUCT.size}")
        pos = header_size
        if pos > size:
            return _cut(size, max(pos, declared), f"the file header declares a {header_size}-byte header")
        while pos < size:
            f.seek(pos)
            obj = f.read(OBJ_HEADER_BASE_STRUCT.size)
            if len(obj) < OBJ_HEADER_BASE_STRUCT.size:
                return _cut(size, max(pos + OBJ_HEADER_BASE_STRUCT.size, declared),
                            f"the object header at byte {pos} is cut")
            signature, _, _, obj_size, _ = OBJ_HEADER_BASE_STRUCT.unpack(obj)
            if signature != b"LOBJ" or obj_size < OBJ_HEADER_BASE_STRUCT.size:
                return None
            if pos + obj_size > size:
                return _cut(size, max(pos + obj_size, declared),
                            f"the object at byte {pos} declares {obj_size} bytes")
            pos += obj_size + obj_size % 4
    if declared > size:
        return _cut(size, declared, f"the file header declares {declared} bytes")
    return None


MAX_BLF_OBJECT_BYTES = 16 << 20  # CAN objects are under 100 bytes; a larger size is taken as corruption


def _broken_object(data: bytes) -> tuple[int, str] | None:
    """(offset, what) of the first object on python-can's walk through log container data that it cannot
    survive, else None.

    python-can's BLFReader steps from object to object by the declared size: a size of 0 makes it loop
    forever on one object, and a huge one makes it carry ever more container data as the object's
    "rest" (quadratic time).  Such an object is reported instead, before python-can parses it.
    """
    pos, end = 0, len(data)
    while True:
        at = data.find(b"LOBJ", pos, pos + 8)
        if at < 0 or at + OBJ_HEADER_BASE_STRUCT.size > end:
            return None
        obj_size = int.from_bytes(data[at + 8: at + 12], "little")
        if obj_size == 0 or obj_size > MAX_BLF_OBJECT_BYTES:
            return at, f"object of {obj_size} bytes (expected 1 to {MAX_BLF_OBJECT_BYTES})"
        if at + obj_size > end:
            return None
        pos = at + obj_size


class _GuardedBLFReader(can.BLFReader):
    """python-can's BLFReader, stopping at a broken object (size 0 or huge) instead of hanging on it."""

    def _parse_container(self, data: bytes) -> Iterator[can.Message]:
        joined = self._tail + data
        broken = _broken_object(joined)
        if broken is None:
            yield from super()._parse_container(data)
            return
        self._tail = b""
        yield from super()._parse_container(joined[: broken[0]])  # the messages before the broken object
        raise BLFParseError(f"{broken[1]} at byte {broken[0]} of a log container's data")


def read_blf(path: str | Path, label: int = UNKNOWN_LABEL) -> ReadResult:
    path = Path(path)
    _sniff(path, looks_like_blf, BLF_EXPECTED, text=False)
    cut = blf_truncation(path)
    got = _Collected()
    failure = None
    try:
        with _GuardedBLFReader(str(path)) as reader:
            for msg in reader:
                got.add(msg, len(got.messages) + 1)
    except Exception as exc:  # struct.error, BLFParseError, zlib.error, ...
        failure = f"python-can BLFReader failed: {type(exc).__name__}: {exc}"
    n = len(got.messages)
    if n == 0 and (cut or failure):
        raise NotCanDataError(f"{path}: message 1: {cut or failure}; no message could be read")
    if cut is not None:
        got.reject(n + 1, "", f"{cut}; {n} messages were read before the cut")
    elif failure is not None:
        got.reject(n + 1, "", f"{failure} after message {n}; the rest of the file could not be read")
    return got.result("blf", label, header_lines=0)
