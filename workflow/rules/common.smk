# Helpers shared by the rules: which datasets run, where their recordings are, what each stage needs.

import json
from pathlib import Path

from canguard.catalog import discover, unique_recordings
from canguard.models.factory import ID_EMBEDDING_DIMS
from canguard.profiles.enrollment import plan_enrollment, plan_training_profile
from canguard.provenance import code_version
from canguard.simulate import SyntheticSpec, plan_recordings


wildcard_constraints:
    dataset=r"[A-Za-z0-9_\-]+",
    split=r"(train|test)_\d\d[A-Za-z0-9_]*",
    recording=r"[^/]+",
    part=r"train|val|(zero_shot|enrolled)/test_\d\d[A-Za-z0-9_]*|enrolled/enrollment",
    family=r"gat|vgae",
    role=r"teacher|student|student_scratch",
    vehicle=r"[^/]+",
    seed=r"\d+",


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


def get_synthetic_config(name):
    """The synthetic vehicle's settings of dataset `name`: `synthetic`, updated with the dataset's `spec`."""
    return {**config["synthetic"], **get_dataset(name).get("spec", {})}


def get_synthetic_spec(name):
    return SyntheticSpec.from_config(get_synthetic_config(name))


def get_own_raw_recordings(name, training_only=False):
    """Raw files of one dataset: planned ones for a synthetic dataset, found ones for a real one."""
    ds = get_dataset(name)
    if ds["synthetic"]:
        plans = plan_recordings(get_synthetic_spec(name))
        return [f"{ds['root']}/{p.split}/{p.name}.csv" for p in plans if not training_only or p.split.startswith("train")]
    return [r.path for r in discover(name, ds["root"], ds.get("vehicles")) if not training_only or r.role == "train"]


def get_raw_recordings(wildcards):
    """Raw files of a dataset, and the training files of the datasets it trains with (`train_with`)."""
    paths = get_own_raw_recordings(wildcards.dataset)
    for other in get_dataset(wildcards.dataset).get("train_with", []):
        paths += get_own_raw_recordings(other, training_only=True)
    return paths


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


def get_scenarios(dataset):
    """Test scenarios of a dataset: one per test folder."""
    return sorted({e["scenario"] for e in get_recordings(dataset, role="test")})


def get_training_vehicles(dataset):
    return sorted({e["vehicle"] for e in get_recordings(dataset, role="train")})


def get_test_vehicles(dataset):
    return sorted({e["vehicle"] for e in get_recordings(dataset, role="test")})


def get_test_parts(dataset):
    """Shard parts scored at test time: each scenario under each protocol, and the enrollment windows."""
    scenarios = get_scenarios(dataset)
    return [f"{p}/{s}" for p in ("zero_shot", "enrolled") for s in scenarios] + ["enrolled/enrollment"]


def get_parts(dataset):
    return ["train", "val", *get_test_parts(dataset)]


def get_parquet(dataset, key):
    return f"results/ingest/{dataset}/{key}.parquet"


def get_vehicle_recordings(wildcards):
    """Training recordings of one training vehicle."""
    return {
        e["key"]: get_parquet(wildcards.dataset, e["key"])
        for e in get_recordings(wildcards.dataset, role="train")
        if e["vehicle"] == wildcards.vehicle
    }


def get_training_profile_plan(dataset, vehicle):
    return plan_training_profile(vehicle, get_recordings(dataset), config["enrollment"]["seconds"])


def get_enrollment_plan(dataset, vehicle):
    return plan_enrollment(vehicle, get_recordings(dataset), config["enrollment"])


def get_enrollment_recordings(wildcards):
    plan = get_enrollment_plan(wildcards.dataset, wildcards.vehicle)
    return {i["recording"]: get_parquet(wildcards.dataset, i["recording"]) for i in plan["recordings"]}


def get_training_profiles(dataset):
    return {v: f"results/profiles/{dataset}/training/{v}.json" for v in get_training_vehicles(dataset)}


def get_enrollments(dataset):
    return {v: f"results/profiles/{dataset}/enrolled/{v}.json" for v in get_test_vehicles(dataset)}


def get_part_recordings(dataset, part):
    """Catalog entries of the recordings whose windows make up a shard part."""
    if part in ("train", "val"):
        return get_recordings(dataset, role="train")
    if part == "enrolled/enrollment":
        keys = {i["recording"] for v in get_test_vehicles(dataset) for i in get_enrollment_plan(dataset, v)["recordings"]}
        return [e for e in get_recordings(dataset) if e["key"] in keys]
    return get_recordings(dataset, scenario=part.split("/", 1)[1])


def get_shard_inputs(wildcards):
    """A shard part's recordings, the preprocessing and the profiles its windows are compared with."""
    dataset, part = wildcards.dataset, wildcards.part
    inputs = {
        "recordings": [get_parquet(dataset, e["key"]) for e in get_part_recordings(dataset, part)],
        "preprocessing": f"results/graphs/{dataset}/preprocessing.json",
        "training_profiles": list(get_training_profiles(dataset).values()),
    }
    if part in ("train", "val"):
        inputs["assignment"] = f"results/windows/{dataset}/split.parquet"
    else:
        inputs["enrollments"] = list(get_enrollments(dataset).values())
    return inputs


def get_training_parquets(wildcards):
    return [get_parquet(wildcards.dataset, e["key"]) for e in get_recordings(wildcards.dataset, role="train")]


def get_shard_folders(dataset):
    return [f"results/shards/{dataset}/{part}" for part in get_parts(dataset)]


def get_model_sizes(family, role):
    """Size overrides of a model from config (a student without teacher has the student's sizes);
    with models.id_embedding, the role's ID embedding width unless the sizes give one."""
    size_role = "student" if role == "student_scratch" else role
    sizes = dict(config["models"]["sizes"].get(family, {}).get(size_role, {}))
    if config["models"]["id_embedding"]:
        sizes.setdefault("id_dim", ID_EMBEDDING_DIMS[size_role])
    return sizes


def get_seeds():
    return list(range(config["models"]["seeds"]))


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
    """A distilled student is tuned with its teacher (seed 0) in the loop."""
    if wildcards.role == "student":
        return f"results/models/{wildcards.dataset}/{wildcards.family}_teacher/seed0/best.ckpt"
    return []


def get_tuned_batch_size(wildcards):
    if config["tuning"]["batch_size"]:
        return f"results/tuning/{wildcards.dataset}/{wildcards.family}_{wildcards.role}/batch_size.json"
    return []


def get_models():
    """Trained models: teacher, distilled student and student without teacher of each family."""
    return [f"{f}_{r}" for f in config["models"]["families"] for r in ("teacher", "student", "student_scratch")]


def get_fusions():
    """GAT + VGAE fusions (of the teachers, of the distilled students) where both families train."""
    return ["fusion_teacher", "fusion_student"] if set(config["models"]["families"]) >= {"gat", "vgae"} else []


def get_evaluated_models():
    """Every detector with metrics: the rule baseline, the trained models, the fusions."""
    return ["rules", *get_models(), *get_fusions()]


def get_model_seeds(model):
    """Seeds a detector is evaluated with: the rule baseline has no training, so one."""
    return [0] if model == "rules" else get_seeds()


def get_model_checkpoints(dataset):
    return [
        f"results/models/{dataset}/{m}/seed{s}/best.ckpt"
        for m in get_models()
        for s in get_seeds()
    ]


def get_evaluation_shards(wildcards):
    return [f"results/shards/{wildcards.dataset}/{p}" for p in ["val", *get_test_parts(wildcards.dataset)]]


def get_test_recording_parquets(wildcards):
    return [get_parquet(wildcards.dataset, e["key"]) for e in get_recordings(wildcards.dataset, role="test")]


def get_fusion_members(wildcards):
    return {
        family: f"results/scores/{wildcards.dataset}/{family}_{wildcards.role}/seed{wildcards.seed}.parquet"
        for family in ("gat", "vgae")
    }


def get_metrics_files(dataset, model, seed):
    return [f"results/evaluation/{dataset}/{model}/seed{seed}/metrics_{p}.json" for p in ("zero_shot", "enrolled")]


def get_all_metrics(wildcards):
    return [
        path
        for d in get_datasets()
        for m in get_evaluated_models()
        for s in get_model_seeds(m)
        for path in get_metrics_files(d, m, s)
    ]


def get_all_efficiency(wildcards):
    return [f"results/evaluation/{d}/{m}/efficiency.json" for d in get_datasets() for m in get_models()]


def get_final_outputs(wildcards):
    outputs = []
    for name in get_datasets():
        outputs.append(f"results/ingest/{name}/ingest_report.json")
        outputs += get_model_checkpoints(name)
        outputs.append(f"results/figures/{name}")
    outputs += ["results/summary.csv", "results/summary.md"]
    return outputs
