"""Snakemake adapter: every figure of one dataset (canguard.evaluation.plots)."""

from canguard.evaluation.plots import draw_all
from canguard.logs import setup_logging

log = setup_logging(snakemake.log[0])
evaluated, trained = snakemake.params.evaluated, snakemake.params.trained
written = draw_all(
    snakemake.output.figures,
    metrics_files={
        "enrolled": dict(zip(evaluated, snakemake.input.enrolled)),
        "zero_shot": dict(zip(evaluated, snakemake.input.zero_shot)),
    },
    alarm_files=dict(zip(evaluated, snakemake.input.alarms)),
    efficiency_files=dict(zip(trained, snakemake.input.efficiency)),
    training_logs=dict(zip(trained, snakemake.input.training)),
    episodes=snakemake.input.episodes,
)
log.info("wrote %d figure files", len(written))
