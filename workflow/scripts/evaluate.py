"""Snakemake adapter: threshold from validation, metrics per test scenario and attack."""

from canguard.evaluation.stages import run_evaluation
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
run_evaluation(
    snakemake.input.scores,
    snakemake.input.episodes,
    snakemake.wildcards.dataset,
    snakemake.wildcards.model,
    snakemake.output.metrics,
    snakemake.output.threshold,
    snakemake.params.quantile,
    out_calibrated=snakemake.output.calibrated,
    warmup_windows=snakemake.params.warmup_windows,
)
