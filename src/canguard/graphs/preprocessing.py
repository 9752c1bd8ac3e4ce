"""CAN-ID vocabulary and feature normalisation, fitted on benign training windows only.

Fitting on anything else leaks: validation or test statistics would shape the
inputs the model is judged on, and attack windows (a DoS flood, fuzzed IDs)
would shift the "normal" the detector learns.  So both are fitted on the
windows of the training part whose label is 0, and then applied unchanged to
validation and every test scenario.

Vocabulary: the CAN IDs seen in those windows, sorted; ID ``vocabulary[i]``
gets index ``i + 1``; index 0 is the unknown-ID token, given to every ID never
seen in benign training (fuzzed IDs, another vehicle's IDs).  Training teaches
the model that token by replacing a small share of known IDs with it
(:class:`canguard.graphs.dataset.UnknownIdDropout`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from canguard.graphs.builder import WindowGraphs, select_graphs
from canguard.graphs.features import EDGE_FEATURES, NODE_FEATURES, UNSCALED_FEATURES

UNKNOWN_ID = 0
# A feature that barely varies in the training vehicles' benign windows (a byte's spread that is ~0 on
# Kia and Sonata) must not turn into a z-score of hundreds on another vehicle where it varies: the
# scale of every feature is at least MIN_STD (0.05 = 13 LSB of a byte on its [0, 1] scale), and a
# normalised value is clipped to +-CLIP standard deviations.
MIN_STD = 0.05
CLIP = 10.0


class _Moments:
    """Running count, sum and sum of squares per column (float64), NaN entries left out."""

    def __init__(self, width: int):
        self.n = 0
        self.count = np.zeros(width)
        self.s1 = np.zeros(width)
        self.s2 = np.zeros(width)

    def add(self, values: np.ndarray) -> None:
        v = values.astype(np.float64)
        self.n += len(v)
        finite = np.isfinite(v)
        v = np.where(finite, v, 0.0)
        self.count += finite.sum(axis=0)
        self.s1 += v.sum(axis=0)
        self.s2 += (v * v).sum(axis=0)

    def mean_std(self, unscaled: list[int] = ()) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std per column; columns in ``unscaled`` (0/1 flags) get mean 0 and std 1."""
        if self.n == 0:
            raise ValueError("no benign training windows to fit the normalisation on")
        count = np.maximum(self.count, 1.0)
        mean = self.s1 / count
        std = np.sqrt(np.maximum(self.s2 / count - mean * mean, 0.0))
        std = np.maximum(std, MIN_STD)
        mean[list(unscaled)], std[list(unscaled)] = 0.0, 1.0
        return mean, std


ZSCORE_ROWS = 16384  # rows z-scored at a time: the float64 block stays in the CPU cache


def _zscore(x: np.ndarray, mean: np.ndarray, std: np.ndarray, nan_to_zero: bool) -> np.ndarray:
    """float32 ``clip((x - mean) / std, -CLIP, CLIP)``, computed in float64 in place on blocks of rows
    (the same operations in the same order, so the same values as on the whole array at once)."""
    out = np.empty(x.shape, dtype=np.float32)
    for lo in range(0, len(x), ZSCORE_ROWS):
        z = x[lo:lo + ZSCORE_ROWS].astype(np.float64)
        z -= mean
        z /= std
        np.clip(z, -CLIP, CLIP, out=z)
        if nan_to_zero:
            np.nan_to_num(z, copy=False, nan=0.0)
        out[lo:lo + ZSCORE_ROWS] = z
    return out


@dataclass
class Preprocessing:
    vocabulary: np.ndarray  # (V,) sorted raw CAN IDs; index i -> token i + 1
    node_mean: np.ndarray
    node_std: np.ndarray
    edge_mean: np.ndarray
    edge_std: np.ndarray
    fitted_on: dict

    @property
    def num_ids(self) -> int:
        """Size of the embedding table: known IDs plus the unknown token."""
        return len(self.vocabulary) + 1

    def node_ids(self, can_id: np.ndarray) -> np.ndarray:
        """Vocabulary index of each raw CAN ID; 0 for IDs not in the vocabulary."""
        if len(self.vocabulary) == 0:
            return np.full(len(can_id), UNKNOWN_ID, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.vocabulary, can_id), len(self.vocabulary) - 1)
        known = self.vocabulary[pos] == can_id
        return np.where(known, pos + 1, UNKNOWN_ID).astype(np.int64)

    def normalize_nodes(self, x: np.ndarray) -> np.ndarray:
        """Z-scored node features, clipped to +-CLIP; a missing (NaN) relative feature becomes 0, the mean."""
        return _zscore(x, self.node_mean, self.node_std, nan_to_zero=True)

    def normalize_edges(self, e: np.ndarray) -> np.ndarray:
        return _zscore(e, self.edge_mean, self.edge_std, nan_to_zero=False)

    def to_json(self) -> dict:
        return {
            "vocabulary": self.vocabulary.tolist(),
            "unknown_id_token": UNKNOWN_ID,
            "node_features": NODE_FEATURES, "node_mean": self.node_mean.tolist(), "node_std": self.node_std.tolist(),
            "edge_features": EDGE_FEATURES, "edge_mean": self.edge_mean.tolist(), "edge_std": self.edge_std.tolist(),
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_json(cls, d: dict) -> Preprocessing:
        return cls(np.asarray(d["vocabulary"], np.int64), np.asarray(d["node_mean"]), np.asarray(d["node_std"]),
                   np.asarray(d["edge_mean"]), np.asarray(d["edge_std"]), d["fitted_on"])

    @classmethod
    def load(cls, path: str | Path) -> Preprocessing:
        return cls.from_json(json.loads(Path(path).read_text()))

    def digest(self) -> str:
        return hashlib.blake2b(json.dumps(self.to_json(), sort_keys=True).encode(), digest_size=8).hexdigest()


def fit_preprocessing(training: list[tuple[str, WindowGraphs, np.ndarray]]) -> Preprocessing:
    """Fit on the benign windows of the training part.

    ``training`` holds, per training recording, its key, its raw graphs and the
    part of each window ("train", "val", "gap"); one recording at a time is
    enough, so callers may pass a generator.
    """
    ids: set[int] = set()
    nodes, edges = _Moments(len(NODE_FEATURES)), _Moments(len(EDGE_FEATURES))
    windows, recordings = 0, []
    for key, graphs, part in training:
        benign = select_graphs(graphs, (part == "train") & (graphs.y == 0))
        ids.update(np.unique(benign.node_can_id).tolist())
        nodes.add(benign.x)
        edges.add(benign.edge_attr)
        windows += benign.num_graphs
        recordings.append(key)
    node_mean, node_std = nodes.mean_std([NODE_FEATURES.index(f) for f in UNSCALED_FEATURES])
    edge_mean, edge_std = edges.mean_std()
    return Preprocessing(np.asarray(sorted(ids), np.int64), node_mean, node_std, edge_mean, edge_std,
                         {"benign_train_windows": windows, "nodes": nodes.n, "edges": edges.n,
                          "recordings": recordings})
