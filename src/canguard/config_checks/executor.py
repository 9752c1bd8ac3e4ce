"""The Snakemake executor of a run, read as Snakemake reads it: --executor, then the profiles."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml


def detect_executor(argv: list[str] | None = None, environ: Mapping[str, str] | None = None,
                    cwd: str | Path | None = None, snakefile_dir: str | Path | None = None) -> str:
    """The Snakemake executor of this run: ``--executor``/``-e``, else the ``executor`` of the workflow
    profile (``--workflow-profile``, else ``profiles/default`` beside the Snakefile), else of the
    ``--profile``s (the last wins; ``$SNAKEMAKE_PROFILE`` without one), else ``local``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else Path(cwd)
    given = _options(argv, ("--executor", "-e"))
    if given:
        return given[-1]
    workflow_profiles = _options(argv, ("--workflow-profile",))
    if not workflow_profiles:
        base = Path(snakefile_dir) if snakefile_dir else cwd
        workflow_profiles = [str(p) for p in (base / "workflow/profiles/default", base / "profiles/default")
                             if p.is_dir()][:1]
    profiles = _options(argv, ("--profile",)) or [p for p in [environ.get("SNAKEMAKE_PROFILE")] if p]
    for profile in [*workflow_profiles[-1:], *reversed(profiles)]:
        executor = _profile_executor(profile, cwd)
        if executor:
            return executor
    return "local"


def _options(argv: list[str], names: tuple[str, ...]) -> list[str]:
    """Every value given to an option: ``--name value``, ``--name=value``, ``-e value``."""
    values = []
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                values.append(argv[i + 1])
            elif arg.startswith(name + "=") and name.startswith("--"):
                values.append(arg.split("=", 1)[1])
    return [v for v in values if v.lower() != "none"]


def _profile_executor(profile: str, cwd: Path) -> str | None:
    """The ``executor`` a Snakemake profile (a folder, a name or a YAML file) sets, if any."""
    given = Path(profile).expanduser()
    candidates = [given if given.is_absolute() else cwd / given]
    if not given.is_absolute():
        home = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
        candidates += [home / "snakemake" / given, Path("/etc/xdg/snakemake") / given]
    for place in candidates:
        if place.is_file():
            files = [place]
        elif place.is_dir():
            versioned = sorted([*place.glob("profile.v*+.yaml"), *place.glob("config.v*+.yaml")], reverse=True)
            files = [*versioned, place / "profile.yaml", place / "config.yaml"]
        else:
            continue
        for f in files:
            if f.is_file():
                try:
                    settings = yaml.safe_load(f.read_text()) or {}
                except (OSError, yaml.YAMLError):
                    return None
                value = settings.get("executor") if isinstance(settings, dict) else None
                return str(value) if value else None
    return None
