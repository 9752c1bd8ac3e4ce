# Stage 0: the built-in synthetic vehicle writes a dataset in the can-train-and-test layout.


rule simulate:
    output:
        csv="results/{run}/simulate/{dataset}/{split}/{recording}.csv",
    log:
        "logs/{run}/simulate/{dataset}/{split}/{recording}.log",
    benchmark:
        "results/{run}/benchmarks/simulate/{dataset}/{split}/{recording}.tsv"
    wildcard_constraints:
        dataset="|".join(get_synthetic_datasets()) or "(?!)",
    params:
        spec=lambda wildcards: get_synthetic_config(wildcards.dataset),
        code=code_version("simulate"),
    script:
        "../scripts/run_stage.py"
