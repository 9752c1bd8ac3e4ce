"""Every config key changes what the workflow does: after a finished run, a dry run with that one key
changed plans at least one job.  Marked slow (one dry run per key): `make test-slow`.

Keys a finished test run cannot show, and why, are listed in NOT_SHOWN; values that cannot be
derived from the schema alone are given in VALUES; keys the config checks refuse to change alone
get their companions from COMPANIONS.
"""

import copy
import shutil

import pytest
import yaml
from snakemake.utils import validate
from snakemake_run import REPO, job_counts, snakemake
from test_config_schema import SCHEMA, leaves

pytestmark = pytest.mark.slow

NOT_SHOWN = {
    "tuning.max_batch_size": "read only with tuning.batch_size on (test_tuner_stages_run_and_feed_training)",
    "tuning.target_memory_usage": "read only with tuning.batch_size on",
    "tuning.memory_budget_mb": "read only with tuning.batch_size on",
    "tuning.lr_steps": "read only with tuning.lr on (test_tuner_stages_run_and_feed_training)",
    "evaluation.efficiency.exclusive": "schedules the timing jobs (their threads); changes no output",
    "run": "the datasets a run lists: covered by every workflow test",
    "datasets": "dataset definitions: covered by the catalog tests and the hcrl_sa runs",
    "evaluation.efficiency.device": "cuda on a machine without a GPU stops the run at DAG build "
                                    "(tests/test_config_schema.py); the test machines have none",
}
# keys that cannot change alone (the config checks refuse it): the companion keys changed with them
COMPANIONS = {
    "split.method": {"split": {"val_recordings": ["train_01_attack_free/attack-free-alpha"]}},
}
VALUES = {
    "enrollment.vehicles": {"charlie": {"seconds": 0.5}},
    "enrollment.source": "auto",  # attack_free fails by design: charlie has no attack-free recording
    "models.sizes": {"gat": {"teacher": {"hidden": 8}}},
    "split.val_recordings": ["train_01_attack_free/attack-free-alpha"],
    "synthetic.vehicles": ["alpha", "delta"],
    "synthetic.unknown_vehicles": ["charlie", "echo"],
    "synthetic.short_dlc_vehicles": [],
    "synthetic.known_attacks": ["dos"],
    "synthetic.unknown_attacks": ["replay"],
    "synthetic.scenario_attacks": ["suppress"],
    "models.families": ["gat"],
    "figures.formats": ["png", "svg"],
    "figures.score_models": ["gat_teacher"],
    "run_name": "another",
    "training.devices": 1,
    "training.num_workers": 0,
    "training.pin_memory": True,
    "training.accelerator": "cpu",
    "training.strategy": "ddp",
    "deploy.models": ["gat_student", "gat_teacher"],
}


def effective_config() -> dict:
    """config/config.yaml, then config/test.yaml, with the schema's defaults: what the test run used."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text()) or {}
    for key, value in yaml.safe_load((REPO / "config/test.yaml").read_text()).items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    return config


def get(config: dict, path: str):
    for key in path.split("."):
        config = config[key]
    return config


def changed(path: str, sub: dict, current):
    if path in VALUES:
        return VALUES[path]
    if "enum" in sub:
        return next(v for v in sub["enum"] if v != current)
    kind = sub.get("type")
    if kind == "boolean":
        return not current
    if kind == "integer":
        return current + 1 if current + 1 <= sub.get("maximum", current + 1) else current - 1
    if kind == "number":
        value = current * 1.5 if current else 0.5
        top = sub.get("maximum", sub.get("exclusiveMaximum"))
        return value if top is None or value < top else current * 0.5
    raise AssertionError(f"{path}: give a changed value in VALUES")


def nested(path: str, value) -> dict:
    out = value
    for key in reversed(path.split(".")):
        out = {key: out}
    return out


@pytest.fixture(scope="module")
def finished_run(workflow_run, tmp_path_factory):
    """A copy of the session's finished run (conftest.py): results, Snakemake's metadata and timestamps."""
    work = tmp_path_factory.mktemp("keys") / "work"
    shutil.copytree(workflow_run, work, symlinks=True)
    return work


KEYS = [(p, s) for p, s in leaves(SCHEMA) if p not in NOT_SHOWN and not p.startswith(("datasets.", "run."))]


@pytest.mark.parametrize("path, sub", KEYS, ids=[p for p, _ in KEYS])
def test_changing_a_key_plans_a_job(finished_run, path, sub):
    current = get(effective_config(), path)
    value = changed(path, sub, copy.deepcopy(current))
    assert value != current, path
    name = "change_" + path.replace(".", "_") + ".yaml"
    change = nested(path, value)
    for key, extra in COMPANIONS.get(path, {}).items():
        change[key] = {**change.get(key, {}), **extra}
    (finished_run / "config" / name).write_text(yaml.safe_dump(change))
    dry = snakemake(finished_run, "--dry-run", configfiles=("config/test.yaml", f"config/{name}"))
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert job_counts(dry.stdout).get("total", 0) > 0, f"{path} = {value!r} changes nothing"
