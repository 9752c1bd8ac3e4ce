"""Windows of a recording and their graphs, built for the whole recording at once.

A recording of ``n`` messages gives ``(n - W) // S + 1`` windows of ``W``
consecutive messages, the k-th starting at message ``k * S`` (messages after
the last full window belong to no window and are counted as ``tail``).  Each
window becomes a directed graph: a node per distinct CAN ID, an edge per
distinct transition between consecutive messages (see
:mod:`canguard.graphs.features`).

Everything is computed with numpy/torch scatter operations over the
flattened ``n_windows * W`` message slots: no Python loop per window or per
message.  The result is in PyG's collated layout (all graphs concatenated,
``node_ptr``/``edge_ptr`` delimit graph ``k``), with local edge indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from canguard.frames import Frames
from canguard.graphs.features import NUM_EDGE_FEATURES, NUM_NODE_FEATURES


@dataclass
class WindowGraphs:
    """Graphs of one recording's windows, concatenated.

    Shapes (N nodes, E edges, G windows)::

        x            (N, F_node) float32   node features, unnormalised
        node_can_id  (N,)        int64     raw CAN ID of each node
        edge_index   (2, E)      int64     local node indices within the graph
        edge_attr    (E, F_edge) float32
        node_ptr     (G + 1,)    int64     nodes of graph k: node_ptr[k]:node_ptr[k+1]
        edge_ptr     (G + 1,)    int64
        y            (G,)        int64     1 if any message is an attack, 0 if none, -1 unlabelled
        attack_frac  (G,)        float32   share of attack messages
        start        (G,)        int64     index of the window's first message
        t_start, t_end (G,)      float64   timestamps of its first and last message
    """

    x: np.ndarray
    node_can_id: np.ndarray
    edge_index: np.ndarray
    edge_attr: np.ndarray
    node_ptr: np.ndarray
    edge_ptr: np.ndarray
    y: np.ndarray
    attack_frac: np.ndarray
    start: np.ndarray
    t_start: np.ndarray
    t_end: np.ndarray

    @property
    def num_graphs(self) -> int:
        return len(self.y)

    def to_dict(self) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "WindowGraphs":
        return cls(**{k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in d.items()})


def window_starts(n: int, size: int, stride: int) -> np.ndarray:
    if size < 1 or stride < 1:
        raise ValueError(f"window size and stride must be >= 1, got W={size}, S={stride}")
    if n < size:
        return np.empty(0, dtype=np.int64)
    return np.arange(0, n - size + 1, stride, dtype=np.int64)


def _ms_log(seconds: np.ndarray) -> np.ndarray:
    return np.log1p(np.maximum(seconds, 0.0) * 1000.0)


def build_window_graphs(frames: Frames, size: int, stride: int) -> WindowGraphs:
    """All windows of ``frames`` (in file order) and their graphs."""
    starts = window_starts(len(frames), size, stride)
    G, W = len(starts), size
    if G == 0:
        return _empty()
    slot = (starts[:, None] + np.arange(W)[None, :]).reshape(-1)  # message index of each slot
    win = np.repeat(np.arange(G, dtype=np.int64), W)
    pos = np.tile(np.arange(W, dtype=np.int64), G)

    # nodes: distinct (window, CAN ID); sorted by window, then by CAN ID
    uid, code = np.unique(frames.can_id, return_inverse=True)
    K = len(uid)
    node_key, node_of = np.unique(win * K + code[slot], return_inverse=True)
    N = len(node_key)
    node_win = node_key // K
    node_ptr = np.searchsorted(node_win, np.arange(G + 1)).astype(np.int64)

    count = np.bincount(node_of, minlength=N).astype(np.float64)
    dlc = frames.dlc[slot].astype(np.int64)
    payload = frames.payload[slot].astype(np.float64) / 255.0
    present = np.arange(8)[None, :] < dlc[:, None]  # (m, 8)

    idx = torch.from_numpy(node_of)[:, None].expand(-1, 8)
    pay = torch.from_numpy(payload)
    pres = torch.from_numpy(present)
    n_present = torch.zeros(N, 8, dtype=torch.float64).index_add_(0, idx[:, 0], pres.double())
    s1 = torch.zeros(N, 8, dtype=torch.float64).index_add_(0, idx[:, 0], pay * pres)
    s2 = torch.zeros(N, 8, dtype=torch.float64).index_add_(0, idx[:, 0], pay * pay * pres)
    inf = torch.tensor(np.inf, dtype=torch.float64)
    bmin = torch.full((N, 8), np.inf, dtype=torch.float64).scatter_reduce_(
        0, idx, torch.where(pres, pay, inf), "amin")
    bmax = torch.full((N, 8), -np.inf, dtype=torch.float64).scatter_reduce_(
        0, idx, torch.where(pres, pay, -inf), "amax")
    has = n_present > 0
    safe = torch.where(has, n_present, torch.ones_like(n_present))
    bmean = torch.where(has, s1 / safe, 0.0)
    bstd = torch.where(has, (s2 / safe - bmean * bmean).clamp_min(0.0).sqrt(), 0.0)
    bmin = torch.where(has, bmin, 0.0)
    bmax = torch.where(has, bmax, 0.0)
    bpresent = n_present / torch.from_numpy(count)[:, None]

    dlc_mean = np.bincount(node_of, weights=dlc, minlength=N) / count

    # inter-arrival per node: slots grouped by node keep their time order (stable sort)
    order = np.argsort(node_of, kind="stable")
    node_sorted = node_of[order]
    t_sorted = frames.timestamp[slot][order]
    same = node_sorted[1:] == node_sorted[:-1]
    gaps = _ms_log(np.diff(t_sorted)[same])
    gap_node = node_sorted[1:][same]
    n_gaps = np.bincount(gap_node, minlength=N).astype(np.float64)
    g_safe = np.maximum(n_gaps, 1.0)
    iat_mean = np.bincount(gap_node, weights=gaps, minlength=N) / g_safe
    iat_var = np.bincount(gap_node, weights=gaps * gaps, minlength=N) / g_safe - iat_mean**2
    iat_std = np.sqrt(np.maximum(iat_var, 0.0))
    pos_sorted = pos[order]
    group_start = np.searchsorted(node_sorted, np.arange(N))
    group_end = np.searchsorted(node_sorted, np.arange(N), side="right") - 1
    scale = max(W - 1, 1)
    first_pos = pos_sorted[group_start] / scale
    last_pos = pos_sorted[group_end] / scale

    x = np.concatenate(
        [count[:, None], bmean.numpy(), bstd.numpy(), bmin.numpy(), bmax.numpy(), bpresent.numpy(),
         dlc_mean[:, None], iat_mean[:, None], iat_std[:, None], first_pos[:, None], last_pos[:, None]],
        axis=1,
    ).astype(np.float32)
    assert x.shape[1] == NUM_NODE_FEATURES

    # edges: transitions between consecutive slots of the same window
    inner = np.flatnonzero(pos < W - 1)
    src, dst = node_of[inner], node_of[inner + 1]
    t = frames.timestamp[slot]
    gap = _ms_log(t[inner + 1] - t[inner])
    edge_key, edge_of, edge_count = np.unique(src * N + dst, return_inverse=True, return_counts=True)
    e_src, e_dst = edge_key // N, edge_key % N
    gap_mean = np.bincount(edge_of, weights=gap, minlength=len(edge_key)) / edge_count
    edge_win = node_win[e_src]
    edge_ptr = np.searchsorted(edge_win, np.arange(G + 1)).astype(np.int64)
    base = node_ptr[edge_win]
    edge_index = np.stack([e_src - base, e_dst - base]).astype(np.int64)
    edge_attr = np.stack([edge_count.astype(np.float64), gap_mean], axis=1).astype(np.float32)
    assert edge_attr.shape[1] == NUM_EDGE_FEATURES

    label = frames.label[slot].reshape(G, W)
    y = np.where((label == -1).any(axis=1), -1, (label == 1).any(axis=1).astype(np.int64))
    attack_frac = (label == 1).mean(axis=1).astype(np.float32)
    return WindowGraphs(
        x=x, node_can_id=uid[node_key % K].astype(np.int64), edge_index=edge_index, edge_attr=edge_attr,
        node_ptr=node_ptr, edge_ptr=edge_ptr, y=y.astype(np.int64), attack_frac=attack_frac,
        start=starts, t_start=frames.timestamp[starts], t_end=frames.timestamp[starts + W - 1],
    )


def _empty() -> WindowGraphs:
    z = np.zeros(0, dtype=np.int64)
    return WindowGraphs(
        x=np.zeros((0, NUM_NODE_FEATURES), np.float32), node_can_id=z, edge_index=np.zeros((2, 0), np.int64),
        edge_attr=np.zeros((0, NUM_EDGE_FEATURES), np.float32), node_ptr=np.zeros(1, np.int64),
        edge_ptr=np.zeros(1, np.int64), y=z, attack_frac=np.zeros(0, np.float32), start=z,
        t_start=np.zeros(0), t_end=np.zeros(0),
    )
