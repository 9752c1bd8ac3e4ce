"""Snakemake adapter: one recording -> raw window graphs and window table (canguard.graphs)."""

from canguard.graphs.windows import build_recording_windows
from canguard.logs import setup_logging

log = setup_logging(snakemake.log[0])
counts = build_recording_windows(
    snakemake.input.parquet,
    snakemake.params.size,
    snakemake.params.stride,
    graphs_out=snakemake.output.graphs,
    windows_out=snakemake.output.windows,
)
log.info("%s: %d messages -> %d windows", snakemake.input.parquet, counts["messages"], counts["windows"])
