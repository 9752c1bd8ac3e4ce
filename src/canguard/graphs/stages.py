"""The graph stages as the workflow runs them, one function per rule (files in, files out).

    windows            ingested recording -> raw window graphs + window table   (per recording)
    split              training window tables -> train/val assignment            (per dataset)
    preprocessing      raw training graphs + assignment -> vocabulary, normalisation (per dataset)
    shards             raw graphs of a part -> normalised shards + manifest      (per dataset x part)
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from canguard.graphs.builder import select_graphs
from canguard.graphs.preprocessing import Preprocessing, fit_preprocessing
from canguard.graphs.shards import ShardWriter
from canguard.graphs.split import split_training_windows
from canguard.graphs.windows import load_window_graphs

log = logging.getLogger(__name__)


def run_split(window_tables: dict[str, str], size: int, stride: int, out: str | Path, **split) -> None:
    """``window_tables``: training recording key -> its window table."""
    labels = {key: pq.read_table(path, columns=["label"]).column("label").to_numpy()
              for key, path in window_tables.items()}
    table = split_training_windows(labels, size, stride, **split)
    pq.write_table(table, out)
    names, counts = np.unique(table.column("part").to_numpy(zero_copy_only=False), return_counts=True)
    log.info("split %d training windows of %d recordings: %s", table.num_rows, len(labels),
             {str(k): int(v) for k, v in zip(names, counts)})


def _parts_by_recording(assignment: str | Path) -> dict[str, np.ndarray]:
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


def run_preprocessing(graph_files: dict[str, str], assignment: str | Path, out: str | Path) -> Preprocessing:
    """Fit the vocabulary and normalisation on the benign windows of the training part."""
    parts = _parts_by_recording(assignment)

    def training():
        for key, path in sorted(graph_files.items()):
            graphs, _ = load_window_graphs(path)
            yield key, graphs, parts[key]

    prep = fit_preprocessing(training())
    Path(out).write_text(json.dumps(prep.to_json(), indent=2) + "\n")
    log.info("vocabulary: %d CAN IDs (+ unknown token), fitted on %d benign training windows",
             len(prep.vocabulary), prep.fitted_on["benign_train_windows"])
    return prep


def run_shards(part: str, graph_files: dict[str, str], attacks: dict[str, str], preprocessing: str | Path,
               out_dir: str | Path, graphs_per_shard: int, assignment: str | Path | None = None,
               dataset: str = "") -> dict:
    """Write the shards of one part.

    ``part`` is "train", "val" (windows of the training recordings, selected by
    ``assignment``) or a test scenario (every window of its recordings).
    """
    start = time.perf_counter()
    prep = Preprocessing.load(preprocessing)
    parts = _parts_by_recording(assignment) if part in ("train", "val") else None
    writer = ShardWriter(out_dir, prep, graphs_per_shard)
    size = stride = None
    for key, path in sorted(graph_files.items()):
        graphs, info = load_window_graphs(path)
        size, stride = info["size"], info["stride"]
        window = np.arange(graphs.num_graphs, dtype=np.int64)
        if parts is not None:
            mask = parts[key] == part
            graphs, window = select_graphs(graphs, mask), window[mask]
        writer.add(key, info["source_hash"], graphs, window, attacks[key])
    manifest = writer.close(dataset=dataset, part=part, window_size=size, window_stride=stride,
                            graphs_per_shard=graphs_per_shard)
    log.info("%s/%s: %d graphs (%s) in %d shards, %.1f%% unknown-ID nodes, %.2fs", dataset, part,
             manifest["num_graphs"], manifest["class_balance"], len(manifest["shards"]),
             100 * manifest["unknown_id_share"], time.perf_counter() - start)
    return manifest
