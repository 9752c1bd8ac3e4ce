"""Snakemake adapter: a training vehicle's full and fold profiles (canguard.profiles.training)."""

from canguard.graphs.stages import run_vehicle_profile
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
run_vehicle_profile(
    snakemake.wildcards.vehicle,
    dict(zip(snakemake.params.recordings, snakemake.input.recordings)),
    snakemake.input.assignment,
    snakemake.params.size,
    snakemake.params.stride,
    snakemake.params.block_windows,
    snakemake.params.folds,
    snakemake.output.profiles,
)
