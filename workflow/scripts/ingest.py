"""Snakemake adapter: raw log -> canonical parquet, rejects and report (canguard.ingest)."""

from canguard.ingest.pipeline import ingest_recording
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
ingest_recording(
    snakemake.params.entry,
    snakemake.params.format,
    parquet=snakemake.output.parquet,
    rejects=snakemake.output.rejects,
    report=snakemake.output.report,
)
