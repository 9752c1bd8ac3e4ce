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

from canguard.frames import Frames, previous_same_id
from canguard.graphs.features import NUM_EDGE_FEATURES, NUM_NODE_FEATURES
from canguard.graphs.relative import relative_node_features
from canguard.graphs.windows import window_starts
from canguard.profiles.profile import VehicleProfile


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
    def from_dict(cls, d: dict) -> WindowGraphs:
        return cls(**{k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in d.items()})


def select_graphs(g: WindowGraphs, mask: np.ndarray) -> WindowGraphs:
    """The graphs where ``mask`` is True, re-packed (pointers recomputed)."""
    mask = np.asarray(mask, dtype=bool)
    n_nodes, n_edges = np.diff(g.node_ptr), np.diff(g.edge_ptr)
    node_mask = np.repeat(mask, n_nodes)
    edge_mask = np.repeat(mask, n_edges)
    ptr = lambda counts: np.concatenate([[0], np.cumsum(counts[mask])]).astype(np.int64)  # noqa: E731
    return WindowGraphs(
        x=g.x[node_mask], node_can_id=g.node_can_id[node_mask], edge_index=g.edge_index[:, edge_mask],
        edge_attr=g.edge_attr[edge_mask], node_ptr=ptr(n_nodes), edge_ptr=ptr(n_edges), y=g.y[mask],
        attack_frac=g.attack_frac[mask], start=g.start[mask], t_start=g.t_start[mask], t_end=g.t_end[mask],
    )


def _ms_log(seconds: np.ndarray) -> np.ndarray:
    return np.log1p(np.maximum(seconds, 0.0) * 1000.0)


def build_window_graphs(frames: Frames, size: int, stride: int, profiles: list[VehicleProfile] | None = None,
                        window_profile: np.ndarray | None = None, starts: np.ndarray | None = None,
                        t_origin: float | None = None) -> WindowGraphs:
    """All windows of ``frames`` (in file order) and their graphs.

    ``profiles`` and ``window_profile`` (G,) give the vehicle profile each window is
    compared with (an index into ``profiles``, -1 for none; default: one profile for
    every window if one is given, else none): the relative node features of
    :mod:`canguard.graphs.relative`.

    A stream (:mod:`canguard.deploy.stream`) builds its windows a few at a time:
    ``frames`` is then the last earlier message of each profile ID (what "previous
    message of this ID" and "last seen" refer to) followed by the new messages,
    ``starts`` (G,) the windows' first messages in it, and ``t_origin`` the time of
    the stream's first message (when an ID never seen went quiet: default, the
    first of ``frames``).  ``start`` in the result then indexes ``frames``.
    """
    starts = window_starts(len(frames), size, stride) if starts is None else np.asarray(starts, np.int64)
    G, W = len(starts), size
    if G == 0:
        return _empty()
    slot = (starts[:, None] + np.arange(W)[None, :]).reshape(-1)  # message index of each slot
    win = np.repeat(np.arange(G, dtype=np.int64), W)
    pos = np.tile(np.arange(W, dtype=np.int64), G)

    # nodes: distinct (window, CAN ID); sorted by window, then by CAN ID
    uid, code = _dense_unique(frames.can_id.astype(np.int64), int(frames.can_id.max()) + 1)
    K = len(uid)
    node_key, node_of = _dense_unique(win * K + code[slot], G * K)
    N = len(node_key)
    node_win = node_key // K
    node_ptr = np.searchsorted(node_win, np.arange(G + 1)).astype(np.int64)

    count = np.bincount(node_of, minlength=N).astype(np.float64)
    dlc = frames.dlc[slot].astype(np.int64)
    pay = frames.payload[slot] / 255.0  # (m, 8) float64
    pres = np.arange(8)[None, :] < dlc[:, None]  # byte j carried: dlc > j
    present_pay = np.where(pres, pay, 0.0)
    # sums per node and byte: a bincount per byte position (8 calls, none per message)
    n_present = np.stack([np.bincount(node_of, weights=pres[:, j], minlength=N) for j in range(8)], axis=1)
    s1 = np.stack([np.bincount(node_of, weights=present_pay[:, j], minlength=N) for j in range(8)], axis=1)
    s2 = np.stack([np.bincount(node_of, weights=present_pay[:, j] ** 2, minlength=N) for j in range(8)], axis=1)
    idx = torch.from_numpy(node_of)
    idx8 = idx[:, None].expand(-1, 8)
    pay_t, pres_t = torch.from_numpy(pay), torch.from_numpy(pres)
    bmax = torch.full((N, 8), -np.inf, dtype=torch.float64).scatter_reduce_(
        0, idx8, pay_t.masked_fill(~pres_t, -np.inf), "amax").numpy()
    bmin = torch.full((N, 8), np.inf, dtype=torch.float64).scatter_reduce_(
        0, idx8, pay_t.masked_fill(~pres_t, np.inf), "amin").numpy()
    has = n_present > 0
    safe = np.where(has, n_present, 1.0)
    bmean = np.where(has, s1 / safe, 0.0)
    bstd = np.where(has, np.sqrt(np.maximum(s2 / safe - bmean * bmean, 0.0)), 0.0)
    bmax = np.where(has, bmax, 0.0)
    bmin = np.where(has, bmin, 0.0)
    bpresent = n_present / count[:, None]

    dlc_mean = np.bincount(node_of, weights=dlc, minlength=N) / count

    # inter-arrival: the previous message of the same ID, if it lies in the same window
    prev_msg = previous_same_id(code, K)
    prev = prev_msg[slot]
    in_window = prev >= np.repeat(starts, W)
    t = frames.timestamp[slot]
    gap_node = node_of[in_window]
    gaps = _ms_log(t[in_window] - frames.timestamp[prev[in_window]])
    n_gaps = np.bincount(gap_node, minlength=N).astype(np.float64)
    g_safe = np.maximum(n_gaps, 1.0)
    iat_mean = np.bincount(gap_node, weights=gaps, minlength=N) / g_safe
    iat_var = np.bincount(gap_node, weights=gaps * gaps, minlength=N) / g_safe - iat_mean**2
    iat_std = np.sqrt(np.maximum(iat_var, 0.0))
    pos_t = torch.from_numpy(pos)
    first_pos = torch.full((N,), W, dtype=torch.int64).scatter_reduce_(0, idx, pos_t, "amin").numpy()
    last_pos = torch.zeros(N, dtype=torch.int64).scatter_reduce_(0, idx, pos_t, "amax").numpy()
    scale = max(W - 1, 1)
    first_pos = first_pos / scale
    last_pos = last_pos / scale

    profiles = list(profiles or [])
    if window_profile is None:
        window_profile = np.full(G, 0 if profiles else -1, dtype=np.int64)
    window_profile = np.asarray(window_profile, dtype=np.int64)
    if window_profile.shape != (G,) or window_profile.max(initial=-1) >= len(profiles):
        raise ValueError(f"window_profile must index the {len(profiles)} profiles for each of the {G} windows")
    relative = relative_node_features(
        timestamp=frames.timestamp, can_id=frames.can_id, dlc=frames.dlc, payload=frames.payload, code=code,
        uid=uid.astype(np.int64), prev=prev_msg, slot=slot, win=win, node_of=node_of, node_win=node_win,
        node_code=node_key % K, count=count, starts=starts, size=W, profiles=profiles,
        window_profile=window_profile, t_origin=float(frames.timestamp[0]) if t_origin is None else t_origin)
    x = np.concatenate(
        [count[:, None], bmean, bstd, bmin, bmax, bpresent,
         dlc_mean[:, None], iat_mean[:, None], iat_std[:, None], first_pos[:, None], last_pos[:, None],
         relative],
        axis=1,
    ).astype(np.float32)
    assert x.shape[1] == NUM_NODE_FEATURES

    # edges: transitions between consecutive slots of the same window
    inner = np.flatnonzero(pos < W - 1)
    src, dst = node_of[inner], node_of[inner + 1]
    gap = _ms_log(t[inner + 1] - t[inner])
    # edges: distinct (window, local src, local dst), keyed densely by the largest graph's size L
    node_base = node_ptr[node_win]
    L = int(np.diff(node_ptr).max())
    lkey = (node_win[src] * L + (src - node_base[src])) * L + (dst - node_base[dst])
    edge_key, edge_of = _dense_unique(lkey, G * L * L)
    edge_count = np.bincount(edge_of, minlength=len(edge_key))
    e_win = edge_key // (L * L)
    e_src = node_ptr[e_win] + (edge_key // L) % L
    e_dst = node_ptr[e_win] + edge_key % L
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


def _dense_unique(key: np.ndarray, key_range: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(key, return_inverse=True)`` for keys in [0, key_range).

    Marks keys in a table when the range is small next to the number of keys
    (linear time), and sorts otherwise.
    """
    if key_range > 16 * len(key) + 1024:
        return np.unique(key, return_inverse=True)
    seen = np.zeros(key_range, dtype=bool)
    seen[key] = True
    rank = np.cumsum(seen, dtype=np.int64 if key_range >= 2**31 else np.int32) - 1
    return np.flatnonzero(seen), rank[key].astype(np.int64)


def _empty() -> WindowGraphs:
    z = np.zeros(0, dtype=np.int64)
    return WindowGraphs(
        x=np.zeros((0, NUM_NODE_FEATURES), np.float32), node_can_id=z, edge_index=np.zeros((2, 0), np.int64),
        edge_attr=np.zeros((0, NUM_EDGE_FEATURES), np.float32), node_ptr=np.zeros(1, np.int64),
        edge_ptr=np.zeros(1, np.int64), y=z, attack_frac=np.zeros(0, np.float32), start=z,
        t_start=np.zeros(0), t_end=np.zeros(0),
    )
