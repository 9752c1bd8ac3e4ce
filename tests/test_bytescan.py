"""The byte-level fast path keeps exactly what the general reader keeps, with the same values.

Each text reader reads regular lines with word arithmetic (:mod:`canguard.ingest.bytescan`) and hands
every other line to its general path (Arrow strings and regular expressions).  Here both are compared:
the reader on a file against the general path alone on all of its lines, on real hcrl_sa messages
written in each format, with lines mutated byte by byte and with the spellings the fast path leaves to
the general one.  Chunks are made small so that lines on both sides of a chunk boundary are covered.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from canguard.frames import Frames
from canguard.ingest import bytescan
from canguard.ingest.bytescan import TextBuffer, log_bytes
from canguard.ingest.candump import read_candump
from canguard.ingest.cantt import read_cantt_csv
from canguard.ingest.detect import read_general_path
from canguard.ingest.hcrl_ch import read_hcrl_ch_csv
from canguard.ingest.hexcodec import decode_hex_id, decode_hex_payload
from canguard.ingest.lines import parse_float, read_lines
from canguard.ingest.result import NotCanDataError, ReadResult

FIELD_BYTES = b"0123456789abcdefABCDEFxXgGzZeEnNaRT_~\x7f\xc3\xa9"


# --- the decoders against the general path's ------------------------------------------------------

def _fields(rng: np.random.Generator, n: int, max_len: int, alphabet: bytes) -> list[bytes]:
    out = []
    for _ in range(n):
        length = int(rng.integers(0, max_len + 1))
        out.append(bytes(rng.choice(np.frombuffer(alphabet, np.uint8), length)))
    return out


def _text_of(fields: list[bytes]) -> tuple[TextBuffer, np.ndarray, np.ndarray]:
    """A buffer holding one field per line, and each field's start and stop."""
    text = TextBuffer(log_bytes(b"".join(f + b"\n" for f in fields)))
    return text, text.line_start, text.line_stop


@pytest.mark.parametrize("alphabet", [b"0123456789abcdefABCDEF", FIELD_BYTES])
def test_hex_decoders_agree_with_the_general_path(alphabet):
    rng = np.random.default_rng(7)
    fields = _fields(rng, 4000, 18, alphabet)
    text, start, stop = _text_of(fields)
    general = pa.array(fields, pa.large_binary())

    value, ok = text.can_id(start, stop)
    ref_value, ref_ok = decode_hex_id(general)
    assert ok.any() and not ok.all()
    np.testing.assert_array_equal(ok, ref_ok)
    np.testing.assert_array_equal(value[ok], ref_value[ok])

    payload, dlc, ok = text.hex_payload(start, stop)
    ref_payload, ref_dlc, ref_ok = decode_hex_payload(general)
    assert ok.any() and not ok.all()
    np.testing.assert_array_equal(ok, ref_ok)
    np.testing.assert_array_equal(dlc, ref_dlc)
    np.testing.assert_array_equal(payload[ok], ref_payload[ok])


def test_decimal_agrees_with_the_general_path():
    rng = np.random.default_rng(11)
    fields = _fields(rng, 3000, 24, b"0123456789.eE") + [
        b"1513921815.350702", b"0.1", b"5.", b"1e5", b"1.5e3", b"1e500", b"nan", b"inf", b"00012", b"9" * 40,
    ]
    text, start, stop = _text_of(fields)
    values, ok = text.decimal(start, stop)
    ref_values, ref_ok = parse_float(pa.array(fields, pa.large_binary()))
    assert ok.any() and not ok.all()
    np.testing.assert_array_equal(ok, ref_ok)
    np.testing.assert_array_equal(values[ok], ref_values[ok])  # bit for bit: the same conversion


def test_byte_list_moves_the_pairs_together_and_checks_the_commas():
    text = TextBuffer(log_bytes(b"7F,84,69,00,a1,B2,c3,D4,R\n01,02,T\n01;02,T\n"))
    pairs, commas_ok = text.byte_list(text.line_start, np.array([8, 2, 2]))
    assert pairs[0].tobytes() == b"7F846900a1B2c3D4"
    assert pairs[1].tobytes()[:4] == b"0102"
    assert commas_ok.tolist() == [True, True, False]


def test_lines_and_their_punctuation():
    text = TextBuffer(log_bytes(b"a,b\r\n\nc.d\rx\r\ne"))
    assert text.n_lines == 4
    assert [text.data[a:b].tobytes() for a, b in zip(text.line_start, text.line_stop)] == [
        b"a,b", b"", b"c.d\rx", b"e"]
    assert text.count.tolist() == [1, 0, 2, 0]  # the \r inside line 3 is punctuation, the one ending line 1 not
    assert bytescan.first_line(log_bytes(b"head\r\nbody\n")) == b"head"
    assert bytescan.first_line(log_bytes(b"")) == b""


# --- whole readers: fast path + general path == general path alone -------------------------------

def _messages(hcrl_sa_sample: Path, n: int = 1500) -> Frames:
    """Real messages; labels drawn at random, so that both flag values are written (the sample has no attack)."""
    frames = read_cantt_csv(hcrl_sa_sample / "train_02_with_attacks" / "fuzzing-sonata.csv").frames.take(np.arange(n))
    frames.label = np.random.default_rng(5).integers(0, 2, n).astype(np.int8)
    return frames


def _hex(b: np.ndarray) -> str:
    return b.tobytes().hex().upper()


def cantt_lines(frames: Frames) -> list[bytes]:
    return [f"{t:.6f},{i:03X},{_hex(p[:d])},{lab}".encode() for t, i, d, p, lab in
            zip(frames.timestamp, frames.can_id, frames.dlc, frames.payload, frames.label)]


def hcrl_ch_lines(frames: Frames) -> list[bytes]:
    return [",".join([f"{t:.6f}", f"{i:04x}", str(d), *(f"{b:02x}" for b in p[:d]), "T" if lab else "R"]).encode()
            for t, i, d, p, lab in zip(frames.timestamp, frames.can_id, frames.dlc, frames.payload, frames.label)]


def candump_lines(frames: Frames) -> list[bytes]:
    return [f"({t:.6f}) can0 {i:03X}#{_hex(p[:d])}".encode()
            for t, i, d, p in zip(frames.timestamp, frames.can_id, frames.dlc, frames.payload)]


# spellings the fast path leaves to the general path (kept or rejected there)
UNUSUAL = {
    "cantt_csv": [b"1513921815.350702,0x081,7F84690000000069,0", b"1513921815,081,7F,0", b"1.5e3,081,00,1",
                  b"-1.5,081,00,0", b"na,081,00,0", b"1.5,081,NaN,0", b"1.5,,00,0", b"1.5,081,00,", b"1.5,081,00,2",
                  b"1.5,1FFFFFFF,00,0", b"1.5,20000000,00,0", b" 1.5,081,00,0", b"1.5,081,00,0,9", b"1.5,081,00\t,0"],
    "hcrl_ch_csv": [b"1478198376.391007,05f0,2,01,00,00,00,00,00,00,00,R", b"1478198376.391007,05f0,2,01,00,R",
                    b"1478198376.391007,05f0,08,01,00,00,00,00,00,00,00,R", b"1478198376,05f0,1,01,T",
                    b"1478198376.391007,05f0,9,01,R", b"1478198376.391007,05f0,2,1,00,R",
                    b"1478198376.391007,05f0,2,01,00,X", b"1478198376.391007,05f0,2,01,00,00,R",
                    b"1478198376.391007,05f0,0,R", b"1478198376.391007,05f0,2,01,00,R,"],
    "candump": [b"(1436509052.249713) vcan0 044#2A366C2BBA", b"(1436509052.250000) can0 18FF1234#",
                b"(1436509052.251000) can0 123#R", b"(1436509052.251500) can0 123#R4",
                b"(1436509052.252000) can0 123##1AABBCC", b"(1436509052.252000) can0 123#11_5",
                b"(1436509052.252000) can0 20000080#00", b"(1436509052.252000) can0 800#00",
                b"(1436509052.252000)  can0 123#00", b"(1436509052.252000) can0 123#00 ",
                b"(1436509052) can0 123#00", b"(1436509052.2) can-0 123#00", b"(1.5)\tcan0 123#00"],
}
WRITERS = {"cantt_csv": cantt_lines, "hcrl_ch_csv": hcrl_ch_lines, "candump": candump_lines}


def _mutate(rng: np.random.Generator, line: bytes) -> bytes:
    """One byte replaced, deleted or inserted, from bytes that matter to the parsers."""
    chars = FIELD_BYTES + b".,#() -+\t\r\x00"
    i = int(rng.integers(0, len(line) + 1))
    c = bytes([chars[int(rng.integers(0, len(chars)))]])
    op = int(rng.integers(0, 3))
    if op == 0 and i < len(line):
        return line[:i] + c + line[i + 1:]
    if op == 1 and i < len(line):
        return line[:i] + line[i + 1:]
    return line[:i] + c + line[i:]


def write_log(path: Path, fmt: str, frames: Frames, seed: int, crlf: bool = False, final_newline: bool = True) -> None:
    rng = np.random.default_rng(seed)
    lines = WRITERS[fmt](frames)
    for k in rng.choice(len(lines), len(lines) // 5, replace=False):
        lines[k] = _mutate(rng, lines[k])
    for k, unusual in zip(rng.choice(len(lines), len(UNUSUAL[fmt]), replace=False), UNUSUAL[fmt]):
        lines[k] = unusual
    for k in rng.choice(len(lines), 3, replace=False):
        lines[k] = b""
    header = [b"timestamp,arbitration_id,data_field,attack"] if fmt == "cantt_csv" else []
    newline = b"\r\n" if crlf else b"\n"
    path.write_bytes(newline.join(header + lines) + (newline if final_newline else b""))


READ = {"cantt_csv": read_cantt_csv, "hcrl_ch_csv": read_hcrl_ch_csv, "candump": read_candump}


def assert_same(result: ReadResult, reference: ReadResult) -> None:
    for field in ("timestamp", "can_id", "dlc", "payload", "label", "frame_type"):
        np.testing.assert_array_equal(getattr(result.frames, field), getattr(reference.frames, field), err_msg=field)
    np.testing.assert_array_equal(result.line, reference.line)
    assert result.rejects.equals(reference.rejects), (result.rejects.to_pylist()[:5], reference.rejects.to_pylist()[:5])


@pytest.mark.parametrize("fmt", sorted(READ))
@pytest.mark.parametrize(("seed", "crlf", "final_newline"), [(1, False, True), (2, True, False), (3, False, False)])
def test_reader_equals_its_general_path(fmt, seed, crlf, final_newline, hcrl_sa_sample, tmp_path, monkeypatch):
    monkeypatch.setattr(bytescan, "CHUNK_BYTES", 4096)  # dozens of chunks, lines at every boundary
    path = tmp_path / f"{fmt}.log"
    write_log(path, fmt, _messages(hcrl_sa_sample), seed, crlf=crlf, final_newline=final_newline)
    result, reference = READ[fmt](path), read_general_path(path, fmt)
    assert_same(result, reference)
    assert 1000 < len(result.frames) and result.rejects.num_rows > 100  # both paths had work
    assert result.rows_read + result.header_lines == len(read_lines(path))


@pytest.mark.parametrize("fmt", sorted(READ))
def test_clean_log_is_read_by_the_fast_path_alone(fmt, hcrl_sa_sample, tmp_path, monkeypatch):
    frames = _messages(hcrl_sa_sample)
    path = tmp_path / f"{fmt}.log"
    header = [b"timestamp,arbitration_id,data_field,attack"] if fmt == "cantt_csv" else []
    path.write_bytes(b"\n".join(header + WRITERS[fmt](frames)) + b"\n")
    handed_on = []
    general = {"cantt_csv": "parse_cantt_lines", "hcrl_ch_csv": "parse_hcrl_ch_csv", "candump": "parse_candump"}[fmt]
    module = READ[fmt].__module__
    real = getattr(__import__(module, fromlist=[general]), general)

    def spy(lines, *args, **kwargs):
        handed_on.append(len(lines))
        return real(lines, *args, **kwargs)

    monkeypatch.setattr(f"{module}.{general}", spy)
    result = READ[fmt](path)
    assert handed_on == [0]
    np.testing.assert_array_equal(result.frames.timestamp, frames.timestamp)
    np.testing.assert_array_equal(result.frames.can_id, frames.can_id)
    np.testing.assert_array_equal(result.frames.payload, frames.payload)
    if fmt != "candump":  # candump carries no label
        np.testing.assert_array_equal(result.frames.label, frames.label)


def test_nothing_kept_is_refused_at_the_first_line(tmp_path):
    path = tmp_path / "x.log"
    path.write_bytes(b"\nnot a candump line\n")
    with pytest.raises(NotCanDataError, match=r"x\.log:1: expected candump log line .*\(empty line\)"):
        read_candump(path)
    path.write_bytes(b"")
    with pytest.raises(NotCanDataError, match="empty file"):
        read_hcrl_ch_csv(path)
