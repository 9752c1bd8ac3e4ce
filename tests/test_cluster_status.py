"""`canguard status`: a run's SLURM jobs, from Snakemake's logs and sacct (a stand-in sacct here)."""

import os
import stat

from canguard.cli import main
from canguard.cluster_status import latest_run_id, status_table

RUN = "0b8e6c1a-2f44-4c9e-9a53-7d1e2a0c9f11"


def fake_workflow(tmp_path):
    log = tmp_path / ".snakemake/log/2026-12-01T101010.000000.snakemake.log"
    log.parent.mkdir(parents=True)
    log.write_text(f"Building DAG of jobs...\nSLURM run ID: {RUN}\n")
    for job, rule, wildcards in (("41", "train", "run_test_dataset_synthetic_family_gat_role_teacher_seed_0"),
                                 ("42", "train", "run_test_dataset_synthetic_family_vgae_role_teacher_seed_0")):
        path = tmp_path / f".snakemake/slurm_logs/rule_{rule}/{wildcards}/{job}.log"
        path.parent.mkdir(parents=True)
        path.write_text("")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sacct = bin_dir / "sacct"
    sacct.write_text("#!/bin/sh\n"
                     f'[ "$5" = "{RUN}" ] || exit 1\n'
                     "echo '41|COMPLETED|0:0|00:01:02|gpu|billing=2,cpu=2,gres/gpu=1,mem=3000M,node=1'\n"
                     "echo '42|FAILED|1:0|00:00:09|gpu|billing=2,cpu=2,gres/gpu=1,mem=3000M,node=1'\n")
    sacct.chmod(stat.S_IRWXU)
    return bin_dir


def test_the_newest_run_and_its_jobs(tmp_path, monkeypatch, capsys):
    bin_dir = fake_workflow(tmp_path)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert latest_run_id(tmp_path) == RUN
    table = status_table(RUN, tmp_path).splitlines()
    assert table[0] == f"SLURM run {RUN}: 2 jobs"
    assert table[2].split()[:4] == ["41", "train", "run_test_dataset_synthetic_family_gat_role_teacher_seed_0",
                                    "COMPLETED"]
    assert "FAILED (1:0)" in table[3] and "gres/gpu=1" in table[3]
    assert main(["status", "--workdir", str(tmp_path)]) == 0
    assert "COMPLETED" in capsys.readouterr().out


def test_no_slurm_run_is_one_line(tmp_path, capsys):
    assert main(["status", "--workdir", str(tmp_path)]) == 2
    assert "no SLURM run" in capsys.readouterr().err
