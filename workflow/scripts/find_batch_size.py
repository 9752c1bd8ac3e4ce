"""Snakemake adapter: the largest batch size that fits (canguard.training.tuner)."""

import torch

from canguard.logs import setup_logging
from canguard.training.config import TrainConfig
from canguard.training.tune import tune_batch_size

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
tuning = snakemake.params.tuning
role = snakemake.wildcards.role
tune_batch_size(
    snakemake.params.shards,
    snakemake.wildcards.family,
    "student" if role == "student_scratch" else role,
    TrainConfig.from_dict(snakemake.params.training),
    snakemake.output.result,
    sizes=snakemake.params.sizes,
    teacher_ckpt=snakemake.input.teacher or None,
    max_batch_size=tuning["max_batch_size"],
    target_memory_usage=tuning["target_memory_usage"],
    memory_budget_mb=tuning["memory_budget_mb"],
)
