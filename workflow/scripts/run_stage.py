"""Snakemake adapter of every rule: runs canguard.stages.<rule>.run_<rule> with the job's files and params."""

from canguard.stages import run_job

run_job(snakemake)  # noqa: F821 (the object Snakemake gives a script)
