"""``python -m canguard.config_checks FILE...``: each config file read as Snakemake reads it (JSON, else YAML)
and a mapping of config sections; else one line per bad file, naming it (and the line and column of a YAML
error), and exit status 2. What ``make run | dry-run | plan`` run before Snakemake, whose own message for such a
file names neither (:mod:`canguard.config_checks.files`)."""

from __future__ import annotations

import sys

from canguard.config_checks.files import check_config_files


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if not paths or paths[0] in ("-h", "--help"):
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 0 if paths else 2
    lines = check_config_files(paths)
    for line in lines:
        print(line, file=sys.stderr)
    return 2 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
