"""`canguard status`: the SLURM jobs of a workflow run and their states.

    canguard status                 # the newest SLURM run of the workflow in this folder
    canguard status 3f1c...-uuid    # a given run (the "SLURM run ID" Snakemake printed)

Snakemake's SLURM executor names every job of a run after the run's UUID and
writes each job's log to ``.snakemake/slurm_logs/rule_<rule>/<wildcards>/<jobid>.log``;
``sacct`` gives the states.  The table: job id, rule, wildcards, state (with
the exit code), elapsed time, partition, allocated resources.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

RUN_ID = re.compile(r"SLURM run ID: ([0-9A-Za-z_-]+)")
SACCT_FIELDS = ("JobID", "State", "ExitCode", "Elapsed", "Partition", "AllocTRES")


def latest_run_id(workdir: str | Path = ".") -> str | None:
    """The SLURM run ID in the newest Snakemake log of ``workdir`` that has one."""
    logs = sorted((Path(workdir) / ".snakemake/log").glob("*.snakemake.log"), key=lambda p: p.stat().st_mtime)
    for log in reversed(logs):
        found = RUN_ID.findall(log.read_text(errors="replace"))
        if found:
            return found[-1]
    return None


def job_rules(workdir: str | Path = ".") -> dict[str, tuple[str, str]]:
    """SLURM job id -> (rule, wildcards), from the executor's log files."""
    out = {}
    for log in (Path(workdir) / ".snakemake/slurm_logs").glob("rule_*/**/*.log"):
        rule = log.relative_to(Path(workdir) / ".snakemake/slurm_logs").parts[0].removeprefix("rule_")
        wildcards = log.parent.name if log.parent.name != f"rule_{rule}" else ""
        out[log.stem] = (rule, wildcards)
    return out


def sacct_jobs(run_id: str, days: int = 7) -> list[dict]:
    """One dict per job (not per step) of the run, as ``sacct`` reports it."""
    done = subprocess.run(["sacct", "-X", "--parsable2", "--noheader", "--name", run_id,
                           "--starttime", f"now-{days}days", f"--format={','.join(SACCT_FIELDS)}"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"sacct failed: {done.stderr.strip() or done.returncode}")
    return [dict(zip(SACCT_FIELDS, line.split("|"))) for line in done.stdout.splitlines() if line.strip()]


def status_table(run_id: str, workdir: str | Path = ".") -> str:
    rules = job_rules(workdir)
    rows = [("job", "rule", "wildcards", "state", "elapsed", "partition", "allocated")]
    for job in sacct_jobs(run_id):
        rule, wildcards = rules.get(job["JobID"], ("?", ""))
        state = job["State"] if job["ExitCode"] in ("0:0", "") else f"{job['State']} ({job['ExitCode']})"
        rows.append((job["JobID"], rule, wildcards, state, job["Elapsed"], job["Partition"], job["AllocTRES"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return f"SLURM run {run_id}: {len(rows) - 1} jobs\n" + "\n".join(lines)
