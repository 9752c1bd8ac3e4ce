"""Snakemake adapter: learning-rate range test (canguard.training.tuner)."""

from pathlib import Path

import torch

from canguard.logs import setup_logging
from canguard.training.config import TrainConfig
from canguard.training.run import apply_tuning
from canguard.training.tune import tune_lr

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
role = snakemake.wildcards.role
cfg = apply_tuning(TrainConfig.from_dict(snakemake.params.training), batch_size_json=snakemake.input.batch_size or None)
tune_lr(
    snakemake.params.shards,
    snakemake.wildcards.family,
    "student" if role == "student_scratch" else role,
    cfg,
    Path(snakemake.output.result).parent,
    sizes=snakemake.params.sizes,
    teacher_ckpt=snakemake.input.teacher or None,
    num_steps=snakemake.params.tuning["lr_steps"],
)
