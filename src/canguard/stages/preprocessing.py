"""Rule preprocessing: the benign windows of the training part -> vocabulary and normalisation."""

import logging

import numpy as np

from canguard.graphs.parts import parts_by_recording, profiled_graphs
from canguard.graphs.preprocessing import fit_preprocessing
from canguard.profiles.enrollment import Enrollment
from canguard.stages import pair, write_json

log = logging.getLogger(__name__)


def run_preprocessing(inputs, outputs, params, wildcards) -> None:
    """Windows are compared with their vehicle's training profile, out of sample, as in the shards."""
    size, stride = params["size"], params["stride"]
    training = pair(params["recordings"], inputs["training"], "training parquets")
    profiles = {v: Enrollment.load(p) for v, p in pair(params["training_vehicles"], inputs["profiles"]).items()}
    parts = parts_by_recording(inputs["assignment"])

    def windows():
        for key, path in sorted(training.items()):
            graphs, index, _ = profiled_graphs(key, path, profiles[params["vehicles"][key]], size, stride)
            yield key, graphs, np.where(index >= 0, parts[key], "gap")

    prep = fit_preprocessing(windows())
    write_json(outputs["preprocessing"], prep.to_json())
    log.info("vocabulary: %d CAN IDs (+ unknown token); normalisation fitted on %d benign training windows",
             len(prep.vocabulary), prep.fitted_on["benign_train_windows"])
