"""Config files read as Snakemake reads them, each mistake of a file as one line naming the file (and line).

Snakemake reads ``--configfile`` as JSON, else as YAML, while it parses its own command line: a YAML syntax
error, or a file whose top level is not a mapping, then ends in its ``WorkflowError`` ("Config file is not valid
JSON or YAML", "must be given as JSON or YAML with keys at top level"), which names no file and no line, before
the Snakefile (and :func:`canguard.config_checks.check_workflow_config`) runs. So the entry points check the files
first, with this module:

* ``make run | dry-run | plan`` run ``python -m canguard.config_checks config/config.yaml $(CONFIG)`` before
  Snakemake (exit 2 and one line per bad file);
* the Snakefile checks ``config/config.yaml`` before its ``configfile:`` directive reads it (a plain
  ``snakemake`` run);
* ``canguard train --configfile`` reads the file with :func:`load_config_file`.

A plain ``snakemake --configfile BAD`` still ends in Snakemake's own message: nothing of the workflow runs first.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import yaml

from canguard.config_checks.errors import ERROR, ConfigError


def _where(path, mark) -> str:
    return f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark is not None else str(path)


def _kind(value) -> str:
    if value is None:
        return "empty"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return f"a {type(value).__name__}"


def load_config_file(path: str | Path, empty_ok: bool = False) -> dict:
    """The mapping in config file ``path``, read as Snakemake reads it (JSON, else YAML); :class:`ConfigError`
    with one line naming the file, and the line and column of a YAML error, where it cannot be read, is not
    JSON or YAML, or its top level is not a mapping of config sections (an empty file is one too for Snakemake;
    ``empty_ok``: it reads as no settings)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ConfigError([f"{ERROR}: {path}: cannot be read ({reason})"]) from None
    try:
        value = json.loads(text, object_pairs_hook=collections.OrderedDict)
    except ValueError:
        pass
    else:
        return _mapping(path, text, value, empty_ok)
    try:
        # Snakemake reads YAML through yte, with yaml.FullLoader
        value = yaml.load(text, Loader=yaml.FullLoader)  # noqa: S506 - the loader Snakemake itself uses
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        what = e.problem or e.context or "a syntax error"
        if e.context and e.problem:
            at = e.context_mark
            started = f" that starts at line {at.line + 1}, column {at.column + 1}" if at is not None else ""
            what += f" ({e.context}{started})"
        raise ConfigError([f"{ERROR}: {_where(path, mark)}: not valid YAML: {what}"]) from None
    except yaml.YAMLError as e:
        raise ConfigError([f"{ERROR}: {path}: not valid YAML ({str(e).splitlines()[0] if str(e) else e})"]) from None
    return _mapping(path, text, value, empty_ok)


def _mapping(path, text: str, value, empty_ok: bool) -> dict:
    if isinstance(value, dict):
        return value
    if value is None and empty_ok:
        return {}
    mark = None
    if value is not None:  # where the top-level value starts (JSON is YAML too)
        try:
            node = yaml.compose(text, Loader=yaml.FullLoader)  # noqa: S506
            mark = node.start_mark if node is not None else None
        except yaml.YAMLError:
            pass
    raise ConfigError([f"{ERROR}: {_where(path, mark)}: the top level is {_kind(value)}, not a mapping of config "
                       f"sections (e.g. training: {{lr: 1.0e-3}})"])


def check_config_files(paths) -> list[str]:
    """One error line per config file of ``paths`` that :func:`load_config_file` refuses (none: all read)."""
    lines: list[str] = []
    for path in paths:
        try:
            load_config_file(path)
        except ConfigError as e:
            lines += e.lines
    return lines
