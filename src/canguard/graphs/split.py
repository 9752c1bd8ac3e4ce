"""Train/validation split of the training recordings' windows: by time block or by recording.

Never by random window: neighbouring windows share most of their traffic (and,
with stride < size, their messages), so a random split leaks near-copies of
training windows into validation.  Here the unit is a block of
``block_windows`` consecutive windows (or a whole recording); with overlapping
windows, validation windows that share a message with a training window are
dropped (part ``gap``).  Test recordings are never split: each test folder is
its own scenario.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

PARTS = ("train", "val", "gap")


def choose_val_blocks(block_has_attack: np.ndarray, val_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Validation blocks, drawn separately among blocks with and without attacks.

    Stratifying by block keeps every attack of every training recording in both
    parts (a plain draw over a few blocks often leaves validation without one).
    Each group with two or more blocks gives at least one to each part.
    """
    is_val = np.zeros(len(block_has_attack), dtype=bool)
    for group in (np.flatnonzero(block_has_attack), np.flatnonzero(~block_has_attack)):
        if len(group) < 2:
            continue
        k = int(np.clip(round(val_fraction * len(group)), 1, len(group) - 1))
        is_val[rng.choice(group, size=k, replace=False)] = True
    return is_val


def assign_time_blocks(labels: np.ndarray, size: int, stride: int, block_windows: int,
                       val_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Part of each window of one recording ("train", "val" or "gap"), given the windows' labels."""
    num_windows = len(labels)
    block = np.arange(num_windows) // block_windows
    num_blocks = int(block[-1]) + 1 if num_windows else 0
    has_attack = np.zeros(num_blocks, dtype=bool)
    has_attack[block[labels == 1]] = True
    val = choose_val_blocks(has_attack, val_fraction, rng)[block]
    part = np.where(val, "val", "train").astype(object)
    reach = math.ceil(size / stride) - 1  # windows closer than this share messages
    if reach > 0 and val.any() and (~val).any():
        train_idx = np.flatnonzero(~val)
        # distance from each window to the nearest training window
        pos = np.searchsorted(train_idx, np.arange(num_windows))
        left = np.abs(np.arange(num_windows) - train_idx[np.clip(pos - 1, 0, len(train_idx) - 1)])
        right = np.abs(train_idx[np.clip(pos, 0, len(train_idx) - 1)] - np.arange(num_windows))
        near_train = np.minimum(left, right) <= reach
        part[val & near_train] = "gap"
    return part.astype(str)


def split_training_windows(windows: dict[str, np.ndarray], size: int, stride: int, method: str,
                           block_windows: int, val_fraction: float, seed: int,
                           val_recordings: list[str] | None = None) -> pa.Table:
    """Assignment table (recording, window, part) for the training recordings.

    ``windows`` maps a training recording's key to its windows' labels.
    """
    recs, idx, parts = [], [], []
    for i, (key, labels) in enumerate(sorted(windows.items())):
        n = len(labels)
        if method == "time_block":
            rng = np.random.default_rng([seed, i])
            part = assign_time_blocks(labels, size, stride, block_windows, val_fraction, rng)
        elif method == "recording":
            part = np.full(n, "val" if key in set(val_recordings or []) else "train")
        else:
            raise ValueError(f"split.method must be 'time_block' or 'recording', got {method!r}")
        recs += [key] * n
        idx.append(np.arange(n, dtype=np.int64))
        parts.append(part)
    if method == "recording":
        missing = set(val_recordings or []) - set(windows)
        if missing or not val_recordings:
            raise ValueError(f"split.val_recordings must name training recordings; unknown: {sorted(missing)}")
    return pa.table({
        "recording": pa.array(recs, pa.string()),
        "window": pa.array(np.concatenate(idx) if idx else np.empty(0, np.int64)),
        "part": pa.array(np.concatenate(parts) if parts else np.empty(0, str), pa.string()),
    })
