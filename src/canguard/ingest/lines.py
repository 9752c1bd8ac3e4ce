"""Physical lines of a text log as an Arrow array, and per-line validation bookkeeping.

A text log is read once into memory and cut at ``\\n`` with numpy; the lines
become a zero-copy ``large_binary`` Arrow array that pyarrow.compute can split
and match with regular expressions without a Python loop per line.  Line ``i``
of the array is physical line ``i + 1`` of the file; a trailing ``\\r`` is
stripped, and a final line without ``\\n`` still counts.

Encodings (:func:`to_utf8`, used by every text reader and by format
detection): UTF-8 is read as is, a UTF-8 byte-order mark is dropped; a file
with the byte-order mark of UTF-16 (LE/BE), UTF-32 (LE/BE), UTF-7 or
GB-18030, or without a mark but with the NUL-byte pattern of ASCII text in
UTF-16/UTF-32, is transcoded to UTF-8 first.  Transcoding keeps every
``\\n``, so line numbers are those of the original file; a code unit that
does not decode becomes U+FFFD on its line (which is then rejected, not
lost).  The marks of UTF-1, UTF-EBCDIC, SCSU and BOCU-1 are refused with a
NotCanDataError naming the file and the encoding.

Bounded lines: no line of a CAN log is longer than :data:`MAX_LINE_BYTES`; a longer one is
rejected (:data:`LONG_LINE_REASON`, by every reader and by ``canguard detect`` on stdin, which
drops its bytes up to the next newline) and reading resumes at the next line.  A reject's raw text
is quoted to its first :data:`RAW_PREFIX_CHARS` characters wherever it is stored or reported (the
rejects files, ``detect``'s report), ``…`` marking the cut; ``raw_bytes`` holds the line's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from canguard.ingest.errors import NotCanDataError
from canguard.ingest.hexcodec import string_buffers

#: The longest line any reader accepts, in bytes (UTF-8, without the newline).  The longest valid lines of
#: the formats canguard reads are a few hundred bytes: a candump CAN FD line with 64 data bytes is about 170,
#: a Vector ASC CAN FD line with 64 bytes about 300, a PEAK TRC line about 100, a Car-Hacking CSV row with its
#: eight bytes about 60, a can-train-and-test row about 45.  4 KiB leaves an order of magnitude above all of
#: them (long interface names, padding, comments), and bounds what ``detect`` buffers of one line on stdin.
MAX_LINE_BYTES = 4096
#: The characters of a rejected line quoted in the rejects and reports; its length is in ``raw_bytes``.
RAW_PREFIX_CHARS = 120
LONG_LINE_REASON = f"line longer than {MAX_LINE_BYTES} bytes (no CAN log line is; its length is in raw_bytes)"
ELLIPSIS = "\u2026"


def quote_raw(raw: bytes | str, length: int | None = None) -> str:
    """A rejected line as stored and reported: its first RAW_PREFIX_CHARS characters, ``…`` where it was cut.

    Only the first ``4 * RAW_PREFIX_CHARS`` bytes are ever decoded (a character is at most 4 bytes);
    ``length``: the whole line's length in bytes where ``raw`` is only its beginning."""
    if isinstance(raw, str):
        return raw if len(raw) <= RAW_PREFIX_CHARS else raw[:RAW_PREFIX_CHARS] + ELLIPSIS
    head = bytes(raw[: 4 * RAW_PREFIX_CHARS])
    text = head.decode("utf-8", errors="replace")
    if max(len(raw), length or 0) > len(head) or len(text) > RAW_PREFIX_CHARS:
        return text[:RAW_PREFIX_CHARS] + ELLIPSIS
    return text


def rejects_table(line: list[int] | np.ndarray, raw: list[str], reason: list[str],
                  raw_bytes: list[int] | np.ndarray | None = None) -> pa.Table:
    """A rejects table (REJECTS_SCHEMA) from unquoted raw texts: quoted here, their UTF-8 length in ``raw_bytes``
    unless given."""
    if raw_bytes is None:
        raw_bytes = [len(r.encode("utf-8", errors="replace")) if isinstance(r, str) else len(r) for r in raw]
    return pa.table({
        "line": pa.array(np.asarray(line, dtype=np.int64), pa.int64()),
        "raw": pa.array([quote_raw(r, int(n)) for r, n in zip(raw, raw_bytes)], pa.string()),
        "raw_bytes": pa.array(np.asarray(raw_bytes, dtype=np.int64), pa.int64()),
        "reason": pa.array(list(reason), pa.string()),
    }, schema=REJECTS_SCHEMA)


def split_lines(raw: bytes) -> pa.Array:
    """Cut ``raw`` into lines; returns a large_binary array, one entry per physical line."""
    data = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(data == ord("\n"))
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(data)]))
    if len(data) and data[-1] == ord("\n"):  # no empty line after the final newline
        starts, stops = starts[:-1], stops[:-1]
    elif len(data) == 0:
        starts, stops = starts[:0], stops[:0]
    # strip one trailing \r (CRLF files)
    has_cr = np.zeros(len(stops), dtype=bool)
    nonempty = stops > starts
    has_cr[nonempty] = data[stops[nonempty] - 1] == ord("\r")
    stops = stops - has_cr
    # rebuild contiguous offsets: lines are not contiguous once \n (and \r) are dropped
    lengths = (stops - starts).astype(np.int64)
    keep = np.ones(len(data), dtype=bool)
    keep[ends] = False
    keep[stops[has_cr]] = False
    packed = data[keep] if (len(ends) or has_cr.any()) else data
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(
        pa.large_binary(), len(lengths),
        [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(packed))],
    )


# (byte-order mark, Python codec, name); UTF-32-LE's mark starts with UTF-16-LE's, so it comes first
BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32-BE"),
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32-LE"),
    (b"\x84\x31\x95\x33", "gb18030", "GB-18030"),
    (b"\xef\xbb\xbf", "utf-8", "UTF-8"),
    (b"\xfe\xff", "utf-16-be", "UTF-16-BE"),
    (b"\xff\xfe", "utf-16-le", "UTF-16-LE"),
    *((b"+/v" + last, "utf-7", "UTF-7") for last in (b"8", b"9", b"+", b"/")),
)
UNSUPPORTED_BOMS = (
    (b"\xf7\x64\x4c", "UTF-1"),
    (b"\xdd\x73\x66\x73", "UTF-EBCDIC"),
    (b"\x0e\xfe\xff", "SCSU"),
    (b"\xfb\xee\x28", "BOCU-1"),
)
GUESS_BYTES = 4096
# share of NUL bytes at each offset mod 4 in ASCII text written as UTF-16/32 without a mark
WIDE_PATTERNS = (
    ("utf-32-le", "UTF-32-LE (no byte-order mark)", (False, True, True, True)),
    ("utf-32-be", "UTF-32-BE (no byte-order mark)", (True, True, True, False)),
    ("utf-16-le", "UTF-16-LE (no byte-order mark)", (False, True, False, True)),
    ("utf-16-be", "UTF-16-BE (no byte-order mark)", (True, False, True, False)),
)


def _guess_wide(raw: bytes) -> tuple[str, str] | None:
    """(codec, name) of UTF-16/32 text without a byte-order mark, from where its NUL bytes fall."""
    n = min(len(raw), GUESS_BYTES) // 4 * 4
    if n < 8:
        return None
    nul_share = (np.frombuffer(raw[:n], dtype=np.uint8).reshape(-1, 4) == 0).mean(axis=0)
    for codec, name, pattern in WIDE_PATTERNS:
        if all(share > 0.9 if nul else share < 0.1 for share, nul in zip(nul_share, pattern)):
            return codec, name
    return None


def text_encoding(raw: bytes, path: str | Path = "<bytes>") -> tuple[str, str, int]:
    """(Python codec, name, length of the byte-order mark) of a text file's first bytes.

    Plain UTF-8 (or ASCII) gives ``("utf-8", "UTF-8", 0)``; an encoding that
    cannot be decoded raises NotCanDataError naming ``path`` and the encoding.
    """
    for bom, name in UNSUPPORTED_BOMS:
        if raw.startswith(bom):
            raise NotCanDataError(
                f"{path}: text encoded in {name} (byte-order mark {bom.hex(' ')}) cannot be decoded: "
                "expected UTF-8, UTF-16 or UTF-32 text; convert the file to UTF-8"
            )
    for bom, codec, name in BOMS:
        if raw.startswith(bom):
            return codec, name, 0 if codec == "utf-7" else len(bom)
    guess = _guess_wide(raw)
    if guess is not None:
        return guess[0], guess[1], 0
    return "utf-8", "UTF-8", 0


def to_utf8(raw: bytes, path: str | Path = "<bytes>") -> bytes:
    """``raw`` as UTF-8 bytes without a byte-order mark; every ``\\n`` stays, so line numbers do too."""
    codec, _, bom = text_encoding(raw, path)
    if codec == "utf-8":
        return raw[bom:] if bom else raw
    text = raw[bom:].decode(codec, errors="replace")
    return text.removeprefix("\ufeff").encode("utf-8", errors="replace")


def read_lines(path: str | Path) -> pa.Array:
    """The physical lines of a text file in any encoding :func:`to_utf8` handles, as UTF-8."""
    return split_lines(to_utf8(Path(path).read_bytes(), path))


@dataclass
class Fields:
    """The ``sep``-separated fields of each line: ``count[i]`` fields on line ``i``."""

    values: pa.Array  # flat large_binary of every field of every line
    offsets: np.ndarray  # (n+1,) int64 into values
    count: np.ndarray  # (n,) int64

    @classmethod
    def split(cls, lines: pa.Array, sep: str) -> Fields:
        lists = pc.split_pattern(lines, sep)
        if not isinstance(lists, pa.LargeListArray):
            lists = lists.cast(pa.large_list(lists.type.value_type))
        offsets = np.frombuffer(lists.buffers()[1], dtype=np.int64)[lists.offset: lists.offset + len(lists) + 1]
        offsets = offsets - offsets[0]
        return cls(lists.flatten(), offsets, np.diff(offsets))

    def get(self, k: int | np.ndarray) -> pa.Array:
        """Field ``k`` of every line (``k`` may be per line); empty where a line has fewer fields."""
        k = np.broadcast_to(np.asarray(k, dtype=np.int64), self.count.shape)
        present = (k >= 0) & (k < self.count)
        index = np.where(present, self.offsets[:-1] + k, 0)
        if len(self.values) == 0:
            return pa.array([b""] * len(index), type=pa.large_binary())
        taken = self.values.take(pa.array(index))
        return pc.if_else(pa.array(present), taken, pa.scalar(b"", pa.large_binary()))


class LineChecks:
    """Marks lines as rejected, each with the first reason that applies.

    Readers run checks in order; a line rejected once keeps its first reason.
    ``kept`` is the mask of lines that passed every check.  The first check is
    the length: a line longer than MAX_LINE_BYTES is rejected with LONG_LINE_REASON.
    """

    def __init__(self, lines: pa.Array, line_numbers: np.ndarray):
        self.lines = lines
        self.line_numbers = np.asarray(line_numbers, dtype=np.int64)
        self.kept = np.ones(len(lines), dtype=bool)
        self._reason = np.full(len(lines), -1, dtype=np.int32)
        self._reasons: list[str] = []
        self.length = pc.binary_length(lines).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        self.reject(self.length > MAX_LINE_BYTES, LONG_LINE_REASON)

    def reject(self, mask: np.ndarray, reason: str) -> None:
        new = np.asarray(mask, dtype=bool) & self.kept
        if new.any():
            self._reason[new] = len(self._reasons)
            self._reasons.append(reason)
            self.kept &= ~new

    def reject_by(self, mask: np.ndarray, values: np.ndarray, reason) -> None:
        """Reject ``mask`` rows with ``reason(value)``: one reason text per distinct integer value of the rows."""
        new = np.asarray(mask, dtype=bool) & self.kept
        if new.any():
            distinct, inverse = np.unique(np.asarray(values)[new], return_inverse=True)
            self._reason[new] = len(self._reasons) + inverse
            self._reasons.extend(reason(int(v)) for v in distinct)
            self.kept &= ~new

    def first_reject(self) -> tuple[int, str]:
        """(line number, reason) of the first rejected line (there must be one)."""
        i = int(np.argmin(self.kept))
        return int(self.line_numbers[i]), self._reasons[self._reason[i]]

    def rejects(self) -> pa.Table:
        """Table of rejected lines: ``line`` (1-based), ``raw`` text (quoted: :func:`quote_raw`), its length
        ``raw_bytes``, ``reason``."""
        idx = np.flatnonzero(~self.kept)
        raw = self.lines.take(pa.array(idx)).cast(pa.large_binary())
        if len(raw) and int(self.length[idx].max()) > 4 * RAW_PREFIX_CHARS:  # decode no more than is quoted
            raw = pc.binary_slice(raw, 0, 4 * RAW_PREFIX_CHARS)
        reasons = np.asarray(self._reasons + [""], dtype=object)[self._reason[idx]]
        raw_text = [quote_raw(b, n) for b, n in zip(raw.to_pylist(), self.length[idx].tolist())]
        return pa.table({
            "line": pa.array(self.line_numbers[idx], pa.int64()),
            "raw": pa.array(raw_text, pa.string()),
            "raw_bytes": pa.array(self.length[idx], pa.int64()),
            "reason": pa.array(list(reasons), pa.string()),
        }, schema=REJECTS_SCHEMA)


#: A reject: the 1-based line (message index for BLF and a bus), the line's text quoted to RAW_PREFIX_CHARS
#: characters (:func:`quote_raw`), the line's length in bytes, the reason.
REJECTS_SCHEMA = pa.schema([("line", pa.int64()), ("raw", pa.string()), ("raw_bytes", pa.int64()),
                            ("reason", pa.string())])

NUMBER_RE = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def parse_float(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Decimal strings to float64; returns (values, ok). Non-numbers give ok=False."""
    ok = as_mask(pc.match_substring_regex(arr, NUMBER_RE))
    safe = pc.if_else(pa.array(ok), arr, pa.scalar(b"0", arr.type))
    values = pc.cast(safe.cast(pa.large_string()), pa.float64()).to_numpy(zero_copy_only=False)
    return values, ok & np.isfinite(values)


def parse_uint(arr: pa.Array, max_value: int) -> tuple[np.ndarray, np.ndarray]:
    """Decimal unsigned integers (at most 9 digits) to int64; returns (values, ok)."""
    ok = as_mask(pc.match_substring_regex(arr, r"^[0-9]{1,9}$"))
    safe = pc.if_else(pa.array(ok), arr, pa.scalar(b"0", arr.type))
    values = pc.cast(safe.cast(pa.large_string()), pa.int64()).to_numpy(zero_copy_only=False)
    return values, ok & (values <= max_value)


def strip_bytes(arr: pa.Array) -> pa.Array:
    """Trim ASCII whitespace at both ends of each entry."""
    return pc.replace_substring_regex(arr, r"^\s+|\s+$", b"")


def as_mask(arr: pa.Array) -> np.ndarray:
    """A boolean Arrow array (no nulls) as a numpy mask."""
    return arr.to_numpy(zero_copy_only=False).astype(bool, copy=False)


def empty_lines(lines: pa.Array) -> np.ndarray:
    """Mask of the lines that are empty."""
    return as_mask(pc.equal(pc.binary_length(lines), 0))


def regex_groups(lines: pa.Array, pattern: str) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """Named groups of ``pattern`` on every line: (matched mask, name -> array, '' where unmatched)."""
    struct = pc.extract_regex(lines, pattern)
    matched = as_mask(struct.is_valid())
    empty = pa.scalar(b"", pa.large_binary())
    groups = {}
    for i in range(struct.type.num_fields):
        child = struct.field(i)
        if not matched.all() or child.null_count:
            child = pc.if_else(pa.array(matched), child, empty).fill_null(empty)
        groups[struct.type.field(i).name] = child
    return matched, groups


def match_lines(path, pattern: str, expected: str) -> tuple[pa.Array, LineChecks, dict[str, pa.Array]]:
    """Read a line-per-message log and match ``pattern`` on every line.

    Returns the lines, their checks (empty and non-matching lines already
    rejected, the latter with "expected <expected>") and the named groups.
    """
    lines = read_lines(path)
    checks = LineChecks(lines, np.arange(1, len(lines) + 1))
    checks.reject(empty_lines(lines), "empty line")
    matched, groups = regex_groups(lines, pattern)
    checks.reject(~matched, f"expected {expected}")
    return lines, checks, groups


def refuse_if_nothing_kept(path, result, expected: str) -> None:
    """A file of which no line is kept (``result``: a :class:`~canguard.ingest.result.ReadResult`) is not
    this format: raise at its first line, with that line's reject reason."""
    if len(result.frames):
        return
    if result.rejects.num_rows == 0:
        raise NotCanDataError(f"{path}: empty file, expected {expected}")
    line, reason = result.rejects["line"][0].as_py(), result.rejects["reason"][0].as_py()
    raise NotCanDataError(f"{path}:{line}: expected {expected} ({reason})")


__all__ = [
    "MAX_LINE_BYTES", "RAW_PREFIX_CHARS", "LONG_LINE_REASON", "quote_raw", "rejects_table",
    "split_lines", "read_lines", "text_encoding", "to_utf8", "Fields", "LineChecks", "REJECTS_SCHEMA",
    "parse_float", "parse_uint", "strip_bytes", "string_buffers", "as_mask", "empty_lines",
    "regex_groups", "refuse_if_nothing_kept", "match_lines",
]
