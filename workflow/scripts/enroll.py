"""Snakemake adapter: a vehicle's profile from its enrollment plan (canguard.profiles.enrollment).

Rules vehicle_profile (a training vehicle) and enroll (a test vehicle).
"""

from canguard.graphs.stages import run_enrollment
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
plan = snakemake.params.plan
run_enrollment(
    plan,
    dict(zip([item["recording"] for item in plan["recordings"]], snakemake.input.recordings)),
    snakemake.params.size,
    snakemake.output.profile,
)
