"""Snakemake adapter: score every window with the rule baseline (canguard.models.rules)."""

from canguard.evaluation.stages import run_rule_scoring
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
run_rule_scoring(snakemake.input.preprocessing, snakemake.params.shards, snakemake.params.scenarios,
                 snakemake.output.scores)
