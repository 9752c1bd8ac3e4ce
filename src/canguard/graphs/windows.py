"""Windows of one recording: reading it, the window grid, and the messages a set of windows covers.

A recording of ``n`` messages has ``(n - W) // S + 1`` windows, the k-th over
messages ``[k * S, k * S + W)`` (:func:`window_starts`);
messages after the last full window belong to no window (``tail``).  A window
is an attack window if any of its messages is one, unlabelled (-1) if any is
unlabelled, benign otherwise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from canguard.frames import Frames
from canguard.schema import read_metadata, table_to_frames

GRAPH_COLUMNS = ["timestamp", "can_id", "dlc", *[f"byte_{i}" for i in range(8)], "label"]


def window_starts(n: int, size: int, stride: int) -> np.ndarray:
    """(G,) int64 first message of each full window of ``size`` messages every ``stride`` of ``n``."""
    if size < 1 or stride < 1:
        raise ValueError(f"window size and stride must be >= 1, got W={size}, S={stride}")
    if n < size:
        return np.empty(0, dtype=np.int64)
    return np.arange(0, n - size + 1, stride, dtype=np.int64)


def read_recording(parquet: str | Path) -> tuple[Frames, dict]:
    """The messages of one ingested recording and its metadata (dataset, split, vehicle, attack, hash, ...)."""
    return table_to_frames(pq.read_table(parquet, columns=GRAPH_COLUMNS)), read_metadata(parquet)


def window_labels(labels: np.ndarray, size: int, stride: int) -> np.ndarray:
    """(G,) int64 label of each window: 1 attack, 0 benign, -1 unlabelled."""
    starts = window_starts(len(labels), size, stride)
    if len(starts) == 0:
        return np.zeros(0, np.int64)
    lab = np.asarray(labels)[starts[:, None] + np.arange(size)[None, :]]
    return np.where((lab == -1).any(axis=1), -1, (lab == 1).any(axis=1)).astype(np.int64)


def covered_messages(n: int, starts: np.ndarray, size: int, selected: np.ndarray) -> np.ndarray:
    """(n,) bool: the message lies in at least one selected window."""
    delta = np.zeros(n + 1, np.int64)
    s = starts[np.asarray(selected, bool)]
    np.add.at(delta, s, 1)
    np.add.at(delta, s + size, -1)
    return np.cumsum(delta[:-1]) > 0


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs ``[lo, hi)`` of True in a boolean array."""
    m = np.r_[False, np.asarray(mask, bool), False].astype(np.int8)
    edges = np.flatnonzero(np.diff(m))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def segments(frames: Frames, mask: np.ndarray, benign_only: bool) -> list[Frames]:
    """The messages under ``mask`` as contiguous segments (runs), attack messages dropped if ``benign_only``."""
    out = []
    for lo, hi in runs(mask):
        seg = frames.take(np.arange(lo, hi))
        if benign_only:
            seg = seg.take(seg.label == 0)
        if len(seg):
            out.append(seg)
    return out
