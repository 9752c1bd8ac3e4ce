"""Snakemake adapter: score validation and test windows with one model (canguard.evaluation.scoring)."""

import torch

from canguard.evaluation.stages import run_scoring
from canguard.logs import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
run_scoring(snakemake.input.ckpt, dict(zip(snakemake.params.parts, snakemake.input.parts)), snakemake.output.scores)
