"""`canguard train --use-slurm`: one training through the workflow's own rule on a SLURM profile."""

import subprocess
import sys
from types import SimpleNamespace

from snakemake_run import LOCAL_ENV, copy_workflow

from canguard.cli import slurm_command, workflow_role


def args(**kw):
    base = {"type": "teacher", "teacher": None, "run": "hcrl_sa", "dataset": "hcrl_sa", "model": "gat", "seed": 0,
            "nodes": 2, "gpus_per_node": 4, "profile": "profiles/slurm", "configfile": "config/hcrl_sa.yaml",
            "snakemake_args": []}
    return SimpleNamespace(**(base | kw))


def test_the_command_is_the_workflow_rule_sized_by_the_flags():
    cmd, overlay = slurm_command(args(), {"max_epochs": 5}, {"hidden": 32})
    assert cmd[1:] == [
        "-m", "snakemake", "--profile", "profiles/slurm", "results/hcrl_sa/models/hcrl_sa/gat_teacher/seed0/best.ckpt",
        "--configfile", "config/hcrl_sa.yaml", "results/hcrl_sa/cli/train_hcrl_sa_gat_teacher_seed0.yaml"]
    assert overlay == {"run_name": "hcrl_sa", "distributed": {"teacher": {"gpus": 4, "nodes": 2}},
                       "training": {"max_epochs": 5}, "models": {"sizes": {"gat": {"teacher": {"hidden": 32}}}}}
    student, _ = slurm_command(args(type="student", snakemake_args=["--dry-run"]), {}, None)
    assert "results/hcrl_sa/models/hcrl_sa/gat_student/seed0/best.ckpt" in student and "--dry-run" in student


def test_roles():
    assert workflow_role("teacher", None) == "teacher"
    assert workflow_role("student", "t/best.ckpt") == "student"
    assert workflow_role("student", None) == "student_scratch"
    assert workflow_role("student_scratch", None) == "student_scratch"


def test_snakemake_takes_the_config_it_is_given(tmp_path):
    """The command, run with a dry run: Snakemake reads the overlay and the schema accepts it."""
    work = copy_workflow(tmp_path)
    cmd = ["train", "--use-slurm", "--profile", "profiles/default", "--model", "gat", "--dataset", "synthetic",
           "--run", "test", "--configfile", "config/test.yaml", "--gpus-per-node", "2", "--config", '{"epochs": 1}',
           "--", "--dry-run"]
    done = subprocess.run([sys.executable, "-m", "canguard.cli", *cmd], cwd=work, env=LOCAL_ENV, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "config error" not in done.stdout + done.stderr
    assert (work / "results/test/cli/train_synthetic_gat_teacher_seed0.yaml").exists()
