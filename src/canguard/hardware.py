"""Hardware presets: named config overlays under ``config/hardware/<name>.yaml``.

    hardware: large-gpu        # in a config file, or: snakemake --config hardware=large-gpu

A preset sets what suits a class of machine (precision, batch size, DataLoader
workers, prefetch, pinned memory, the batch-size finder's memory target).  It
lies *under* the user's config: a key the config sets itself wins over the
preset's, and the schema's defaults fill what neither sets.  ``none`` (the
default) applies nothing: precision stays ``auto``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

NONE = "none"


def preset_names(folder: str | Path) -> list[str]:
    """The presets in ``folder``, by file stem."""
    return sorted(p.stem for p in Path(folder).glob("*.yaml"))


def load_preset(name: str, folder: str | Path) -> dict:
    path = Path(folder) / f"{name}.yaml"
    if not path.is_file():
        allowed = ", ".join([NONE, *preset_names(folder)])
        raise ValueError(f"config error: hardware: {name!r} is not a preset (allowed: {allowed})")
    return yaml.safe_load(path.read_text()) or {}


def merge_under(config: dict, preset: dict) -> dict:
    """Fill ``config`` (in place) with the preset's keys it does not set itself; returns ``config``."""
    for key, value in preset.items():
        if key not in config:
            config[key] = value
        elif isinstance(value, dict) and isinstance(config[key], dict):
            merge_under(config[key], value)
    return config


def apply_hardware_preset(config: dict, name: str | None, folder: str | Path) -> str:
    """Apply preset ``name`` (the config's ``hardware``) under ``config`` (in place); returns its name."""
    name = name or NONE
    if name != NONE:
        merge_under(config, load_preset(str(name), folder))
    return name
