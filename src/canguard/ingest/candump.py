"""Linux can-utils ``candump -l`` log files (also ``candump -L`` output)::

    (1436509052.249713) vcan0 044#2A366C2BBA
    (1436509052.250000) can0 18FF1234#
    (1436509052.251000) can0 123#R

``(epoch seconds) interface ID#data``: ID is 3 hex digits (11-bit) or 8 hex
digits (29-bit); data is 0 to 16 hex digits without separators (empty for
DLC 0).  Not frames of the schema, so rejected with a reason: CAN FD
(``ID##<flags><data>``), remote frames (``ID#R``, ``ID#R4``), error frames
(8-digit ID with CAN_ERR_FLAG 0x20000000) and the classic-CAN raw DLC suffix
(``ID#<8 bytes>_X``).  A capture carries no ground truth: label -1 unless the
caller knows better (``label=`` e.g. from the folder name).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from canguard.frames import UNKNOWN_LABEL, Frames
from canguard.ingest.hexcodec import NIBBLE, decode_hex_id, decode_hex_payload, fixed_width
from canguard.ingest.lines import (
    as_mask,
    match_lines,
    parse_float,
    refuse_if_nothing_kept,
)
from canguard.ingest.result import ReadResult

FORMAT = "candump"
EXPECTED = "candump log line '(timestamp) interface ID#data'"
LINE_RE = r"^\((?P<timestamp>[^)]*)\)\s+(?P<interface>\S+)\s+(?P<can_id>[^#\s]*)#(?P<data>\S*)\s*$"
SIGNATURE_RE = r"^\([0-9]+\.[0-9]+\)\s+\S+\s+[0-9A-Fa-f]+#"
CAN_ERR_FLAG = 0x20000000


def read_candump(path: str | Path, label: int = UNKNOWN_LABEL) -> ReadResult:
    lines, checks, g = match_lines(path, LINE_RE, EXPECTED)

    timestamp, ts_ok = parse_float(g["timestamp"])
    checks.reject(~ts_ok, "timestamp in parentheses is not a number")

    id_chars, id_len = fixed_width(g["can_id"], 8)
    checks.reject((id_len != 3) & (id_len != 8), "CAN ID is not 3 (11-bit) or 8 (29-bit) hex digits")
    error_flag = (id_len == 8) & (NIBBLE[id_chars[:, 0]] != 255) & ((NIBBLE[id_chars[:, 0]] & 0x2) != 0)
    checks.reject(error_flag, "error frame (CAN_ERR_FLAG set in the ID) is not a data frame")
    can_id, id_ok = decode_hex_id(g["can_id"])
    checks.reject(~id_ok, "CAN ID is not hex")
    checks.reject((id_len == 3) & (can_id > 0x7FF), "11-bit CAN ID over 0x7FF")

    data = g["data"]
    checks.reject(as_mask(pc.starts_with(data, "#")), "CAN FD frame not supported")
    checks.reject(as_mask(pc.match_substring_regex(data, r"^[Rr][0-9A-Fa-f]?$")), "remote frame (RTR) has no payload")
    checks.reject(as_mask(pc.match_substring(data, "_")), "raw DLC suffix (_X, DLC 9..15 on classic CAN) not supported")
    payload, dlc, data_ok = decode_hex_payload(data)
    checks.reject(~data_ok & (pc.binary_length(data).to_numpy(zero_copy_only=False) > 16), "more than 8 data bytes")
    checks.reject(~data_ok, "data is not hex digits in pairs")

    refuse_if_nothing_kept(path, checks, EXPECTED)
    keep = checks.kept
    frames = Frames(timestamp[keep], can_id[keep], dlc[keep], payload[keep],
                    np.full(keep.sum(), label, dtype=np.int8))
    return ReadResult(FORMAT, frames, checks.line_numbers[keep], checks.rejects(), header_lines=0)
