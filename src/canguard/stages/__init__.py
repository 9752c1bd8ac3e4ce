"""The stage layer: one module per workflow rule, ``canguard.stages.<rule>.run_<rule>``.

Every rule runs ``workflow/scripts/run_stage.py``, which calls :func:`run_job`:
it sets up the rule's log, the job's CPU threads, and calls

    run_<rule>(inputs, outputs, params, wildcards)   # + threads=<the job's threads>, if it takes them

with plain dicts (a name -> a path, or a list of paths; params and wildcards
as the rule gives them).  A stage function does all the file I/O of its rule
and calls the domain code (:mod:`canguard.ingest`, :mod:`canguard.graphs`,
:mod:`canguard.training`, :mod:`canguard.evaluation`), which never sees a
Snakemake object.  The code version of a rule (its ``code`` param, which
reruns the rule when it changes) is the hash of its stage module's import
closure (:mod:`canguard.provenance`): editing a module reruns exactly the rules
whose stage imports it, directly or not.

    simulate          a planned synthetic recording -> its CSV
    catalog           a dataset's raw files -> recordings (vehicle, scenario, attack, duplicates)
    ingest            a raw recording -> canonical parquet, rejected lines, report
    ingest_report     every recording's report -> the dataset's accounting
    split             training recordings -> train/val assignment of their windows
    vehicle_profile   a training vehicle's first seconds -> its profile
    enroll            a test vehicle's enrollment traffic -> its enrolled profile
    preprocessing     training windows -> vocabulary, normalisation
    shards            windows of one part -> normalised graph shards + manifest
    find_batch_size   the batch-size finder of one model
    find_lr           the learning-rate range test of one model
    train             one model (teacher, distilled student, student without teacher), one seed
    score             a trained model -> scores of every window it is judged on
    score_rules       the rule baseline's scores
    attack_episodes   test recordings -> attack episodes (detection delay)
    evaluate          scores -> thresholds, alarms, metrics of both protocols
    evaluate_fusion   the members' scores -> the same for their OR fusion
    efficiency        latency and throughput of one model
    figures           every figure of one dataset
    summary           every metrics file -> results/summary.{csv,md}
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from canguard.atomic import write_text
from canguard.logs import setup_logging


def read_json(path: str | Path):
    return json.loads(Path(path).read_text())


def write_json(path: str | Path, obj, **kw) -> None:
    """Write ``obj`` as indented JSON, whole or not at all (a temporary file renamed into place)."""
    write_text(path, json.dumps(obj, indent=2, **kw) + "\n")


def pair(keys: Sequence[str], paths: Sequence[str], what: str = "paths") -> dict[str, str]:
    """``keys[i] -> paths[i]``: a rule's param list beside its input list, checked to line up."""
    keys, paths = list(keys), [paths] if isinstance(paths, str) else list(paths)
    if len(keys) != len(paths):
        raise ValueError(f"{len(keys)} keys but {len(paths)} {what}")
    return dict(zip(keys, paths))


def _plain(named) -> dict:
    """A Snakemake Namedlist's named entries as a dict (lists of paths as lists of str)."""
    out = {}
    for name, value in named.items():
        out[name] = [str(v) for v in value] if isinstance(value, list) else value
    return out


def stage_function(rule: str):
    """``canguard.stages.<rule>.run_<rule>``."""
    try:
        module = importlib.import_module(f"{__name__}.{rule}")
    except ModuleNotFoundError as e:
        if e.name == f"{__name__}.{rule}":
            raise KeyError(f"rule {rule!r} has no stage module canguard/stages/{rule}.py") from None
        raise
    return getattr(module, f"run_{rule}")


def run_job(smk) -> None:
    """Run the stage of a Snakemake job (the ``snakemake`` object of a ``script:``).

    Whatever fails the job is written to the rule's log file too (message and
    traceback), the file Snakemake points at when a job fails.
    """
    logger = setup_logging(smk.log[0] if smk.log else None)
    try:
        stage = stage_function(smk.rule)
        torch = sys.modules.get("torch")  # imported by the stages that use it, and only by them
        if torch is not None:
            torch.set_num_threads(max(1, int(smk.threads)))
        # a stage that spreads its work over processes asks for the job's threads
        extra = {"threads": int(smk.threads)} if "threads" in inspect.signature(stage).parameters else {}
        stage(_plain(smk.input), _plain(smk.output), _plain(smk.params), _plain(smk.wildcards), **extra)
    except BaseException as e:
        logger.error("rule %s (%s) failed: %s: %s", smk.rule, dict(smk.wildcards.items()), type(e).__name__, e,
                     exc_info=True)
        raise
