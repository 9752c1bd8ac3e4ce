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

from pathlib import Path

from snakemake.utils import min_version

from canguard.config_checks.files import load_config_file

min_version("9.0")

# config/config.yaml read first, as Snakemake reads it: a YAML syntax error or a top level that is not a mapping
# stops the run with one line naming the file and line (Snakemake's own message names neither). The --configfile
# files Snakemake reads before this file runs: `make run | dry-run | plan` check them (canguard.config_checks.files).
if Path("config/config.yaml").exists():
    load_config_file("config/config.yaml")


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
