# Stage 2: train/val split of the training windows; vehicle profiles of the training vehicles and
# enrollments of the test vehicles; vocabulary and normalisation; graph shards per part and protocol.


rule split:
    input:
        training=get_training_parquets,
    output:
        assignment="results/{run}/split/{dataset}/split.parquet",
    log:
        "logs/{run}/split/{dataset}.log",
    params:
        recordings=lambda wildcards: [e["key"] for e in get_recordings(wildcards.dataset, role="train")],
        size=config["windows"]["size"],
        stride=config["windows"]["stride"],
        split=config["split"],
        code=code_version("split"),
    script:
        "../scripts/run_stage.py"


rule vehicle_profile:
    """A training vehicle's normal traffic, fitted as a test vehicle is enrolled: on the first
    enrollment.seconds of each of its training recordings (benign messages only)."""
    input:
        recordings=lambda wildcards: list(get_vehicle_recordings(wildcards).values()),
    output:
        profile="results/{run}/profiles/{dataset}/training/{vehicle}.json",
    log:
        "logs/{run}/profiles/{dataset}/training/{vehicle}.log",
    params:
        plan=lambda wildcards: get_training_profile_plan(wildcards.dataset, wildcards.vehicle),
        size=config["windows"]["size"],
        code=code_version("vehicle_profile"),
    script:
        "../scripts/run_stage.py"


rule enroll:
    """A test vehicle's enrollment: its profile from benign traffic of its own, no labels, no retraining."""
    input:
        recordings=lambda wildcards: list(get_enrollment_recordings(wildcards).values()),
    output:
        profile="results/{run}/profiles/{dataset}/enrolled/{vehicle}.json",
    log:
        "logs/{run}/profiles/{dataset}/enrolled/{vehicle}.log",
    params:
        plan=lambda wildcards: get_enrollment_plan(wildcards.dataset, wildcards.vehicle),
        size=config["windows"]["size"],
        code=code_version("enroll"),
    script:
        "../scripts/run_stage.py"


rule preprocessing:
    input:
        training=get_training_parquets,
        assignment="results/{run}/split/{dataset}/split.parquet",
        profiles=lambda wildcards: list(get_training_profiles(wildcards.dataset).values()),
    output:
        preprocessing="results/{run}/preprocessing/{dataset}/preprocessing.json",
    log:
        "logs/{run}/preprocessing/{dataset}.log",
    params:
        recordings=lambda wildcards: [e["key"] for e in get_recordings(wildcards.dataset, role="train")],
        vehicles=lambda wildcards: {e["key"]: e["vehicle"] for e in get_recordings(wildcards.dataset, role="train")},
        training_vehicles=lambda wildcards: get_training_vehicles(wildcards.dataset),
        size=config["windows"]["size"],
        stride=config["windows"]["stride"],
        code=code_version("preprocessing"),
    script:
        "../scripts/run_stage.py"


rule shards:
    input:
        unpack(get_shard_inputs),
    output:
        shards=directory("results/{run}/shards/{dataset}/{part}"),
    log:
        "logs/{run}/shards/{dataset}/{part}.log",
    benchmark:
        "results/{run}/benchmarks/shards/{dataset}/{part}.tsv"
    # before the trainings where both wait: a few seconds each, and every score job needs all of them
    priority: 1
    params:
        recordings=lambda wildcards: [e["key"] for e in get_part_recordings(wildcards.dataset, wildcards.part)],
        attacks=lambda wildcards: [e["attack"] for e in get_part_recordings(wildcards.dataset, wildcards.part)],
        vehicles=lambda wildcards: [e["vehicle"] for e in get_part_recordings(wildcards.dataset, wildcards.part)],
        training_vehicles=lambda wildcards: get_training_vehicles(wildcards.dataset),
        test_vehicles=lambda wildcards: get_test_vehicles(wildcards.dataset),
        size=config["windows"]["size"],
        stride=config["windows"]["stride"],
        graphs_per_shard=config["shards"]["graphs_per_shard"],
        code=code_version("shards"),
    script:
        "../scripts/run_stage.py"
