# Stage 0: the built-in synthetic vehicle writes a dataset in the can-train-and-test layout.


rule simulate:
    output:
        csv="results/simulate/{dataset}/{split}/{recording}.csv",
    params:
        spec=lambda wildcards: get_synthetic_config(wildcards.dataset),
        code=code_version("simulate"),
    log:
        "logs/simulate/{dataset}/{split}/{recording}.log",
    benchmark:
        "results/benchmarks/simulate/{dataset}/{split}/{recording}.tsv"
    wildcard_constraints:
        dataset="|".join(get_synthetic_datasets()) or "(?!)",
    script:
        "../scripts/simulate.py"
