# Stage 4: scores on validation and every test scenario, thresholds fitted on validation, fusion,
# metrics per scenario and attack, detection delay, efficiency, figures, summary table and report.


rule score:
    input:
        ckpt="results/models/{dataset}/{model}/best.ckpt",
        parts=get_evaluation_shards,
    output:
        scores="results/scores/{dataset}/{model}.parquet",
    params:
        parts=lambda wildcards: ["val", *get_test_parts(wildcards.dataset)],
        code=code_version("score"),
    wildcard_constraints:
        model=r"(gat|vgae)_(teacher|student|student_scratch)",
    log:
        "logs/score/{dataset}/{model}.log",
    script:
        "../scripts/score.py"


rule fuse:
    input:
        gat="results/scores/{dataset}/gat_{role}.parquet",
        vgae="results/scores/{dataset}/vgae_{role}.parquet",
    output:
        scores="results/scores/{dataset}/fusion_{role}.parquet",
        stacker="results/evaluation/{dataset}/fusion_{role}/stacker.json",
    params:
        code=code_version("fuse"),
    log:
        "logs/fuse/{dataset}/fusion_{role}.log",
    script:
        "../scripts/fuse.py"


rule attack_episodes:
    input:
        recordings=get_test_recording_parquets,
    output:
        episodes="results/evaluation/{dataset}/attack_episodes.parquet",
    params:
        recordings=lambda wildcards: [e["key"] for e in get_recordings(wildcards.dataset, role="test")],
        attacks=lambda wildcards: [e["attack"] for e in get_recordings(wildcards.dataset, role="test")],
        max_gap_s=config["evaluation"]["episode_max_gap_s"],
        code=code_version("episodes"),
    log:
        "logs/evaluate/{dataset}/attack_episodes.log",
    script:
        "../scripts/attack_episodes.py"


rule evaluate:
    input:
        scores="results/scores/{dataset}/{model}.parquet",
        episodes="results/evaluation/{dataset}/attack_episodes.parquet",
    output:
        metrics="results/evaluation/{dataset}/{model}/metrics.json",
        threshold="results/evaluation/{dataset}/{model}/threshold.json",
        calibrated="results/evaluation/{dataset}/{model}/metrics_calibrated.json",
    params:
        quantile=config["evaluation"]["anomaly_quantile"],
        warmup_windows=config["evaluation"]["calibration_windows"],
        code=code_version("evaluate"),
    log:
        "logs/evaluate/{dataset}/{model}.log",
    script:
        "../scripts/evaluate.py"


rule efficiency:
    """Latency and throughput; takes every core so that no other job disturbs the timing."""
    input:
        ckpt="results/models/{dataset}/{model}/best.ckpt",
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
    log:
        "logs/summary.log",
    script:
        "../scripts/summary.py"


rule figures:
    input:
        metrics=lambda wildcards: [
            f"results/evaluation/{wildcards.dataset}/{m}/metrics.json" for m in get_evaluated_models()
        ],
        scores=lambda wildcards: [f"results/scores/{wildcards.dataset}/{m}.parquet" for m in get_evaluated_models()],
        efficiency=lambda wildcards: [
            f"results/evaluation/{wildcards.dataset}/{m}/efficiency.json" for m in get_models()
        ],
        training=lambda wildcards: [f"results/models/{wildcards.dataset}/{m}/metrics.csv" for m in get_models()],
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
