"""Snakemake adapter: graph shards and manifest of one part (canguard.graphs.stages.run_shards)."""

from canguard.graphs.stages import run_shards
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
run_shards(
    snakemake.wildcards.part,
    dict(zip(p.recordings, snakemake.input.recordings)),
    dict(zip(p.recordings, p.attacks)),
    dict(zip(p.recordings, p.vehicles)),
    snakemake.input.preprocessing,
    snakemake.output.shards,
    p.graphs_per_shard,
    p.size,
    p.stride,
    dataset=snakemake.wildcards.dataset,
    assignment=snakemake.input.get("assignment"),
    training_profiles=dict(zip(p.training_vehicles, snakemake.input.training_profiles)),
    enrollments=dict(zip(p.test_vehicles, snakemake.input.get("enrollments", []))) or None,
)
