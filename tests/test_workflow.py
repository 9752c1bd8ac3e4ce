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


def test_pipeline_builds_graph_shards_per_part(workflow_run):
    shards = workflow_run / "results/shards/synthetic"
    parts = sorted(p.name for p in shards.iterdir())
    assert parts == ["test_01_known_vehicle_known_attack", "test_02_unknown_vehicle_known_attack",
                     "test_03_known_vehicle_unknown_attack", "test_04_unknown_vehicle_unknown_attack",
                     "test_05_suppress", "test_06_masquerade", "train", "val"]
    train = json.loads((shards / "train/manifest.json").read_text())
    val = json.loads((shards / "val/manifest.json").read_text())
    assert train["num_graphs"] > 0 and val["num_graphs"] > 0
    assert train["class_balance"]["attack"] > 0 and val["class_balance"]["attack"] > 0
    assert train["window_size"] == 100 and train["preprocessing"] == val["preprocessing"]
    # the unknown vehicle's IDs are not in the vocabulary learnt from the known vehicles
    unknown_vehicle = json.loads((shards / "test_02_unknown_vehicle_known_attack/manifest.json").read_text())
    assert unknown_vehicle["unknown_id_share"] > 0.5 > train["unknown_id_share"]


def test_pipeline_trains_teachers_and_students(workflow_run):
    models = workflow_run / "results/models/synthetic"
    for family in ("gat", "vgae"):
        for role in ("teacher", "student", "student_scratch"):
            meta = json.loads((models / f"{family}_{role}/best.json").read_text())
            assert meta["task"]["family"] == family
            assert (models / f"{family}_{role}/metrics.csv").read_text().count("\n") == 1 + 2  # header, 2 epochs
        student = json.loads((models / f"{family}_student/best.json").read_text())
        assert student["task"]["distilled_from"] == f"results/models/synthetic/{family}_teacher/best.ckpt"
        assert json.loads((models / f"{family}_student_scratch/best.json").read_text())["task"]["distilled_from"] is None


def test_pipeline_evaluates_every_scenario_and_writes_the_summary(workflow_run):
    table = (workflow_run / "results/summary.csv").read_text().splitlines()
    # header, then 2 protocols x 6 test scenarios x 8 models (6 trained, 2 fusions)
    assert len(table) == 1 + 2 * 6 * 8
    assert "| test_02_unknown_vehicle_known_attack | vgae_teacher |" in (workflow_run / "results/summary.md").read_text()
    figures = workflow_run / "results/figures/synthetic"
    assert (figures / "per_attack_f1.png").exists() and (figures / "test_05_suppress/roc_pr.svg").exists()
    threshold = json.loads((workflow_run / "results/evaluation/synthetic/vgae_teacher/threshold.json").read_text())
    assert threshold["fitted_on"] == "val" and "benign" in threshold["rule"]


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


def test_changed_window_size_reruns_graphs_not_ingest(workflow_run):
    (workflow_run / "config/w50.yaml").write_text("windows: {size: 50, stride: 25}\n")
    dry = snakemake(workflow_run, "--dry-run", "--configfile", "config/test.yaml", "config/w50.yaml")
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = _job_counts(dry.stdout)
    assert jobs["windows"] == 21 and jobs["split"] == 1 and jobs["preprocessing"] == 1 and jobs["shards"] == 8
    assert jobs["train_teacher"] == 2 and jobs["distill_student"] == 2 and jobs["train_student_scratch"] == 2
    assert "ingest" not in jobs and "simulate" not in jobs and "catalog" not in jobs
