"""The optional tuner stages: largest batch size that fits, and a learning-rate range test.

Each writes a JSON file that rule ``train`` takes as
input when ``tuning.batch_size`` / ``tuning.lr`` are on (see
:func:`canguard.training.run.apply_tuning`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from lightning.fabric import Fabric

from canguard.atomic import write_text
from canguard.graphs.dataset import GraphShards
from canguard.training.batch_size_finder import find_batch_size
from canguard.training.config import TrainConfig
from canguard.training.engine import resolve_precision
from canguard.training.lr_finder import lr_find
from canguard.training.run import build_task, sample_batch

log = logging.getLogger(__name__)


def _setup(shards_root, family, role, cfg: TrainConfig, sizes, teacher_ckpt):
    fabric = Fabric(accelerator=cfg.accelerator, devices=1, precision=resolve_precision(cfg.precision, cfg.accelerator))
    train = GraphShards(Path(shards_root) / "train")
    task = build_task(family, role, cfg, train, sizes, teacher_ckpt)
    task.to(fabric.device)
    optimizer = torch.optim.AdamW([p for p in task.trainable.parameters() if p.requires_grad], lr=cfg.lr,
                                  weight_decay=cfg.weight_decay)
    model, optimizer = fabric.setup(task.trainable, optimizer)
    task.train()
    return fabric, train, task, model, optimizer


def tune_batch_size(shards_root, family: str, role: str, cfg: TrainConfig, out_json: str | Path, sizes=None,
                    teacher_ckpt=None, max_batch_size: int = 512, target_memory_usage: float = 0.8,
                    memory_budget_mb: float | None = None) -> dict:
    fabric, train, task, model, optimizer = _setup(shards_root, family, role, cfg, sizes, teacher_ckpt)

    def try_step(batch_size: int) -> None:
        batch = fabric.to_device(sample_batch(train, batch_size, task.train_label))
        loss, _ = task.training_loss(batch)
        fabric.backward(loss)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    result = find_batch_size(
        try_step, device=fabric.device, start=min(16, max_batch_size), max_batch_size=max_batch_size,
        target_memory_usage=target_memory_usage,
        memory_budget_bytes=int(memory_budget_mb * 2**20) if memory_budget_mb else None,
        model=model, optimizer=optimizer)
    out = result.to_dict() | {"device": str(fabric.device), "family": family, "role": role}
    write_text(out_json, json.dumps(out, indent=2, default=float) + "\n")
    log.info("batch size %d (%s) on %s", result.batch_size, result.method, fabric.device)
    return out


def tune_lr(shards_root, family: str, role: str, cfg: TrainConfig, out_dir: str | Path, sizes=None,
            teacher_ckpt=None, num_steps: int = 100, min_lr: float = 1e-6, max_lr: float = 1.0) -> dict:
    fabric, train, task, model, optimizer = _setup(shards_root, family, role, cfg, sizes, teacher_ckpt)
    generator = torch.Generator().manual_seed(cfg.seed)
    batches = list(train.batches(cfg.batch_size, shuffle=True, generator=generator, label=task.train_label))
    result = lr_find(model, optimizer, batches, lambda m, b: task.training_loss(fabric.to_device(b))[0],
                     min_lr=min_lr, max_lr=max_lr, num_steps=num_steps, out_dir=out_dir, backward=fabric.backward)
    log.info("learning-rate suggestion %.3g (%s)", result.suggestion, result.method)
    return result.to_dict()
