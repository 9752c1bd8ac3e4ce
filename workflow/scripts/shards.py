"""Snakemake adapter: graph shards and manifest of one part (train, val or a test scenario)."""

from canguard.graphs.stages import run_shards
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
run_shards(
    snakemake.wildcards.part,
    dict(zip(snakemake.params.recordings, snakemake.input.graphs)),
    dict(zip(snakemake.params.recordings, snakemake.params.attacks)),
    snakemake.input.preprocessing,
    snakemake.output.shards,
    snakemake.params.graphs_per_shard,
    assignment=snakemake.input.assignment,
    dataset=snakemake.wildcards.dataset,
)
