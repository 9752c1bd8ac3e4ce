"""Windows of one recording: graphs plus the window table that describes them.

The window table (one row per window) is what later stages join on::

    window        int64    index of the window in its recording
    start         int64    index of its first message
    t_start/t_end float64  timestamps of its first and last message
    label         int8     1 if any message is an attack, 0 if none, -1 if unlabelled
    attack_frac   float32  share of attack messages
    attack_type   string   the recording's attack where label == 1, else "none"/"unknown"
    num_ids       int32    distinct CAN IDs (= nodes of its graph)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from canguard.graphs.builder import WindowGraphs, build_window_graphs
from canguard.schema import read_metadata, table_to_frames

GRAPH_COLUMNS = ["timestamp", "can_id", "dlc", *[f"byte_{i}" for i in range(8)], "label"]


def window_table(graphs: WindowGraphs, attack: str) -> pa.Table:
    y = graphs.y
    attack_type = np.where(y == 1, attack, np.where(y == 0, "none", "unknown"))
    return pa.table({
        "window": pa.array(np.arange(graphs.num_graphs, dtype=np.int64)),
        "start": pa.array(graphs.start),
        "t_start": pa.array(graphs.t_start),
        "t_end": pa.array(graphs.t_end),
        "label": pa.array(y.astype(np.int8)),
        "attack_frac": pa.array(graphs.attack_frac),
        "attack_type": pa.array(attack_type.astype(str), pa.string()),
        "num_ids": pa.array(np.diff(graphs.node_ptr).astype(np.int32)),
    })


def build_recording_windows(parquet: str | Path, size: int, stride: int,
                            graphs_out: str | Path, windows_out: str | Path) -> dict:
    """Read one ingested recording, write its raw window graphs (.pt) and window table (.parquet)."""
    meta = read_metadata(parquet)
    frames = table_to_frames(pq.read_table(parquet, columns=GRAPH_COLUMNS))
    graphs = build_window_graphs(frames, size, stride)
    payload = graphs.to_dict() | {"size": size, "stride": stride, "recording": meta.get("key", str(parquet)),
                                  "source_hash": meta.get("hash", "")}
    torch.save(payload, graphs_out)
    table = window_table(graphs, meta.get("attack", "attack"))
    covered = int(graphs.start[-1] + size) if graphs.num_graphs else 0
    info = meta | {"window_size": size, "window_stride": stride, "messages": len(frames),
                   "tail_messages": len(frames) - covered}
    table = table.replace_schema_metadata({"canguard": json.dumps(info)})
    pq.write_table(table, windows_out)
    return {"messages": len(frames), "windows": graphs.num_graphs}


def load_window_graphs(path: str | Path) -> tuple[WindowGraphs, dict]:
    """Raw window graphs of one recording and their info (size, stride, recording, source_hash)."""
    d = torch.load(path, weights_only=True)
    info = {k: d.pop(k) for k in ("size", "stride", "recording", "source_hash")}
    return WindowGraphs.from_dict(d), info
