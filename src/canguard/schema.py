"""The canonical message table: one parquet file per recording.

=============  ==================  ==============================================
column         type                meaning
=============  ==================  ==============================================
timestamp      float64             seconds, as in the source (epoch for real data)
can_id         uint32              arbitration ID (11- or 29-bit)
dlc            uint8               data length code, 0..8 (for a remote frame: the
                                   requested length; for CAN FD: the data bytes)
frame_type     dictionary<string>  "data" (classic data frame), "remote" (RTR:
                                   no payload, all bytes 0) or "fd" (CAN FD frame
                                   of at most 8 data bytes); codes 0, 1, 2 in
                                   :class:`canguard.frames.Frames`
byte_0..7      uint8               payload; a byte at index >= dlc is padding (0)
label          int8                1 attack, 0 benign, -1 unknown (unlabelled log)
attack_type    dictionary<string>  the recording's attack where label == 1,
                                   "none" where 0, "unknown" where -1
source_file    dictionary<string>  path of the raw file the message came from
source_line    int64               1-based line in that file (record index for
                                   binary formats)
=============  ==================  ==============================================

A padded byte and a real 0x00 byte differ through ``dlc`` (and ``frame_type``:
a remote frame's bytes are all 0 whatever its ``dlc``).  Recording-level
facts (dataset, split, scenario, vehicle, attack, format, content hash) are
stored in the parquet file's key-value metadata under ``canguard``.

Frame types, the same rule in every reader: remote frames are kept (an
attacker can send them too) with their requested length as ``dlc``; CAN FD
frames are kept when their payload fits in 8 bytes (``dlc`` = data bytes)
and rejected otherwise with the reason "CAN FD frame with N data bytes
(more than 8): the schema holds 8"; error frames are not messages and are
rejected.  A table without ``frame_type`` (read with a column selection, or
written before the column existed) reads as all "data" (:func:`table_to_frames`).
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from canguard.frames import FRAME_TYPE_NAMES, Frames

BYTE_COLUMNS = [f"byte_{i}" for i in range(8)]

MESSAGE_SCHEMA = pa.schema(
    [
        ("timestamp", pa.float64()),
        ("can_id", pa.uint32()),
        ("dlc", pa.uint8()),
        ("frame_type", pa.dictionary(pa.int32(), pa.string())),
        *[(c, pa.uint8()) for c in BYTE_COLUMNS],
        ("label", pa.int8()),
        ("attack_type", pa.dictionary(pa.int32(), pa.string())),
        ("source_file", pa.dictionary(pa.int32(), pa.string())),
        ("source_line", pa.int64()),
    ]
)

METADATA_KEY = b"canguard"


def _label_names(label: np.ndarray, attack: str) -> pa.DictionaryArray:
    names = pa.array(["none", attack if attack != "none" else "attack", "unknown"], pa.string())
    index = np.where(label == 1, 1, np.where(label == 0, 0, 2)).astype(np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(index), names)


def _frame_type_names(codes: np.ndarray) -> pa.DictionaryArray:
    """frame_type codes as a dictionary array whose dictionary is FRAME_TYPE_NAMES (index == code)."""
    codes = np.asarray(codes, dtype=np.int32)
    if len(codes) and (codes.min() < 0 or codes.max() >= len(FRAME_TYPE_NAMES)):
        raise ValueError(f"frame_type codes must be 0..{len(FRAME_TYPE_NAMES) - 1} ({', '.join(FRAME_TYPE_NAMES)})")
    return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(FRAME_TYPE_NAMES, pa.string()))


def _frame_type_codes(table: pa.Table) -> np.ndarray | None:
    """The table's frame_type column as int8 codes; None when the column is absent (all data frames)."""
    if "frame_type" not in table.column_names:
        return None
    names = table.column("frame_type").cast(pa.string())
    codes = pc.index_in(names, value_set=pa.array(FRAME_TYPE_NAMES, pa.string()))
    if codes.null_count:
        bad = pc.filter(names, pc.is_null(codes))[0].as_py()
        raise ValueError(f"unknown frame_type {bad!r}: expected one of {', '.join(FRAME_TYPE_NAMES)}")
    return codes.to_numpy().astype(np.int8)


def frames_to_table(frames: Frames, line: np.ndarray, attack: str, source_file: str,
                    metadata: dict | None = None) -> pa.Table:
    """Build the canonical table for one recording's frames."""
    n = len(frames)
    columns = {
        "timestamp": pa.array(frames.timestamp),
        "can_id": pa.array(frames.can_id),
        "dlc": pa.array(frames.dlc),
        "frame_type": _frame_type_names(frames.frame_type),
        **{c: pa.array(np.ascontiguousarray(frames.payload[:, i])) for i, c in enumerate(BYTE_COLUMNS)},
        "label": pa.array(frames.label),
        "attack_type": _label_names(frames.label, attack),
        "source_file": pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(n, np.int32)), pa.array([source_file], pa.string())
        ),
        "source_line": pa.array(np.asarray(line, dtype=np.int64)),
    }
    table = pa.table(columns, schema=MESSAGE_SCHEMA)
    if metadata is not None:
        table = table.replace_schema_metadata({METADATA_KEY: json.dumps(metadata, sort_keys=True)})
    return table


def table_to_frames(table: pa.Table) -> Frames:
    """Frames of a message table; ``frame_type`` may be left out of the columns read (then all "data")."""
    payload = (np.stack([table.column(c).to_numpy() for c in BYTE_COLUMNS], axis=1) if table.num_rows
               else np.empty((0, 8)))
    return Frames(
        table.column("timestamp").to_numpy(),
        table.column("can_id").to_numpy(),
        table.column("dlc").to_numpy(),
        payload,
        table.column("label").to_numpy(),
        _frame_type_codes(table),
    )


def write_messages(path, table: pa.Table) -> None:
    pq.write_table(table, path, compression="zstd", row_group_size=1 << 20)


def read_metadata(path) -> dict:
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(METADATA_KEY, b"{}"))
