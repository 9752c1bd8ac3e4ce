"""Rule efficiency: latency (batch 1) and throughput of one trained model (seed 0) on its validation
windows; the rule takes every core so that no other job disturbs the timing."""

import logging

from canguard.evaluation.efficiency import measure_efficiency
from canguard.stages import write_json

log = logging.getLogger(__name__)


def run_efficiency(inputs, outputs, params, wildcards) -> None:
    s = params["settings"]
    result = measure_efficiency(inputs["ckpt"], inputs["shards"], device=s["device"], threads=s["threads"],
                                batch1_windows=s["batch1_windows"], batch_size=s["batch_size"])
    result = {"dataset": wildcards["dataset"], "model": wildcards["model"]} | result
    write_json(outputs["efficiency"], result)
    log.info("%s", result)
