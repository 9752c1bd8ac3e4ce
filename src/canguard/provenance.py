"""Fingerprints of the code a stage runs, so that a code change reruns exactly the stages it touches.

Snakemake reruns a job when its ``params`` change; every rule passes
``code_version("<stage>")`` as a param: a hash of the source of every canguard
module the stage's entry module imports, transitively (found by reading the
``import`` statements, not by importing anything).  Editing a module reruns the
stages whose import closure holds it, and no other.
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = "canguard"

# stage (rule) -> the module(s) whose functions the rule's script calls
STAGE_MODULES: dict[str, list[str]] = {
    "simulate": ["canguard.simulate"],
    "catalog": ["canguard.catalog"],
    "ingest": ["canguard.ingest.pipeline"],
    "ingest_report": ["canguard.ingest.pipeline"],
    "split": ["canguard.graphs.stages"],
    "vehicle_profile": ["canguard.graphs.stages"],
    "enroll": ["canguard.graphs.stages"],
    "preprocessing": ["canguard.graphs.stages"],
    "shards": ["canguard.graphs.stages"],
    "train": ["canguard.training.run", "canguard.training.config", "canguard.training.tune"],
    "score": ["canguard.evaluation.stages"],
    "score_rules": ["canguard.evaluation.stages"],
    "attack_episodes": ["canguard.evaluation.stages"],
    "evaluate": ["canguard.evaluation.stages"],
    "efficiency": ["canguard.evaluation.efficiency"],
    "summary": ["canguard.evaluation.stages"],
    "figures": ["canguard.evaluation.plots"],
}


def module_file(name: str) -> Path | None:
    """The source file of a canguard module (a package's __init__.py), or None if there is none."""
    parts = name.split(".")[1:]
    if not parts:
        return PACKAGE / "__init__.py"
    rel = Path(*parts)
    for candidate in (PACKAGE / rel.with_suffix(".py"), PACKAGE / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, name: str) -> set[str]:
    """canguard modules imported by one file: ``import canguard.x``, ``from canguard.x import y``
    (y itself where it is a module), and the packages above each (Python runs their __init__)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == ROOT}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == ROOT:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if module_file(f"{node.module}.{a.name}")}
    with_parents = set()
    for module in found | {name}:
        parts = module.split(".")
        with_parents |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return {m for m in with_parents if module_file(m)}


@lru_cache(maxsize=None)
def import_closure(*entries: str) -> tuple[str, ...]:
    """Every canguard module the entry modules import, transitively, sorted."""
    seen: set[str] = set()
    todo = list(entries)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = module_file(name)
        if path is None:
            raise ValueError(f"no canguard module {name!r}")
        seen.add(name)
        todo += sorted(_imports(path, name) - seen)
    return tuple(sorted(seen))


@lru_cache(maxsize=None)
def code_version(stage: str) -> str:
    """Short hash of the sources of ``stage``'s import closure (module names and contents)."""
    if stage not in STAGE_MODULES:
        raise KeyError(f"no code version for stage {stage!r}; known: {sorted(STAGE_MODULES)}")
    h = hashlib.blake2b(digest_size=8)
    for name in import_closure(*STAGE_MODULES[stage]):
        h.update(name.encode())
        h.update(module_file(name).read_bytes())
    return h.hexdigest()
