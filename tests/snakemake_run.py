"""What the workflow tests share: a copy of the workflow, Snakemake run on it, and its dry-run plan."""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_ITEMS = ("Snakefile", "workflow", "config", "profiles")

# The SLURM executor plugin asks `scontrol` for MinJobAge whenever Snakemake starts; where a SLURM
# client is installed but no controller runs (CI, before its SLURM step) that waits 10 s each time.
# Local runs give it a scontrol that fails at once (the plugin then uses its default).
_NO_SLURM = Path(tempfile.mkdtemp(prefix="canguard-no-slurm-"))
(_NO_SLURM / "scontrol").write_text("#!/bin/sh\nexit 1\n")
(_NO_SLURM / "scontrol").chmod(stat.S_IRWXU)
LOCAL_ENV = os.environ | {"PATH": f"{_NO_SLURM}{os.pathsep}{os.environ.get('PATH', '')}"}


def copy_workflow(dest: Path) -> Path:
    """The workflow (Snakefile, rules, configs, profiles) copied into ``dest``; outputs then go there."""
    for item in WORKFLOW_ITEMS:
        src = REPO / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / item)
    return dest


def snakemake(workdir: Path, *args: str, configfiles=("config/test.yaml",), cores: int = 2, timeout: int = 900,
              local: bool = True) -> subprocess.CompletedProcess:
    """``snakemake --cores N ARGS --configfile ...`` in ``workdir`` (the config files last: the option
    takes every word after it)."""
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), *args]
    if configfiles:
        cmd += ["--configfile", *configfiles]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout,
                          env=LOCAL_ENV if local else None)


def job_counts(dry_run_stdout: str) -> dict[str, int]:
    """The 'job  count' table that a Snakemake dry run prints."""
    counts = {}
    for line in dry_run_stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def planned_jobs(dry_run_stdout: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a Snakemake dry run plans."""
    jobs = []
    for line in dry_run_stdout.splitlines():
        line = line.strip()
        if line.startswith(("rule ", "localrule ", "checkpoint ")) and line.endswith(":"):
            jobs.append((line.split()[1][:-1], {}))
        elif line.startswith("wildcards:") and jobs:
            jobs[-1][1].update(kv.split("=", 1) for kv in line[len("wildcards:"):].strip().split(", "))
    return jobs
