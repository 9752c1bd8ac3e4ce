"""Fuzzed input for every reader: nothing lost, nothing silently wrong (make test-faults).

Every reader, given anything, either refuses the file with a NotCanDataError naming it, or accounts for
every data line exactly once: ``rows_read == kept + rejected``, kept and rejected line numbers are
disjoint, lie within the file, and with the header lines cover all of its lines (for BLF: the message
indexes 1..rows_read).  Lines generated valid are kept with their values and frame type; a file in
UTF-16/UTF-32 or with a byte-order mark reads as its UTF-8 version; readers are linear in bad lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import can
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from canguard.frames import FRAME_DATA, FRAME_FD, FRAME_REMOTE
from canguard.ingest.candump import read_candump
from canguard.ingest.cantt import HEADER as CANTT_HEADER
from canguard.ingest.cantt import read_cantt_csv
from canguard.ingest.detect import read_any
from canguard.ingest.hcrl_ch import read_hcrl_ch_csv, read_hcrl_ch_txt
from canguard.ingest.lines import split_lines, to_utf8
from canguard.ingest.pythoncan import read_asc, read_blf, read_trc
from canguard.ingest.result import NotCanDataError, ReadResult

pytestmark = pytest.mark.faults

TEXT_READERS: dict[str, Callable[[Path], ReadResult]] = {
    "candump": read_candump,
    "cantt_csv": read_cantt_csv,
    "hcrl_ch_csv": read_hcrl_ch_csv,
    "hcrl_ch_txt": read_hcrl_ch_txt,
    "asc": read_asc,
    "trc": read_trc,
}
ALL_READERS = TEXT_READERS | {"blf": read_blf, "auto": read_any}

HEADERS = {
    "cantt_csv": CANTT_HEADER + "\n",
    "asc": "date Tue Nov 14 22:13:20.123 2023\nbase hex  timestamps absolute\ninternal events logged\n"
           "Begin Triggerblock Tue Nov 14 22:13:20.123 2023\n 0.000000 Start of measurement\n",
    "trc": ";$FILEVERSION=1.1\n;$STARTTIME=45000.5\n;\n;   Start time: 14.11.2023 22:13:20.123.0\n",
}
def fuzz(examples: int) -> settings:
    """Hypothesis settings of a fuzz test: ``examples`` files, no per-example deadline (2 shared cores)."""
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- the property ------------------------------------------------------------------------------

def n_lines(path: Path) -> int:
    return len(split_lines(to_utf8(path.read_bytes())))


def assert_accounted(result: ReadResult, path: Path) -> None:
    kept, rejected = result.line.tolist(), result.rejects["line"].to_pylist()
    assert result.rows_read == len(kept) + len(rejected)
    every = kept + rejected
    assert len(set(every)) == len(every), "a line is kept or rejected twice"
    if result.format == "blf":
        assert sorted(every) == list(range(1, result.rows_read + 1)) and result.header_lines == 0
    else:
        n = n_lines(path)
        assert all(1 <= line <= n for line in every)
        assert result.header_lines >= 0 and result.header_lines + result.rows_read == n
    assert all(result.rejects["reason"].to_pylist()), "a reject without a reason"
    f = result.frames
    assert f.padding_is_zero() and np.all(f.dlc <= 8)
    assert set(f.frame_type.tolist()) <= {FRAME_DATA, FRAME_REMOTE, FRAME_FD}
    assert not f.payload[f.frame_type == FRAME_REMOTE].any()


def read_checked(reader, path: Path) -> ReadResult | None:
    """The reader's result, accounted for; None where it refused the file with an error naming it."""
    try:
        result = reader(path)
    except NotCanDataError as exc:
        assert str(path) in str(exc)
        return None
    assert_accounted(result, path)
    return result


# --- line generators: (text, expected (can_id, dlc, payload, frame_type) or None) -------------

timestamps = st.floats(0, 2e9, allow_nan=False).map(lambda t: f"{t:.6f}")
# no NUL: a text of NULs could pass for UTF-16 without a mark (random bytes test NULs)
garbage = st.text(st.characters(exclude_characters="\n\0", exclude_categories=("Cs",)), max_size=60)


def hexs(data: bytes, upper: bool, sep: str = "") -> str:
    return sep.join(f"{b:02X}" if upper else f"{b:02x}" for b in data)


@st.composite
def frame(draw, kinds=("data", "remote", "fd")) -> tuple[str, bool, int, bytes, int]:
    """(kind, extended, can_id, data, requested length of a remote frame)."""
    kind = draw(st.sampled_from(kinds))
    extended = draw(st.booleans())
    can_id = draw(st.integers(0, 0x1FFFFFFF if extended else 0x7FF))
    data = b"" if kind == "remote" else draw(st.binary(max_size=8))
    return kind, extended, can_id, data, draw(st.integers(0, 8))


def expected(kind: str, can_id: int, data: bytes, length: int) -> tuple:
    code = {"data": FRAME_DATA, "remote": FRAME_REMOTE, "fd": FRAME_FD}[kind]
    return can_id, length if kind == "remote" else len(data), data.ljust(8, b"\0"), code


@st.composite
def candump_line(draw):
    kind, ext, can_id, data, length = draw(frame())
    up = draw(st.booleans())
    ident = f"{can_id:08X}" if ext else f"{can_id:03X}"
    body = {"data": "#" + hexs(data, up),
            "remote": "#R" + ("" if length == 0 and draw(st.booleans()) else str(length)),
            "fd": f"##{draw(st.integers(0, 15)):X}" + hexs(data, up)}[kind]
    iface = draw(st.sampled_from(["can0", "vcan0", "slcan12"]))
    return f"({draw(timestamps)}) {iface} {ident}{body}", expected(kind, can_id, data, length)


@st.composite
def cantt_line(draw):
    _, _, can_id, data, _ = draw(frame(("data",)))
    return (f"{draw(timestamps)},{can_id:03x},{hexs(data, draw(st.booleans()))},{draw(st.integers(0, 1))}",
            expected("data", can_id, data, 0))


@st.composite
def hcrl_csv_line(draw):
    _, _, can_id, data, _ = draw(frame(("data",)))
    listed = data.ljust(8, b"\0") if draw(st.booleans()) else data  # the all-8-bytes-listed quirk
    fields = [draw(timestamps), f"{can_id:04x}", str(len(data)), *[f"{b:02x}" for b in listed]]
    return ",".join(fields + [draw(st.sampled_from("RT"))]), expected("data", can_id, data, 0)


@st.composite
def hcrl_txt_line(draw):
    _, _, can_id, data, _ = draw(frame(("data",)))
    text = f"Timestamp: {draw(timestamps)}        ID: {can_id:04x}    000    DLC: {len(data)}    "
    return (text + hexs(data, False, " ")).rstrip(), expected("data", can_id, data, 0)


@st.composite
def asc_line(draw):
    kind, ext, can_id, data, length = draw(frame())
    t = f"{draw(st.floats(0, 1e5, allow_nan=False)):.6f}"
    ident = f"{can_id:X}x" if ext else f"{can_id:X}"
    if kind == "fd":
        text = f" {t} CANFD   1 Rx  {ident}  1 0 {len(data):x} {len(data)} {hexs(data, True, ' ')}  0 0 1000 0 0 0 0 0"
    elif kind == "remote":
        text = f" {t} 1  {ident}  Rx   r {length:x}"
    else:
        text = f" {t} 1  {ident}  Rx   d {len(data):x} {hexs(data, True, ' ')}"
    return text, expected(kind, can_id, data, length)


@st.composite
def trc_line(draw):
    kind, ext, can_id, data, length = draw(frame(("data", "remote")))
    ident = f"{can_id:08X}" if ext else f"{can_id:04X}"
    tail = f"{length}  RTR" if kind == "remote" else f"{len(data)}  {hexs(data, True, ' ')}"
    number, t = draw(st.integers(1, 10**6)), draw(st.floats(0, 1e6, allow_nan=False))
    return f"{number:>7})  {t:12.1f}  Rx  {ident:>12}  {tail}", expected(kind, can_id, data, length)


VALID = {"candump": candump_line(), "cantt_csv": cantt_line(), "hcrl_ch_csv": hcrl_csv_line(),
         "hcrl_ch_txt": hcrl_txt_line(), "asc": asc_line(), "trc": trc_line()}
any_valid = st.one_of(*VALID.values()).map(lambda line: (line[0], None))  # valid somewhere: no promise here
cut_valid = st.tuples(any_valid, st.integers(0, 80)).map(lambda x: (x[0][0][: x[1]], None))
other = st.one_of(garbage, st.just(""), st.sampled_from(["//", "date x", ";", "End TriggerBlock", "#", "R", ","]))
unknown = st.one_of(other.map(lambda s: (s, None)), any_valid, cut_valid)


@st.composite
def log_file(draw, fmt: str, valid_share: int = 3) -> tuple[str, dict[int, tuple]]:
    """A log of format ``fmt``: its header, then valid lines mixed with garbage; and the valid ones by line."""
    header = HEADERS.get(fmt, "")
    lines = draw(st.lists(st.one_of(*[VALID[fmt]] * valid_share, unknown), max_size=40))
    if fmt == "asc" and draw(st.booleans()):
        lines.append(("End TriggerBlock", None))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = header.replace("\n", end) + end.join(t for t, _ in lines) + (end if draw(st.booleans()) else "")
    first = header.count("\n") + 1
    return text, {first + i: e for i, (_, e) in enumerate(lines) if e is not None}


def summary(result: ReadResult | None):
    if result is None:
        return None
    f = result.frames
    return (result.format, result.line.tolist(), f.can_id.tolist(), f.dlc.tolist(), f.payload.tolist(),
            f.frame_type.tolist(), result.rejects["line"].to_pylist(), result.header_lines)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --- random bytes ------------------------------------------------------------------------------

PREFIXES = [b"", b"LOGG", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"+/v8",
            *[h.encode() for h in HEADERS.values()], b"(1.0) can0 123#01\n", b"Timestamp: 1.0 ID: 0123 000 DLC: 0\n"]


@fuzz(200)
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=1500))
def test_random_bytes(work, prefix, body):
    path = work / "random.bin"
    path.write_bytes(prefix + body)
    for reader in ALL_READERS.values():
        read_checked(reader, path)


# --- valid lines mixed with garbage, in any encoding -------------------------------------------

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-32", "utf-16-be-bom"]


def encode(text: str, encoding: str) -> bytes:
    return b"\xfe\xff" + text.encode("utf-16-be") if encoding == "utf-16-be-bom" else text.encode(encoding)


@pytest.mark.parametrize("fmt", list(TEXT_READERS))
@fuzz(80)
@given(data=st.data())
def test_valid_lines_mixed_with_garbage_in_any_encoding(work, fmt, data):
    text, valid = data.draw(log_file(fmt))
    encoding = data.draw(st.sampled_from(ENCODINGS))
    assume(not text.startswith(("+/v8", "+/v9", "+/v+", "+/v/")))  # the UTF-7 byte-order mark
    plain, encoded = work / f"{fmt}.plain", work / f"{fmt}.encoded"
    plain.write_bytes(text.encode("utf-8"))
    encoded.write_bytes(encode(text, encoding))
    result = read_checked(TEXT_READERS[fmt], plain)
    if valid:
        assert result is not None, "a file with valid lines was refused"
        got = {line: (int(i), int(d), bytes(p), int(k)) for line, i, d, p, k in zip(
            result.line, result.frames.can_id, result.frames.dlc, result.frames.payload, result.frames.frame_type)}
        for line, want in valid.items():
            assert got.get(line) == want, (line, text.splitlines()[line - 1])
    assert summary(read_checked(TEXT_READERS[fmt], encoded)) == summary(result)
    read_checked(read_any, encoded)


@fuzz(150)
@given(header=st.sampled_from(["", *HEADERS.values()]), lines=st.lists(unknown, max_size=40))
def test_mixed_formats_in_one_file(work, header, lines):
    path = work / "mixed.log"
    path.write_text(header + "\n".join(t for t, _ in lines) + "\n")
    for reader in ALL_READERS.values():
        read_checked(reader, path)


# --- huge lines --------------------------------------------------------------------------------

HUGE = 1 << 20


def huge_lines(fmt: str) -> list[str]:
    """Lines of about 1 MB each that a reader has to reject (or, for ASC/TRC, skip) in one piece."""
    junk = ["x" * HUGE, "0" * HUGE, "," * HUGE, " " * HUGE]
    return junk + {
        "candump": ["(1.0) can0 123#" + "00" * (HUGE // 2), "(1.0) can0 123##1" + "AB" * (HUGE // 2)],
        "cantt_csv": ["1.0,123," + "00" * (HUGE // 2) + ",0"],
        "hcrl_ch_csv": ["1.0,0123,8" + ",00" * (HUGE // 3) + ",R"],
        "hcrl_ch_txt": ["Timestamp: 1.0        ID: 0123    000    DLC: 8" + " 00" * (HUGE // 3)],
        "asc": [" 0.100000 1  123  Rx   d 8" + " 00" * (HUGE // 3)],
        "trc": ["      9)  1.0  Rx  0123  8" + " 00" * (HUGE // 3)],
    }[fmt]


GOOD = {
    "candump": "(1436509052.249713) vcan0 044#2A366C2BBA",
    "cantt_csv": "1513921815.350702,081,7F84690000000069,0",
    "hcrl_ch_csv": "1478198376.389427,0316,8,05,21,68,09,21,21,00,6f,R",
    "hcrl_ch_txt": "Timestamp: 1479121434.850202        ID: 0350    000    DLC: 8    05 28 84 66 6d 00 00 a2",
    "asc": " 0.001000 1  123             Rx   d 2 01 02",
    "trc": "      1)         1.0  Rx         0123  2  01 02",
}


@pytest.mark.parametrize("fmt", list(TEXT_READERS))
def test_huge_single_lines(work, fmt):
    header = HEADERS.get(fmt, "")
    body = [GOOD[fmt]]
    for line in huge_lines(fmt):
        body += [line, GOOD[fmt]]
    path = work / f"huge.{fmt}"
    path.write_text(header + "\n".join(body) + "\n")
    first = header.count("\n") + 1
    for reader in (TEXT_READERS[fmt], read_any):
        result = read_checked(reader, path)
        assert result is not None and result.format == fmt
        good = [first + i for i, line in enumerate(body) if line == GOOD[fmt]]
        assert set(good) <= set(result.line.tolist())
    one_line = work / f"one_line.{fmt}"  # a single 1 MB line and nothing else: refused or rejected
    one_line.write_text(header + "y" * HUGE)
    for reader in (TEXT_READERS[fmt], read_any):
        result = read_checked(reader, one_line)
        assert result is None or len(result.frames) == 0


# --- BLF: cut, corrupted, with garbage appended --------------------------------------------------

@st.composite
def blf_message(draw) -> can.Message:
    kind, ext, can_id, data, length = draw(frame(("data", "remote", "fd", "error", "long fd")))
    t = 1.7e9 + draw(st.floats(0, 1e4, allow_nan=False))
    if kind == "error":
        return can.Message(timestamp=t, is_error_frame=True, arbitration_id=0)
    if kind == "remote":
        return can.Message(timestamp=t, arbitration_id=can_id, is_extended_id=ext, is_remote_frame=True, dlc=length)
    if kind == "long fd":
        data = bytes(draw(st.sampled_from([12, 16, 20, 24, 32, 48, 64])))
    return can.Message(timestamp=t, arbitration_id=can_id, is_extended_id=ext, is_fd=kind != "data", data=data)


def write_blf(path: Path, messages: list[can.Message], compression: int) -> bytes:
    writer = can.BLFWriter(str(path), compression_level=compression)
    for msg in messages:
        writer.on_message_received(msg)
    writer.stop()
    return path.read_bytes()


@fuzz(150)
@given(messages=st.lists(blf_message(), min_size=1, max_size=60), compression=st.sampled_from([0, 6]),
       cut=st.floats(0, 1), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), max_size=4),
       tail=st.binary(max_size=64))
def test_blf_cut_corrupted_or_with_garbage(work, messages, compression, cut, flips, tail):
    path = work / "fuzz.blf"
    raw = bytearray(write_blf(path, messages, compression))
    full = len(raw)
    cut_at = int(cut * full)
    path.write_bytes(raw[:cut_at])
    result = read_checked(read_blf, path)
    if result is not None and cut_at < full:  # a cut file is never read as whole
        reasons = result.rejects["reason"].to_pylist()
        assert any(r.startswith(f"truncated BLF: data ends at byte {cut_at} of ") for r in reasons), reasons
    for where, mask in flips:
        raw[min(int(where * full), full - 1)] ^= mask
    path.write_bytes(bytes(raw) + tail)
    read_checked(read_blf, path)
    read_checked(read_any, path)


# --- linear cost -------------------------------------------------------------------------------

def bad_lines_file(fmt: str, n: int) -> str:
    """A file of ``fmt`` holding one good line and ``n`` bad ones of several kinds."""
    bad = {
        "asc": [" 0.0020 1  XYZ  Rx  d 2 01 02", "garbage {i}", ""],  # python-can raises / skips
        "trc": ["      2)         abc  Rx         0123  2  01 02", "garbage {i}", ""],
    }.get(fmt, ["bad line {i} ,,#x", "(1.0) can0 1234#0{i}", "1.0,0123,9,{i},R", ""])
    body = "\n".join(bad[i % len(bad)].format(i=i) for i in range(n))
    return HEADERS.get(fmt, "") + GOOD[fmt] + "\n" + body + "\n"


def seconds_per_line(work: Path, fmt: str, reader, n: int, repeat: int) -> float:
    path = work / f"linear_{fmt}_{n}.log"
    path.write_text(bad_lines_file(fmt, n))
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = reader(path)
        best = min(best, time.perf_counter() - start)
    assert result.rejects.num_rows >= n * 2 // 3
    return best / n


@pytest.mark.parametrize("fmt", list(TEXT_READERS))
def test_cost_is_linear_in_bad_lines(work, fmt):
    n = 3_000 if fmt in ("asc", "trc") else 20_000  # python-can parses in Python: smaller files
    small = seconds_per_line(work, fmt, TEXT_READERS[fmt], n, repeat=3)
    large = seconds_per_line(work, fmt, TEXT_READERS[fmt], 10 * n, repeat=2)
    assert large < 3 * small, f"{fmt}: {large * 1e6:.2f} us per line at {10 * n} lines, {small * 1e6:.2f} at {n}"


def test_blf_cost_is_linear_in_rejected_messages(work):
    def per_message(n: int, repeat: int) -> float:
        messages = [can.Message(timestamp=1.7e9 + i, is_error_frame=True) for i in range(n)]
        path = work / f"linear_{n}.blf"
        write_blf(path, messages + [can.Message(timestamp=1.8e9, arbitration_id=1, data=b"\x01")], 6)
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            assert read_blf(path).rejects.num_rows == n
            best = min(best, time.perf_counter() - start)
        return best / n

    small, large = per_message(2_000, 3), per_message(20_000, 2)
    assert large < 3 * small, f"{large * 1e6:.2f} us per message at 20000, {small * 1e6:.2f} at 2000"
