"""Rule split: training recordings -> the train/val assignment of their windows (never by random window)."""

import logging

import numpy as np
import pyarrow.parquet as pq

from canguard.atomic import atomic_output
from canguard.graphs.split import split_training_windows
from canguard.graphs.windows import window_labels
from canguard.stages import pair

log = logging.getLogger(__name__)


def run_split(inputs, outputs, params, wildcards) -> None:
    size, stride = params["size"], params["stride"]
    training = pair(params["recordings"], inputs["training"], "training parquets")
    labels = {key: window_labels(pq.read_table(path, columns=["label"]).column("label").to_numpy(), size, stride)
              for key, path in training.items()}
    table = split_training_windows(labels, size, stride, **params["split"])
    with atomic_output(outputs["assignment"]) as tmp:
        pq.write_table(table, tmp)
    names, counts = np.unique(table.column("part").to_numpy(zero_copy_only=False), return_counts=True)
    log.info("split %d training windows of %d recordings: %s", table.num_rows, len(labels),
             {str(k): int(v) for k, v in zip(names, counts)})
