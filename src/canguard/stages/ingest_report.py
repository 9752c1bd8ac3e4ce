"""Rule ingest_report: every recording's ingest report -> the dataset's accounting of rows and files."""

import logging

from canguard.ingest.pipeline import summarize
from canguard.stages import read_json, write_json

log = logging.getLogger(__name__)


def run_ingest_report(inputs, outputs, params, wildcards) -> None:
    summary = summarize(read_json(inputs["catalog"]), [read_json(p) for p in inputs["reports"]])
    write_json(outputs["report"], summary)
    files = summary["files"]
    log.info("%s: %d files found = %d recordings + %d duplicates + %d ignored", summary["dataset"], files["found"],
             files["recordings"], files["duplicates"], files["ignored"])
    for reason, n in summary["ignored_by_reason"].items():
        log.warning("%s: %d file(s) ignored: %s", summary["dataset"], n, reason)
    log.info("%s: %d rows read, %d kept, %d rejected", summary["dataset"], summary["rows_read"],
             summary["rows_kept"], summary["rows_rejected"])
