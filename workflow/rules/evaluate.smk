# Stage 4: scores of every window a detector is judged on; thresholds from a false-alarm budget on
# benign windows; alarms and metrics of both protocols (zero-shot, enrolled) per model and seed;
# the OR fusion of GAT and VGAE; detection delay; efficiency; figures; summary table and report.


rule score:
    input:
        ckpt="results/{run}/models/{dataset}/{model}/seed{seed}/best.ckpt",
        parts=get_evaluation_shards,
    output:
        scores="results/{run}/scores/{dataset}/{model}/seed{seed}.parquet",
    log:
        "logs/{run}/score/{dataset}/{model}/seed{seed}.log",
    wildcard_constraints:
        model=get_model_pattern(),
    params:
        scenarios=lambda wildcards: get_scenarios(wildcards.dataset),
        code=code_version("score"),
    script:
        "../scripts/run_stage.py"


rule score_rules:
    """The rule baseline: no training, only each window's comparison with its vehicle's profile."""
    input:
        preprocessing="results/{run}/preprocessing/{dataset}/preprocessing.json",
        parts=get_evaluation_shards,
    output:
        scores="results/{run}/scores/{dataset}/rules/seed0.parquet",
    log:
        "logs/{run}/score/{dataset}/rules/seed0.log",
    params:
        scenarios=lambda wildcards: get_scenarios(wildcards.dataset),
        code=code_version("score_rules"),
    script:
        "../scripts/run_stage.py"


rule attack_episodes:
    input:
        recordings=get_test_recording_parquets,
    output:
        episodes="results/{run}/evaluation/{dataset}/attack_episodes.parquet",
    log:
        "logs/{run}/evaluate/{dataset}/attack_episodes.log",
    params:
        recordings=lambda wildcards: [e["key"] for e in get_recordings(wildcards.dataset, role="test")],
        attacks=lambda wildcards: [e["attack"] for e in get_recordings(wildcards.dataset, role="test")],
        max_gap_s=config["evaluation"]["episode_max_gap_s"],
        code=code_version("attack_episodes"),
    script:
        "../scripts/run_stage.py"


rule evaluate:
    input:
        scores="results/{run}/scores/{dataset}/{model}/seed{seed}.parquet",
        episodes="results/{run}/evaluation/{dataset}/attack_episodes.parquet",
        enrollments=lambda wildcards: list(get_enrollments(wildcards.dataset).values()),
    output:
        alarms="results/{run}/evaluation/{dataset}/{model}/seed{seed}/alarms.parquet",
        thresholds="results/{run}/evaluation/{dataset}/{model}/seed{seed}/thresholds.json",
        zero_shot="results/{run}/evaluation/{dataset}/{model}/seed{seed}/metrics_zero_shot.json",
        enrolled="results/{run}/evaluation/{dataset}/{model}/seed{seed}/metrics_enrolled.json",
    log:
        "logs/{run}/evaluate/{dataset}/{model}/seed{seed}.log",
    wildcard_constraints:
        model=get_model_pattern(with_rules=True),
    params:
        test_vehicles=lambda wildcards: get_test_vehicles(wildcards.dataset),
        false_alarms_per_hour=config["evaluation"]["false_alarms_per_hour"],
        incidents=config["evaluation"]["incidents"],
        size=config["windows"]["size"],
        stride=config["windows"]["stride"],
        code=code_version("evaluate"),
    script:
        "../scripts/run_stage.py"


rule evaluate_fusion:
    """GAT and VGAE of one role and seed: an alarm when either raises one, each at its own threshold."""
    input:
        unpack(get_fusion_members),
        episodes="results/{run}/evaluation/{dataset}/attack_episodes.parquet",
        enrollments=lambda wildcards: list(get_enrollments(wildcards.dataset).values()),
    output:
        alarms="results/{run}/evaluation/{dataset}/fusion_{role}/seed{seed}/alarms.parquet",
        thresholds="results/{run}/evaluation/{dataset}/fusion_{role}/seed{seed}/thresholds.json",
        zero_shot="results/{run}/evaluation/{dataset}/fusion_{role}/seed{seed}/metrics_zero_shot.json",
        enrolled="results/{run}/evaluation/{dataset}/fusion_{role}/seed{seed}/metrics_enrolled.json",
    log:
        "logs/{run}/evaluate/{dataset}/fusion_{role}/seed{seed}.log",
    params:
        test_vehicles=lambda wildcards: get_test_vehicles(wildcards.dataset),
        false_alarms_per_hour=config["evaluation"]["false_alarms_per_hour"],
        incidents=config["evaluation"]["incidents"],
        size=config["windows"]["size"],
        stride=config["windows"]["stride"],
        code=code_version("evaluate_fusion"),
    script:
        "../scripts/run_stage.py"


rule efficiency:
    """Latency and throughput of every model (seed 0), timed one after the other in one job: one process
    start, and numbers that compare on the same machine state. Takes every core
    (evaluation.efficiency.exclusive) so that no other job disturbs the timing."""
    input:
        ckpts=lambda wildcards: [f"results/{RUN}/models/{wildcards.dataset}/{m}/seed0/best.ckpt" for m in get_models()],
        shards="results/{run}/shards/{dataset}/val",
    output:
        efficiency=expand("results/{{run}}/efficiency/{{dataset}}/{model}.json", model=get_models()),
    log:
        "logs/{run}/efficiency/{dataset}.log",
    threads: get_efficiency_threads
    params:
        models=get_models(),
        settings=get_efficiency_settings(),
        code=code_version("efficiency"),
    script:
        "../scripts/run_stage.py"


rule summary:
    input:
        metrics=get_all_metrics,
        efficiency=get_all_efficiency,
    output:
        csv=report("results/{run}/summary.csv", category="Summary", caption="../report/summary.rst"),
        md="results/{run}/summary.md",
    log:
        "logs/{run}/summary.log",
    params:
        code=code_version("summary"),
    script:
        "../scripts/run_stage.py"


rule figures:
    input:
        enrolled=lambda wildcards: [
            f"results/{RUN}/evaluation/{wildcards.dataset}/{m}/seed0/metrics_enrolled.json"
            for m in get_evaluated_models()
        ],
        zero_shot=lambda wildcards: [
            f"results/{RUN}/evaluation/{wildcards.dataset}/{m}/seed0/metrics_zero_shot.json"
            for m in get_evaluated_models()
        ],
        alarms=lambda wildcards: [
            f"results/{RUN}/evaluation/{wildcards.dataset}/{m}/seed0/alarms.parquet" for m in get_evaluated_models()
        ],
        efficiency=lambda wildcards: [f"results/{RUN}/efficiency/{wildcards.dataset}/{m}.json" for m in get_models()],
        training=lambda wildcards: [
            f"results/{RUN}/models/{wildcards.dataset}/{m}/seed0/metrics.csv" for m in get_models()
        ],
        episodes="results/{run}/evaluation/{dataset}/attack_episodes.parquet",
    output:
        figures=report(
            directory("results/{run}/figures/{dataset}"),
            patterns=["{name}.png"],
            category="Figures",
            subcategory="{dataset}",
            caption="../report/figures.rst",
        ),
    log:
        "logs/{run}/figures/{dataset}.log",
    # figures are drawn in this many processes (fewer where the run has fewer cores)
    threads: 4
    params:
        evaluated=get_evaluated_models(),
        trained=get_models(),
        score_models=config["figures"]["score_models"],
        formats=config["figures"]["formats"],
        code=code_version("figures"),
    script:
        "../scripts/run_stage.py"
