# Helpers shared by the rules: which datasets run, where their recordings are, what each stage needs.

import json
import re
import sys
from pathlib import Path

from canguard.catalog import discover, listing_digest, unique_recordings
from canguard.config_checks import check_workflow_config
from canguard.hardware import apply_hardware_preset
from canguard.detectors import FAMILIES, ROLES, RULES, Detector, evaluated_detectors, fusions, trained_detectors
from canguard.models.sizes import ID_EMBEDDING_DIMS
from canguard.profiles.plan import plan_enrollment, plan_training_profile
from canguard.provenance import code_version
from canguard.simulate import SyntheticSpec, plan_recordings
from canguard.training.config import settings_for
from canguard.training.worker import Geometry

# A hardware preset (config/hardware/<name>.yaml, config key `hardware`) lies under the config: keys the config
# sets itself win.
apply_hardware_preset(config, config.get("hardware"), Path(workflow.basedir) / "config/hardware")

# The config, before anything reads it: validated against the schema (the one source of defaults, filled in
# here) and checked across keys (canguard.config_checks). Every mistake is one line naming its key, all of them
# at once, and the run stops here: before the DAG, before any job. The main process prints the warnings.
for _warning in check_workflow_config(
    config,
    Path(workflow.basedir) / "workflow/schemas/config.schema.yaml",
    main_process=workflow.is_main_process,
    resources=workflow.resource_settings.overwrite_resources,
    snakefile_dir=workflow.basedir,
):
    print(_warning, file=sys.stderr)


def get_run_name():
    """config run_name, else the name of the first --configfile given (config/hcrl_sa.yaml: hcrl_sa),
    else `default`: the folder under results/ and logs/ of everything this run writes."""
    if config.get("run_name"):
        return config["run_name"]
    given = list(workflow.overwrite_configfiles or [])
    return Path(given[0]).stem if given else "default"


RUN = get_run_name()


wildcard_constraints:
    run=re.escape(RUN),
    dataset=r"[A-Za-z0-9_\-]+",
    split=r"(train|test)_\d\d[A-Za-z0-9_]*",
    recording=r"[^/]+",
    part=r"train|val|(zero_shot|enrolled)/test_\d\d[A-Za-z0-9_]*|enrolled/enrollment",
    family="|".join(FAMILIES),
    role="|".join(ROLES),
    vehicle=r"[^/]+",
    seed=r"\d+",


def get_dataset(name):
    """The config entry of dataset `name`, with its defaults filled in."""
    if name not in config["datasets"]:
        raise ValueError(f"dataset '{name}' is listed in `run` but not defined under `datasets`")
    entry = dict(config["datasets"][name])
    entry.setdefault("synthetic", False)
    entry.setdefault("format", config["ingest"]["format"])
    entry.setdefault("root", f"results/{RUN}/simulate/{name}" if entry["synthetic"] else f"datasets/{name}")
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
        return [
            f"{ds['root']}/{p.split}/{p.name}.csv" for p in plans if not training_only or p.split.startswith("train")
        ]
    return [r.path for r in discover(name, ds["root"], ds.get("vehicles")) if not training_only or r.role == "train"]


def get_raw_recordings(wildcards):
    """Raw files of a dataset, and the training files of the datasets it trains with (`train_with`)."""
    paths = get_own_raw_recordings(wildcards.dataset)
    for other in get_dataset(wildcards.dataset).get("train_with", []):
        paths += get_own_raw_recordings(other, training_only=True)
    return paths


def get_dataset_listing(wildcards):
    """A digest of every file path under the dataset's root (ignored files too): reruns the catalog when one
    is added, removed or renamed.  Synthetic datasets: "" (their root is written by the workflow itself)."""
    dataset = get_dataset(wildcards.dataset)
    return "" if dataset.get("synthetic") else listing_digest(dataset["root"])


def get_catalog(dataset):
    """The catalog (checkpoint output) of a dataset, as a dict."""
    path = checkpoints.catalog.get(run=RUN, dataset=dataset).output.catalog
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
        f"results/{RUN}/ingest/{wildcards.dataset}/{e['split']}/{e['name']}.report.json"
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
    return f"results/{RUN}/ingest/{dataset}/{key}.parquet"


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
    return {v: f"results/{RUN}/profiles/{dataset}/training/{v}.json" for v in get_training_vehicles(dataset)}


def get_enrollments(dataset):
    return {v: f"results/{RUN}/profiles/{dataset}/enrolled/{v}.json" for v in get_test_vehicles(dataset)}


def get_part_recordings(dataset, part):
    """Catalog entries of the recordings whose windows make up a shard part."""
    if part in ("train", "val"):
        return get_recordings(dataset, role="train")
    if part == "enrolled/enrollment":
        keys = {
            i["recording"] for v in get_test_vehicles(dataset) for i in get_enrollment_plan(dataset, v)["recordings"]
        }
        return [e for e in get_recordings(dataset) if e["key"] in keys]
    return get_recordings(dataset, scenario=part.split("/", 1)[1])


def get_shard_inputs(wildcards):
    """A shard part's recordings, the preprocessing and the profiles its windows are compared with."""
    dataset, part = wildcards.dataset, wildcards.part
    inputs = {
        "recordings": [get_parquet(dataset, e["key"]) for e in get_part_recordings(dataset, part)],
        "preprocessing": f"results/{RUN}/preprocessing/{dataset}/preprocessing.json",
        "training_profiles": list(get_training_profiles(dataset).values()),
    }
    if part in ("train", "val"):
        inputs["assignment"] = f"results/{RUN}/split/{dataset}/split.parquet"
    else:
        inputs["enrollments"] = list(get_enrollments(dataset).values())
    return inputs


def get_training_parquets(wildcards):
    return [get_parquet(wildcards.dataset, e["key"]) for e in get_recordings(wildcards.dataset, role="train")]


def get_shard_folders(dataset):
    return [f"results/{RUN}/shards/{dataset}/{part}" for part in get_parts(dataset)]


def get_detector(wildcards):
    """The trained model a job is about (wildcards family and role)."""
    return Detector(wildcards.family, wildcards.role)


def get_model_sizes(wildcards):
    """Size overrides of a model from config, by its architecture (a student without teacher has the
    student's); with models.id_embedding, the architecture's ID embedding width unless the sizes give one."""
    detector = get_detector(wildcards)
    sizes = dict(config["models"]["sizes"].get(detector.family, {}).get(detector.architecture, {}))
    if config["models"]["id_embedding"]:
        sizes.setdefault("id_dim", ID_EMBEDDING_DIMS[detector.architecture])
    return sizes


def get_training_settings(wildcards):
    """The training settings this model reads (the distillation ones only for a distilled student)."""
    detector = get_detector(wildcards)
    return settings_for(config["training"], detector.family, detector.distilled)


def get_train_geometry(wildcards):
    """GPUs per node and nodes of a training job: distributed.<role>, one process per GPU (each key spelled
    out: a key is read where its whole path is)."""
    knob = {
        "teacher": (config["distributed"]["teacher"]["gpus"], config["distributed"]["teacher"]["nodes"]),
        "student": (config["distributed"]["student"]["gpus"], config["distributed"]["student"]["nodes"]),
        "student_scratch": (
            config["distributed"]["student_scratch"]["gpus"],
            config["distributed"]["student_scratch"]["nodes"],
        ),
    }
    gpus, nodes = knob[get_detector(wildcards).role]
    return Geometry(gpus=gpus, nodes=nodes)


def get_train_launch(wildcards):
    """The train stage's param `launch` (a change retrains: the global batch is per process times processes);
    a training.devices or num_nodes that contradicts it stops the run here, before any job."""
    geometry = get_train_geometry(wildcards)
    geometry.fabric(config["training"])
    return geometry.to_dict()


def get_train_gpus(wildcards):
    """GPUs of the whole job (sbatch --gpus)."""
    return get_train_geometry(wildcards).resources()["gpu"]


def get_train_nodes(wildcards):
    return get_train_geometry(wildcards).resources()["nodes"]


def get_train_tasks(wildcards):
    """One task per GPU."""
    return get_train_geometry(wildcards).resources()["tasks"]


def get_train_mpi(wildcards):
    """The plugin's MPI route (Snakemake in the batch step, the stage's own srun for the ranks): see
    canguard.training.worker.Geometry.resources."""
    return get_train_geometry(wildcards).resources()["mpi"]


def get_seeds():
    return list(range(config["models"]["seeds"]))


def get_teacher_checkpoint(wildcards, seed=None):
    """The teacher of a distilled student (of the same seed; seed 0 for the tuners); none otherwise."""
    if not get_detector(wildcards).distilled:
        return []
    seed = wildcards.seed if seed is None else seed
    return f"results/{RUN}/models/{wildcards.dataset}/{wildcards.family}_teacher/seed{seed}/best.ckpt"


def get_training_inputs(wildcards):
    """Shards, the teacher of a distilled student, and the tuner results where tuning is on."""
    base = f"results/{RUN}/shards/{wildcards.dataset}"
    tuned = f"results/{RUN}/tuning/{wildcards.dataset}/{wildcards.family}_{wildcards.role}"
    paths = {"train": f"{base}/train", "val": f"{base}/val"}
    if get_detector(wildcards).distilled:
        paths["teacher"] = get_teacher_checkpoint(wildcards)
    if config["tuning"]["batch_size"]:
        paths["batch_size"] = f"{tuned}/batch_size.json"
    if config["tuning"]["lr"]:
        paths["lr"] = f"{tuned}/lr_find.json"
    return paths


def get_tuning_teacher(wildcards):
    """A distilled student is tuned with its teacher (seed 0) in the loop."""
    return get_teacher_checkpoint(wildcards, seed=0)


def get_tuned_batch_size(wildcards):
    if config["tuning"]["batch_size"]:
        return f"results/{RUN}/tuning/{wildcards.dataset}/{wildcards.family}_{wildcards.role}/batch_size.json"
    return []


def get_model_pattern(with_rules=False):
    """Wildcard pattern of a trained model's name (and of the rule baseline's)."""
    names = [d.name for d in trained_detectors()] + ([RULES] if with_rules else [])
    return "|".join(names)


def get_families():
    return config["models"]["families"]


def get_models():
    """Trained models: teacher, distilled student and student without teacher of each family."""
    return [d.name for d in trained_detectors(get_families())]


def get_fusions():
    """GAT + VGAE fusions (of the teachers, of the distilled students) where both families train."""
    return [d.name for d in fusions(get_families())]


def get_evaluated_models():
    """Every detector with metrics: the rule baseline, the trained models, the fusions."""
    return [d.name for d in evaluated_detectors(get_families())]


def get_model_seeds(model):
    """Seeds a detector is evaluated with: the rule baseline has no training, so one."""
    return [0] if model == RULES else get_seeds()


def get_model_checkpoints(dataset):
    return [f"results/{RUN}/models/{dataset}/{m}/seed{s}/best.ckpt" for m in get_models() for s in get_seeds()]


def get_efficiency_settings():
    """What the efficiency stage reads of evaluation.efficiency (not `exclusive`, which only schedules)."""
    return {k: v for k, v in config["evaluation"]["efficiency"].items() if k != "exclusive"}


def get_efficiency_threads(wildcards):
    """Every core while timing, unless evaluation.efficiency.exclusive is off."""
    settings = config["evaluation"]["efficiency"]
    return workflow.cores if settings["exclusive"] else settings["threads"]


def get_evaluation_shards(wildcards):
    return [f"results/{RUN}/shards/{wildcards.dataset}/{p}" for p in ["val", *get_test_parts(wildcards.dataset)]]


def get_test_recording_parquets(wildcards):
    return [get_parquet(wildcards.dataset, e["key"]) for e in get_recordings(wildcards.dataset, role="test")]


def get_fusion_members(wildcards):
    """The scores of the members of a fusion, by family."""
    return {
        m.family: f"results/{RUN}/scores/{wildcards.dataset}/{m.name}/seed{wildcards.seed}.parquet"
        for m in Detector("fusion", wildcards.role).members
    }


def get_metrics_files(dataset, model, seed):
    return [
        f"results/{RUN}/evaluation/{dataset}/{model}/seed{seed}/metrics_{p}.json" for p in ("zero_shot", "enrolled")
    ]


def get_all_metrics(wildcards):
    return [
        path
        for d in get_datasets()
        for m in get_evaluated_models()
        for s in get_model_seeds(m)
        for path in get_metrics_files(d, m, s)
    ]


def get_all_efficiency(wildcards):
    return [f"results/{RUN}/efficiency/{d}/{m}.json" for d in get_datasets() for m in get_models()]


def get_exported_models():
    """The detectors exported (deploy.models): RULES (the baseline) and trained models of the families that train."""
    return [m for m in config["deploy"]["models"] if m == RULES or m in get_models()]


def get_exported_files(dataset, pattern, trained_only=False):
    """results/<run>/<pattern> of each exported model, in deploy.models' order; ``trained_only``: of the trained
    ones (the baseline RULES has no checkpoint)."""
    models = [m for m in get_exported_models() if not (trained_only and m == RULES)]
    return [f"results/{RUN}/{pattern.format(dataset=dataset, model=m)}" for m in models]


def get_detector_folders(dataset):
    return [f"results/{RUN}/detectors/{dataset}/{m}/seed0" for m in get_exported_models()]


def get_final_outputs(wildcards):
    outputs = []
    for name in get_datasets():
        outputs.append(f"results/{RUN}/ingest/{name}/ingest_report.json")
        outputs += get_model_checkpoints(name)
        outputs.append(f"results/{RUN}/figures/{name}")
        outputs += get_detector_folders(name)
    outputs += [f"results/{RUN}/summary.csv", f"results/{RUN}/summary.md"]
    return outputs
