"""The original HCRL Car-Hacking dataset: the attack CSVs and ``normal_run_data.txt``.

CSV (DoS_dataset.csv, Fuzzy_dataset.csv, gear_dataset.csv, RPM_dataset.csv),
no header, one frame per line, ragged: DLC data bytes then the flag::

    1478198376.389427,0316,8,05,21,68,09,21,21,00,6f,R
    1478198376.391007,05f0,2,01,00,R
    1478198376.391234,0260,8,19,21,22,30,08,8e,6d,3a,T

``Timestamp,CAN ID,DLC,DATA[0],...,DATA[DLC-1],Flag``: the flag at field
``3 + DLC`` is ``R`` (regular, label 0) or ``T`` (injected, label 1).

Decision on the 8-bytes-listed quirk: some releases write DLC < 8 rows with
all eight byte columns anyway (``...,05f0,2,01,00,00,00,00,00,00,00,R``,
12 fields).  Such a row is kept: the first DLC bytes are the payload, the
extra listed bytes must still be 2 hex digits each and are then ignored
(the schema pads beyond DLC with 0).  Any other field count than
``4 + DLC`` or 12 is rejected.

Text (normal_run_data.txt, attack-free, label 0), fields separated by runs of spaces::

    Timestamp: 1479121434.850202        ID: 0350    000    DLC: 8    05 28 84 66 6d 00 00 a2
    Timestamp: 1479121434.850423        ID: 02c0    000    DLC: 2    14 00

The column after the ID (``000``) is kept unchecked beyond being digits.

Neither format has a field for remote or CAN FD frames (and the releases
hold none): every kept row is frame_type "data".  Text in UTF-16, UTF-32 or
with a UTF-8 byte-order mark is transcoded first
(:func:`canguard.ingest.lines.to_utf8`), line numbers unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from canguard.frames import Frames
from canguard.ingest.bytescan import (
    LOW_BYTES,
    TextBuffer,
    combine,
    hex_bytes,
    read_log_bytes,
    read_regular_lines,
    select,
)
from canguard.ingest.hexcodec import NIBBLE, decode_hex_id, decode_hex_payload, string_buffers
from canguard.ingest.lines import (
    Fields,
    LineChecks,
    as_mask,
    empty_lines,
    match_lines,
    parse_uint,
    refuse_if_nothing_kept,
)
from canguard.ingest.result import ReadResult
from canguard.ingest.timestamps import parse_timestamps, reject_bad_times

CSV_FORMAT = "hcrl_ch_csv"
TXT_FORMAT = "hcrl_ch_txt"
CSV_EXPECTED = "Car-Hacking CSV row 'Timestamp,CAN ID,DLC,DATA[0..DLC-1],R|T'"
TXT_EXPECTED = "Car-Hacking text line 'Timestamp: <s> ID: <hex> <digits> DLC: <n> <hex bytes>'"

TXT_LINE_RE = (
    r"^Timestamp: *(?P<timestamp>[^ ]+) +ID: *(?P<can_id>[^ ]+) +(?P<flags>[^ ]+)"
    r" +DLC: *(?P<dlc>[^ ]+)(?P<data>(?: .*)?)$"
)
# cheap per-line signatures used by format detection
CSV_SIGNATURE_RE = r"^[0-9]+(\.[0-9]+)?,[0-9A-Fa-f]{1,8},[0-9],"
TXT_SIGNATURE_RE = r"^Timestamp:\s*[0-9.]+\s+ID:\s*[0-9A-Fa-f]+\s"


def read_hcrl_ch_csv(path: str | Path) -> ReadResult:
    fast, fast_lines, rest, rest_lines = read_regular_lines(read_log_bytes(path), read_regular_csv_rows)
    result = combine(CSV_FORMAT, fast, fast_lines, parse_hcrl_ch_csv(rest, rest_lines))
    refuse_if_nothing_kept(path, result, CSV_EXPECTED)
    return result


def read_regular_csv_rows(text: TextBuffer, lines: np.ndarray) -> tuple[Frames, np.ndarray]:
    """The byte-level fast path (:mod:`canguard.ingest.bytescan`): the frames of the ``lines`` that are
    plain ``digits.digits,hex,DLC digit,2-digit bytes,R|T`` rows the general path would keep, and those lines."""
    count = text.count[lines]
    regular, (_, comma0, comma1, comma2) = text.match(b".,,,", lines, prefix=True)
    dlc = text.data[comma1 + 1].astype(np.int64) - ord("0")
    regular &= (comma2 == comma1 + 2) & (dlc >= 0) & (dlc <= 8)
    listed = np.where((count == 12) & (dlc < 8), 8, dlc)  # some releases list all eight bytes
    regular &= count == 4 + listed
    lines, comma0, comma1, comma2, dlc, listed = select(regular, lines, comma0, comma1, comma2, dlc, listed)
    dlc, listed = dlc.astype(np.uint8), listed.astype(np.int64)
    # the byte fields and their commas at 3-byte steps; nothing else (the line's punctuation counts 4 + listed)
    stop = text.line_stop[lines]
    pairs, commas_ok = text.byte_list(comma2 + 1, listed)
    flag = text.data[stop - 1]
    keep = (stop == comma2 + 3 * listed + 2) & commas_ok & ((flag == ord("R")) | (flag == ord("T")))
    timestamp, ts_ok = text.timestamp(text.line_start[lines], comma0)
    can_id, id_ok = text.can_id(comma0 + 1, comma1)
    payload, _, bytes_ok = hex_bytes(pairs, 2 * listed)
    payload.view("<u8")[:, 0] &= LOW_BYTES[dlc]  # bytes listed beyond the DLC are ignored
    keep &= ts_ok & id_ok & bytes_ok
    lines, timestamp, can_id, dlc, payload, flag = select(keep, lines, timestamp, can_id, dlc, payload, flag)
    return Frames(timestamp, can_id, dlc, payload, (flag == ord("T")).astype(np.int8)), lines


def parse_hcrl_ch_csv(lines: pa.Array, line_numbers: np.ndarray) -> ReadResult:
    """The general path: Car-Hacking CSV rows (``lines[i]`` is line ``line_numbers[i]``) -> frames and rejects."""
    checks = LineChecks(lines, line_numbers)
    fields = Fields.split(lines, ",")
    checks.reject(empty_lines(lines), "empty line")
    checks.reject(fields.count < 4, "expected at least 4 fields: Timestamp,CAN ID,DLC,...,Flag")

    timestamp, ts_ok = parse_timestamps(fields.get(0))
    checks.reject(~ts_ok, "Timestamp is not a number")
    reject_bad_times(checks, timestamp)
    can_id, id_ok = decode_hex_id(fields.get(1))
    checks.reject(~id_ok, "CAN ID is not 1-8 hex digits (at most 0x1FFFFFFF)")
    dlc, dlc_ok = parse_uint(fields.get(2), 1 << 30)
    checks.reject(~dlc_ok, "DLC is not a whole number")
    checks.reject(dlc > 8, "DLC over 8")
    dlc = np.where(dlc_ok & (dlc <= 8), dlc, 0)

    all_eight_listed = (fields.count == 12) & (dlc < 8)
    checks.reject((fields.count != 4 + dlc) & ~all_eight_listed,
                  "expected 4 + DLC fields (Timestamp,CAN ID,DLC,DLC data bytes,Flag) or 12")
    listed = np.where(all_eight_listed, 8, dlc)

    value_offsets, value_bytes = string_buffers(fields.values)
    field_start = fields.offsets[:-1]

    def two_chars(k: np.ndarray | int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Field k of each line as (first char, second char, is exactly 2 chars), straight from the buffers."""
        k = np.broadcast_to(k, fields.count.shape)
        index = np.where(k < fields.count, field_start + k, 0)
        start = value_offsets[index]
        ok = (k < fields.count) & (value_offsets[index + 1] - start == 2)
        if len(value_bytes) == 0:
            return np.zeros(len(k), np.uint8), np.zeros(len(k), np.uint8), ok
        first = value_bytes[np.minimum(start, len(value_bytes) - 1)]
        second = value_bytes[np.minimum(start + 1, len(value_bytes) - 1)]
        return first, second, ok

    payload = np.zeros((len(lines), 8), dtype=np.uint8)
    bad_byte = np.zeros(len(lines), dtype=bool)
    for k in range(8):  # loop over byte columns, not rows
        first, second, two = two_chars(3 + k)
        high, low = NIBBLE[first], NIBBLE[second]
        byte_ok = two & (high != 255) & (low != 255)
        bad_byte |= (k < listed) & ~byte_ok
        payload[:, k] = np.where((k < dlc) & byte_ok, (high << 4) | (low & 0x0F), 0)
    checks.reject(bad_byte, "data byte is not exactly 2 hex digits")

    flag = fields.get(3 + listed)
    injected = as_mask(pc.equal(flag, pa.scalar(b"T", pa.large_binary())))
    regular = as_mask(pc.equal(flag, pa.scalar(b"R", pa.large_binary())))
    checks.reject(~(injected | regular), "flag after the data bytes is not R (regular) or T (injected)")

    keep = checks.kept
    frames = Frames(timestamp[keep], can_id[keep], dlc[keep], payload[keep], injected[keep].astype(np.int8))
    return ReadResult(CSV_FORMAT, frames, checks.line_numbers[keep], checks.rejects(), header_lines=0)


def read_hcrl_ch_txt(path: str | Path) -> ReadResult:
    lines, checks, g = match_lines(path, TXT_LINE_RE, TXT_EXPECTED)

    timestamp, ts_ok = parse_timestamps(g["timestamp"])
    checks.reject(~ts_ok, "Timestamp is not a number")
    reject_bad_times(checks, timestamp)
    can_id, id_ok = decode_hex_id(g["can_id"])
    checks.reject(~id_ok, "ID is not 1-8 hex digits (at most 0x1FFFFFFF)")
    checks.reject(~as_mask(pc.match_substring_regex(g["flags"], r"^[0-9]+$")),
                  "column after the ID is not digits (e.g. 000)")
    dlc, dlc_ok = parse_uint(g["dlc"], 1 << 30)
    checks.reject(~dlc_ok, "DLC is not a whole number")
    checks.reject(dlc > 8, "DLC over 8")

    data = g["data"]
    checks.reject(~as_mask(pc.match_substring_regex(data, r"^( +[0-9A-Fa-f]{2})* *$")),
                  "data bytes are not 2-hex-digit bytes separated by spaces")
    payload, n_bytes, data_ok = decode_hex_payload(pc.replace_substring(data, " ", ""))
    checks.reject(~data_ok, "more than 8 data bytes")
    checks.reject(n_bytes != dlc, "number of data bytes differs from DLC")

    keep = checks.kept
    frames = Frames(timestamp[keep], can_id[keep], dlc[keep], payload[keep], np.zeros(keep.sum(), np.int8))
    result = ReadResult(TXT_FORMAT, frames, checks.line_numbers[keep], checks.rejects(), header_lines=0)
    refuse_if_nothing_kept(path, result, TXT_EXPECTED)
    return result
