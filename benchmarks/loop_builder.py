"""The anchor of the graph benchmark: window graphs built the way research code on CAN graphs builds them,
a Python loop over windows, and inside each window a loop over its CAN IDs with numpy on that ID's messages.

It computes the window-intrinsic node features and both edge features of :mod:`canguard.graphs.features`
(not the features relative to a profile), in the builder's layout: nodes sorted by CAN ID, edges sorted by
(source, destination).  :func:`check_against` asserts that it gives what the vectorised builder gives, so
the benchmark compares the same work.
"""

from __future__ import annotations

import numpy as np

from canguard.frames import Frames
from canguard.graphs.features import INTRINSIC_FEATURES


def _log_ms(seconds):
    return np.log1p(np.maximum(seconds, 0.0) * 1000.0)


def build_window_graphs_loop(frames: Frames, size: int, stride: int) -> dict[str, list]:
    """Per window: ``can_ids`` (sorted), ``x`` (nodes, intrinsic features), ``edges`` [(src, dst)], ``edge_attr``."""
    t, ids, dlc, payload = frames.timestamp, frames.can_id, frames.dlc, frames.payload
    out = {"can_ids": [], "x": [], "edges": [], "edge_attr": []}
    for start in range(0, len(frames) - size + 1, stride):
        w_ids = ids[start:start + size].tolist()
        w_t = t[start:start + size]
        nodes = sorted(set(w_ids))
        local = {c: i for i, c in enumerate(nodes)}
        positions: dict[int, list[int]] = {}
        for pos, c in enumerate(w_ids):
            positions.setdefault(c, []).append(pos)
        x = np.zeros((len(nodes), len(INTRINSIC_FEATURES)))
        for c in nodes:
            pos = np.asarray(positions[c])
            rows = start + pos
            d, p = dlc[rows], payload[rows] / 255.0
            stats = np.zeros((5, 8))
            for j in range(8):
                vals = p[d > j, j]
                if len(vals):
                    stats[:4, j] = vals.mean(), vals.std(), vals.min(), vals.max()
                stats[4, j] = len(vals) / len(pos)
            gaps = _log_ms(np.diff(w_t[pos]))
            x[local[c]] = [len(pos), *stats.ravel(), d.mean(), gaps.mean() if len(gaps) else 0.0,
                           gaps.std() if len(gaps) else 0.0, pos[0] / max(size - 1, 1), pos[-1] / max(size - 1, 1)]
        edges: dict[tuple[int, int], list[float]] = {}
        gap = _log_ms(np.diff(w_t))
        for i in range(size - 1):
            edges.setdefault((local[w_ids[i]], local[w_ids[i + 1]]), []).append(gap[i])
        keys = sorted(edges)
        out["can_ids"].append(nodes)
        out["x"].append(x)
        out["edges"].append(keys)
        out["edge_attr"].append([[len(edges[k]), float(np.mean(edges[k]))] for k in keys])
    return out


def check_against(loop: dict[str, list], graphs) -> None:
    """Raise AssertionError unless ``loop`` holds the nodes, intrinsic features and edges of ``graphs``."""
    k = len(INTRINSIC_FEATURES)
    assert len(loop["x"]) == graphs.num_graphs, "window counts differ"
    assert np.array_equal(np.concatenate([np.asarray(c) for c in loop["can_ids"]]), graphs.node_can_id)
    np.testing.assert_allclose(np.concatenate(loop["x"]), graphs.x[:, :k], rtol=1e-4, atol=1e-5)
    edges = np.concatenate([np.asarray(e, np.int64).reshape(-1, 2) for e in loop["edges"]]).T
    assert np.array_equal(edges, graphs.edge_index), "edges differ"
    np.testing.assert_allclose(np.concatenate([np.asarray(a).reshape(-1, 2) for a in loop["edge_attr"]]),
                               graphs.edge_attr, rtol=1e-4, atol=1e-5)
