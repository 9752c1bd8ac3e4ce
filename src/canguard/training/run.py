"""Train one model from graph shards: a teacher, a distilled student, or a student without teacher.

This is what rule ``train`` (through :mod:`canguard.stages.train`) and the command line call::

    train_model("results/shards/synthetic", family="gat", role="teacher",
                cfg=TrainConfig(), out_dir="results/models/synthetic/gat_teacher")
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from lightning.fabric.utilities.seed import seed_everything

from canguard.graphs.dataset import GraphShards, batch_from_shard
from canguard.models.factory import DEFAULT_SIZES, build_model, count_parameters, load_model
from canguard.models.losses import class_weights
from canguard.provenance import code_version
from canguard.training.config import TrainConfig
from canguard.training.engine import Engine, fingerprint_of
from canguard.training.tasks import AutoencoderDistillTask, AutoencoderTask, ClassifierDistillTask, ClassifierTask

log = logging.getLogger(__name__)


def resolved_sizes(family: str, role: str, sizes: dict | None = None) -> dict:
    return DEFAULT_SIZES[family][role] | dict(sizes or {})


def _manifest_digest(shards: GraphShards) -> dict:
    m = shards.manifest
    return {k: m[k] for k in ("preprocessing", "num_graphs", "num_nodes", "num_edges", "window_size",
                              "window_stride")} | {"sources": [r["source_hash"] for r in m["recordings"]]}


def build_task(family: str, role: str, cfg: TrainConfig, train: GraphShards, sizes: dict | None = None,
               teacher_ckpt: str | Path | None = None):
    """The model (seeded) and the task that trains it."""
    seed_everything(cfg.seed, verbose=False)
    num_ids = train.manifest["vocabulary_size"]
    sizes = resolved_sizes(family, role, sizes) | {"in_dim": train.manifest["num_node_features"],
                                                   "edge_dim": train.manifest["num_edge_features"]}
    model = build_model(family, role, num_ids, sizes)
    description = {"family": family, "role": role, "sizes": sizes, "num_ids": num_ids,
                   "parameters": count_parameters(model), "dataset": train.manifest.get("dataset"),
                   "preprocessing": train.manifest["preprocessing"],
                   "feature_spec": train.manifest["feature_spec"], "window_size": train.manifest["window_size"],
                   "window_stride": train.manifest["window_stride"],
                   "distilled_from": str(teacher_ckpt) if teacher_ckpt else None}
    common = {"unknown_id_rate": cfg.unknown_id_rate, "seed": cfg.seed, "profile_dropout": cfg.profile_dropout}
    balance = train.manifest["class_balance"]
    weight = class_weights([balance["benign"], balance["attack"]])
    if teacher_ckpt is not None:
        teacher, meta = load_model(teacher_ckpt)
        if meta["task"]["preprocessing"] != train.manifest["preprocessing"]:
            raise ValueError(f"teacher {teacher_ckpt} was trained on other preprocessing than {train.folder}")
        description["teacher_parameters"] = meta["task"]["parameters"]
        if family == "gat":
            return ClassifierDistillTask(model, teacher, description, temperature=cfg.temperature, alpha=cfg.alpha,
                                         beta=cfg.beta, class_weight=weight, loss=cfg.loss,
                                         focal_gamma=cfg.focal_gamma, **common)
        return AutoencoderDistillTask(model, teacher, description, temperature=cfg.temperature, alpha=cfg.alpha,
                                      beta=cfg.beta, kl_weight=cfg.kl_weight, **common)
    if family == "gat":
        return ClassifierTask(model, description, class_weight=weight, loss=cfg.loss, focal_gamma=cfg.focal_gamma,
                              **common)
    return AutoencoderTask(model, description, kl_weight=cfg.kl_weight, **common)


def apply_tuning(cfg: TrainConfig, batch_size_json: str | Path | None = None,
                 lr_json: str | Path | None = None) -> TrainConfig:
    """Take the batch size and learning rate found by the tuner stages, where they ran."""
    if batch_size_json:
        cfg.batch_size = int(json.loads(Path(batch_size_json).read_text())["batch_size"])
    if lr_json:
        cfg.lr = float(json.loads(Path(lr_json).read_text())["suggestion"])
    return cfg


def train_model(shards_root: str | Path, family: str, role: str, cfg: TrainConfig, out_dir: str | Path,
                sizes: dict | None = None, teacher_ckpt: str | Path | None = None, callbacks=()) -> dict:
    shards_root = Path(shards_root)
    train, val = GraphShards(shards_root / "train"), GraphShards(shards_root / "val")
    task = build_task(family, role, cfg, train, sizes, teacher_ckpt)
    # a resumable state belongs to one config, one dataset and one version of the training code
    fingerprint = fingerprint_of(cfg.to_dict(), task.describe(), _manifest_digest(train), _manifest_digest(val),
                                 code_version("train"))
    log.info("training %s %s (%d parameters) on %d graphs", family, role, task.describe()["parameters"], len(train))
    return Engine(cfg, out_dir, callbacks).fit(task, train, val, fingerprint)


def sample_batch(shards: GraphShards, batch_size: int, label: int | None = None):
    """The first ``batch_size`` graphs (of ``label``) of the first shard: a probe batch for the tuners."""
    shard = shards.shard(0)
    index = torch.arange(len(shard["y"])) if label is None else torch.nonzero(shard["y"] == label).flatten()
    index = index[:batch_size]
    if len(index) < batch_size:  # repeat graphs to reach the size asked for
        index = index.repeat(-(-batch_size // max(len(index), 1)))[:batch_size]
    return batch_from_shard(shard, index)
