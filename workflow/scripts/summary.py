"""Snakemake adapter: one table of datasets x scenarios x models (CSV and Markdown)."""

from canguard.evaluation.stages import run_summary
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
run_summary(snakemake.input.metrics, snakemake.input.efficiency, snakemake.output.csv, snakemake.output.md)
