"""Snakemake adapter: the OR fusion of the GAT and the VGAE of one role and seed."""

from canguard.evaluation.stages import run_fusion_evaluation
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
w, p, out = snakemake.wildcards, snakemake.params, snakemake.output
run_fusion_evaluation(
    {"gat": snakemake.input.gat, "vgae": snakemake.input.vgae},
    snakemake.input.episodes,
    dict(zip(p.test_vehicles, snakemake.input.enrollments)),
    {"dataset": w.dataset, "model": f"fusion_{w.role}", "seed": int(w.seed)},
    p.false_alarms_per_hour,
    p.size,
    p.stride,
    out.alarms,
    out.thresholds,
    {"zero_shot": out.zero_shot, "enrolled": out.enrolled},
)
