# Stage 1: raw CAN logs -> one canonical parquet per recording, with rejects and reports.


checkpoint catalog:
    input:
        get_raw_recordings,
    output:
        catalog="results/ingest/{dataset}/catalog.json",
    params:
        root=lambda wildcards: get_dataset(wildcards.dataset)["root"],
        vehicles=lambda wildcards: get_dataset(wildcards.dataset).get("vehicles", {}),
        train_with=lambda wildcards: {
            d: {"root": get_dataset(d)["root"], "vehicles": get_dataset(d).get("vehicles", {})}
            for d in get_dataset(wildcards.dataset).get("train_with", [])
        },
        code=code_version("catalog"),
    log:
        "logs/catalog/{dataset}.log",
    script:
        "../scripts/catalog.py"


rule ingest:
    input:
        raw=get_raw_path,
    output:
        parquet="results/ingest/{dataset}/{split}/{recording}.parquet",
        rejects="results/ingest/{dataset}/{split}/{recording}.rejects.csv",
        report="results/ingest/{dataset}/{split}/{recording}.report.json",
    params:
        entry=get_catalog_entry,
        format=lambda wildcards: get_dataset(wildcards.dataset)["format"],
        code=code_version("ingest"),
    log:
        "logs/ingest/{dataset}/{split}/{recording}.log",
    benchmark:
        "results/benchmarks/ingest/{dataset}/{split}/{recording}.tsv"
    script:
        "../scripts/ingest.py"


rule ingest_report:
    input:
        catalog="results/ingest/{dataset}/catalog.json",
        reports=get_ingest_reports,
    output:
        report="results/ingest/{dataset}/ingest_report.json",
    log:
        "logs/ingest/{dataset}/ingest_report.log",
    script:
        "../scripts/ingest_report.py"
