# Stage 1: raw CAN logs -> one canonical parquet per recording, with rejects and reports.


checkpoint catalog:
    input:
        get_raw_recordings,
    output:
        catalog="results/{run}/ingest/{dataset}/catalog.json",
    log:
        "logs/{run}/catalog/{dataset}.log",
    params:
        root=lambda wildcards: get_dataset(wildcards.dataset)["root"],
        vehicles=lambda wildcards: get_dataset(wildcards.dataset).get("vehicles", {}),
        train_with=lambda wildcards: {
            d: {"root": get_dataset(d)["root"], "vehicles": get_dataset(d).get("vehicles", {})}
            for d in get_dataset(wildcards.dataset).get("train_with", [])
        },
        listing=get_dataset_listing,
        code=code_version("catalog"),
    script:
        "../scripts/run_stage.py"


rule ingest:
    input:
        raw=get_raw_path,
    output:
        parquet="results/{run}/ingest/{dataset}/{split}/{recording}.parquet",
        rejects="results/{run}/ingest/{dataset}/{split}/{recording}.rejects.csv",
        report="results/{run}/ingest/{dataset}/{split}/{recording}.report.json",
    log:
        "logs/{run}/ingest/{dataset}/{split}/{recording}.log",
    benchmark:
        "results/{run}/benchmarks/ingest/{dataset}/{split}/{recording}.tsv"
    params:
        entry=get_catalog_entry,
        format=lambda wildcards: get_dataset(wildcards.dataset)["format"],
        code=code_version("ingest"),
    script:
        "../scripts/run_stage.py"


rule ingest_report:
    input:
        catalog="results/{run}/ingest/{dataset}/catalog.json",
        reports=get_ingest_reports,
    output:
        report="results/{run}/ingest/{dataset}/ingest_report.json",
    log:
        "logs/{run}/ingest/{dataset}/ingest_report.log",
    params:
        code=code_version("ingest_report"),
    script:
        "../scripts/run_stage.py"
