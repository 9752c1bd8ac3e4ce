"""The whole pipeline's wall time: `make run` on a copy of the workflow with fresh results, then a no-op rerun.

    make bench                                         # all benchmarks -> benchmarks/results.json
    python benchmarks/pipeline_wall_time.py            # this one alone (about 10 minutes on 2 cores)
    python benchmarks/pipeline_wall_time.py --configfile config/hcrl_sa.yaml   # the real-data run (25 min)
    python benchmarks/run.py --only pipeline_wall_time_hcrl_sa                 # the same, into results.json

The workflow (Snakefile, rules, configs, profiles) is copied into a temporary
folder and run there with `snakemake --profile profiles/default` (what `make
run` calls) on every core, from no results at all: the installed package and
virtualenv are reused, as after `make` on a fresh clone.  Reported: the wall
time, the CPU time of every job (user and system, from the children's
rusage) and what it implies, the bound ``CPU / cores`` below which no schedule
can end, the number of jobs, the per-rule job-seconds from Snakemake's log, and
the time of a second run that has nothing to do.  A SLURM client without a
controller would add 10 s to every Snakemake start (the SLURM executor plugin's
``scontrol`` time-out); the runs get a ``scontrol`` that fails at once, as the
tests do.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from ingest_throughput import HCRL_SA, machine

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_ITEMS = ("Snakefile", "workflow", "config", "profiles", "datasets")
TARGET_S = {"default": 240, "hcrl_sa": 360}  # issue 13: 4 minutes on the default, 6 on hcrl_sa


def _local_env(work: Path) -> dict:
    fake = work / ".no-slurm"
    fake.mkdir()
    (fake / "scontrol").write_text("#!/bin/sh\nexit 1\n")
    (fake / "scontrol").chmod(0o755)
    return os.environ | {"PATH": f"{fake}{os.pathsep}{os.environ.get('PATH', '')}"}


def _snakemake(work: Path, env: dict, configfile: str | None) -> tuple[float, float, float]:
    """(wall, user CPU, system CPU) seconds of one Snakemake run in ``work``."""
    cmd = [sys.executable, "-m", "snakemake", "--profile", "profiles/default", "--cores", "all"]
    if configfile:
        cmd += ["--configfile", configfile]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"snakemake failed in {work}:\n{done.stderr[-3000:]}")
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def job_seconds(log: Path) -> tuple[int, dict[str, float]]:
    """(jobs, job-seconds per rule) from a Snakemake log's time stamps, job ids and 'Finished jobid' lines."""
    now, rule, started, per_rule = None, None, {}, defaultdict(float)
    jobs = 0
    for line in log.read_text().splitlines():
        stamp = re.match(r"\[(\w{3} \w{3}\s+\d+ \d\d:\d\d:\d\d \d{4})\]", line)
        if stamp:
            now = datetime.strptime(re.sub(r"\s+", " ", stamp.group(1)), "%a %b %d %H:%M:%S %Y")
            continue
        text = line.strip()
        if m := re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", text):
            rule = m.group(1)
        elif (m := re.match(r"jobid: (\d+)", text)) and rule:
            started[m.group(1)] = (rule, now)
        elif (m := re.match(r"Finished jobid: (\d+)", text)) and m.group(1) in started:
            name, t0 = started.pop(m.group(1))
            per_rule[name] += (now - t0).total_seconds()
            jobs += 1
    return jobs, dict(sorted(per_rule.items(), key=lambda kv: -kv[1]))


def run(configfile: str | None = None) -> dict:
    name = Path(configfile).stem if configfile else "default"
    # beside the checkout, so that a dataset root such as ../shared/datasets/hcrl_sa resolves as in it
    work = Path(tempfile.mkdtemp(dir=REPO.parent, prefix=".canguard-pipeline-bench-"))
    try:
        for item in WORKFLOW_ITEMS:
            src = REPO / item
            if src.is_dir():
                shutil.copytree(src, work / item, symlinks=True)
            elif src.exists():
                shutil.copy(src, work / item)
        env = _local_env(work)
        wall, user, system = _snakemake(work, env, configfile)
        jobs, per_rule = job_seconds(max((work / ".snakemake" / "log").glob("*.snakemake.log")))
        noop_wall, _, _ = _snakemake(work, env, configfile)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cores = os.cpu_count() or 1
    return {
        "machine": machine(), "config": name, "cores": cores,
        "wall_seconds": round(wall, 1), "target_seconds": TARGET_S.get(name),
        "cpu_user_seconds": round(user, 1), "cpu_system_seconds": round(system, 1),
        "cpu_bound_seconds": round((user + system) / cores, 1),
        "jobs": jobs, "job_seconds_by_rule": {k: round(v) for k, v in per_rule.items()},
        "noop_rerun_seconds": round(noop_wall, 1),
    }


def run_hcrl_sa() -> dict:
    """The pipeline on config/hcrl_sa.yaml, or a note saying why not (the data is not beside the checkout)."""
    if not HCRL_SA.is_dir():
        return {"skipped": f"real data not found at {HCRL_SA}"}
    return run("config/hcrl_sa.yaml")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", help="a config on top of config/config.yaml, e.g. config/hcrl_sa.yaml")
    args = parser.parse_args()
    print(json.dumps(run(args.configfile), indent=2))
