# Stage 2: windows of each recording and their graphs; train/val split; vocabulary and
# normalisation from benign training windows; graph shards per part (train, val, test scenarios).


rule windows:
    input:
        parquet="results/ingest/{dataset}/{split}/{recording}.parquet",
    output:
        graphs="results/graphs/{dataset}/{split}/{recording}.pt",
        windows="results/windows/{dataset}/{split}/{recording}.parquet",
    params:
        size=config["windows"]["size"],
        stride=config["windows"]["stride"],
        code=code_version("windows"),
    log:
        "logs/windows/{dataset}/{split}/{recording}.log",
    benchmark:
        "results/benchmarks/windows/{dataset}/{split}/{recording}.tsv"
    script:
        "../scripts/windows.py"


rule split:
    input:
        windows=get_training_window_tables,
    output:
        assignment="results/windows/{dataset}/split.parquet",
    params:
        recordings=lambda wildcards: [e["key"] for e in get_recordings(wildcards.dataset, role="train")],
        size=config["windows"]["size"],
        stride=config["windows"]["stride"],
        split=config["split"],
        code=code_version("split"),
    log:
        "logs/split/{dataset}.log",
    script:
        "../scripts/split.py"


rule preprocessing:
    input:
        graphs=get_training_graphs,
        assignment="results/windows/{dataset}/split.parquet",
    output:
        preprocessing="results/graphs/{dataset}/preprocessing.json",
    params:
        recordings=lambda wildcards: [e["key"] for e in get_recordings(wildcards.dataset, role="train")],
        code=code_version("preprocessing"),
    log:
        "logs/preprocessing/{dataset}.log",
    script:
        "../scripts/preprocessing.py"


rule shards:
    input:
        graphs=get_part_graphs,
        assignment="results/windows/{dataset}/split.parquet",
        preprocessing="results/graphs/{dataset}/preprocessing.json",
    output:
        shards=directory("results/shards/{dataset}/{part}"),
    params:
        recordings=lambda wildcards: [e["key"] for e in get_part_recordings(wildcards)],
        attacks=lambda wildcards: [e["attack"] for e in get_part_recordings(wildcards)],
        graphs_per_shard=config["shards"]["graphs_per_shard"],
        code=code_version("shards"),
    log:
        "logs/shards/{dataset}/{part}.log",
    benchmark:
        "results/benchmarks/shards/{dataset}/{part}.tsv"
    script:
        "../scripts/shards.py"
