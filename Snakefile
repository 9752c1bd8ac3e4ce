# canguard: CAN-bus intrusion detection with graph neural networks, as a Snakemake workflow.
#
#   snakemake --profile profiles/default                                # built-in synthetic vehicle
#   snakemake --profile profiles/default --configfile config/hcrl_sa.yaml   # real HCRL Survival data
#
# Stages (one file each in workflow/rules; one stage module each in src/canguard/stages): simulate ->
# catalog -> ingest -> split, vehicle_profile, enroll -> preprocessing -> shards -> train (teacher, then
# distilled student and student without teacher, per family and seed) -> score (+ score_rules) ->
# evaluate, evaluate_fusion (+ attack_episodes, efficiency) -> figures -> summary; export (the
# students as detectors for `canguard detect`).
# Outputs go under results/<run>/, logs under logs/<run>/ (run: config run_name, else the first
# --configfile's name, else `default`).
#
# Report: snakemake --report results/default/report.html

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


# common.smk validates the config (schema and cross-key checks, canguard.config_checks) before anything reads it
include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/graphs.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/deploy.smk"


rule all:
    default_target: True
    input:
        get_final_outputs,
