"""Snakemake adapter: logistic stacker over GAT and VGAE scores, fitted on validation."""

from canguard.evaluation.stages import run_fusion
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
run_fusion(snakemake.input.gat, snakemake.input.vgae, snakemake.output.scores, snakemake.output.stacker)
