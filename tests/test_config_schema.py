"""The schema is the one source of defaults and the one description of every config key.

Each key has a description and a default; the dataclasses that mirror a section hold the same
defaults; config/config.yaml repeats none of them; and every key is read by the workflow, by the
dataclass its section becomes, or by the function its section is handed to.
"""

import dataclasses
import inspect
import re

import yaml
from snakemake_run import REPO

from canguard.profiles import plan
from canguard.simulate import SyntheticSpec
from canguard.training.config import TrainConfig

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
RULES = "\n".join(p.read_text() for p in sorted((REPO / "workflow/rules").glob("*.smk")))

# sections handed whole to code that reads them: section -> (what reads it, its source)
WHOLE_SECTIONS = {
    "training": inspect.getsource(TrainConfig),
    "synthetic": inspect.getsource(SyntheticSpec),
    "enrollment": inspect.getsource(plan.plan_enrollment),
    "split": inspect.getsource(__import__("canguard.graphs.split", fromlist=["x"]).split_training_windows),
    "evaluation.efficiency": (REPO / "src/canguard/stages/efficiency.py").read_text(),
}
# keys without a default, and why
NO_DEFAULT = {"datasets.*.root": "derived: datasets/<name>, or results/<run>/simulate/<name> for a synthetic one",
              "datasets.*.format": "falls back to ingest.format"}


def leaves(node: dict, path: str = ""):
    """(dotted path, schema) of every key that holds a value, datasets.<name>.* as datasets.*.*"""
    for key, sub in node.get("properties", {}).items():
        p = f"{path}.{key}" if path else key
        if "properties" in sub:
            yield from leaves(sub, p)
        else:
            yield p, sub
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict) and "properties" in extra:
            yield from leaves(extra, f"{p}.*")


def section(path: str) -> dict:
    node = SCHEMA
    for key in path.split("."):
        node = node["properties"][key]
    return node["properties"]


def test_every_key_has_a_description_and_a_default():
    for path, sub in leaves(SCHEMA):
        assert sub.get("description"), path
        assert "default" in sub or path in NO_DEFAULT, path


def test_dataclasses_mirror_the_schema_defaults():
    for name, cls, own in (("training", TrainConfig, {"seed"}), ("synthetic", SyntheticSpec, set())):
        fields = {f.name: f.default for f in dataclasses.fields(cls)}
        props = section(name)
        assert set(fields) - own == set(props), name
        for key, default in fields.items():
            if key in own:
                continue
            value = props[key]["default"]
            assert (list(default) if isinstance(default, tuple) else default) == value, f"{name}.{key}"


def test_the_default_config_repeats_no_default():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())

    def walk(values: dict, node: dict, path: str = ""):
        for key, value in values.items():
            sub = node["properties"][key]
            p = f"{path}.{key}" if path else key
            if isinstance(value, dict) and "properties" in sub:
                walk(value, sub, p)
            elif key not in ("datasets", "run"):
                assert value != sub.get("default"), f"config/config.yaml repeats the default of {p}"

    walk(config, SCHEMA)


def test_every_key_is_read():
    for path, _ in leaves(SCHEMA):
        parts = path.split(".")
        key = parts[-1]
        whole = next((WHOLE_SECTIONS[s] for s in WHOLE_SECTIONS if path.startswith(s + ".")), None)
        if whole is not None:
            assert re.search(rf"\b{key}\b", whole) or f'["{key}"]' in RULES, f"{path}: read by nothing"
        elif parts[0] == "datasets" and len(parts) > 2:
            assert re.search(rf'(\["{key}"\]|get\("{key}"|setdefault\("{key}")', RULES), path
        else:
            access = "".join(f'["{p}"]' for p in parts)
            assert f"config{access}" in RULES or (len(parts) == 1 and f'config.get("{key}")' in RULES), path
