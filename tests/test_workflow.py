"""The Snakemake workflow end to end on a tiny synthetic dataset: runs, then finds nothing to do."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/test.yaml", *args]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    """A copy of the workflow run once on config/test.yaml (4-second recordings)."""
    work = tmp_path_factory.mktemp("workflow")
    for item in ("Snakefile", "workflow", "config", "profiles"):
        src = REPO / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / item)
    run = snakemake(work)
    assert run.returncode == 0, run.stderr[-3000:]
    return work


def test_pipeline_runs_through_ingest(workflow_run):
    report = json.loads((workflow_run / "results/ingest/synthetic/ingest_report.json").read_text())
    assert report["recordings"] == 21
    assert report["rows_read"] == report["rows_kept"] > 0 and report["rows_rejected"] == 0
    assert report["messages_attack"] > 0 and report["messages_benign"] > 0
    for rec in report["per_recording"]:
        stem = workflow_run / "results/ingest/synthetic" / rec["recording"]
        assert stem.with_suffix(".parquet").stat().st_size > 0
        assert (workflow_run / "logs/ingest/synthetic" / f"{rec['recording']}.log").exists()


def test_second_invocation_has_nothing_to_do(workflow_run):
    again = snakemake(workflow_run, "--dry-run")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Nothing to be done" in again.stdout + again.stderr


def test_changed_synthetic_seed_reruns_simulation(workflow_run):
    (workflow_run / "config/seed12.yaml").write_text("synthetic: {seed: 12}\n")
    dry = snakemake(workflow_run, "--dry-run", "--configfile", "config/test.yaml", "config/seed12.yaml")
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = _job_counts(dry.stdout)
    # ingest jobs appear once the catalog checkpoint has run again; a dry run stops at it
    assert jobs["simulate"] == 21 and jobs["catalog"] == 1, jobs


def _job_counts(dry_run_stdout: str) -> dict[str, int]:
    """The 'job  count' table that a Snakemake dry run prints."""
    counts = {}
    for line in dry_run_stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts
