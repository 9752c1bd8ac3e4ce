"""Snakemake adapter: train a teacher, a distilled student or a student without teacher, for one seed."""

import torch

from canguard.logs import setup_logging
from canguard.training.config import TrainConfig
from canguard.training.run import apply_tuning, train_model

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg = apply_tuning(
    TrainConfig.from_dict(snakemake.params.training | {"seed": int(snakemake.wildcards.seed)}),
    batch_size_json=snakemake.input.get("batch_size"),
    lr_json=snakemake.input.get("lr"),
)
role = snakemake.params.role
train_model(
    snakemake.params.shards,
    snakemake.wildcards.family,
    "student" if role == "student_scratch" else role,
    cfg,
    out_dir=snakemake.output.ckpt.rsplit("/", 1)[0],
    sizes=snakemake.params.sizes,
    teacher_ckpt=snakemake.input.get("teacher"),
)
