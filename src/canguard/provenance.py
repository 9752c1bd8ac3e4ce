"""Fingerprints of the code a stage runs, so that a code change reruns exactly the stages it touches.

Snakemake reruns a job when its ``params`` change; every rule passes
``code_version("<rule>")`` as a param: a hash of the source of every canguard
module that the rule's stage module, ``canguard.stages.<rule>``, imports,
transitively (found by reading the ``import`` statements, not by importing
anything).  Editing a module reruns the rules whose stage imports it, directly
or not, and no other.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = "canguard"

STAGES = "canguard.stages"


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


@cache
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


def stage_module(rule: str) -> str:
    """The stage module of a rule (:mod:`canguard.stages`)."""
    name = f"{STAGES}.{rule}"
    if module_file(name) is None:
        raise KeyError(f"rule {rule!r} has no stage module (src/canguard/stages/{rule}.py)")
    return name


def stage_rules() -> list[str]:
    """Every rule with a stage module."""
    return sorted(p.stem for p in (PACKAGE / "stages").glob("*.py") if p.stem != "__init__")


@cache
def code_version(rule: str) -> str:
    """Short hash of the sources of the import closure of ``rule``'s stage (module names and contents)."""
    h = hashlib.blake2b(digest_size=8)
    for name in import_closure(stage_module(rule)):
        h.update(name.encode())
        h.update(module_file(name).read_bytes())
    return h.hexdigest()
