"""Snakemake adapter: thresholds, alarms and metrics of both protocols for one detector and seed."""

from canguard.evaluation.stages import run_evaluation
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
w, p, out = snakemake.wildcards, snakemake.params, snakemake.output
run_evaluation(
    snakemake.input.scores,
    snakemake.input.episodes,
    dict(zip(p.test_vehicles, snakemake.input.enrollments)),
    {"dataset": w.dataset, "model": w.model, "seed": int(w.seed)},
    p.false_alarms_per_hour,
    p.size,
    p.stride,
    out.alarms,
    out.thresholds,
    {"zero_shot": out.zero_shot, "enrolled": out.enrolled},
)
