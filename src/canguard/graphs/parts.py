"""The parts of a dataset's windows, and window graphs compared with a vehicle's profile.

Parts: ``train`` and ``val`` (the training recordings' windows, compared with the
training profiles; a window inside the profile's own traffic is compared with the
half it is not in), and per protocol and test scenario ``zero_shot/<scenario>``
(a known vehicle compared with its training profile, an unknown one with none) and
``enrolled/<scenario>`` (every vehicle compared with its enrolled profile), plus
``enrolled/enrollment`` (the enrollment windows, each compared with the profile of
the other half of its segment: what the enrolled thresholds are fitted on).

A training vehicle's profile is fitted the way a test vehicle is enrolled (on the
first seconds of each of its recordings, :mod:`canguard.profiles.enrollment`), so
that a model is trained on exactly the comparisons it will make when deployed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from canguard.graphs.builder import build_window_graphs
from canguard.graphs.windows import read_recording, window_starts
from canguard.profiles.enrollment import Enrollment

PROTOCOLS = ("zero_shot", "enrolled")
ENROLLMENT_PART = "enrollment"


def parts_by_recording(assignment: str | Path) -> dict[str, np.ndarray]:
    """Recording key -> the part ("train", "val", "gap") of each of its windows."""
    t = pq.read_table(assignment)
    rec = t.column("recording").to_numpy(zero_copy_only=False)
    part = t.column("part").to_numpy(zero_copy_only=False)
    win = t.column("window").to_numpy()
    out = {}
    for key in np.unique(rec):
        sel = rec == key
        p = np.empty(sel.sum(), dtype=object)
        p[win[sel]] = part[sel]
        out[str(key)] = p.astype(str)
    return out


def window_times(frames, size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    starts = window_starts(len(frames), size, stride)
    return frames.timestamp[starts], frames.timestamp[np.minimum(starts + size - 1, max(len(frames) - 1, 0))]


def profiled_graphs(key: str, path: str, enrollment: Enrollment, size: int, stride: int):
    """A recording's window graphs compared with a vehicle's profile, each window out of sample
    (:meth:`Enrollment.window_profiles`), and that index (-1: a window no profile can judge)."""
    frames, meta = read_recording(path)
    return (*profiled_window_graphs(key, frames, enrollment, size, stride), meta)


def profiled_window_graphs(key: str, frames, enrollment: Enrollment, size: int, stride: int):
    """:func:`profiled_graphs` of messages already read (``canguard enroll`` reads logs)."""
    t_start, t_end = window_times(frames, size, stride)
    index = enrollment.window_profiles(key, t_start, t_end)
    return build_window_graphs(frames, size, stride, enrollment.profiles(), index), index


def overlaps(graphs, spans: list[tuple[float, float, float]]) -> np.ndarray:
    """(G,) bool: the window shares a moment with one of the enrollment spans."""
    out = np.zeros(graphs.num_graphs, bool)
    for t_from, _, t_to in spans:
        out |= (graphs.t_end >= t_from) & (graphs.t_start <= t_to)
    return out
