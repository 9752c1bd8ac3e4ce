"""Fingerprints of the code a stage runs, so that a code change reruns that stage.

Snakemake reruns a job when its ``params`` change; the workflow passes
``code_version("ingest")`` as a param, a hash of the package sources the stage
imports.  Editing a docstring of an unrelated module reruns nothing.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent

# stage -> package files and folders (relative to src/canguard) whose code it runs
STAGE_SOURCES = {
    "simulate": ["frames.py", "simulate", "ingest/hexcodec.py"],
    "catalog": ["catalog.py"],
    "ingest": ["frames.py", "schema.py", "catalog.py", "ingest"],
    "windows": ["frames.py", "schema.py", "graphs/builder.py", "graphs/features.py", "graphs/windows.py"],
    "split": ["graphs/split.py", "graphs/stages.py"],
    "preprocessing": ["graphs/builder.py", "graphs/features.py", "graphs/preprocessing.py", "graphs/windows.py",
                      "graphs/stages.py"],
    "shards": ["graphs/builder.py", "graphs/features.py", "graphs/preprocessing.py", "graphs/windows.py",
               "graphs/shards.py", "graphs/stages.py"],
    "train": ["graphs/dataset.py", "graphs/preprocessing.py", "metrics.py", "models", "training"],
    "score": ["graphs/dataset.py", "models", "training/run.py", "training/checkpoint.py", "evaluation/scoring.py"],
    "fuse": ["evaluation/fusion.py", "evaluation/thresholds.py"],
    "episodes": ["evaluation/detection.py"],
    "evaluate": ["metrics.py", "evaluation/evaluate.py", "evaluation/detection.py", "evaluation/thresholds.py",
                 "evaluation/calibration.py", "evaluation/stages.py"],
    "efficiency": ["graphs/dataset.py", "models", "training/run.py", "training/checkpoint.py",
                   "evaluation/efficiency.py"],
    "figures": ["evaluation/figures.py", "evaluation/plots.py"],
}


@lru_cache(maxsize=None)
def code_version(stage: str) -> str:
    """Short hash of the sources of ``stage`` (file names and contents)."""
    h = hashlib.blake2b(digest_size=8)
    for entry in STAGE_SOURCES[stage]:
        target = PACKAGE / entry
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        for f in files:
            h.update(str(f.relative_to(PACKAGE)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()
