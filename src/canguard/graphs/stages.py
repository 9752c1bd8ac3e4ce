"""The graph stages as the workflow runs them, one function per rule (files in, files out).

    split              training recordings -> train/val assignment of their windows   (per dataset)
    vehicle_profile    a training vehicle's recordings' first seconds -> its profile   (per training vehicle)
    enroll             a vehicle's enrollment traffic -> its enrolled profile         (per test vehicle)
    preprocessing      training windows -> vocabulary, normalisation                   (per dataset)
    shards             windows of a part -> normalised graph shards + manifest         (per part)

A training vehicle's profile is fitted the way a test vehicle is enrolled (on the
first seconds of each of its recordings, :mod:`canguard.profiles.enrollment`), so
that a model is trained on exactly the comparisons it will make when deployed.

Parts: ``train`` and ``val`` (the training recordings' windows, compared with the
training profiles; a window inside the profile's own traffic is compared with the
half it is not in), and per protocol and test scenario ``zero_shot/<scenario>``
(a known vehicle compared with its training profile, an unknown one with none) and
``enrolled/<scenario>`` (every vehicle compared with its enrolled profile), plus
``enrolled/enrollment`` (the enrollment windows, each compared with the profile of
the other half of its segment: what the enrolled thresholds are fitted on).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from canguard.graphs.builder import build_window_graphs, select_graphs, window_starts
from canguard.graphs.preprocessing import Preprocessing, fit_preprocessing
from canguard.graphs.shards import ShardWriter
from canguard.graphs.split import split_training_windows
from canguard.graphs.windows import read_recording, window_labels
from canguard.profiles.enrollment import Enrollment, enroll

log = logging.getLogger(__name__)

PROTOCOLS = ("zero_shot", "enrolled")
ENROLLMENT_PART = "enrollment"


def run_split(training: dict[str, str], size: int, stride: int, out: str | Path, **split) -> None:
    """``training``: training recording key -> its ingested parquet."""
    labels = {key: window_labels(pq.read_table(path, columns=["label"]).column("label").to_numpy(), size, stride)
              for key, path in training.items()}
    table = split_training_windows(labels, size, stride, **split)
    pq.write_table(table, out)
    names, counts = np.unique(table.column("part").to_numpy(zero_copy_only=False), return_counts=True)
    log.info("split %d training windows of %d recordings: %s", table.num_rows, len(labels),
             {str(k): int(v) for k, v in zip(names, counts)})


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


def run_enrollment(plan: dict, parquets: dict[str, str], size: int, out: str | Path) -> Enrollment:
    """Rules ``vehicle_profile`` (a training vehicle, benign messages of its training recordings' first
    seconds) and ``enroll`` (a test vehicle, its enrollment traffic as it is)."""
    enrollment = enroll(plan, parquets, size)
    enrollment.save(out)
    r = enrollment.report()
    log.info("enrolled %s from %s: %d recordings, %.1f s, %d messages, %d IDs; %d attack messages inside%s",
             r["vehicle"], r["source"], r["recordings"], r["seconds"], r["messages"], r["profile_ids"],
             r["attack_messages"], " (FLAGGED)" if r["flagged"] else "")
    return enrollment


def _window_times(frames, size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    starts = window_starts(len(frames), size, stride)
    return frames.timestamp[starts], frames.timestamp[np.minimum(starts + size - 1, max(len(frames) - 1, 0))]


def _profiled_graphs(key: str, path: str, enrollment: Enrollment, size: int, stride: int):
    """A recording's window graphs compared with a vehicle's profile, each window out of sample
    (:meth:`Enrollment.window_profiles`), and that index (-1: a window no profile can judge)."""
    frames, meta = read_recording(path)
    t_start, t_end = _window_times(frames, size, stride)
    index = enrollment.window_profiles(key, t_start, t_end)
    return build_window_graphs(frames, size, stride, enrollment.profiles(), index), index, meta


def run_preprocessing(training: dict[str, str], vehicles: dict[str, str], profiles: dict[str, str],
                      assignment: str | Path, size: int, stride: int, out: str | Path) -> Preprocessing:
    """Vocabulary and normalisation from the benign windows of the training part (compared with the
    training profiles, out of sample)."""
    parts = parts_by_recording(assignment)
    loaded = {v: Enrollment.load(p) for v, p in profiles.items()}

    def windows():
        for key, path in sorted(training.items()):
            graphs, index, _ = _profiled_graphs(key, path, loaded[vehicles[key]], size, stride)
            yield key, graphs, np.where(index >= 0, parts[key], "gap")

    prep = fit_preprocessing(windows())
    Path(out).write_text(json.dumps(prep.to_json(), indent=2) + "\n")
    log.info("vocabulary: %d CAN IDs (+ unknown token); normalisation fitted on %d benign training windows",
             len(prep.vocabulary), prep.fitted_on["benign_train_windows"])
    return prep


def _overlaps(graphs, spans: list[tuple[float, float, float]]) -> np.ndarray:
    """(G,) bool: the window shares a moment with one of the enrollment spans."""
    out = np.zeros(graphs.num_graphs, bool)
    for t_from, _, t_to in spans:
        out |= (graphs.t_end >= t_from) & (graphs.t_start <= t_to)
    return out


def run_shards(part: str, recordings: dict[str, str], attacks: dict[str, str], vehicles: dict[str, str],
               preprocessing: str | Path, out_dir: str | Path, graphs_per_shard: int, size: int, stride: int, *,
               dataset: str = "", assignment: str | Path | None = None,
               training_profiles: dict[str, str] | None = None, enrollments: dict[str, str] | None = None) -> dict:
    """Write the shards of one part (see the module docstring for the parts).

    ``training_profiles``: training vehicle -> its profiles file; ``enrollments``: test
    vehicle -> its enrollment file.  Every window that shares a moment with a vehicle's
    enrollment traffic is marked ``excluded`` (never scored in a metric).
    """
    start = time.perf_counter()
    prep = Preprocessing.load(preprocessing)
    trained = {v: Enrollment.load(p) for v, p in (training_profiles or {}).items()}
    enrolled = {v: Enrollment.load(p) for v, p in (enrollments or {}).items()}
    protocol, _, scenario = part.rpartition("/")
    writer = ShardWriter(out_dir, prep, graphs_per_shard)
    parts = parts_by_recording(assignment) if part in ("train", "val") else None
    for key, path in sorted(recordings.items()):
        vehicle = vehicles[key]
        spans = [s for e in enrolled.values() for s in e.spans(key)]
        if parts is not None:
            graphs, index, meta = _profiled_graphs(key, path, trained[vehicle], size, stride)
            keep = (parts[key] == part) & (index >= 0)
            spans = []
        elif scenario == ENROLLMENT_PART:  # each half of a segment is compared with the other half's profile
            graphs, index, meta = _profiled_graphs(key, path, enrolled[vehicle], size, stride)
            keep = index > 0
            spans = []
        else:
            frames, meta = read_recording(path)
            if protocol == "zero_shot":
                profile = trained[vehicle].profile if vehicle in trained else None
            elif protocol == "enrolled":
                profile = enrolled[vehicle].profile
            else:
                raise ValueError(f"part {part!r}: the protocol must be one of {PROTOCOLS}")
            graphs = build_window_graphs(frames, size, stride, [profile] if profile is not None else None)
            keep = np.ones(graphs.num_graphs, bool)
        window = np.flatnonzero(keep)
        graphs = select_graphs(graphs, keep)
        writer.add(key, meta.get("hash", ""), graphs, window, attacks[key], vehicle, _overlaps(graphs, spans))
    manifest = writer.close(dataset=dataset, part=part, protocol=protocol or "training", scenario=scenario,
                            window_size=size, window_stride=stride, graphs_per_shard=graphs_per_shard,
                            profiles={f"training/{v}": e.profile.digest() for v, e in trained.items()}
                            | {f"enrolled/{v}": e.profile.digest() for v, e in enrolled.items()},
                            enrollment={v: e.report() for v, e in enrolled.items()})
    log.info("%s/%s: %d graphs (%s), %d excluded (enrollment), in %d shards, %.1f%% unknown-ID nodes, %.2fs",
             dataset, part, manifest["num_graphs"], manifest["class_balance"], manifest["excluded_windows"],
             len(manifest["shards"]), 100 * manifest["unknown_id_share"], time.perf_counter() - start)
    return manifest

