"""Rule efficiency: latency (batch 1) and throughput of every trained model of a dataset (seed 0) on its
validation windows, one model after the other in this one job; the rule takes every core so that no other
job disturbs the timing."""

import logging

from canguard.evaluation.efficiency import measure_efficiency
from canguard.stages import pair, write_json

log = logging.getLogger(__name__)


def run_efficiency(inputs, outputs, params, wildcards) -> None:
    s = params["settings"]
    ckpts = pair(params["models"], inputs["ckpts"], "checkpoints")
    for model, out in pair(params["models"], outputs["efficiency"], "efficiency files").items():
        result = measure_efficiency(ckpts[model], inputs["shards"], device=s["device"], threads=s["threads"],
                                    batch1_windows=s["batch1_windows"], batch_size=s["batch_size"])
        result = {"dataset": wildcards["dataset"], "model": model} | result
        write_json(out, result)
        log.info("%s", result)
