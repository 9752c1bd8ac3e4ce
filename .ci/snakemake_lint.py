"""`snakemake --lint` on the default and the test config; fails on any lint but one.

Accepted, by decision: "Specify a conda environment or container for each rule". canguard's
software is one Python environment that `make` builds from pyproject.toml (torch pinned first, see
the Makefile), the same for every rule; a per-rule conda environment would duplicate it.
"""

import re
import subprocess
import sys

ACCEPTED = ("Specify a conda environment or container for each rule.",)


def lints(*args: str) -> list[str]:
    run = subprocess.run([sys.executable, "-m", "snakemake", "--lint", *args], capture_output=True, text=True)
    text = run.stdout + run.stderr
    if run.returncode not in (0, 1) or "Traceback" in text:
        sys.exit(f"snakemake --lint {' '.join(args)} failed:\n{text[-3000:]}")
    found, where = [], ""
    for line in text.splitlines():
        if line.startswith("Lints for"):
            where = line
        elif m := re.match(r"\s+\* (.*)", line):
            found.append(f"{where}\n    {m.group(1)}")
    return found


def main() -> None:
    bad = []
    for args in ((), ("--configfile", "config/test.yaml")):
        bad += [lint for lint in lints(*args) if not any(a in lint for a in ACCEPTED)]
    if bad:
        sys.exit("snakemake --lint:\n" + "\n".join(bad))
    print("snakemake --lint: clean (but for the accepted per-rule environment lint)")


if __name__ == "__main__":
    main()
