"""Rule shards: the windows of one part -> normalised graph shards and their manifest.

The parts and the profile each window is compared with are described in
:mod:`canguard.graphs.parts`.  Every window that shares a moment with a
vehicle's enrollment traffic is marked ``excluded`` (never scored in a metric).
"""

import logging
import time

import numpy as np

from canguard.graphs.builder import build_window_graphs, select_graphs
from canguard.graphs.parts import ENROLLMENT_PART, PROTOCOLS, overlaps, parts_by_recording, profiled_graphs
from canguard.graphs.preprocessing import Preprocessing
from canguard.graphs.shards import ShardWriter
from canguard.graphs.windows import read_recording
from canguard.profiles.enrollment import Enrollment
from canguard.stages import pair

log = logging.getLogger(__name__)


def run_shards(inputs, outputs, params, wildcards) -> None:
    start = time.perf_counter()
    dataset, part = wildcards["dataset"], wildcards["part"]
    size, stride = params["size"], params["stride"]
    recordings = pair(params["recordings"], inputs["recordings"], "recordings")
    attacks = pair(params["recordings"], params["attacks"], "attacks")
    vehicles = pair(params["recordings"], params["vehicles"], "vehicles")
    prep = Preprocessing.load(inputs["preprocessing"])
    trained = {v: Enrollment.load(p) for v, p in pair(params["training_vehicles"], inputs["training_profiles"]).items()}
    enrolled = {}
    if "enrollments" in inputs:  # a test part
        enrolled = {v: Enrollment.load(p) for v, p in pair(params["test_vehicles"], inputs["enrollments"]).items()}
    protocol, _, scenario = part.rpartition("/")
    writer = ShardWriter(outputs["shards"], prep, params["graphs_per_shard"])
    parts = parts_by_recording(inputs["assignment"]) if part in ("train", "val") else None
    for key, path in sorted(recordings.items()):
        vehicle = vehicles[key]
        spans = [s for e in enrolled.values() for s in e.spans(key)]
        if parts is not None:
            graphs, index, meta = profiled_graphs(key, path, trained[vehicle], size, stride)
            keep = (parts[key] == part) & (index >= 0)
            spans = []
        elif scenario == ENROLLMENT_PART:  # each half of a segment is compared with the other half's profile
            graphs, index, meta = profiled_graphs(key, path, enrolled[vehicle], size, stride)
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
        writer.add(key, meta.get("hash", ""), graphs, window, attacks[key], vehicle, overlaps(graphs, spans))
    manifest = writer.close(dataset=dataset, part=part, protocol=protocol or "training", scenario=scenario,
                            window_size=size, window_stride=stride, graphs_per_shard=params["graphs_per_shard"],
                            profiles={f"training/{v}": e.profile.digest() for v, e in trained.items()}
                            | {f"enrolled/{v}": e.profile.digest() for v, e in enrolled.items()},
                            enrollment={v: e.report() for v, e in enrolled.items()})
    log.info("%s/%s: %d graphs (%s), %d excluded (enrollment), in %d shards, %.1f%% unknown-ID nodes, %.2fs",
             dataset, part, manifest["num_graphs"], manifest["class_balance"], manifest["excluded_windows"],
             len(manifest["shards"]), 100 * manifest["unknown_id_share"], time.perf_counter() - start)
