"""can-train-and-test v1.5 CSV (the format of hcrl_sa, hcrl_ch and set_01..set_04 there).

    timestamp,arbitration_id,data_field,attack
    1513921815.350702,081,7F84690000000069,0
    1513920093.61536,4C7,100000,0

timestamp in epoch seconds; arbitration_id hex without ``0x``; data_field
0 to 16 hex digits (2 x DLC; empty for DLC 0); attack 0 or 1.  The format
has no field for remote or CAN FD frames: every kept row is frame_type
"data".  Text in UTF-16, UTF-32 or with a UTF-8 byte-order mark is
transcoded first (:func:`canguard.ingest.lines.to_utf8`), line numbers
unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from canguard.frames import Frames
from canguard.ingest.bytescan import TextBuffer, combine, first_line, read_log_bytes, read_regular_lines, select
from canguard.ingest.hexcodec import decode_hex_id, decode_hex_payload
from canguard.ingest.lines import Fields, LineChecks, as_mask, empty_lines
from canguard.ingest.result import NotCanDataError, ReadResult
from canguard.ingest.timestamps import parse_timestamps, reject_bad_times

HEADER = "timestamp,arbitration_id,data_field,attack"
FORMAT = "cantt_csv"
MISSING_PAYLOAD = pa.array([b"na", b"NA", b"nan", b"NaN", b"null"], pa.large_binary())
MISSING = pa.concat_arrays([MISSING_PAYLOAD, pa.array([b""], pa.large_binary())])


def is_header(first_line: bytes) -> bool:
    return first_line.strip().lower().replace(b" ", b"") == HEADER.encode()


def read_cantt_csv(path: str | Path) -> ReadResult:
    data = read_log_bytes(path)
    if not is_header(first_line(data)):
        raise NotCanDataError(f"{path}:1: expected the can-train-and-test header '{HEADER}'")
    fast, fast_lines, rest, rest_lines = read_regular_lines(data, read_regular_rows, skip_lines=1)
    return combine(FORMAT, fast, fast_lines, parse_cantt_lines(rest, rest_lines), header_lines=1)


def read_regular_rows(text: TextBuffer, lines: np.ndarray) -> tuple[Frames, np.ndarray]:
    """The byte-level fast path (:mod:`canguard.ingest.bytescan`): the frames of the ``lines`` that are
    plain ``digits.digits,hex,hex,0|1`` rows the general path would keep, and those lines."""
    regular, (_, comma1, comma2, comma3) = text.match(b".,,,", lines)
    lines, comma1, comma2, comma3 = select(regular, lines, comma1, comma2, comma3)
    timestamp, ts_ok = text.timestamp(text.line_start[lines], comma1)
    can_id, id_ok = text.can_id(comma1 + 1, comma2)
    payload, dlc, data_ok = text.hex_payload(comma2 + 1, comma3)
    attack = text.data[comma3 + 1]
    attack_ok = (text.line_stop[lines] - comma3 == 2) & ((attack == ord("0")) | (attack == ord("1")))
    keep = ts_ok & id_ok & data_ok & attack_ok
    lines, timestamp, can_id, dlc, payload, attack = select(keep, lines, timestamp, can_id, dlc, payload, attack)
    return Frames(timestamp, can_id, dlc, payload, (attack == ord("1")).astype(np.int8)), lines


def parse_cantt_lines(body: pa.Array, line_numbers: np.ndarray) -> ReadResult:
    """The general path: rows after the header (``body[i]`` is line ``line_numbers[i]``) -> frames and rejects."""
    checks = LineChecks(body, line_numbers)
    fields = Fields.split(body, ",")

    checks.reject(empty_lines(body), "empty line")
    checks.reject(fields.count != 4, "expected 4 fields: timestamp,arbitration_id,data_field,attack")

    ts_raw, id_raw, data_raw, attack_raw = (fields.get(k) for k in range(4))
    for name, raw in (("timestamp", ts_raw), ("arbitration_id", id_raw), ("attack", attack_raw)):
        checks.reject(as_mask(pc.is_in(raw, MISSING)), f"missing {name} ('na' or empty)")
    # an empty data_field is a DLC-0 frame; only a spelled-out missing value is missing
    checks.reject(as_mask(pc.is_in(data_raw, MISSING_PAYLOAD)), "missing data_field ('na')")

    timestamp, ts_ok = parse_timestamps(ts_raw)
    checks.reject(~ts_ok, "timestamp is not a number")
    reject_bad_times(checks, timestamp)
    if pc.any(pc.or_(pc.starts_with(id_raw, "0x"), pc.starts_with(id_raw, "0X"))).as_py():  # rare: skip the regex
        id_raw = pc.replace_substring_regex(id_raw, r"^0[xX]", b"")
    can_id, id_ok = decode_hex_id(id_raw)
    checks.reject(~id_ok, "arbitration_id is not a CAN ID (1-8 hex digits, at most 0x1FFFFFFF)")
    payload, dlc, data_ok = decode_hex_payload(data_raw)
    checks.reject(~data_ok, "data_field is not 0-16 hex digits of even length (DLC over 8 or bad hex)")
    label = as_mask(pc.equal(attack_raw, pa.scalar(b"1", pa.large_binary())))
    attack_ok = label | as_mask(pc.equal(attack_raw, pa.scalar(b"0", pa.large_binary())))
    checks.reject(~attack_ok, "attack is not 0 or 1")

    keep = checks.kept
    frames = Frames(timestamp[keep], can_id[keep], dlc[keep], payload[keep], label[keep].astype(np.int8))
    return ReadResult(FORMAT, frames, checks.line_numbers[keep], checks.rejects(), header_lines=1)
