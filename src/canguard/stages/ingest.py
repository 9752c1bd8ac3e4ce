"""Rule ingest: one raw recording -> canonical parquet, rejected lines (with file and line), report."""

from canguard.ingest.pipeline import ingest_recording


def run_ingest(inputs, outputs, params, wildcards) -> None:
    ingest_recording(params["entry"], params["format"], parquet=outputs["parquet"], rejects=outputs["rejects"],
                     report=outputs["report"])
