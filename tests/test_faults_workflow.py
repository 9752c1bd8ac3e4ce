"""Fault injection into the workflow: Snakemake killed mid-stage, a recording that fails its job.

Run on the tiny synthetic config up to the ingest stage (no training): what a kill
leaves behind must never look finished, and the rerun must account for every recording.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from snakemake_run import LOCAL_ENV, copy_workflow, snakemake

pytestmark = pytest.mark.faults

INGEST_REPORT = "results/test/ingest/synthetic/ingest_report.json"


def artefacts_are_whole(root: Path) -> int:
    """Every parquet and JSON under ``root/results`` reads; returns how many there are."""
    count = 0
    for path in (root / "results").rglob("*"):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix == ".parquet":
            pq.read_metadata(path)
            count += 1
        elif path.suffix == ".json":
            json.loads(path.read_text())
            count += 1
    return count


def test_kill_9_of_snakemake_mid_stage_then_rerun(tmp_path):
    work = copy_workflow(tmp_path)
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", INGEST_REPORT, "--configfile", "config/test.yaml"]
    proc = subprocess.Popen(cmd, cwd=work, env=LOCAL_ENV, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    logs = work / "logs/test/ingest/synthetic"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if logs.is_dir() and len(list(logs.rglob("*.log"))) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # Snakemake and the jobs it started
    proc.wait()
    artefacts_are_whole(work)  # what the kill left: whole files, or none
    # a killed Snakemake leaves its lock; it says so, and `--unlock` is the documented way out
    assert "Directory cannot be locked" in snakemake(work, INGEST_REPORT).stderr
    assert snakemake(work, INGEST_REPORT, "--unlock").returncode == 0
    rerun = snakemake(work, INGEST_REPORT, "--rerun-incomplete")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert artefacts_are_whole(work) >= 1 + 2 * 15
    report = json.loads((work / INGEST_REPORT).read_text())
    assert report["files"]["found"] == report["files"]["recordings"] == 15
    for name in ("rows_read", "rows_kept", "rows_rejected"):
        assert name in json.dumps(report)


def test_a_failed_ingest_job_says_why_in_its_log(tmp_path):
    """A recording whose every row is rejected fails its job; the job's log file holds the reason."""
    work = copy_workflow(tmp_path)
    root = tmp_path / "datasets/broken"
    (root / "train_01_attack_free").mkdir(parents=True)
    (root / "train_01_attack_free/attack-free-kia.csv").write_text(
        "timestamp,arbitration_id,data_field,attack\n"
        + "".join(f"{i * 0.01:.6f},1A0,0011223344556677,0\n" for i in range(200)))
    (root / "train_01_attack_free/tabs-kia.csv").write_text(
        "timestamp,arbitration_id,data_field,attack\n" + "".join(f"{i}\t1A0\t00\t0\n" for i in range(20)))
    config = work / "config/broken.yaml"
    config.write_text(f"run: [broken]\ndatasets:\n  broken:\n    root: {root}\n")
    run = snakemake(work, "results/broken/ingest/broken/ingest_report.json", configfiles=[str(config)])
    assert run.returncode != 0
    log = work / "logs/broken/ingest/broken/train_01_attack_free/tabs-kia.log"
    text = log.read_text()
    assert "rule ingest" in text and "failed" in text and "tabs-kia.csv" in text and "rejected" in text
    assert "20" in text
