# Stage 4: scores of every window a detector is judged on; thresholds from a false-alarm budget on
# benign windows; alarms and metrics of both protocols (zero-shot, enrolled) per model and seed;
# the OR fusion of GAT and VGAE; detection delay; efficiency; figures; summary table and report.


rule score:
    input:
        ckpt="results/models/{dataset}/{model}/seed{seed}/best.ckpt",
        parts=get_evaluation_shards,
    output:
        scores="results/scores/{dataset}/{model}/seed{seed}.parquet",
    params:
        shards="results/shards/{dataset}",
        scenarios=lambda wildcards: get_scenarios(wildcards.dataset),
        code=code_version("score"),
    wildcard_constraints:
        model=r"(gat|vgae)_(teacher|student|student_scratch)",
    log:
        "logs/score/{dataset}/{model}/seed{seed}.log",
    script:
        "../scripts/score.py"


rule score_rules:
    """The rule baseline: no training, only each window's comparison with its vehicle's profile."""
    input:
        preprocessing="results/graphs/{dataset}/preprocessing.json",
        parts=get_evaluation_shards,
    output:
        scores="results/scores/{dataset}/rules/seed0.parquet",
    params:
        shards="results/shards/{dataset}",
        scenarios=lambda wildcards: get_scenarios(wildcards.dataset),
        code=code_version("score_rules"),
    log:
        "logs/score/{dataset}/rules/seed0.log",
    script:
        "../scripts/score_rules.py"


rule attack_episodes:
    input:
        recordings=get_test_recording_parquets,
    output:
        episodes="results/evaluation/{dataset}/attack_episodes.parquet",
    params:
        recordings=lambda wildcards: [e["key"] for e in get_recordings(wildcards.dataset, role="test")],
        attacks=lambda wildcards: [e["attack"] for e in get_recordings(wildcards.dataset, role="test")],
        max_gap_s=config["evaluation"]["episode_max_gap_s"],
        code=code_version("attack_episodes"),
    log:
        "logs/evaluate/{dataset}/attack_episodes.log",
    script:
        "../scripts/attack_episodes.py"


rule evaluate:
    input:
        scores="results/scores/{dataset}/{model}/seed{seed}.parquet",
        episodes="results/evaluation/{dataset}/attack_episodes.parquet",
        enrollments=lambda wildcards: list(get_enrollments(wildcards.dataset).values()),
    output:
        alarms="results/evaluation/{dataset}/{model}/seed{seed}/alarms.parquet",
        thresholds="results/evaluation/{dataset}/{model}/seed{seed}/thresholds.json",
        zero_shot="results/evaluation/{dataset}/{model}/seed{seed}/metrics_zero_shot.json",
        enrolled="results/evaluation/{dataset}/{model}/seed{seed}/metrics_enrolled.json",
    params:
        test_vehicles=lambda wildcards: get_test_vehicles(wildcards.dataset),
        false_alarms_per_hour=config["evaluation"]["false_alarms_per_hour"],
        size=config["windows"]["size"],
        stride=config["windows"]["stride"],
        code=code_version("evaluate"),
    wildcard_constraints:
        model=r"rules|(gat|vgae)_(teacher|student|student_scratch)",
    log:
        "logs/evaluate/{dataset}/{model}/seed{seed}.log",
    script:
        "../scripts/evaluate.py"


rule evaluate_fusion:
    """GAT and VGAE of one role and seed: an alarm when either raises one, each at its own threshold."""
    input:
        unpack(get_fusion_members),
        episodes="results/evaluation/{dataset}/attack_episodes.parquet",
        enrollments=lambda wildcards: list(get_enrollments(wildcards.dataset).values()),
    output:
        alarms="results/evaluation/{dataset}/fusion_{role}/seed{seed}/alarms.parquet",
        thresholds="results/evaluation/{dataset}/fusion_{role}/seed{seed}/thresholds.json",
        zero_shot="results/evaluation/{dataset}/fusion_{role}/seed{seed}/metrics_zero_shot.json",
        enrolled="results/evaluation/{dataset}/fusion_{role}/seed{seed}/metrics_enrolled.json",
    params:
        test_vehicles=lambda wildcards: get_test_vehicles(wildcards.dataset),
        false_alarms_per_hour=config["evaluation"]["false_alarms_per_hour"],
        size=config["windows"]["size"],
        stride=config["windows"]["stride"],
        code=code_version("evaluate"),
    log:
        "logs/evaluate/{dataset}/fusion_{role}/seed{seed}.log",
    script:
        "../scripts/evaluate_fusion.py"


rule efficiency:
    """Latency and throughput (seed 0); takes every core so that no other job disturbs the timing."""
    input:
        ckpt="results/models/{dataset}/{model}/seed0/best.ckpt",
        shards="results/shards/{dataset}/val",
    output:
        efficiency="results/evaluation/{dataset}/{model}/efficiency.json",
    params:
        settings=config["evaluation"]["efficiency"],
        code=code_version("efficiency"),
    wildcard_constraints:
        model=r"(gat|vgae)_(teacher|student|student_scratch)",
    threads: workflow.cores
    log:
        "logs/efficiency/{dataset}/{model}.log",
    script:
        "../scripts/efficiency.py"


rule summary:
    input:
        metrics=get_all_metrics,
        efficiency=get_all_efficiency,
    output:
        csv=report("results/summary.csv", category="Summary", caption="../report/summary.rst"),
        md="results/summary.md",
    params:
        code=code_version("summary"),
    log:
        "logs/summary.log",
    script:
        "../scripts/summary.py"


rule figures:
    input:
        enrolled=lambda wildcards: [
            f"results/evaluation/{wildcards.dataset}/{m}/seed0/metrics_enrolled.json" for m in get_evaluated_models()
        ],
        zero_shot=lambda wildcards: [
            f"results/evaluation/{wildcards.dataset}/{m}/seed0/metrics_zero_shot.json" for m in get_evaluated_models()
        ],
        alarms=lambda wildcards: [
            f"results/evaluation/{wildcards.dataset}/{m}/seed0/alarms.parquet" for m in get_evaluated_models()
        ],
        efficiency=lambda wildcards: [
            f"results/evaluation/{wildcards.dataset}/{m}/efficiency.json" for m in get_models()
        ],
        training=lambda wildcards: [
            f"results/models/{wildcards.dataset}/{m}/seed0/metrics.csv" for m in get_models()
        ],
        episodes="results/evaluation/{dataset}/attack_episodes.parquet",
    output:
        figures=report(
            directory("results/figures/{dataset}"),
            patterns=["{name}.png"],
            category="Figures",
            subcategory="{dataset}",
            caption="../report/figures.rst",
        ),
    params:
        evaluated=get_evaluated_models(),
        trained=get_models(),
        code=code_version("figures"),
    log:
        "logs/figures/{dataset}.log",
    script:
        "../scripts/figures.py"
