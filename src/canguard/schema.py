"""The canonical message table: one parquet file per recording.

=============  ==================  ==============================================
column         type                meaning
=============  ==================  ==============================================
timestamp      float64             seconds, as in the source (epoch for real data)
can_id         uint32              arbitration ID (11- or 29-bit)
dlc            uint8               data length code, 0..8
byte_0..7      uint8               payload; a byte at index >= dlc is padding (0)
label          int8                1 attack, 0 benign, -1 unknown (unlabelled log)
attack_type    dictionary<string>  the recording's attack where label == 1,
                                   "none" where 0, "unknown" where -1
source_file    dictionary<string>  path of the raw file the message came from
source_line    int64               1-based line in that file (record index for
                                   binary formats)
=============  ==================  ==============================================

A padded byte and a real 0x00 byte differ through ``dlc``.  Recording-level
facts (dataset, split, scenario, vehicle, attack, format, content hash) are
stored in the parquet file's key-value metadata under ``canguard``.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from canguard.frames import Frames

BYTE_COLUMNS = [f"byte_{i}" for i in range(8)]

MESSAGE_SCHEMA = pa.schema(
    [
        ("timestamp", pa.float64()),
        ("can_id", pa.uint32()),
        ("dlc", pa.uint8()),
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


def frames_to_table(frames: Frames, line: np.ndarray, attack: str, source_file: str,
                    metadata: dict | None = None) -> pa.Table:
    """Build the canonical table for one recording's frames."""
    n = len(frames)
    columns = {
        "timestamp": pa.array(frames.timestamp),
        "can_id": pa.array(frames.can_id),
        "dlc": pa.array(frames.dlc),
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
    payload = (np.stack([table.column(c).to_numpy() for c in BYTE_COLUMNS], axis=1) if table.num_rows
               else np.empty((0, 8)))
    return Frames(
        table.column("timestamp").to_numpy(),
        table.column("can_id").to_numpy(),
        table.column("dlc").to_numpy(),
        payload,
        table.column("label").to_numpy(),
    )


def write_messages(path, table: pa.Table) -> None:
    pq.write_table(table, path, compression="zstd", row_group_size=1 << 20)


def read_metadata(path) -> dict:
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(METADATA_KEY, b"{}"))
