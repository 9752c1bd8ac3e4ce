"""Graph shards: preprocessed window graphs in files of bounded size, with a manifest.

A shard is a ``torch.save``-d dict of tensors in PyG's collated layout (all
graphs concatenated; ``node_ptr``/``edge_ptr`` delimit graph ``k``; edge
indices local to their graph), loadable with ``weights_only=True``::

    x            (N, F_node) float32  normalised node features
    node_id      (N,)        int64    vocabulary index of the node's CAN ID (0 = unknown)
    edge_index   (2, E)      int64    local to each graph
    edge_attr    (E, F_edge) float32  normalised edge features
    node_ptr, edge_ptr (G+1,) int64
    y            (G,)        int64    window label
    attack_frac  (G,)        float32
    attack_type  (G,)        int64    index into manifest["attack_types"]
    recording    (G,)        int64    index into manifest["recordings"]
    vehicle      (G,)        int64    index into manifest["vehicles"]
    window       (G,)        int64    window index within its recording
    excluded     (G,)        bool     the window shares a moment with enrollment traffic: never in a metric
    t_start, t_end (G,)      float64

``manifest.json`` beside the shards: counts, class balance, attack types,
feature specification, vocabulary size, share of unknown-ID nodes, source
hashes, and the shard list with each shard's size and SHA-256, which
:func:`canguard.graphs.dataset.load_shard` checks before loading.  Shards and
manifest are each written to a temporary name and renamed, so a killed job
leaves no file that looks finished.  Writing streams one recording at a time, so memory
stays bounded by one recording plus one shard.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from canguard.atomic import atomic_output, write_text
from canguard.graphs.builder import WindowGraphs
from canguard.graphs.features import NUM_EDGE_FEATURES, NUM_NODE_FEATURES, feature_spec
from canguard.graphs.preprocessing import UNKNOWN_ID, Preprocessing

SHARD_PATTERN = "shard_{:05d}.pt"


def _cat(parts: list[np.ndarray], axis: int = 0) -> np.ndarray:
    return np.concatenate(parts, axis=axis)


def _ptr(counts: list[np.ndarray]) -> np.ndarray:
    c = np.concatenate(counts) if counts else np.zeros(0, np.int64)
    return np.concatenate([[0], np.cumsum(c)]).astype(np.int64)


class ShardWriter:
    """Streams preprocessed graphs into ``folder/shard_NNNNN.pt`` files of at most ``graphs_per_shard`` graphs."""

    def __init__(self, folder: str | Path, prep: Preprocessing, graphs_per_shard: int):
        if graphs_per_shard < 1:
            raise ValueError("graphs_per_shard must be >= 1")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.prep = prep
        self.graphs_per_shard = graphs_per_shard
        self.pending: list[dict] = []
        self.pending_graphs = 0
        self.shards: list[dict] = []
        self.recordings: list[dict] = []
        self.vehicles: list[str] = []
        self.attack_types: list[str] = []
        self.excluded = 0
        self.labels: Counter = Counter()
        self.type_counts: Counter = Counter()
        self.nodes = self.edges = self.unknown_nodes = 0

    def add(self, recording: str, source_hash: str, graphs: WindowGraphs, window: np.ndarray, attack: str,
            vehicle: str = "unknown", excluded: np.ndarray | None = None) -> None:
        """Append a recording's selected graphs (``window`` = their indices in the recording).

        ``excluded`` (G,) marks windows that never enter a metric (they share a moment with
        enrollment traffic); default none.
        """
        rec_code = len(self.recordings)
        if vehicle not in self.vehicles:
            self.vehicles.append(vehicle)
        veh_code = self.vehicles.index(vehicle)
        excluded = np.zeros(graphs.num_graphs, bool) if excluded is None else np.asarray(excluded, bool)
        self.recordings.append({"recording": recording, "vehicle": vehicle, "source_hash": source_hash,
                                "windows": graphs.num_graphs, "excluded": int(excluded.sum())})
        self.excluded += int(excluded.sum())
        if graphs.num_graphs == 0:
            return
        names = np.where(graphs.y == 1, attack, np.where(graphs.y == 0, "none", "unknown"))
        for name in np.unique(names):
            if name not in self.attack_types:
                self.attack_types.append(str(name))
        type_code = np.array([self.attack_types.index(n) for n in names.tolist()], dtype=np.int64)
        node_id = self.prep.node_ids(graphs.node_can_id)
        self.labels.update(graphs.y.tolist())
        self.type_counts.update(names.tolist())
        self.nodes += len(node_id)
        self.edges += graphs.edge_index.shape[1]
        self.unknown_nodes += int(np.sum(node_id == UNKNOWN_ID))
        n_nodes, n_edges = np.diff(graphs.node_ptr), np.diff(graphs.edge_ptr)
        lo = 0
        while lo < graphs.num_graphs:  # whole chunks up to the shard boundary, never one window at a time
            hi = min(graphs.num_graphs, lo + self.graphs_per_shard - self.pending_graphs)
            self._append(graphs, node_id, n_nodes, n_edges, lo, hi, rec_code, veh_code, window, type_code, excluded)
            lo = hi

    def _append(self, g, node_id, n_nodes, n_edges, lo, hi, rec_code, veh_code, window, type_code, excluded) -> None:
        a, b = g.node_ptr[lo], g.node_ptr[hi]
        c, d = g.edge_ptr[lo], g.edge_ptr[hi]
        self.pending.append({
            "x": self.prep.normalize_nodes(g.x[a:b]), "node_id": node_id[a:b],
            "edge_index": g.edge_index[:, c:d], "edge_attr": self.prep.normalize_edges(g.edge_attr[c:d]),
            "n_nodes": n_nodes[lo:hi], "n_edges": n_edges[lo:hi], "y": g.y[lo:hi],
            "attack_frac": g.attack_frac[lo:hi], "attack_type": type_code[lo:hi],
            "recording": np.full(hi - lo, rec_code, np.int64), "vehicle": np.full(hi - lo, veh_code, np.int64),
            "window": window[lo:hi], "excluded": excluded[lo:hi],
            "t_start": g.t_start[lo:hi], "t_end": g.t_end[lo:hi],
        })
        self.pending_graphs += hi - lo
        if self.pending_graphs >= self.graphs_per_shard:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        p = self.pending
        shard = {
            "x": _cat([q["x"] for q in p]).reshape(-1, NUM_NODE_FEATURES),
            "node_id": _cat([q["node_id"] for q in p]),
            "edge_index": _cat([q["edge_index"] for q in p], axis=1).reshape(2, -1),
            "edge_attr": _cat([q["edge_attr"] for q in p]).reshape(-1, NUM_EDGE_FEATURES),
            "node_ptr": _ptr([q["n_nodes"] for q in p]),
            "edge_ptr": _ptr([q["n_edges"] for q in p]),
            **{k: _cat([q[k] for q in p]) for k in ("y", "attack_frac", "attack_type", "recording", "vehicle",
                                                  "window", "excluded", "t_start", "t_end")},
        }
        path = self.folder / SHARD_PATTERN.format(len(self.shards))
        buffer = io.BytesIO()
        torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in shard.items()}, buffer)
        data = buffer.getvalue()
        with atomic_output(path) as tmp:
            tmp.write_bytes(data)
        self.shards.append({"file": path.name, "graphs": int(len(shard["y"])), "nodes": int(len(shard["node_id"])),
                            "edges": int(shard["edge_index"].shape[1]), "bytes": len(data),
                            "sha256": hashlib.sha256(data).hexdigest()})
        self.pending, self.pending_graphs = [], 0

    def close(self, **info) -> dict:
        """Write the last shard and the manifest; returns the manifest."""
        self.flush()
        graphs = sum(s["graphs"] for s in self.shards)
        manifest = {
            **info,
            "num_graphs": graphs,
            "num_nodes": self.nodes,
            "num_edges": self.edges,
            "class_balance": {"benign": self.labels.get(0, 0), "attack": self.labels.get(1, 0),
                              "unlabelled": self.labels.get(-1, 0)},
            "attack_share": round(self.labels.get(1, 0) / graphs, 6) if graphs else 0.0,
            "attack_types": self.attack_types,
            "windows_per_attack_type": dict(sorted(self.type_counts.items())),
            "excluded_windows": self.excluded,
            "vehicles": self.vehicles,
            "unknown_id_nodes": self.unknown_nodes,
            "unknown_id_share": round(self.unknown_nodes / self.nodes, 6) if self.nodes else 0.0,
            "vocabulary_size": self.prep.num_ids,
            "preprocessing": self.prep.digest(),
            "feature_spec": feature_spec(),
            "num_node_features": NUM_NODE_FEATURES,
            "num_edge_features": NUM_EDGE_FEATURES,
            "recordings": self.recordings,
            "shards": self.shards,
        }
        write_text(self.folder / "manifest.json", json.dumps(manifest, indent=2) + "\n")
        return manifest
