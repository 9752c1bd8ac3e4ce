"""Snakemake adapter: attack episodes of the test recordings (for detection delay)."""

from canguard.evaluation.stages import run_episodes
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
run_episodes(
    dict(zip(snakemake.params.recordings, snakemake.input.recordings)),
    dict(zip(snakemake.params.recordings, snakemake.params.attacks)),
    snakemake.output.episodes,
    snakemake.params.max_gap_s,
)
