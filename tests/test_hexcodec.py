"""Hex codec, line splitting and text encodings: the vectorised primitives every reader stands on."""

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canguard.ingest.errors import NotCanDataError
from canguard.ingest.hexcodec import decode_hex_id, decode_hex_payload, encode_hex_id, encode_hex_payload
from canguard.ingest.lines import Fields, LineChecks, parse_float, split_lines, text_encoding, to_utf8

frames_st = st.lists(
    st.tuples(st.integers(0, 8), st.binary(min_size=8, max_size=8), st.integers(0, 0x1FFFFFFF)),
    min_size=0, max_size=50,
)


@settings(max_examples=60, deadline=None)
@given(frames_st)
def test_payload_and_id_round_trip(rows):
    dlc = np.array([r[0] for r in rows], dtype=np.uint8)
    payload = np.array([list(r[1]) for r in rows], dtype=np.uint8).reshape(-1, 8)
    payload[np.arange(8)[None, :] >= dlc[:, None]] = 0
    ids = np.array([r[2] for r in rows], dtype=np.uint32)

    text = encode_hex_payload(payload, dlc)
    assert [len(s) for s in text.to_pylist()] == [2 * d for d in dlc.tolist()]
    back, back_dlc, ok = decode_hex_payload(text)
    assert ok.all()
    np.testing.assert_array_equal(back_dlc, dlc)
    np.testing.assert_array_equal(back, payload)

    back_ids, ok = decode_hex_id(encode_hex_id(ids))
    assert ok.all()
    np.testing.assert_array_equal(back_ids, ids)


def test_payload_reference_values_and_rejections():
    arr = pa.array(["7F84690000000069", "100000", "", "ab", "ABC", "0G", "001122334455667788"])
    payload, dlc, ok = decode_hex_payload(arr)
    assert ok.tolist() == [True, True, True, True, False, False, False]
    assert dlc[:4].tolist() == [8, 3, 0, 1]
    assert payload[0].tolist() == [0x7F, 0x84, 0x69, 0, 0, 0, 0, 0x69]
    assert payload[1].tolist() == [0x10, 0, 0, 0, 0, 0, 0, 0]
    assert payload[3, 0] == 0xAB


def test_id_encoding_widths():
    assert encode_hex_id(np.array([0x5, 0x7FF, 0x800, 0x18FEF100])).to_pylist() == [
        "005", "7FF", "00000800", "18FEF100"]
    ids, ok = decode_hex_id(pa.array(["0C5", "18fef100", "", "xyz", "123456789", "FFFFFFFF"]))
    assert ok.tolist() == [True, True, False, False, False, False]
    assert ids[:2].tolist() == [0x0C5, 0x18FEF100]


def test_split_lines_crlf_blank_and_unterminated():
    lines = split_lines(b"a,b\r\n\nc,d,e\nlast")
    assert lines.to_pylist() == [b"a,b", b"", b"c,d,e", b"last"]
    assert split_lines(b"").to_pylist() == []
    assert split_lines(b"x\n").to_pylist() == [b"x"]


def test_fields_and_checks_keep_first_reason():
    lines = split_lines(b"1,2\n3\n4,5,6\nx,7\n")
    fields = Fields.split(lines, ",")
    assert fields.count.tolist() == [2, 1, 3, 2]
    assert fields.get(1).to_pylist() == [b"2", b"", b"5", b"7"]
    checks = LineChecks(lines, np.arange(1, 5))
    checks.reject(fields.count != 2, "expected 2 fields")
    values, ok = parse_float(fields.get(0))
    checks.reject(~ok, "not a number")
    rejects = checks.rejects().to_pylist()
    assert [(r["line"], r["raw"], r["reason"]) for r in rejects] == [
        (2, "3", "expected 2 fields"), (3, "4,5,6", "expected 2 fields"), (4, "x,7", "not a number")]
    assert checks.kept.tolist() == [True, False, False, False]
    assert values[0] == 1.0


def test_checks_reject_by_value_and_first_reject():
    lines = pa.array([b"a", b"b", b"c", b"d"], pa.large_binary())
    checks = LineChecks(lines, np.arange(1, 5))
    checks.reject(np.array([False, False, False, True]), "first reason")
    checks.reject_by(np.array([True, False, True, True]), np.array([9, 0, 12, 9]), lambda n: f"{n} bytes")
    assert checks.first_reject() == (1, "9 bytes")
    assert checks.rejects()["reason"].to_pylist() == ["9 bytes", "12 bytes", "first reason"]
    assert checks.kept.tolist() == [False, True, False, False]


TEXT = "line one\r\nzwei\n\nthree ü\n"


@pytest.mark.parametrize("raw, name", [
    (TEXT.encode("utf-8"), "UTF-8"),
    (TEXT.encode("utf-8-sig"), "UTF-8"),
    (b"\xff\xfe" + TEXT.encode("utf-16-le"), "UTF-16-LE"),
    (b"\xfe\xff" + TEXT.encode("utf-16-be"), "UTF-16-BE"),
    (TEXT.encode("utf-16-le"), "UTF-16-LE (no byte-order mark)"),
    (TEXT.encode("utf-16-be"), "UTF-16-BE (no byte-order mark)"),
    (b"\xff\xfe\x00\x00" + TEXT.encode("utf-32-le"), "UTF-32-LE"),
    (b"\x00\x00\xfe\xff" + TEXT.encode("utf-32-be"), "UTF-32-BE"),
    (TEXT.encode("utf-32-le"), "UTF-32-LE (no byte-order mark)"),
])
def test_text_encodings_transcode_to_utf8_keeping_lines(raw, name):
    assert text_encoding(raw)[1] == name
    assert split_lines(to_utf8(raw)).to_pylist() == [b"line one", b"zwei", b"", "three ü".encode()]


def test_marked_utf7_and_gb18030_and_refused_encodings():
    assert to_utf8(b"+/v8-abc\n") == b"abc\n"
    assert to_utf8(b"\x84\x31\x95\x33" + "ab\n".encode("gb18030")) == b"ab\n"
    with pytest.raises(NotCanDataError, match=r"x\.log: text encoded in SCSU \(byte-order mark 0e fe ff\)"):
        to_utf8(b"\x0e\xfe\xffabc", "x.log")


def test_undecodable_code_unit_stays_on_its_line():
    raw = "a\nb\n".encode("utf-16-le") + b"\x00\xd8" + "\nc\n".encode("utf-16-le")  # a lone surrogate
    lines = split_lines(to_utf8(b"\xff\xfe" + raw)).to_pylist()
    assert lines == [b"a", b"b", "\ufffd".encode(), b"c"]
