"""Snakemake adapter: a test vehicle's enrollment (canguard.profiles.enrollment)."""

from canguard.graphs.stages import run_enrollment
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
plan = snakemake.params.plan
run_enrollment(
    plan,
    dict(zip([item["recording"] for item in plan["recordings"]], snakemake.input.recordings)),
    snakemake.params.size,
    snakemake.output.enrollment,
)
