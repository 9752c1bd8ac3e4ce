"""Profiles of the training vehicles, fitted on their benign training windows, cross-fitted.

A window compared with a profile fitted on itself never shows anything new: its
IDs, values and changes are all in the profile.  Trained that way, a model would
learn that benign traffic never holds an unseen value, and then flag the first
new recording of a known vehicle.  So the training windows are compared with
*fold* profiles: the training blocks of each recording (blocks of
``split.block_windows`` windows) are dealt round-robin into ``folds`` folds, and
a window of fold k is compared with the profile fitted on the other folds.
Validation windows, and the test windows of a known vehicle in the zero-shot
protocol, are compared with the full profile, fitted on every training window.

Only benign messages of the training part count (labels are known and may be
used in training).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from canguard.graphs.builder import window_starts
from canguard.graphs.windows import covered_messages, read_recording, segments
from canguard.profiles.profile import VehicleProfile, fit_profile


def window_folds(num_windows: int, block_windows: int, folds: int) -> np.ndarray:
    """(G,) fold of each window: its block, dealt round-robin."""
    return (np.arange(num_windows) // block_windows) % folds


def window_profiles(parts: np.ndarray, block_windows: int, folds: int) -> np.ndarray:
    """Index into ``[full, fold_0, ..., fold_{K-1}]`` per window: the window's fold profile for a
    training window, the full profile for a validation window, -1 for a gap window."""
    fold = window_folds(len(parts), block_windows, folds)
    return np.where(parts == "train", 1 + fold, np.where(parts == "val", 0, -1)).astype(np.int64)


@dataclass
class TrainingProfiles:
    """A training vehicle's full profile and its fold profiles."""

    vehicle: str
    profile: VehicleProfile
    folds: list[VehicleProfile]

    def all(self) -> list[VehicleProfile]:
        """``[full, fold_0, ..., fold_{K-1}]``, the order :func:`window_profiles` indexes."""
        return [self.profile, *self.folds]

    def to_json(self) -> dict:
        return {"vehicle": self.vehicle, "profile": self.profile.to_json(), "folds": [f.to_json() for f in self.folds]}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "TrainingProfiles":
        d = json.loads(Path(path).read_text())
        return cls(d["vehicle"], VehicleProfile.from_json(d["profile"]), [VehicleProfile.from_json(f) for f in d["folds"]])


def fit_training_profiles(vehicle: str, recordings: dict[str, str | Path], parts: dict[str, np.ndarray],
                          size: int, stride: int, block_windows: int, folds: int) -> TrainingProfiles:
    """Full and fold profiles of ``vehicle`` from its training recordings (key -> parquet).

    ``parts``: per recording, the part of each window ("train", "val", "gap").
    """
    if folds < 2:
        raise ValueError(f"profiles.folds must be >= 2, got {folds}")
    full, by_fold = [], [[] for _ in range(folds)]
    for key, path in sorted(recordings.items()):
        frames, _ = read_recording(path)
        starts = window_starts(len(frames), size, stride)
        part = parts[key]
        if len(part) != len(starts):
            raise ValueError(f"{key}: the split has {len(part)} windows, the recording {len(starts)}")
        train = part == "train"
        fold = window_folds(len(starts), block_windows, folds)
        full += segments(frames, covered_messages(len(frames), starts, size, train), benign_only=True)
        for k in range(folds):
            mask = covered_messages(len(frames), starts, size, train & (fold != k))
            by_fold[k] += segments(frames, mask, benign_only=True)
    source = {"training": sorted(recordings), "folds": folds, "block_windows": block_windows}
    return TrainingProfiles(vehicle, fit_profile(full, size, vehicle, source),
                            [fit_profile(f, size, vehicle, source | {"fold": k}) for k, f in enumerate(by_fold)])
