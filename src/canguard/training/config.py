"""Training settings: one dataclass, built from the `training` section of the workflow config.

Every field has a default; ``TrainConfig.from_dict`` rejects unknown keys by name, and NaN or infinite
numbers by name (the workflow's schema refuses them before any job; this is the check of the paths that do not
pass through it: ``canguard train``'s config file, ``--config`` and hardware preset).
:func:`settings_for` keeps the settings one training job reads, so that a change
of, say, the distillation temperature reruns only the distilled students.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass
class TrainConfig:
    max_epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    scheduler: str = "cosine"  # cosine (with linear warm-up) | plateau | none
    warmup_epochs: int = 1
    grad_accum: int = 1  # optimiser step every this many batches
    grad_clip: float = 1.0  # max gradient norm; 0 disables
    precision: str = "auto"  # auto: bf16-mixed where supported, else 32-true
    accelerator: str = "auto"
    devices: str | int = "auto"  # per node; on SLURM, Fabric checks it against the tasks srun started
    num_nodes: int = 1
    strategy: str = "auto"
    seed: int = 0
    patience: int = 5  # epochs without improvement of the monitored metric before stopping
    min_delta: float = 1e-4
    loss: str = "weighted_ce"  # weighted_ce | focal | ce (GAT classifier)
    focal_gamma: float = 2.0
    unknown_id_rate: float = 0.05  # share of node IDs replaced by the unknown token in training
    profile_dropout: float = 0.25  # share of training windows that lose their vehicle profile
    kl_weight: float = 0.01  # VGAE
    temperature: float = 4.0  # distillation T
    alpha: float = 0.7  # distillation weight of the soft-target term
    beta: float = 0.5  # weight of intermediate (hidden-state / latent) matching
    num_workers: int | str = "auto"
    pin_memory: bool | str = "auto"  # auto: on a GPU only
    prefetch_factor: int = 4  # batches each worker prepares ahead
    max_steps_per_epoch: int = 0  # 0 = whole epoch (tests and smoke runs use a few)
    log_every_s: float = 30.0  # a progress line (batch, graphs/s, loss, ETA) inside an epoch this often; 0 = none
    profile: bool = False  # per-phase timing, torch.profiler traces, memory profile
    profile_steps: int = 8

    @classmethod
    def from_dict(cls, d: dict | None) -> TrainConfig:
        d = dict(d or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown training setting(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        bad = nonfinite_values(d)
        if bad:
            raise ValueError("\n".join(f"training.{path}: {value!r} is not a finite number" for path, value in bad))
        return cls(**d)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def nonfinite(self) -> list[tuple[str, float]]:
        """(name, value) of every setting that is NaN or infinite (none: all finite)."""
        return nonfinite_values(self.to_dict())


def nonfinite_values(node, path: str = "") -> list[tuple[str, float]]:
    """(key path, value) of every float in ``node`` (mappings and lists, nested) that is NaN or infinite."""
    if isinstance(node, float):
        return [] if math.isfinite(node) else [(path, node)]
    if isinstance(node, Mapping):
        return [bad for key, value in node.items()
                for bad in nonfinite_values(value, f"{path}.{key}" if path else str(key))]
    if isinstance(node, (list, tuple)):
        return [bad for i, value in enumerate(node) for bad in nonfinite_values(value, f"{path}[{i}]")]
    return []


# settings only some trainings read: the others drop them (and are not rerun when they change)
DISTILLATION_SETTINGS = ("temperature", "alpha", "beta")
FAMILY_SETTINGS = {"gat": ("loss", "focal_gamma"), "vgae": ("kl_weight",)}


def settings_for(training: dict, family: str, distilled: bool) -> dict:
    """The settings of ``training`` a model of ``family`` reads (with a teacher where ``distilled``)."""
    unknown = sorted(set(training) - {f.name for f in dataclasses.fields(TrainConfig)})
    if unknown:
        raise ValueError(f"unknown training setting(s): {', '.join(unknown)}")
    if family not in FAMILY_SETTINGS:
        raise ValueError(f"family must be one of {sorted(FAMILY_SETTINGS)}, got {family!r}")
    dropped = {k for f, keys in FAMILY_SETTINGS.items() if f != family for k in keys}
    if not distilled:
        dropped |= set(DISTILLATION_SETTINGS)
    return {k: v for k, v in training.items() if k not in dropped}
