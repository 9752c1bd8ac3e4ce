# Stage 5: the detectors a vehicle runs. Each model of deploy.models (seed 0) becomes a folder that
# `canguard detect` loads without the workflow: the ONNX model, the preprocessing, the profile and
# threshold of every vehicle the evaluation judged (canguard.deploy.bundle). One job exports them all:
# the ONNX exporter's start-up (several seconds) is paid once per dataset, not once per model.


if get_exported_models():

    rule export:
        input:
            ckpts=lambda wildcards: get_exported_files(
                wildcards.dataset, "models/{dataset}/{model}/seed0/best.ckpt", trained_only=True
            ),
            thresholds=lambda wildcards: get_exported_files(
                wildcards.dataset, "evaluation/{dataset}/{model}/seed0/thresholds.json"
            ),
            preprocessing="results/{run}/preprocessing/{dataset}/preprocessing.json",
            val="results/{run}/shards/{dataset}/val",
            training_profiles=lambda wildcards: list(get_training_profiles(wildcards.dataset).values()),
            enrollments=lambda wildcards: list(get_enrollments(wildcards.dataset).values()),
        output:
            detectors=directory(
                expand("results/{{run}}/detectors/{{dataset}}/{model}/seed0", model=get_exported_models())
            ),
        log:
            "logs/{run}/export/{dataset}.log",
        params:
            models=get_exported_models(),
            training_vehicles=lambda wildcards: get_training_vehicles(wildcards.dataset),
            test_vehicles=lambda wildcards: get_test_vehicles(wildcards.dataset),
            false_alarms_per_hour=config["evaluation"]["false_alarms_per_hour"],
            code=code_version("export"),
        script:
            "../scripts/run_stage.py"
