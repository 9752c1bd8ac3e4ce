"""Snakemake adapter: catalogue a dataset's recordings and find byte-identical copies."""

import json

from canguard.catalog import build_catalog, discover, training_recordings
from canguard.logs import setup_logging

log = setup_logging(snakemake.log[0])
recordings = discover(snakemake.wildcards.dataset, snakemake.params.root, snakemake.params.vehicles)
for other, ds in snakemake.params.train_with.items():
    recordings += training_recordings(other, ds["root"], ds["vehicles"])
catalog = build_catalog(recordings)
with open(snakemake.output.catalog, "w") as f:
    json.dump(catalog, f, indent=2)
for entry in catalog["recordings"]:
    if entry["duplicate_of"]:
        log.info("%s is byte-identical to %s: ingested once", entry["key"], entry["duplicate_of"])
log.info("%d recordings, %d unique", catalog["n_recordings"], catalog["n_unique"])
