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
from canguard.ingest.hexcodec import decode_hex_id, decode_hex_payload
from canguard.ingest.lines import Fields, LineChecks, as_mask, empty_lines, parse_float, read_lines
from canguard.ingest.result import NotCanDataError, ReadResult

HEADER = "timestamp,arbitration_id,data_field,attack"
FORMAT = "cantt_csv"
MISSING_PAYLOAD = pa.array([b"na", b"NA", b"nan", b"NaN", b"null"], pa.large_binary())
MISSING = pa.concat_arrays([MISSING_PAYLOAD, pa.array([b""], pa.large_binary())])


def is_header(first_line: bytes) -> bool:
    return first_line.strip().lower().replace(b" ", b"") == HEADER.encode()


def read_cantt_csv(path: str | Path) -> ReadResult:
    lines = read_lines(path)
    if len(lines) == 0 or not is_header(lines[0].as_py()):
        raise NotCanDataError(f"{path}:1: expected the can-train-and-test header '{HEADER}'")
    body = lines.slice(1)
    checks = LineChecks(body, np.arange(2, len(lines) + 1))
    fields = Fields.split(body, ",")

    checks.reject(empty_lines(body), "empty line")
    checks.reject(fields.count != 4, "expected 4 fields: timestamp,arbitration_id,data_field,attack")

    ts_raw, id_raw, data_raw, attack_raw = (fields.get(k) for k in range(4))
    for name, raw in (("timestamp", ts_raw), ("arbitration_id", id_raw), ("attack", attack_raw)):
        checks.reject(as_mask(pc.is_in(raw, MISSING)), f"missing {name} ('na' or empty)")
    # an empty data_field is a DLC-0 frame; only a spelled-out missing value is missing
    checks.reject(as_mask(pc.is_in(data_raw, MISSING_PAYLOAD)), "missing data_field ('na')")

    timestamp, ts_ok = parse_float(ts_raw)
    checks.reject(~ts_ok, "timestamp is not a number")
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
