"""Snakemake adapter: vocabulary and normalisation from benign training windows."""

from canguard.graphs.stages import run_preprocessing
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
run_preprocessing(
    dict(zip(snakemake.params.recordings, snakemake.input.graphs)),
    snakemake.input.assignment,
    snakemake.output.preprocessing,
)
