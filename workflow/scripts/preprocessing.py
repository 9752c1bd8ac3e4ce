"""Snakemake adapter: vocabulary and normalisation from benign training windows."""

from canguard.graphs.stages import run_preprocessing
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
run_preprocessing(
    dict(zip(snakemake.params.recordings, snakemake.input.training)),
    snakemake.params.vehicles,
    dict(zip(snakemake.params.training_vehicles, snakemake.input.profiles)),
    snakemake.input.assignment,
    snakemake.params.size,
    snakemake.params.stride,
    snakemake.output.preprocessing,
)
