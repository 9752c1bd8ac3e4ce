"""Linux can-utils ``candump -l`` log files (also ``candump -L`` output)::

    (1436509052.249713) vcan0 044#2A366C2BBA
    (1436509052.250000) can0 18FF1234#
    (1436509052.251000) can0 123#R
    (1436509052.251500) can0 123#R4
    (1436509052.252000) can0 123##1AABBCC

``(epoch seconds) interface ID#data``: ID is 3 hex digits (11-bit) or 8 hex
digits (29-bit); data is 0 to 16 hex digits without separators (empty for
DLC 0).  Remote frames (``ID#R``, ``ID#R<len>`` with len 0..8) are kept as
frame_type "remote" with ``dlc`` = the requested length and an all-zero
payload.  CAN FD frames (``ID##<flags digit><data>``) are kept as frame_type
"fd" when their data fits in 8 bytes (``dlc`` = data bytes) and rejected
otherwise ("CAN FD frame with N data bytes (more than 8): the schema holds
8").  Rejected with a reason: error frames (8-digit ID with CAN_ERR_FLAG
0x20000000), IDs of 8 digits over 0x1FFFFFFF (``40000000#...``: "CAN ID over
0x1FFFFFFF (more than 29 bits)") and the classic-CAN raw DLC suffix (``ID#<8 bytes>_X``).  A
capture carries no ground truth: label -1 unless the caller knows better
(``label=`` e.g. from the folder name).  Any text encoding
:func:`canguard.ingest.lines.to_utf8` handles is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from canguard.frames import FRAME_DATA, FRAME_FD, FRAME_REMOTE, UNKNOWN_LABEL, Frames
from canguard.ingest.bytescan import TextBuffer, combine, read_log_bytes, read_regular_lines, select
from canguard.ingest.hexcodec import NIBBLE, decode_hex_id, decode_hex_payload, fixed_width
from canguard.ingest.lines import (
    LineChecks,
    as_mask,
    empty_lines,
    refuse_if_nothing_kept,
    regex_groups,
)
from canguard.ingest.result import ID_OVER_29_BITS, MAX_DATA_BYTES, ReadResult, fd_too_long
from canguard.ingest.timestamps import parse_timestamps, reject_bad_times

FORMAT = "candump"
EXPECTED = "candump log line '(timestamp) interface ID#data'"
LINE_RE = r"^\((?P<timestamp>[^)]*)\)\s+(?P<interface>\S+)\s+(?P<can_id>[^#\s]*)#(?P<data>\S*)\s*$"
SIGNATURE_RE = r"^\([0-9]+\.[0-9]+\)\s+\S+\s+[0-9A-Fa-f]+#"
REMOTE_RE = r"^[Rr](?P<length>[0-9A-Fa-f]?)$"
FD_RE = r"^#(?P<flags>[0-9A-Fa-f]?)(?P<body>.*)$"
CAN_ERR_FLAG = 0x20000000


def _check_id(checks: LineChecks, raw_id: pa.Array) -> np.ndarray:
    """CAN IDs of every line; rejects bad IDs and error frames."""
    id_chars, id_len = fixed_width(raw_id, 8)
    checks.reject((id_len != 3) & (id_len != 8), "CAN ID is not 3 (11-bit) or 8 (29-bit) hex digits")
    first = NIBBLE[id_chars[:, 0]]
    checks.reject((id_len == 8) & (first != 255) & ((first & 0x2) != 0),
                  "error frame (CAN_ERR_FLAG set in the ID) is not a data frame")
    nibbles = NIBBLE[id_chars]
    checks.reject(((nibbles == 255) & (np.arange(8)[None, :] < id_len[:, None])).any(axis=1), "CAN ID is not hex")
    checks.reject((id_len == 8) & (first != 255) & (first > 1), ID_OVER_29_BITS)
    can_id, _ = decode_hex_id(raw_id)
    checks.reject((id_len == 3) & (can_id > 0x7FF), "11-bit CAN ID over 0x7FF")
    return can_id


def _check_remote(checks: LineChecks, data: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(is remote, requested length) of every line; rejects a requested length over 8."""
    remote, groups = regex_groups(data, REMOTE_RE)
    chars, n_chars = fixed_width(groups["length"], 1)
    length = np.where(n_chars == 1, NIBBLE[chars[:, 0]], 0).astype(np.int64)
    checks.reject_by(remote & (length > MAX_DATA_BYTES), length,
                     lambda n: f"remote frame (RTR) requests {n} bytes (more than {MAX_DATA_BYTES})")
    return remote, length


def _check_fd(checks: LineChecks, data: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(is CAN FD, hex data after '##<flags>') of every line; rejects malformed or over-long FD frames."""
    fd = as_mask(pc.starts_with(data, "#"))
    _, groups = regex_groups(data, FD_RE)
    body = groups["body"]
    checks.reject(fd & (pc.binary_length(groups["flags"]).to_numpy(zero_copy_only=False) != 1),
                  "CAN FD frame without the flags hex digit after '##'")
    checks.reject(fd & ~as_mask(pc.match_substring_regex(body, r"^(?:[0-9A-Fa-f]{2})*$")),
                  "CAN FD data is not hex digits in pairs")
    n_bytes = pc.binary_length(body).to_numpy(zero_copy_only=False) // 2
    checks.reject_by(fd & (n_bytes > MAX_DATA_BYTES), n_bytes, fd_too_long)
    return fd, body


def read_candump(path: str | Path, label: int = UNKNOWN_LABEL) -> ReadResult:
    fast, fast_lines, rest, rest_lines = read_regular_lines(read_log_bytes(path), read_data_frames)
    fast.label[:] = label
    general = parse_candump(rest, path, label, line_numbers=rest_lines, refuse=False)
    result = combine(FORMAT, fast, fast_lines, general)
    refuse_if_nothing_kept(path, result, EXPECTED)
    return result


def read_data_frames(text: TextBuffer, lines: np.ndarray) -> tuple[Frames, np.ndarray]:
    """The byte-level fast path (:mod:`canguard.ingest.bytescan`): the frames of the ``lines`` that are
    plain data frames ``(digits.digits) iface ID#hex`` the general path would keep, and those lines.
    Remote and CAN FD frames, tabs, extra spaces: the general path.  Labels are left 0."""
    regular, (opening, _, closing, space1, space2, hash_) = text.match(b"(.)  #", lines)
    regular &= (opening == text.line_start[lines]) & (space1 == closing + 1) & (space2 > space1 + 1)
    lines, opening, closing, space2, hash_ = select(regular, lines, opening, closing, space2, hash_)
    timestamp, ts_ok = text.timestamp(opening + 1, closing)
    can_id, id_ok = text.can_id(space2 + 1, hash_)
    id_length = hash_ - space2 - 1
    id_ok &= ((id_length == 3) & (can_id <= 0x7FF)) | (id_length == 8)
    payload, dlc, data_ok = text.hex_payload(hash_ + 1, text.line_stop[lines])
    keep = ts_ok & id_ok & data_ok
    lines, timestamp, can_id, dlc, payload = select(keep, lines, timestamp, can_id, dlc, payload)
    return Frames(timestamp, can_id, dlc, payload, np.zeros(len(lines), np.int8)), lines


def parse_candump(lines: pa.Array, path: str | Path, label: int = UNKNOWN_LABEL,
                  line_numbers: np.ndarray | None = None, refuse: bool = True) -> ReadResult:
    """The general path: candump lines (``lines[i]`` is line ``line_numbers[i]`` of ``path``, by default
    ``i + 1``) -> kept frames and rejects.  ``refuse``: a whole file none of whose lines is candump is not
    a candump log (NotCanDataError); a stream's batch of lines (``canguard detect -``) keeps its rejects."""
    if line_numbers is None:
        line_numbers = np.arange(1, len(lines) + 1)
    checks = LineChecks(lines, line_numbers)
    checks.reject(empty_lines(lines), "empty line")
    matched, g = regex_groups(lines, LINE_RE)
    checks.reject(~matched, f"expected {EXPECTED}")

    timestamp, ts_ok = parse_timestamps(g["timestamp"])
    checks.reject(~ts_ok, "timestamp in parentheses is not a number")
    reject_bad_times(checks, timestamp)
    can_id = _check_id(checks, g["can_id"])

    data = g["data"]
    remote, remote_length = _check_remote(checks, data)
    fd, fd_body = _check_fd(checks, data)
    checks.reject(as_mask(pc.match_substring(data, "_")), "raw DLC suffix (_X, DLC 9..15 on classic CAN) not supported")
    payload, dlc, data_ok = decode_hex_payload(pc.if_else(pa.array(fd), fd_body, data))
    too_long = ~data_ok & (pc.binary_length(data).to_numpy(zero_copy_only=False) > 16)
    checks.reject(too_long & ~remote, "more than 8 data bytes")
    checks.reject(~data_ok & ~remote, "data is not hex digits in pairs")

    keep = checks.kept
    payload[remote] = 0
    dlc = np.where(remote, remote_length, dlc)
    frame_type = np.where(remote, FRAME_REMOTE, np.where(fd, FRAME_FD, FRAME_DATA))
    frames = Frames(timestamp[keep], can_id[keep], dlc[keep], payload[keep],
                    np.full(keep.sum(), label, dtype=np.int8), frame_type[keep])
    result = ReadResult(FORMAT, frames, checks.line_numbers[keep], checks.rejects(), header_lines=0)
    if refuse:
        refuse_if_nothing_kept(path, result, EXPECTED)
    return result
