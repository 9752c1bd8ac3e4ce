"""Snakemake adapter: train/validation assignment of the training windows."""

from canguard.graphs.stages import run_split
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
run_split(
    dict(zip(snakemake.params.recordings, snakemake.input.training)),
    snakemake.params.size,
    snakemake.params.stride,
    snakemake.output.assignment,
    **snakemake.params.split,
)
