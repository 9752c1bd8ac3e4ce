"""Snakemake adapter: one ingest report per dataset, accounting for every input line."""

import json

from canguard.ingest.pipeline import summarize
from canguard.logs import setup_logging

log = setup_logging(snakemake.log[0])
catalog = json.load(open(snakemake.input.catalog))
reports = [json.load(open(p)) for p in snakemake.input.reports]
summary = summarize(catalog, reports)
with open(snakemake.output.report, "w") as f:
    json.dump(summary, f, indent=2)
log.info("%s: %d rows read, %d kept, %d rejected",
         summary["dataset"], summary["rows_read"], summary["rows_kept"], summary["rows_rejected"])
