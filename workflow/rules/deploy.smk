# Stage 5: the detectors a vehicle runs. Each model of deploy.models (seed 0) becomes a folder that
# `canguard detect` loads without the workflow: the ONNX model, the preprocessing, the profile and
# threshold of every vehicle the evaluation judged (canguard.deploy.bundle).


rule export:
    input:
        ckpt="results/{run}/models/{dataset}/{model}/seed0/best.ckpt",
        preprocessing="results/{run}/preprocessing/{dataset}/preprocessing.json",
        thresholds="results/{run}/evaluation/{dataset}/{model}/seed0/thresholds.json",
        val="results/{run}/shards/{dataset}/val",
        training_profiles=lambda wildcards: list(get_training_profiles(wildcards.dataset).values()),
        enrollments=lambda wildcards: list(get_enrollments(wildcards.dataset).values()),
    output:
        detector=directory("results/{run}/detectors/{dataset}/{model}/seed0"),
    log:
        "logs/{run}/export/{dataset}/{model}.log",
    wildcard_constraints:
        model=get_model_pattern(),
    params:
        training_vehicles=lambda wildcards: get_training_vehicles(wildcards.dataset),
        test_vehicles=lambda wildcards: get_test_vehicles(wildcards.dataset),
        false_alarms_per_hour=config["evaluation"]["false_alarms_per_hour"],
        code=code_version("export"),
    script:
        "../scripts/run_stage.py"
