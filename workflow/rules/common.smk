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
    part=r"train|val|test_\d\d[A-Za-z0-9_]*",
    family=r"gat|vgae",
    role=r"teacher|student|student_scratch",


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




def get_recordings(dataset, role=None, scenario=None):
    """Unique recordings of a dataset (catalog entries), optionally of one role or scenario."""
    return [
        e
        for e in unique_recordings(get_catalog(dataset))
        if (role is None or e["role"] == role) and (scenario is None or e["scenario"] == scenario)
    ]


def get_parts(dataset):
    """Shard parts of a dataset: train, val, then one per test scenario."""
    scenarios = sorted({e["scenario"] for e in get_recordings(dataset, role="test")})
    return ["train", "val", *scenarios]


def get_part_recordings(wildcards):
    if wildcards.part in ("train", "val"):
        return get_recordings(wildcards.dataset, role="train")
    return get_recordings(wildcards.dataset, scenario=wildcards.part)


def get_training_window_tables(wildcards):
    return [
        f"results/windows/{wildcards.dataset}/{e['key']}.parquet"
        for e in get_recordings(wildcards.dataset, role="train")
    ]


def get_training_graphs(wildcards):
    return [
        f"results/graphs/{wildcards.dataset}/{e['key']}.pt"
        for e in get_recordings(wildcards.dataset, role="train")
    ]


def get_part_graphs(wildcards):
    return [f"results/graphs/{wildcards.dataset}/{e['key']}.pt" for e in get_part_recordings(wildcards)]


def get_shard_folders(dataset):
    return [f"results/shards/{dataset}/{part}" for part in get_parts(dataset)]


def get_model_sizes(family, role):
    """Size overrides of a model from config (a student without teacher has the student's sizes)."""
    sizes = config["models"]["sizes"].get(family, {})
    return dict(sizes.get("student" if role == "student_scratch" else role, {}))


def get_training_inputs(role):
    """Input function of a training rule: shards, plus the tuner results where tuning is on."""

    def inputs(wildcards):
        base = f"results/shards/{wildcards.dataset}"
        tuned = f"results/tuning/{wildcards.dataset}/{wildcards.family}_{role}"
        paths = {"train": f"{base}/train", "val": f"{base}/val"}
        if config["tuning"]["batch_size"]:
            paths["batch_size"] = f"{tuned}/batch_size.json"
        if config["tuning"]["lr"]:
            paths["lr"] = f"{tuned}/lr_find.json"
        return paths

    return inputs


def get_tuning_teacher(wildcards):
    """A distilled student is tuned with its teacher in the loop."""
    if wildcards.role == "student":
        return f"results/models/{wildcards.dataset}/{wildcards.family}_teacher/best.ckpt"
    return []


def get_tuned_batch_size(wildcards):
    if config["tuning"]["batch_size"]:
        return f"results/tuning/{wildcards.dataset}/{wildcards.family}_{wildcards.role}/batch_size.json"
    return []


def get_model_checkpoints(dataset):
    return [
        f"results/models/{dataset}/{family}_{role}/best.ckpt"
        for family in config["models"]["families"]
        for role in ("teacher", "student", "student_scratch")
    ]


def get_final_outputs(wildcards):
    outputs = []
    for name in get_datasets():
        outputs.append(f"results/ingest/{name}/ingest_report.json")
        outputs += get_shard_folders(name)
        outputs += get_model_checkpoints(name)
        outputs.append(f"results/figures/{name}")
    outputs += ["results/summary.csv", "results/summary.md"]
    return outputs


def get_models(dataset=None):
    """Trained models: teacher, distilled student and student without teacher of each family."""
    return [f"{f}_{r}" for f in config["models"]["families"] for r in ("teacher", "student", "student_scratch")]


def get_evaluated_models(dataset=None):
    """Models with scores: the trained ones, plus GAT + VGAE fusions where both families train."""
    fusions = ["fusion_teacher", "fusion_student"] if set(config["models"]["families"]) >= {"gat", "vgae"} else []
    return get_models(dataset) + fusions


def get_test_parts(dataset):
    return [p for p in get_parts(dataset) if p not in ("train", "val")]


def get_evaluation_shards(wildcards):
    return [f"results/shards/{wildcards.dataset}/{p}" for p in ["val", *get_test_parts(wildcards.dataset)]]


def get_test_recording_parquets(wildcards):
    return [
        f"results/ingest/{wildcards.dataset}/{e['key']}.parquet"
        for e in get_recordings(wildcards.dataset, role="test")
    ]


def get_all_metrics(wildcards):
    return [
        f"results/evaluation/{d}/{m}/{name}.json"
        for d in get_datasets()
        for m in get_evaluated_models(d)
        for name in ("metrics", "metrics_calibrated")
    ]


def get_all_efficiency(wildcards):
    return [f"results/evaluation/{d}/{m}/efficiency.json" for d in get_datasets() for m in get_models(d)]
