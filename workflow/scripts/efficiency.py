"""Snakemake adapter: parameters, checkpoint size, latency at batch 1 and batched throughput."""

import json

from canguard.evaluation.efficiency import measure_efficiency
from canguard.logs import setup_logging

log = setup_logging(snakemake.log[0])
s = snakemake.params.settings
result = measure_efficiency(snakemake.input.ckpt, snakemake.input.shards, device=s["device"], threads=s["threads"],
                            batch1_windows=s["batch1_windows"], batch_size=s["batch_size"])
result |= {"dataset": snakemake.wildcards.dataset, "model": snakemake.wildcards.model}
with open(snakemake.output.efficiency, "w") as f:
    json.dump(result, f, indent=2)
log.info("%s", result)
