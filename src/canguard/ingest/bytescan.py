"""Byte-level fast path of the line-per-message readers: fields found by their punctuation, decoded as words.

A text log is read into one numpy byte buffer and decoded in chunks of about
2 MiB of whole lines (the work is memory-bound: a chunk's arrays stay in the
CPU cache).  One pass over a chunk finds its punctuation:
every byte below ``'0'`` (newline, ``,``, ``.``, ``(``, ``)``, ``#``, space,
``\\r``, ``-``, ``+``, control bytes).  Hex digits, decimal digits and letters
are all at or above ``'0'``, so in a regular line the punctuation alone says
where each field starts and ends: a can-train-and-test row ``ts,id,data,attack``
has exactly ``.,,,``; a candump line ``(ts) can0 id#data`` has ``(.)  #``.

Fields are decoded as whole columns, never per row in Python:

- hex IDs and payloads with 64-bit word arithmetic (SWAR): the eight bytes at
  a field's start (or before its end) are gathered as one little-endian
  ``uint64`` from an unaligned view of the buffer, validated and turned into
  nibbles eight at a time, and the nibbles packed into bytes or a value with
  shifts and masks;
- timestamps by Arrow's cast from binary views pointing into the buffer (no
  copy of the text), the same conversion the general path uses, so the values
  are bit-identical.

The fast path only ever *keeps* a line that the general reader would keep with
the same values; it rejects nothing (a line longer than
:data:`canguard.ingest.lines.MAX_LINE_BYTES`, or whose timestamp the policy of
:mod:`canguard.ingest.timestamps` refuses, is the general reader's).  Every other line (empty, malformed, or
valid but unusual: a ``0x`` prefix, a remote or CAN FD frame, a sign or no
dot in the timestamp) goes to the format's general reader with its line number, so
rejects and their reasons are exactly the general reader's
(:func:`combine`).  ``tests/test_bytescan.py`` checks both readers equal on
mutated files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from canguard.frames import Frames
from canguard.ingest.lines import GUESS_BYTES, MAX_LINE_BYTES, parse_float, text_encoding, to_utf8
from canguard.ingest.result import ReadResult
from canguard.ingest.timestamps import in_range

PAD = 32  # filler bytes ('0') before and after the text, so every 8- or 16-byte gather stays inside the buffer
PUNCTUATION_BELOW = ord("0")
CHUNK_BYTES = 1 << 21  # text decoded at a time (about 45,000 lines): its arrays stay in the CPU cache

_REP = 0x0101010101010101
HIGH_BITS = np.uint64(0x8080808080808080)
#: LOW_BYTES[k]: the k lowest bytes of a little-endian word (the first k characters of a gathered field)
LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)


def _rep(byte: int) -> np.uint64:
    return np.uint64(byte * _REP)


def _at_least(w: np.ndarray, lo: int) -> np.ndarray:
    """High bit of each byte set where the byte is >= ``lo`` (every byte of ``w`` below 0x80: no carries)."""
    return w + _rep(0x80 - lo)


def hex_digit_bits(w: np.ndarray) -> np.ndarray:
    """High bit of each byte of ``w`` set where the byte is an ASCII hex digit (0-9, A-F, a-f).

    Only for bytes of a field: every byte is at least ``'0'`` (lower ones are punctuation and end
    fields), so a digit is a byte below ``':'`` and a letter one that, lower-cased, lies in ``a..f``.
    """
    ascii_ = ~w & HIGH_BITS
    w7 = w & ~HIGH_BITS
    lower = w7 | _rep(0x20)
    digit = ~_at_least(w7, 0x3A)
    letter = _at_least(lower, 0x61)
    letter &= ~_at_least(lower, 0x67)
    digit |= letter
    digit &= ascii_
    return digit


def nibbles(w: np.ndarray) -> np.ndarray:
    """Each byte of ``w`` (a hex digit) replaced by its value 0..15: low nibble, plus 9 for letters."""
    letter = (w >> np.uint64(6)) & _rep(0x01)
    letter *= np.uint64(9)
    letter += w & _rep(0x0F)
    return letter


def _not_all(bits: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Rows where some kept byte lacks its high bit in ``bits``."""
    np.invert(bits, out=bits)
    bits &= keep
    bits &= HIGH_BITS
    return bits != 0


def _pack_pairs(nib: np.ndarray) -> np.ndarray:
    """uint32 of 4 bytes, byte k = nibble 2k (high) and 2k+1 (low) of ``nib``: hex text 'A1B2...' to bytes."""
    t = nib << np.uint64(4)
    t |= nib >> np.uint64(8)
    t &= np.uint64(0x00FF00FF00FF00FF)
    t |= t >> np.uint64(8)
    t &= np.uint64(0x0000FFFF0000FFFF)
    t |= t >> np.uint64(16)
    return t.astype("<u4")  # the low 32 bits


def _pack_value(nib: np.ndarray) -> np.ndarray:
    """The number whose hex digits are the bytes of ``nib``, the last byte least significant."""
    v = nib.byteswap()
    v |= v >> np.uint64(4)
    v &= np.uint64(0x00FF00FF00FF00FF)
    v |= v >> np.uint64(8)
    v &= np.uint64(0x0000FFFF0000FFFF)
    v |= v >> np.uint64(16)
    v &= np.uint64(0xFFFFFFFF)
    return v


def read_log_bytes(path: str | Path) -> np.ndarray:
    """A text log as UTF-8 bytes at ``PAD`` in a buffer of filler (:func:`log_bytes`), read straight into
    place when the file is UTF-8."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(GUESS_BYTES)
        codec, _, bom = text_encoding(head, path)
        if codec != "utf-8":
            return log_bytes(to_utf8(head + f.read(), path))
        size = path.stat().st_size - bom
        data = np.full(size + 2 * PAD, PUNCTUATION_BELOW, dtype=np.uint8)
        f.seek(bom)
        if f.readinto(memoryview(data)[PAD:PAD + size]) != size:
            raise OSError(f"{path}: the file changed while it was read")
    return _end_last_line(data)


def log_bytes(raw: bytes) -> np.ndarray:
    """UTF-8 text at ``PAD`` in a buffer with ``PAD`` filler bytes (``'0'``, not punctuation) on each side,
    so that every 8-, 16- or 24-byte gather at a field stays inside it."""
    data = np.full(len(raw) + 2 * PAD, PUNCTUATION_BELOW, dtype=np.uint8)
    data[PAD:PAD + len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    return _end_last_line(data)


def _end_last_line(data: np.ndarray) -> np.ndarray:
    """A final line without a newline still counts: a newline is written in the filler after it."""
    end = len(data) - PAD
    if end > PAD and data[end - 1] != ord("\n"):
        data[end] = ord("\n")
    return data


def first_line(data: np.ndarray) -> bytes:
    """The first line of a log (:func:`read_log_bytes`), a trailing ``\\r`` stripped: a header to check."""
    stop = min(_after_newline(data, PAD) - 1, len(data) - PAD)
    line = data[PAD:stop].tobytes()
    return line[:-1] if line.endswith(b"\r") else line


def _after_newline(data: np.ndarray, pos: int) -> int:
    """The position after the first newline at or after ``pos`` (the end of ``data`` if there is none)."""
    while pos < len(data):
        hit = np.flatnonzero(data[pos:pos + 4096] == ord("\n"))
        if len(hit):
            return pos + int(hit[0]) + 1
        pos += 4096
    return len(data)


_TOP_PAIR = np.uint64(0xFFFF000000000000)
_COMMAS = _rep(ord(","))


def _separator_masks() -> np.ndarray:
    """_SEPARATORS[k]: the bytes (3 words of 8) that separate k two-digit fields ``7F,84,...,`` at 3-byte steps."""
    masks = np.zeros((9, 3), dtype=np.uint64)
    for k in range(9):
        for field in range(k):
            offset = 3 * field + 2
            masks[k, offset // 8] |= np.uint64(0xFF << (8 * (offset % 8)))
    return masks


_SEPARATORS = _separator_masks()


def hex_bytes(words: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hex text of ``length`` (0..16, even) characters held in two words per row (``(n, 2)`` uint64, the
    first character in the lowest byte) to bytes: (payload (n, 8) uint8, dlc = length / 2, ok)."""
    ok = (length >= 0) & (length <= 16) & (length % 2 == 0)
    packed = np.empty((len(length), 2), dtype="<u4")
    for half in range(2):
        word = words[:, half]
        keep = LOW_BYTES[np.clip(length - 8 * half, 0, 8)]
        ok &= ~_not_all(hex_digit_bits(word), keep)
        nib = nibbles(word)
        nib &= keep
        packed[:, half] = _pack_pairs(nib)
    dlc = np.where(ok, length // 2, 0).astype(np.uint8)
    return packed.view(np.uint8).reshape(-1, 8), dlc, ok


class TextBuffer:
    """One chunk of a text log: its lines and the punctuation of each line.

    ``data`` is the whole log (:func:`read_log_bytes`); the chunk is ``data[lo:hi]``, whole lines only,
    and its line ``i`` is line ``first_line + i`` of the log (0-based: physical line ``first_line + i + 1``).
    Positions are indices into ``data``.  Line ``i`` runs from ``line_start[i]`` to ``line_stop[i]``
    (a trailing ``\\r`` excluded, as the general path strips it).  Its punctuation is
    ``punct[first[i] : first[i] + count[i]]`` (positions) with the bytes ``kind``, the newline excluded.
    """

    def __init__(self, data: np.ndarray, lo: int = PAD, hi: int | None = None, first_line: int = 0):
        hi = len(data) if hi is None else hi
        self.data, self.lo, self.hi, self.first_line = data, lo, hi, first_line
        self.u16 = np.ndarray((len(data) - 1,), dtype="<u2", buffer=data, strides=(1,))
        self.u32 = np.ndarray((len(data) - 3,), dtype="<u4", buffer=data, strides=(1,))
        self.u64 = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))

        punct = np.flatnonzero(data[lo:hi] < PUNCTUATION_BELOW)
        punct += lo
        cr = np.flatnonzero(data[punct] == ord("\r"))
        if len(cr):  # CRLF: a \r right before the newline ends its line, it is not punctuation of the line
            line_cr = np.zeros(len(punct), dtype=bool)
            line_cr[cr[data[punct[cr] + 1] == ord("\n")]] = True
            punct = punct[~line_cr]
        # the bytes of the punctuation, and 8 more that match nothing: a line's first 8 are read as one word
        kind = np.full(len(punct) + 8, 0xFF, dtype=np.uint8)
        np.take(data, punct, out=kind[:len(punct)])
        newline = np.flatnonzero(kind == ord("\n"))
        line_end = punct[newline]
        self.line_start = np.concatenate(([lo], line_end[:-1] + 1)).astype(np.int64)[: len(line_end)]
        has_cr = (line_end > self.line_start) & (data[line_end - 1] == ord("\r"))
        self.line_stop = line_end - has_cr
        self.first = np.concatenate(([0], newline[:-1] + 1)).astype(np.int64)[: len(newline)]
        self.count = newline - self.first
        self.punct, self.kind = punct, kind[:len(punct)]
        self._kind_words = np.ndarray((len(kind) - 7,), dtype="<u8", buffer=kind, strides=(1,))

    @classmethod
    def chunks(cls, data: np.ndarray, size: int | None = None) -> Iterator[TextBuffer]:
        """The log in chunks of about ``size`` bytes, each ending after a newline: their arrays stay in the
        CPU cache (the decoding is memory-bound) and small enough to be reused, not paged in afresh."""
        size = size or CHUNK_BYTES
        lo, first_line = PAD, 0
        while lo < len(data) - PAD:
            hi = _after_newline(data, lo + size) if lo + size < len(data) - PAD else len(data)
            text = cls(data, lo, hi, first_line)
            yield text
            lo, first_line = hi, first_line + text.n_lines

    @property
    def n_lines(self) -> int:
        return len(self.line_start)

    def match(self, pattern: bytes, lines: np.ndarray, prefix: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """(lines whose punctuation is exactly ``pattern``, or starts with it if ``prefix``; the position of
        each byte of ``pattern`` in them).  The positions (one array per byte of ``pattern``, at most 7)
        are meaningful only where the mask is True.

        A line's first 8 punctuation bytes are compared as one word with the pattern, followed by its
        newline unless ``prefix``: a line with more or fewer punctuation bytes differs in that word.
        """
        wanted = pattern if prefix else pattern + b"\n"
        if len(wanted) > 8:
            raise ValueError(f"a punctuation pattern has at most 7 bytes (8 with prefix=True): {pattern!r}")
        word = int.from_bytes(wanted, "little")
        first = self.first[lines]
        regular = (self._kind_words[first] & LOW_BYTES[len(wanted)]) == np.uint64(word)
        return regular, [np.take(self.punct, first + j, mode="clip") for j in range(len(pattern))]

    def line_bytes(self, line: int) -> bytes:
        return self.data[self.line_start[line]:self.line_stop[line]].tobytes()

    def views(self, start: np.ndarray, stop: np.ndarray) -> pa.Array:
        """The fields ``data[start:stop]`` as an Arrow binary-view array pointing into the buffer (no copy).

        A view is 16 bytes: the length, then for a field over 12 bytes its first 4 bytes, buffer 0 and
        its offset; for a shorter one its bytes inline, zero-padded.
        """
        start = np.asarray(start, dtype=np.int64)
        length = np.maximum(np.asarray(stop, dtype=np.int64) - start, 0)
        view = np.empty((len(start), 2), dtype="<u8")
        prefix = self.u32[start].astype(np.uint64)
        long_ = length > 12
        offset = (start - self.lo).astype(np.uint64) << np.uint64(32)  # buffer 0 in the low half
        if long_.all():
            rest = offset
        else:
            prefix &= LOW_BYTES[np.minimum(length, 4)]
            inline = self.u64[start + 4] & LOW_BYTES[np.clip(length - 4, 0, 8)]
            rest = np.where(long_, offset, inline)
        prefix <<= np.uint64(32)
        prefix |= length.astype(np.uint64)
        view[:, 0], view[:, 1] = prefix, rest
        chunk = pa.py_buffer(self.data[self.lo:self.hi])  # offsets from the chunk's start: int32 suffices
        return pa.Array.from_buffers(pa.binary_view(), len(start), [None, pa.py_buffer(view), chunk])

    def lines(self, lines: np.ndarray) -> pa.Array:
        """The text of ``lines`` as a large_binary array, for the general reader."""
        lines = np.asarray(lines, dtype=np.int64)
        if len(lines) == 0:
            return pa.array([], pa.large_binary())
        return self.views(self.line_start[lines], self.line_stop[lines]).cast(pa.large_binary())

    def decimal(self, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decimal fields to float64 with the general path's rule (:func:`parse_float`): (values, ok)."""
        views = self.views(start, stop)
        try:
            values = pc.cast(views, pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # some field is not a number: find which, as the general path does
            return parse_float(views.cast(pa.large_binary()))
        return values, np.isfinite(values)

    def timestamp(self, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Timestamp fields: :meth:`decimal`, ok only where the general path keeps the value too (a time
        :func:`canguard.ingest.timestamps.in_range`; any other goes to the general path, which says why)."""
        values, ok = self.decimal(start, stop)
        return values, ok & in_range(values)

    def can_id(self, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fields of 1 to 8 hex digits to CAN IDs: (uint32, ok); ok is False for other lengths, non-hex bytes
        and values over 0x1FFFFFFF, as in :func:`canguard.ingest.hexcodec.decode_hex_id`."""
        stop = np.asarray(stop, dtype=np.int64)
        length = stop - start
        word = self.u64[stop - 8]  # right-aligned: the field is the top bytes
        keep = ~LOW_BYTES[8 - np.clip(length, 0, 8)]
        ok = (length >= 1) & (length <= 8) & ~_not_all(hex_digit_bits(word), keep)
        nib = nibbles(word)
        nib &= keep
        value = _pack_value(nib)
        return value.astype(np.uint32), ok & (value <= 0x1FFFFFFF)

    def hex_payload(self, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fields of 0 to 16 hex digits (even count) to payload bytes: (payload (n, 8) uint8, dlc, ok)."""
        start = np.asarray(start, dtype=np.int64)
        length = np.asarray(stop, dtype=np.int64) - start
        words = np.stack([self.u64[start], self.u64[start + 8]], axis=1)
        return hex_bytes(words, length)

    def byte_list(self, start: np.ndarray, n_bytes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``n_bytes`` (0..8) two-digit fields, each followed by a comma (``7F,84,69,``), from ``start``: the
        16 characters of one hex payload (``7F8469``) for :func:`hex_bytes`, and whether each comma is there.

        The 24 bytes from ``start`` are gathered as three words; the pairs at offsets 0, 3, 6, ... 21 are
        moved together with shifts and masks, and the separators at offsets 2, 5, ... checked in place.
        """
        start = np.asarray(start, dtype=np.int64)
        a, b, c = self.u64[start], self.u64[start + 8], self.u64[start + 16]
        pairs = np.empty((len(start), 2), dtype="<u8")
        pairs[:, 0] = ((a & np.uint64(0xFFFF)) | ((a >> np.uint64(8)) & np.uint64(0xFFFF0000))
                       | ((a >> np.uint64(16)) & np.uint64(0xFFFF00000000)) | ((b << np.uint64(40)) & _TOP_PAIR))
        pairs[:, 1] = (((b >> np.uint64(32)) & np.uint64(0xFFFF)) | ((b >> np.uint64(40)) & np.uint64(0xFF0000))
                       | ((c & np.uint64(0xFF)) << np.uint64(24))
                       | ((c << np.uint64(16)) & np.uint64(0xFFFF00000000)) | ((c << np.uint64(8)) & _TOP_PAIR))
        k = np.clip(n_bytes, 0, 8)
        separators_ok = (((a ^ _COMMAS) & _SEPARATORS[k, 0]) | ((b ^ _COMMAS) & _SEPARATORS[k, 1])
                         | ((c ^ _COMMAS) & _SEPARATORS[k, 2])) == 0
        return pairs, separators_ok


def read_regular_lines(data: np.ndarray, read_rows, skip_lines: int = 0
                       ) -> tuple[Frames, np.ndarray, pa.Array, np.ndarray]:
    """The fast path over a whole log, chunk by chunk: ``read_rows(text, lines)`` -> (frames, kept lines).

    Returns the kept frames with their 1-based line numbers, and the text and line numbers of every
    other line (after the first ``skip_lines``, e.g. a header) for the general reader.
    """
    frames, kept, rest_text, rest_line = [], [], [], []
    for text in TextBuffer.chunks(data):
        lines = np.arange(max(skip_lines - text.first_line, 0), text.n_lines)
        bounded = text.line_stop[lines] - text.line_start[lines] <= MAX_LINE_BYTES  # a longer one: rejected there
        chunk_frames, chunk_kept = read_rows(text, lines if bounded.all() else lines[bounded])
        rest = other_lines(lines, chunk_kept)
        frames.append(chunk_frames)
        kept.append(chunk_kept + text.first_line + 1)
        rest_text.append(text.lines(rest))
        rest_line.append(rest + text.first_line + 1)
    if not frames:
        return Frames.empty(), np.empty(0, np.int64), pa.array([], pa.large_binary()), np.empty(0, np.int64)
    return (Frames.concat(frames), np.concatenate(kept), pa.concat_arrays(rest_text), np.concatenate(rest_line))


def select(mask: np.ndarray, *columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """The rows of each column where ``mask`` holds (the columns themselves when it holds everywhere)."""
    if mask.all():
        return columns
    return tuple(column[mask] for column in columns)


def other_lines(lines: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """The entries of ``lines`` not in ``taken`` (a subset of it), in order: what the general reader gets."""
    if len(taken) == 0:
        return lines
    left = np.ones(int(lines.max()) + 1, dtype=bool)
    left[taken] = False
    return lines[left[lines]]


def combine(fmt: str, fast: Frames, fast_line: np.ndarray, general: ReadResult, header_lines: int = 0) -> ReadResult:
    """One file's result from the lines kept by the fast path and the general reader's result on the rest.

    Frames are in line order; the rejects are the general reader's.
    """
    if len(general.frames) == 0:
        frames, line = fast, fast_line
    else:
        line = np.concatenate([fast_line, general.line])
        order = np.argsort(line, kind="stable")
        frames, line = Frames.concat([fast, general.frames]).take(order), line[order]
    return ReadResult(fmt, frames, line, general.rejects, header_lines=header_lines)


__all__ = [
    "TextBuffer", "read_log_bytes", "log_bytes", "first_line", "read_regular_lines", "select", "other_lines",
    "combine", "hex_bytes", "hex_digit_bits", "nibbles", "LOW_BYTES", "PAD", "CHUNK_BYTES",
]
