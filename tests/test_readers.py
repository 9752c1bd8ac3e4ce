"""Readers of the Car-Hacking, candump and python-can formats, format detection, frame types and encodings."""

from __future__ import annotations

import shutil
from pathlib import Path

import can
import numpy as np
import pytest

from canguard.frames import FRAME_DATA, FRAME_FD, FRAME_REMOTE, Frames
from canguard.ingest.candump import read_candump
from canguard.ingest.detect import READERS, detect_format, read_any
from canguard.ingest.hcrl_ch import read_hcrl_ch_csv, read_hcrl_ch_txt
from canguard.ingest.pythoncan import read_asc, read_blf, read_trc
from canguard.ingest.result import NotCanDataError
from canguard.schema import MESSAGE_SCHEMA, frames_to_table, table_to_frames

DATA = Path(__file__).resolve().parent / "data"
HCRL_SA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "hcrl_sa"
FD_10_BYTES = "CAN FD frame with 10 data bytes (more than 8): the schema holds 8"


def physical_lines(path: Path) -> int:
    raw = path.read_bytes()
    return raw.count(b"\n") + (1 if raw and not raw.endswith(b"\n") else 0)


def assert_accounted(result, path: Path) -> None:
    assert result.header_lines + result.rows_read == physical_lines(path)
    assert result.frames.padding_is_zero()


def rejects_by_line(result) -> dict[int, str]:
    return dict(zip(result.rejects["line"].to_pylist(), result.rejects["reason"].to_pylist()))


# --- Car-Hacking CSV ---------------------------------------------------------------------------

def test_hcrl_ch_csv_values_ragged_rows_and_flags():
    path = DATA / "hcrl_ch_sample.csv"
    r = read_hcrl_ch_csv(path)
    f = r.frames
    assert r.format == "hcrl_ch_csv"
    assert r.line.tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert f.can_id.tolist() == [0x316, 0x18F, 0x5F0, 0x260, 0x000, 0x5F0, 0x440]
    assert f.dlc.tolist() == [8, 8, 2, 8, 8, 2, 0]
    assert f.label.tolist() == [0, 0, 0, 1, 1, 0, 0]
    assert f.timestamp[0] == 1478198376.389427
    assert f.payload[0].tolist() == [0x05, 0x21, 0x68, 0x09, 0x21, 0x21, 0x00, 0x6F]
    assert f.payload[1].tolist() == [0xFE, 0x5B, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x00]
    # DLC 2: two real bytes (01 00), then padding; the real 0x00 and the padding differ only by dlc
    assert f.payload[2].tolist() == [0x01, 0x00, 0, 0, 0, 0, 0, 0]
    # all-zero DLC 8 frame keeps its 8 real zero bytes
    assert f.dlc[4] == 8 and not f.payload[4].any()
    # DLC 2 row listing all 8 bytes (12 fields): first 2 bytes kept, the rest ignored
    assert f.payload[5].tolist() == [0x01, 0x00, 0, 0, 0, 0, 0, 0] and f.dlc[5] == 2
    assert f.dlc[6] == 0 and not f.payload[6].any()
    assert r.rejects.num_rows == 0
    assert_accounted(r, path)


def test_hcrl_ch_csv_bad_lines_rejected_with_line_and_reason():
    path = DATA / "hcrl_ch_bad.csv"
    r = read_hcrl_ch_csv(path)
    assert r.line.tolist() == [1, 10]
    assert r.frames.label.tolist() == [0, 1]
    reasons = rejects_by_line(r)
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert "2 hex digits" in reasons[2]  # 6g
    assert "4 + DLC fields" in reasons[3]  # DLC 2 with 3 bytes
    assert reasons[4] == "empty line"
    assert reasons[5] == "DLC over 8"
    assert "Timestamp is not a number" in reasons[6]
    assert "R (regular) or T (injected)" in reasons[7]
    assert "2 hex digits" in reasons[8]  # single digit byte "1"
    assert "CAN ID" in reasons[9]
    raw = dict(zip(r.rejects["line"].to_pylist(), r.rejects["raw"].to_pylist()))
    assert raw[6].startswith("tomorrow,0316")
    assert_accounted(r, path)


# --- Car-Hacking normal_run_data.txt ---------------------------------------------------------

def test_hcrl_ch_txt_values():
    path = DATA / "normal_run_data_sample.txt"
    r = read_hcrl_ch_txt(path)
    f = r.frames
    assert r.format == "hcrl_ch_txt"
    assert r.line.tolist() == [1, 2, 3, 4, 5]
    assert f.can_id.tolist() == [0x350, 0x2C0, 0x430, 0x4B1, 0x1F1]
    assert f.dlc.tolist() == [8, 8, 2, 0, 8]
    assert f.payload[0].tolist() == [0x05, 0x28, 0x84, 0x66, 0x6D, 0x00, 0x00, 0xA2]
    assert f.payload[2].tolist() == [0] * 8 and f.dlc[2] == 2
    assert f.timestamp[1] == 1479121434.850423
    assert (f.label == 0).all()
    assert_accounted(r, path)


def test_hcrl_ch_txt_bad_lines():
    path = DATA / "hcrl_ch_bad.txt"
    r = read_hcrl_ch_txt(path)
    assert r.line.tolist() == [1]
    reasons = rejects_by_line(r)
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7]
    assert "differs from DLC" in reasons[2]
    assert "2-hex-digit" in reasons[3]
    assert reasons[4] == "empty line"
    assert reasons[5] == "DLC over 8"
    assert "Timestamp is not a number" in reasons[6]
    assert "expected Car-Hacking text line" in reasons[7]
    assert_accounted(r, path)


# --- candump -----------------------------------------------------------------------------------

def test_candump_values_11_and_29_bit_dlc0_fd_rtr():
    path = DATA / "candump_sample.log"
    r = read_candump(path)
    f = r.frames
    assert r.format == "candump"
    assert r.line.tolist() == [1, 2, 3, 4, 6]
    assert f.can_id.tolist() == [0x044, 0x18FF1234, 0x7DF, 0x123, 0x123]
    assert f.dlc.tolist() == [5, 8, 0, 0, 1]
    assert f.frame_type.tolist() == [FRAME_DATA, FRAME_DATA, FRAME_DATA, FRAME_REMOTE, FRAME_DATA]
    assert f.payload[0].tolist() == [0x2A, 0x36, 0x6C, 0x2B, 0xBA, 0, 0, 0]
    assert f.payload[1].tolist() == [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
    assert not f.payload[2].any() and not f.payload[3].any()
    assert f.timestamp[0] == 1436509052.249713
    assert (f.label == -1).all()
    assert rejects_by_line(r) == {5: FD_10_BYTES}
    assert_accounted(r, path)
    assert (read_candump(path, label=1).frames.label == 1).all()


def test_candump_bad_lines():
    path = DATA / "candump_bad.log"
    r = read_candump(path)
    assert r.line.tolist() == [1]
    reasons = rejects_by_line(r)
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert "pairs" in reasons[2]  # odd number of digits
    assert reasons[3] == "more than 8 data bytes"
    assert "3 (11-bit) or 8 (29-bit)" in reasons[4]
    assert reasons[5] == "empty line"
    assert "not a number" in reasons[6]
    assert "over 0x7FF" in reasons[7]
    assert "error frame" in reasons[8]
    assert "expected candump log line" in reasons[9]
    assert "pairs" in reasons[10]  # bad hex digit
    assert_accounted(r, path)


CANDUMP_FRAME_TYPES = """\
(1.0) can0 123#R
(1.1) can0 123#R4
(1.2) can0 18FF1234#R8
(1.3) can0 123#R9
(1.4) can0 123##1AABBCC
(1.5) can0 123##0
(1.6) can0 123##1000102030405060708
(1.7) can0 123##
(1.8) can0 123##1ABC
(1.9) can0 123#0102030405060708_9
(2.0) can0 123##31122334455667788
"""


def test_candump_remote_and_fd_frames(tmp_path):
    path = tmp_path / "types.log"
    path.write_text(CANDUMP_FRAME_TYPES)
    r = read_candump(path)
    f = r.frames
    assert r.line.tolist() == [1, 2, 3, 5, 6, 11]
    assert f.frame_type.tolist() == [FRAME_REMOTE, FRAME_REMOTE, FRAME_REMOTE, FRAME_FD, FRAME_FD, FRAME_FD]
    assert f.can_id.tolist() == [0x123, 0x123, 0x18FF1234, 0x123, 0x123, 0x123]
    assert f.dlc.tolist() == [0, 4, 8, 3, 0, 8]  # RTR: the requested length; FD: the data bytes
    assert not f.payload[:3].any()
    assert f.payload[3].tolist() == [0xAA, 0xBB, 0xCC, 0, 0, 0, 0, 0]
    assert f.payload[5].tolist() == [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
    assert rejects_by_line(r) == {
        4: "remote frame (RTR) requests 9 bytes (more than 8)",
        7: "CAN FD frame with 9 data bytes (more than 8): the schema holds 8",
        8: "CAN FD frame without the flags hex digit after '##'",
        9: "CAN FD data is not hex digits in pairs",
        10: "raw DLC suffix (_X, DLC 9..15 on classic CAN) not supported",
    }
    assert_accounted(r, path)


def test_frame_type_in_frames_and_the_canonical_table():
    # built positionally without frame_type (as the simulator and older callers do): all data frames
    old = Frames(np.array([1.0, 2.0]), np.array([1, 2]), np.array([2, 0]), np.zeros((2, 8)), np.zeros(2))
    assert old.frame_type.tolist() == [FRAME_DATA, FRAME_DATA]
    frames = Frames(np.array([1.0, 2.0, 3.0]), np.array([1, 2, 3]), np.array([2, 4, 3]), np.zeros((3, 8)),
                    np.zeros(3), np.array([FRAME_DATA, FRAME_REMOTE, FRAME_FD]))
    assert frames.take(np.array([2, 0])).frame_type.tolist() == [FRAME_FD, FRAME_DATA]
    assert Frames.concat([old, frames]).frame_type.tolist() == [0, 0, 0, 1, 2]
    table = frames_to_table(frames, np.array([1, 2, 3]), "none", "x.log")
    assert table.schema == MESSAGE_SCHEMA
    assert table.column("frame_type").to_pylist() == ["data", "remote", "fd"]
    assert table_to_frames(table).frame_type.tolist() == [FRAME_DATA, FRAME_REMOTE, FRAME_FD]
    # a column selection without frame_type (or a table written before it existed) reads as data frames
    assert table_to_frames(table.drop_columns(["frame_type"])).frame_type.tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="frame_type codes must be 0..2"):
        frames_to_table(Frames(np.ones(1), np.ones(1), np.ones(1), np.zeros((1, 8)), np.zeros(1), np.array([7])),
                        np.array([1]), "none", "x.log")


# --- python-can formats ------------------------------------------------------------------------

def sample_messages() -> list[can.Message]:
    t0 = 1700000000.123456
    return [
        can.Message(timestamp=t0, arbitration_id=0x123, is_extended_id=False, data=b"\x01\x00"),
        can.Message(timestamp=t0 + 0.001, arbitration_id=0x18FF1234, is_extended_id=True, data=b""),
        can.Message(timestamp=t0 + 0.002, arbitration_id=0x7FF, is_extended_id=False, data=bytes(range(1, 9))),
        can.Message(timestamp=t0 + 0.003, arbitration_id=0x0AA, is_extended_id=False, data=b"\x00" * 8),
    ]


def other_frames(t0: float) -> list[can.Message]:
    """A remote frame and a 3-byte FD frame (both kept), an error frame and a 12-byte FD frame (rejected)."""
    return [
        can.Message(timestamp=t0 + 0.010, arbitration_id=0x55, is_extended_id=False, is_remote_frame=True, dlc=4),
        can.Message(timestamp=t0 + 0.011, arbitration_id=0x0, is_error_frame=True),
        can.Message(timestamp=t0 + 0.012, arbitration_id=0x66, is_extended_id=False, is_fd=True, data=bytes(12)),
        can.Message(timestamp=t0 + 0.013, arbitration_id=0x67, is_extended_id=False, is_fd=True, data=b"\x01\x02\x03"),
    ]


def write_log(path: Path, writer_cls, messages: list[can.Message]) -> Path:
    writer = writer_cls(str(path))
    for msg in messages:
        writer.on_message_received(msg)
    writer.stop()
    return path


def frame_type_of(m: can.Message) -> int:
    return FRAME_FD if m.is_fd else FRAME_REMOTE if m.is_remote_frame else FRAME_DATA


def assert_same_frames(frames, messages, relative: bool) -> None:
    t = np.array([m.timestamp for m in messages])
    expected_t = t - t[0] if relative else t
    np.testing.assert_allclose(frames.timestamp, expected_t, atol=2e-6, rtol=0)
    assert frames.can_id.tolist() == [m.arbitration_id for m in messages]
    assert frames.dlc.tolist() == [m.dlc if m.is_remote_frame else len(m.data) for m in messages]
    assert frames.frame_type.tolist() == [frame_type_of(m) for m in messages]
    for row, m in zip(frames.payload, messages):
        assert bytes(row) == bytes(m.data).ljust(8, b"\0")
    assert (frames.label == -1).all()
    assert frames.padding_is_zero()


@pytest.mark.parametrize("writer_cls, reader, fmt, suffix", [
    (can.ASCWriter, read_asc, "asc", ".asc"),
    (can.BLFWriter, read_blf, "blf", ".blf"),
])
def test_python_can_round_trip_keeps_remote_and_short_fd_frames(tmp_path, writer_cls, reader, fmt, suffix):
    messages = sample_messages()
    remote, error, long_fd, short_fd = other_frames(messages[0].timestamp)
    path = write_log(tmp_path / f"log{suffix}", writer_cls, messages + [remote, error, long_fd, short_fd])
    r = reader(path)
    assert r.format == fmt
    assert_same_frames(r.frames, messages + [remote, short_fd], relative=(fmt == "asc"))
    assert r.frames.dlc[4] == 4 and not r.frames.payload[4].any()  # RTR: the requested length, no payload
    assert r.rejects["reason"].to_pylist() == [
        "error frame is not a data frame", "CAN FD frame with 12 data bytes (more than 8): the schema holds 8"]
    if fmt == "blf":
        assert r.line.tolist() == [1, 2, 3, 4, 5, 8] and r.rejects["line"].to_pylist() == [6, 7]
    else:  # ASC: true physical lines of the messages
        text = path.read_text().splitlines()
        assert [text[n - 1].split()[2] for n in r.line[:5]] == ["123", "18FF1234x", "7FF", "AA", "55"]
        assert text[r.line[5] - 1].split()[1] == "CANFD"
        assert text[r.rejects["line"][0].as_py() - 1].split()[2] == "ErrorFrame"
        assert r.header_lines == 6  # date, base, internal events logged, Begin/End Triggerblock, Start of measurement
        assert_accounted(r, path)
    assert detect_format(path) == fmt


def test_trc_round_trip(tmp_path):
    messages = sample_messages()  # TRCWriter cannot write remote, error or FD frames
    path = write_log(tmp_path / "log.trc", can.TRCWriter, messages)
    r = read_trc(path)
    assert r.format == "trc"
    assert_same_frames(r.frames, messages, relative=False)
    text = path.read_text().splitlines()
    assert [text[n - 1].split()[4] for n in r.line] == ["0123", "18FF1234", "07FF", "00AA"]
    assert r.rejects.num_rows == 0
    assert_accounted(r, path)
    assert detect_format(path) == "trc"


def test_asc_bad_line_rejected_and_reading_resumes(tmp_path):
    messages = sample_messages()
    good = write_log(tmp_path / "good.asc", can.ASCWriter, messages)
    lines = good.read_text().splitlines()
    first_msg = next(i for i, s in enumerate(lines) if " 123 " in s)
    lines.insert(first_msg + 1, " 0.000500 1  XYZ             Rx   d 2 01 02")
    bad = tmp_path / "bad.asc"
    bad.write_text("\n".join(lines) + "\n")
    r = read_asc(bad)
    assert_same_frames(r.frames, messages, relative=True)
    assert r.rejects["line"].to_pylist() == [first_msg + 2]
    assert "could not parse" in r.rejects["reason"][0].as_py()
    assert_accounted(r, bad)


def test_trc_unparsable_line_rejected(tmp_path):
    path = write_log(tmp_path / "log.trc", can.TRCWriter, sample_messages())
    text = path.read_text().splitlines()
    text.append("      9  garbage")
    path.write_text("\n".join(text) + "\n")
    r = read_trc(path)
    assert len(r.frames) == 4
    assert r.rejects["line"].to_pylist() == [len(text)]
    assert_accounted(r, path)


def test_trc_remote_frames_kept_like_every_reader(tmp_path):
    path = tmp_path / "rtr.trc"
    path.write_text(";$FILEVERSION=1.1\n;$STARTTIME=45000.5\n"
                    "      1)         1.000  Rx         0123  2  01 02\n"
                    "      2)         2.000  Rx         0124  4  RTR\n")
    r = read_trc(path)
    assert r.line.tolist() == [3, 4] and r.rejects.num_rows == 0
    assert r.frames.frame_type.tolist() == [FRAME_DATA, FRAME_REMOTE]
    assert r.frames.dlc.tolist() == [2, 4] and not r.frames.payload[1].any()
    assert_accounted(r, path)


def asc_with_garbage(tmp_path: Path) -> tuple[Path, list[str]]:
    good = write_log(tmp_path / "good.asc", can.ASCWriter, sample_messages())
    lines = good.read_text().splitlines()
    first_msg = next(i for i, s in enumerate(lines) if " 123 " in s)
    lines[first_msg + 1:first_msg + 1] = [
        "this is no ASC line",                                      # garbage in the body
        "",                                                         # empty
        "   0.0010 1 Statistic: D 0 R 0 XD 0 XR 0 E 0 O 0 B 0.00%",  # an ASC event: a format line
        "// a comment in the body",                                 # a format line
    ]
    lines.insert(2, "garbage before the trigger block")
    bad = tmp_path / "garbage.asc"
    bad.write_text("\n".join(lines) + "\n")
    return bad, lines


def test_asc_garbage_lines_are_rejects_not_header_lines(tmp_path):
    path, lines = asc_with_garbage(tmp_path)
    r = read_asc(path)
    assert_same_frames(r.frames, sample_messages(), relative=True)
    garbage = lines.index("this is no ASC line") + 1
    assert rejects_by_line(r) == {
        3: "not an ASC message, header, comment or event line (python-can ASCReader skipped it)",
        garbage: "not an ASC message, header, comment or event line (python-can ASCReader skipped it)",
        garbage + 1: "empty line",
    }
    # date, base, internal events logged, Begin/End Triggerblock, Start of measurement, Statistic, comment
    assert r.header_lines == 8
    assert_accounted(r, path)


def test_asc_message_right_after_the_header_is_not_lost(tmp_path):
    path = tmp_path / "short.asc"
    path.write_text("date Tue Nov 14 22:13:20.123 2023\nbase hex  timestamps absolute\n"
                    " 0.001000 1  123             Rx   d 2 01 02\n"
                    " 0.002000 1  124             Rx   d 1 03\n")
    r = read_asc(path)
    assert r.line.tolist() == [3, 4] and r.frames.can_id.tolist() == [0x123, 0x124]
    assert r.header_lines == 2 and r.rejects.num_rows == 0


def test_asc_many_unparsable_lines_are_all_rejected(tmp_path):
    """python-can raises on each; reading resumes after each one (no cap, no restart from the top)."""
    good = write_log(tmp_path / "good.asc", can.ASCWriter, sample_messages())
    lines = good.read_text().splitlines()
    first_msg = next(i for i, s in enumerate(lines) if " 123 " in s)
    lines[first_msg + 1:first_msg + 1] = [" 0.000500 1  XYZ             Rx   d 2 01 02"] * 1500
    path = tmp_path / "bad.asc"
    path.write_text("\n".join(lines) + "\n")
    r = read_asc(path)
    assert len(r.frames) == 4 and r.rejects.num_rows == 1500
    assert r.rejects["line"].to_pylist() == list(range(first_msg + 2, first_msg + 1502))
    assert_accounted(r, path)


def test_truncated_blf_is_reported_with_the_byte_offset(tmp_path):
    t0 = 1700000000.0
    messages = [can.Message(timestamp=t0 + i * 1e-3, arbitration_id=i % 0x7FF, is_extended_id=False,
                            data=bytes([i % 256] * (i % 9))) for i in range(4000)]
    full = write_log(tmp_path / "full.blf", can.BLFWriter, messages)
    raw = full.read_bytes()
    assert read_blf(full).rejects.num_rows == 0
    cut = tmp_path / "cut.blf"
    cut.write_bytes(raw[: len(raw) // 2])
    r = read_blf(cut)
    n = len(r.frames)
    assert 0 < n < len(messages)
    assert_same_frames(r.frames, messages[:n], relative=False)
    assert r.rows_read == n + 1 and r.rejects["line"].to_pylist() == [n + 1]
    reason = r.rejects["reason"][0].as_py()
    assert reason.startswith(f"truncated BLF: data ends at byte {len(raw) // 2} of ")
    assert f"{n} messages were read before the cut" in reason
    assert read_any(cut).rejects["reason"].to_pylist() == [reason]


def test_blf_cut_before_any_message_is_refused(tmp_path):
    full = write_log(tmp_path / "full.blf", can.BLFWriter, sample_messages())
    cut = tmp_path / "cut.blf"
    cut.write_bytes(full.read_bytes()[:150])
    with pytest.raises(NotCanDataError, match=r"cut\.blf: .*truncated BLF: data ends at byte 150 of"):
        read_blf(cut)


@pytest.mark.parametrize("obj_size", [0, 0x7FFFFFFF])
def test_blf_object_of_size_zero_or_huge_stops_reading_without_hanging(tmp_path, obj_size):
    """python-can would loop forever on an object of size 0 (and carry a huge one to the end of the file)."""
    writer = can.BLFWriter(str(tmp_path / "plain.blf"), compression_level=0)  # objects visible in the file
    for msg in sample_messages():
        writer.on_message_received(msg)
    writer.stop()
    raw = bytearray((tmp_path / "plain.blf").read_bytes())
    objects = [i for i in range(len(raw) - 3) if raw[i:i + 4] == b"LOBJ"]  # the container, then messages
    raw[objects[3] + 8: objects[3] + 12] = obj_size.to_bytes(4, "little")  # the third message
    broken = tmp_path / "broken.blf"
    broken.write_bytes(bytes(raw))
    r = read_blf(broken)
    assert_same_frames(r.frames, sample_messages()[:2], relative=False)
    assert r.rejects["line"].to_pylist() == [3]
    assert f"object of {obj_size} bytes" in r.rejects["reason"][0].as_py()


# --- text encodings ----------------------------------------------------------------------------

CANTT_TEXT = ("timestamp,arbitration_id,data_field,attack\n1513921815.350702,081,7F84690000000069,0\n"
              "bad,line\n1513920093.61536,4C7,100000,1\n")


def sample_texts(tmp_path: Path) -> dict[str, str]:
    asc, _ = asc_with_garbage(tmp_path)
    texts = {name: (DATA / name).read_text() for name in
             ("candump_sample.log", "candump_bad.log", "hcrl_ch_bad.csv", "normal_run_data_sample.txt")}
    return texts | {"cantt.csv": CANTT_TEXT, "garbage.asc": asc.read_text()}


def summary(result) -> tuple:
    f = result.frames
    return (result.format, result.line.tolist(), f.can_id.tolist(), f.dlc.tolist(), f.payload.tolist(),
            f.frame_type.tolist(), result.rejects["line"].to_pylist(), result.header_lines)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"])
def test_utf16_utf32_and_bom_files_read_like_utf8(tmp_path, encoding):
    for name, text in sample_texts(tmp_path).items():
        plain, encoded = tmp_path / f"plain_{name}", tmp_path / f"{encoding}_{name}"
        plain.write_bytes(text.encode("utf-8"))
        encoded.write_bytes(text.encode(encoding))
        assert detect_format(encoded) == detect_format(plain), name
        assert summary(read_any(encoded)) == summary(read_any(plain)), name


def test_unsupported_encoding_is_refused_naming_file_and_encoding(tmp_path):
    path = tmp_path / "ebcdic.log"
    path.write_bytes(b"\xdd\x73\x66\x73" + (DATA / "candump_sample.log").read_bytes())
    for read in (read_any, read_candump):
        with pytest.raises(NotCanDataError, match=r"ebcdic\.log: text encoded in UTF-EBCDIC"):
            read(path)


def test_bom_only_file_is_empty(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(NotCanDataError, match=r"bom\.csv: empty file"):
        read_any(path)


def test_utf16_text_that_is_no_can_log_says_so(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes("just some notes\nnothing here\n".encode("utf-16"))
    with pytest.raises(NotCanDataError, match=r"notes\.txt:1: not a CAN log \(text decoded from UTF-16-LE\)"):
        read_any(path)


def test_python_can_readers_refuse_other_files():
    for reader in (read_asc, read_trc, read_blf):
        with pytest.raises(NotCanDataError, match=r"candump_sample\.log:1: expected"):
            reader(DATA / "candump_sample.log")


# --- detection and read_any --------------------------------------------------------------------

@pytest.mark.parametrize("name, fmt", [
    ("hcrl_ch_sample.csv", "hcrl_ch_csv"),
    ("hcrl_ch_bad.csv", "hcrl_ch_csv"),
    ("normal_run_data_sample.txt", "hcrl_ch_txt"),
    ("hcrl_ch_bad.txt", "hcrl_ch_txt"),
    ("candump_sample.log", "candump"),
    ("candump_bad.log", "candump"),
])
def test_detection_ignores_extension(tmp_path, name, fmt):
    assert detect_format(DATA / name) == fmt
    renamed = tmp_path / "capture.asc"  # a misleading extension
    shutil.copy(DATA / name, renamed)
    assert detect_format(renamed) == fmt
    assert read_any(renamed).format == fmt


def test_detect_cantt_and_binary_formats_under_wrong_names(tmp_path):
    cantt = tmp_path / "x.log"
    cantt.write_text("timestamp,arbitration_id,data_field,attack\n1513921815.350702,081,7F84690000000069,0\n")
    assert detect_format(cantt) == "cantt_csv"
    assert read_any(cantt).frames.can_id.tolist() == [0x81]
    blf = write_log(tmp_path / "x.blf", can.BLFWriter, sample_messages())
    shutil.copy(blf, tmp_path / "blf.csv")
    assert detect_format(tmp_path / "blf.csv") == "blf"
    assert set(READERS) == {"cantt_csv", "hcrl_ch_csv", "hcrl_ch_txt", "candump", "asc", "blf", "trc"}


def test_empty_file_error():
    with pytest.raises(NotCanDataError, match=r"empty\.csv: empty file, expected a CAN log \(cantt_csv"):
        detect_format(DATA / "empty.csv")


@pytest.mark.parametrize("name", ["junk.bin", "unknown_header.csv"])
def test_junk_and_unknown_text_error(name):
    with pytest.raises(NotCanDataError) as err:
        read_any(DATA / name)
    message = str(err.value)
    assert message.startswith(f"{DATA / name}:1: not a CAN log: expected one of cantt_csv")
    assert "\n" not in message and "candump" in message and "blf" in message


@pytest.mark.parametrize("fmt", ["cantt_csv", "hcrl_ch_csv", "hcrl_ch_txt", "asc", "blf", "trc"])
def test_forced_format_that_does_not_fit(fmt):
    path = DATA / "candump_sample.log"
    with pytest.raises(NotCanDataError) as err:
        read_any(path, fmt=fmt)
    assert str(path) in str(err.value) and repr(fmt) in str(err.value)


def test_forced_format_that_fits_and_unknown_format_name():
    assert read_any(DATA / "candump_sample.log", fmt="candump").format == "candump"
    with pytest.raises(ValueError, match="unknown CAN log format 'pcap'"):
        read_any(DATA / "candump_sample.log", fmt="pcap")


def test_line_readers_refuse_files_of_another_format():
    with pytest.raises(NotCanDataError, match=r"normal_run_data_sample\.txt:1: expected Car-Hacking CSV"):
        read_hcrl_ch_csv(DATA / "normal_run_data_sample.txt")
    with pytest.raises(NotCanDataError, match=r"hcrl_ch_sample\.csv:1: expected candump"):
        read_candump(DATA / "hcrl_ch_sample.csv")
    with pytest.raises(NotCanDataError, match=r"empty\.csv: empty file"):
        read_hcrl_ch_txt(DATA / "empty.csv")


def test_real_hcrl_sa_is_detected_as_cantt():
    if not HCRL_SA.is_dir():
        pytest.skip(f"hcrl_sa data set not found at {HCRL_SA}")
    files = sorted(HCRL_SA.rglob("*.csv"))
    if not files:
        pytest.skip(f"no CSV under {HCRL_SA}")
    assert {detect_format(f) for f in files} == {"cantt_csv"}
