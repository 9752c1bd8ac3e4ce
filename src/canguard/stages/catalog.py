"""Rule catalog: a dataset's raw files (and the training files of `train_with`) -> its recordings."""

import logging

from canguard.catalog import build_catalog, discover, training_recordings
from canguard.stages import write_json

log = logging.getLogger(__name__)


def run_catalog(inputs, outputs, params, wildcards) -> None:
    recordings = discover(wildcards["dataset"], params["root"], params["vehicles"])
    for other, ds in params["train_with"].items():
        recordings += training_recordings(other, ds["root"], ds["vehicles"])
    catalog = build_catalog(recordings)
    write_json(outputs["catalog"], catalog)
    for entry in catalog["recordings"]:
        if entry["duplicate_of"]:
            log.info("%s is byte-identical to %s: ingested once", entry["key"], entry["duplicate_of"])
    log.info("%d recordings, %d unique", catalog["n_recordings"], catalog["n_unique"])
