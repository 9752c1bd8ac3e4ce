# Helpers shared by the rules: which datasets run, where their recordings are, what each stage needs.

import json
from pathlib import Path

from canguard.catalog import discover, unique_recordings
from canguard.provenance import code_version
from canguard.simulate import SyntheticSpec, plan_recordings


wildcard_constraints:
    dataset=r"[A-Za-z0-9_\-]+",
    split=r"(train|test)_\d\d[A-Za-z0-9_]*",
    recording=r"[^/]+",


def get_dataset(name):
    """The config entry of dataset `name`, with its defaults filled in."""
    if name not in config["datasets"]:
        raise ValueError(f"dataset '{name}' is listed in `run` but not defined under `datasets`")
    entry = dict(config["datasets"][name])
    entry.setdefault("synthetic", False)
    entry.setdefault("format", config["ingest"]["format"])
    entry.setdefault("root", f"results/simulate/{name}" if entry["synthetic"] else f"datasets/{name}")
    return entry


def get_datasets():
    return list(config["run"])


def get_synthetic_datasets():
    return [name for name in config["datasets"] if get_dataset(name)["synthetic"]]


def get_synthetic_spec():
    return SyntheticSpec.from_config(config["synthetic"])


def get_raw_recordings(wildcards):
    """Raw files of a dataset: planned ones for a synthetic dataset, found ones for a real one."""
    ds = get_dataset(wildcards.dataset)
    if ds["synthetic"]:
        return [f"{ds['root']}/{p.split}/{p.name}.csv" for p in plan_recordings(get_synthetic_spec())]
    return [rec.path for rec in discover(wildcards.dataset, ds["root"])]


def get_catalog(dataset):
    """The catalog (checkpoint output) of a dataset, as a dict."""
    path = checkpoints.catalog.get(dataset=dataset).output.catalog
    return json.loads(Path(path).read_text())


def get_catalog_entry(wildcards):
    key = f"{wildcards.split}/{wildcards.recording}"
    for entry in get_catalog(wildcards.dataset)["recordings"]:
        if entry["key"] == key:
            return entry
    raise ValueError(f"{key} is not a recording of dataset {wildcards.dataset}")


def get_raw_path(wildcards):
    return get_catalog_entry(wildcards)["path"]


def get_ingest_reports(wildcards):
    """Ingest reports of a dataset's unique recordings (byte-identical copies are skipped)."""
    return [
        f"results/ingest/{wildcards.dataset}/{e['split']}/{e['name']}.report.json"
        for e in unique_recordings(get_catalog(wildcards.dataset))
    ]


def get_final_outputs(wildcards):
    return [f"results/ingest/{name}/ingest_report.json" for name in get_datasets()]
