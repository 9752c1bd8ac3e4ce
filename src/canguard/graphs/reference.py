"""A naive, obviously correct window-graph builder: one window at a time, pandas and Python lists.

It is what research code typically does (and ~100x slower); canguard keeps it
as the reference that the vectorised :mod:`canguard.graphs.builder` is tested
against and benchmarked with.  Same output layout and ordering: nodes sorted by
CAN ID within a window, edges sorted by (source, destination).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from canguard.frames import Frames
from canguard.graphs.builder import WindowGraphs, window_starts


def _log_ms(seconds: float) -> float:
    return float(np.log1p(max(seconds, 0.0) * 1000.0))


def _graph(df: pd.DataFrame, size: int):
    ids = sorted(df["can_id"].unique().tolist())
    local = {cid: i for i, cid in enumerate(ids)}
    rows = []
    for cid, group in df.groupby("can_id", sort=True):
        feats = [float(len(group))]
        stats = {"mean": [], "std": [], "min": [], "max": [], "present": []}
        for j in range(8):
            vals = group.loc[group["dlc"] > j, f"b{j}"].to_numpy(dtype=float) / 255.0
            if len(vals):
                stats["mean"].append(vals.mean())
                stats["std"].append(vals.std())
                stats["min"].append(vals.min())
                stats["max"].append(vals.max())
            else:
                for k in ("mean", "std", "min", "max"):
                    stats[k].append(0.0)
            stats["present"].append(len(vals) / len(group))
        for k in ("mean", "std", "min", "max", "present"):
            feats += stats[k]
        gaps = [_log_ms(b - a) for a, b in zip(group["t"].tolist(), group["t"].tolist()[1:])]
        feats += [group["dlc"].mean(), float(np.mean(gaps)) if gaps else 0.0,
                  float(np.std(gaps)) if gaps else 0.0,
                  group["pos"].min() / max(size - 1, 1), group["pos"].max() / max(size - 1, 1)]
        rows.append(feats)
    edges: dict[tuple[int, int], list[float]] = {}
    seq, times = df["can_id"].tolist(), df["t"].tolist()
    for i in range(len(seq) - 1):
        edges.setdefault((local[seq[i]], local[seq[i + 1]]), []).append(_log_ms(times[i + 1] - times[i]))
    keys = sorted(edges)
    return ids, rows, keys, [[len(edges[k]), float(np.mean(edges[k]))] for k in keys]


def build_window_graphs_reference(frames: Frames, size: int, stride: int) -> WindowGraphs:
    xs, can_ids, eis, eas, nptr, eptr, ys, fracs = [], [], [], [], [0], [0], [], []
    starts = window_starts(len(frames), size, stride)
    for s in starts:
        sl = slice(s, s + size)
        df = pd.DataFrame({"t": frames.timestamp[sl], "can_id": frames.can_id[sl].astype(np.int64),
                           "dlc": frames.dlc[sl], "pos": np.arange(size),
                           **{f"b{j}": frames.payload[sl, j] for j in range(8)}})
        ids, rows, keys, attrs = _graph(df, size)
        xs += rows
        can_ids += ids
        eis += keys
        eas += attrs
        nptr.append(nptr[-1] + len(ids))
        eptr.append(eptr[-1] + len(keys))
        labels = frames.label[sl]
        ys.append(-1 if (labels == -1).any() else int((labels == 1).any()))
        fracs.append(float((labels == 1).mean()))
    return WindowGraphs(
        x=np.asarray(xs, np.float32).reshape(-1, 46), node_can_id=np.asarray(can_ids, np.int64),
        edge_index=np.asarray(eis, np.int64).reshape(-1, 2).T.copy(),
        edge_attr=np.asarray(eas, np.float32).reshape(-1, 2), node_ptr=np.asarray(nptr, np.int64),
        edge_ptr=np.asarray(eptr, np.int64), y=np.asarray(ys, np.int64), attack_frac=np.asarray(fracs, np.float32),
        start=starts, t_start=frames.timestamp[starts], t_end=frames.timestamp[starts + size - 1],
    )
