"""The Snakemake workflow end to end on a tiny synthetic dataset: runs, then finds nothing to do; what a
changed config or another run plans."""

import json

import pandas as pd
import pytest
from snakemake_run import job_counts, planned_jobs, snakemake

# workflow_run (conftest.py): a copy of the workflow run once on config/test.yaml


def test_pipeline_runs_through_ingest(workflow_run):
    report = json.loads((workflow_run / "results/test/ingest/synthetic/ingest_report.json").read_text())
    assert report["recordings"] == 15
    assert report["rows_read"] == report["rows_kept"] > 0 and report["rows_rejected"] == 0
    assert report["messages_attack"] > 0 and report["messages_benign"] > 0
    for rec in report["per_recording"]:
        stem = workflow_run / "results/test/ingest/synthetic" / rec["recording"]
        assert stem.with_suffix(".parquet").stat().st_size > 0
        assert (workflow_run / "logs/test/ingest/synthetic" / f"{rec['recording']}.log").exists()


SCENARIOS = ["test_01_known_vehicle_known_attack", "test_02_unknown_vehicle_known_attack",
             "test_03_known_vehicle_unknown_attack", "test_04_unknown_vehicle_unknown_attack",
             "test_05_suppress", "test_06_masquerade"]


def test_pipeline_profiles_and_enrols_every_vehicle(workflow_run):
    profiles = workflow_run / "results/test/profiles/synthetic"
    assert sorted(p.stem for p in (profiles / "training").iterdir()) == ["alpha", "bravo"]
    assert sorted(p.stem for p in (profiles / "enrolled").iterdir()) == ["alpha", "bravo", "charlie"]
    alpha = json.loads((profiles / "training/alpha.json").read_text())
    # fitted as a vehicle is enrolled: the first 0.3 s of each of alpha's 2 training recordings, benign only
    assert alpha["report"]["source"] == "training prefix" and alpha["report"]["recordings"] == 2
    assert alpha["profile"]["num_ids"] >= 30 and alpha["profile"]["source"]["benign_only"]
    charlie = json.loads((profiles / "enrolled/charlie.json").read_text())["report"]
    # charlie has no attack-free recording: the first 0.3 s of each of its 3 recordings
    assert charlie["source"] == "prefix" and charlie["recordings"] == 3 and charlie["attack_messages"] == 0
    assert charlie["seconds"] == pytest.approx(3 * 0.3, abs=0.05)
    assert json.loads((profiles / "enrolled/alpha.json").read_text())["report"]["source"] == "prefix"


def test_pipeline_builds_graph_shards_per_part_and_protocol(workflow_run):
    shards = workflow_run / "results/test/shards/synthetic"
    assert sorted(p.name for p in shards.iterdir()) == ["enrolled", "train", "val", "zero_shot"]
    assert sorted(p.name for p in (shards / "zero_shot").iterdir()) == SCENARIOS
    assert sorted(p.name for p in (shards / "enrolled").iterdir()) == ["enrollment", *SCENARIOS]
    train = json.loads((shards / "train/manifest.json").read_text())
    val = json.loads((shards / "val/manifest.json").read_text())
    assert train["num_graphs"] > 0 and val["num_graphs"] > 0
    assert train["class_balance"]["attack"] > 0 and val["class_balance"]["attack"] > 0
    assert train["window_size"] == 100 and train["preprocessing"] == val["preprocessing"]
    unknown = json.loads((shards / "enrolled/test_02_unknown_vehicle_known_attack/manifest.json").read_text())
    # the unknown vehicle's enrollment prefix is excluded from every metric, in both protocols
    zero = json.loads((shards / "zero_shot/test_02_unknown_vehicle_known_attack/manifest.json").read_text())
    assert unknown["excluded_windows"] == zero["excluded_windows"] > 0
    assert unknown["vehicles"] == ["charlie"] and unknown["enrollment"]["charlie"]["source"] == "prefix"
    enrollment = json.loads((shards / "enrolled/enrollment/manifest.json").read_text())
    assert sorted(enrollment["vehicles"]) == ["alpha", "bravo", "charlie"]


def test_pipeline_trains_teachers_and_students(workflow_run):
    models = workflow_run / "results/test/models/synthetic"
    for family in ("gat", "vgae"):
        for role in ("teacher", "student", "student_scratch"):
            meta = json.loads((models / f"{family}_{role}/seed0/best.json").read_text())
            assert meta["task"]["family"] == family and meta["task"]["sizes"]["id_dim"] == 0
            assert (models / f"{family}_{role}/seed0/metrics.csv").read_text().count("\n") == 1 + 2  # 2 epochs
        student = json.loads((models / f"{family}_student/seed0/best.json").read_text())
        assert student["task"]["distilled_from"] == f"results/test/models/synthetic/{family}_teacher/seed0/best.ckpt"
        scratch = json.loads((models / f"{family}_student_scratch/seed0/best.json").read_text())
        assert scratch["task"]["distilled_from"] is None


def test_pipeline_evaluates_both_protocols_and_writes_the_summary(workflow_run):
    table = pd.read_csv(workflow_run / "results/test/summary.csv")
    # 2 protocols x 6 test scenarios x 9 detectors (rule baseline, 6 trained, 2 fusions), one seed
    assert len(table) == 2 * 6 * 9 and set(table["protocol"]) == {"zero_shot", "enrolled"}
    assert set(table["model"]) == {"rules", "gat_teacher", "gat_student", "gat_student_scratch", "vgae_teacher",
                                   "vgae_student", "vgae_student_scratch", "fusion_teacher", "fusion_student"}
    md = (workflow_run / "results/test/summary.md").read_text()
    assert "## synthetic: enrolled" in md and "## synthetic: zero_shot" in md
    evaluation = workflow_run / "results/test/evaluation/synthetic"
    thresholds = json.loads((evaluation / "vgae_teacher/seed0/thresholds.json").read_text())
    assert set(thresholds["enrolled"]) == {"alpha", "bravo", "charlie"}
    assert "benign" in thresholds["zero_shot"]["validation"]["fit_on"]
    metrics = json.loads((evaluation / "fusion_student/seed0/metrics_enrolled.json").read_text())
    assert metrics["protocol"] == "enrolled" and set(metrics["scenarios"]) == set(SCENARIOS)
    figures = workflow_run / "results/test/figures/synthetic"
    assert (figures / "enrolled/per_attack_f1.png").exists()
    assert (figures / "zero_shot/test_05_suppress/roc_pr.png").exists()
    assert not list(figures.rglob("*.svg"))  # figures.formats: [png] in config/test.yaml


def test_second_invocation_has_nothing_to_do(workflow_run):
    again = snakemake(workflow_run, "--dry-run")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Nothing to be done" in again.stdout + again.stderr


def test_changed_synthetic_seed_reruns_simulation(workflow_run):
    (workflow_run / "config/seed12.yaml").write_text("synthetic: {seed: 12}\n")
    dry = snakemake(workflow_run, "--dry-run", configfiles=("config/test.yaml", "config/seed12.yaml"))
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = job_counts(dry.stdout)
    # ingest jobs appear once the catalog checkpoint has run again; a dry run stops at it
    assert jobs["simulate"] == 15 and jobs["catalog"] == 1, jobs



def test_changed_window_size_reruns_graphs_not_ingest(workflow_run):
    (workflow_run / "config/w50.yaml").write_text("windows: {size: 50, stride: 25}\n")
    dry = snakemake(workflow_run, "--dry-run", configfiles=("config/test.yaml", "config/w50.yaml"))
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = job_counts(dry.stdout)
    assert jobs["split"] == 1 and jobs["vehicle_profile"] == 2 and jobs["enroll"] == 3
    assert jobs["preprocessing"] == 1 and jobs["shards"] == 2 + 2 * 6 + 1  # train, val, 2 protocols, enrollment
    assert jobs["train"] == 6  # teacher, distilled student, student without teacher of each family
    assert "ingest" not in jobs and "simulate" not in jobs and "catalog" not in jobs



def test_changed_temperature_reruns_only_the_distilled_students(workflow_run):
    (workflow_run / "config/t2.yaml").write_text("training: {temperature: 2.0}\n")
    dry = snakemake(workflow_run, "--dry-run", configfiles=("config/test.yaml", "config/t2.yaml"))
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = planned_jobs(dry.stdout)
    trained = sorted((w["family"], w["role"]) for rule, w in jobs if rule == "train")
    assert trained == [("gat", "student"), ("vgae", "student")]
    evaluated = sorted(w.get("model", f"fusion_{w.get('role')}") for rule, w in jobs
                       if rule in ("evaluate", "evaluate_fusion"))
    assert evaluated == ["fusion_student", "gat_student", "vgae_student"]
    assert not {rule for rule, _ in jobs} & {"simulate", "catalog", "ingest", "split", "preprocessing", "shards"}


def test_another_run_of_the_same_dataset_writes_elsewhere(workflow_run):
    (workflow_run / "config/other.yaml").write_text("run_name: other\n")
    dry = snakemake(workflow_run, "--dry-run", configfiles=("config/test.yaml", "config/other.yaml"))
    assert dry.returncode == 0, dry.stderr[-3000:]
    outputs = [line.split(":", 1)[1].strip() for line in dry.stdout.splitlines() if line.strip().startswith("output:")]
    assert outputs and all(path.startswith("results/other/") for o in outputs for path in o.split(", "))
    assert job_counts(dry.stdout)["simulate"] == 15  # a run of its own: nothing of run `test` is reused


def test_tuner_stages_run_and_feed_training(workflow_run):
    """The batch-size finder and the learning-rate range test of one distilled student, through the rules."""
    (workflow_run / "config/tune.yaml").write_text(
        "tuning: {batch_size: true, lr: true, max_batch_size: 32, lr_steps: 10}\n")
    tuned = "results/test/tuning/synthetic/gat_student"
    run = snakemake(workflow_run, f"{tuned}/batch_size.json", f"{tuned}/lr_find.json",
                    configfiles=("config/test.yaml", "config/tune.yaml"))
    assert run.returncode == 0, run.stderr[-3000:]
    batch = json.loads((workflow_run / tuned / "batch_size.json").read_text())
    assert 1 <= batch["batch_size"] <= 32 and batch["role"] == "student"
    lr = json.loads((workflow_run / tuned / "lr_find.json").read_text())
    assert lr["suggestion"] > 0 and (workflow_run / tuned / "lr_find.csv").stat().st_size > 0
    # with tuning on, the student trains at what the tuners found: its job is planned again
    dry = snakemake(workflow_run, "--dry-run", configfiles=("config/test.yaml", "config/tune.yaml"))
    trained = {(w["family"], w["role"]) for rule, w in planned_jobs(dry.stdout) if rule == "train"}
    assert ("gat", "student") in trained
