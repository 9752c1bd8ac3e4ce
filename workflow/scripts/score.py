"""Snakemake adapter: score every window a trained model is judged on (canguard.evaluation.scoring)."""

import torch

from canguard.evaluation.stages import run_scoring
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
run_scoring(snakemake.input.ckpt, snakemake.params.shards, snakemake.params.scenarios, snakemake.output.scores)
