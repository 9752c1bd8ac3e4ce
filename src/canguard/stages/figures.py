"""Rule figures: every figure of one dataset (seed 0 of every detector), drawn by
:func:`canguard.evaluation.plots.draw_all` from the metrics, alarms, efficiency and training logs."""

import logging

import pandas as pd

from canguard.evaluation.plots import draw_all
from canguard.stages import pair, read_json

log = logging.getLogger(__name__)


def run_figures(inputs, outputs, params, wildcards, threads: int = 1) -> None:
    evaluated, trained = params["evaluated"], params["trained"]
    metrics = {protocol: {m: read_json(p) for m, p in pair(evaluated, inputs[protocol], "metrics files").items()}
               for protocol in ("enrolled", "zero_shot")}
    written = draw_all(
        outputs["figures"],
        metrics=metrics,
        alarms={m: pd.read_parquet(p) for m, p in pair(evaluated, inputs["alarms"], "alarms tables").items()},
        efficiency={m: read_json(p) for m, p in pair(trained, inputs["efficiency"], "efficiency files").items()},
        training_logs=pair(trained, inputs["training"], "training logs"),
        episodes=pd.read_parquet(inputs["episodes"]),
        formats=params["formats"],
        score_models=params["score_models"],
        workers=threads,
    )
    log.info("wrote %d figure files", len(written))
