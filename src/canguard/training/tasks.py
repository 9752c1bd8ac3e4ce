"""What the engine trains: a task bundles the modules, the loss of a batch and validation.

==================  =========================================  ===================
task                trains                                      monitors
==================  =========================================  ===================
ClassifierTask      GAT classifier, weighted CE or focal loss  val_loss (min)
AutoencoderTask     VGAE on benign windows only                 val_loss (min)
ClassifierDistill   GAT student from a frozen GAT teacher       val_loss (min)
AutoencoderDistill  VGAE student from a frozen VGAE teacher     val_loss (min)
==================  =========================================  ===================

A task exposes ``model`` (what ``best.ckpt`` holds), ``trainable`` (model plus
any distillation projections: what the optimiser updates and ``last.ckpt``
holds) and, for distillation, a frozen ``teacher``.

The classifier monitors its validation cross-entropy rather than F1: F1 at a
0.5 threshold saturates (often at 1.0 within a few epochs) and would freeze the
best checkpoint early, while the loss keeps ranking calibrated models.  For the
autoencoders ``val_loss`` is the mean anomaly score of benign validation windows.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from canguard.graphs.dataset import ProfileDropout, UnknownIdDropout, drop_profile
from canguard.metrics import auroc, binary_metrics
from canguard.models.losses import GATDistiller, VGAEDistiller, focal_loss


def _inputs(batch):
    return batch.x, batch.edge_index, batch.batch, batch.node_id, batch.edge_attr


class Task:
    monitor = "val_loss"
    mode = "min"
    train_label: int | None = None  # train only on windows of this label (None: all)

    def __init__(self, model: nn.Module, description: dict, unknown_id_rate: float = 0.0, seed: int = 0,
                 profile_dropout: float = 0.0):
        self.model = model
        self.trainable: nn.Module = model
        self.teacher: nn.Module | None = None
        self.description = description
        self.seed = seed
        self.id_dropout = UnknownIdDropout(unknown_id_rate, torch.Generator())
        self.profile_dropout = ProfileDropout(profile_dropout, torch.Generator())
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Reseed the augmentation per epoch, so a resumed run draws what an uninterrupted one would."""
        self.id_dropout.generator.manual_seed(self.seed * 100_003 + epoch + 17)
        self.profile_dropout.generator.manual_seed(self.seed * 100_003 + epoch + 29)

    def generator_states(self) -> dict[str, torch.Tensor]:
        """The augmentation generators' states, for a checkpoint taken inside an epoch."""
        return {"id_dropout": self.id_dropout.generator.get_state(),
                "profile_dropout": self.profile_dropout.generator.get_state()}

    def set_generator_states(self, states: dict[str, torch.Tensor]) -> None:
        self.id_dropout.generator.set_state(states["id_dropout"])
        self.profile_dropout.generator.set_state(states["profile_dropout"])

    def to(self, device) -> None:
        self.trainable.to(device)
        if self.teacher is not None:
            self.teacher.to(device)

    def train(self) -> None:
        self.trainable.train()

    def eval(self) -> None:
        self.trainable.eval()

    def describe(self) -> dict:
        return self.description

    def num_training_graphs(self, shards) -> int:
        balance = shards.manifest["class_balance"]
        return len(shards) if self.train_label is None else balance["benign" if self.train_label == 0 else "attack"]

    def views(self, batch):
        """What validation scores: the batch, and (where training drops profiles) the batch without profiles."""
        yield batch
        if self.profile_dropout.p > 0:
            masked = batch.clone()
            masked.x = drop_profile(batch.x, torch.ones(batch.x.size(0), dtype=torch.bool, device=batch.x.device))
            yield masked

    def prepare(self, batch):
        """Training-time augmentation: the unknown-ID token replaces a share of node IDs, and a share
        of windows lose their vehicle profile (their relative features)."""
        batch = batch.clone()
        batch.node_id = self.id_dropout(batch).node_id
        return self.profile_dropout(batch)


class ClassifierTask(Task):

    def __init__(self, model, description, class_weight: torch.Tensor | None = None, loss: str = "weighted_ce",
                 focal_gamma: float = 2.0, **kw):
        super().__init__(model, description, **kw)
        self.loss_kind, self.focal_gamma = loss, focal_gamma
        self.class_weight = class_weight if loss in ("weighted_ce", "focal") else None

    def _criterion(self, logits, y):
        w = None if self.class_weight is None else self.class_weight.to(logits.device)
        if self.loss_kind == "focal":
            return focal_loss(logits.float(), y, gamma=self.focal_gamma, weight=w)
        return F.cross_entropy(logits.float(), y, weight=w)

    def training_loss(self, batch):
        batch = self.prepare(batch)
        logits = self.model(*_inputs(batch))
        loss = self._criterion(logits, batch.y)
        return loss, {"loss": float(loss.detach())}

    def validate(self, batches, fabric) -> dict:
        ys, probs, losses = [], [], []
        for batch in batches:
            for view in self.views(fabric.to_device(batch)):
                logits = self.model(*_inputs(view)).float()
                losses.append(float(F.cross_entropy(logits, view.y, reduction="sum")))
                probs.append(torch.softmax(logits, dim=1)[:, 1].cpu().numpy())
                ys.append(view.y.cpu().numpy())
        y, p = np.concatenate(ys), np.concatenate(probs)
        m = binary_metrics(y, p >= 0.5)
        return {"loss": sum(losses) / len(y), "f1": m["f1"], "accuracy": m["accuracy"],
                "precision": m["precision"], "recall": m["recall"], "auroc": auroc(y, p)}


class AutoencoderTask(Task):
    train_label = 0  # benign windows only

    def __init__(self, model, description, kl_weight: float = 0.01, **kw):
        super().__init__(model, description, **kw)
        self.kl_weight = kl_weight

    def training_loss(self, batch):
        target_ids = batch.node_id  # the loss reconstructs the true ID, the input may be masked
        batch = self.prepare(batch)
        out = self.model(*_inputs(batch))
        loss, parts = self.model.loss(out, batch.x, batch.edge_index, target_ids, batch.batch,
                                      kl_weight=self.kl_weight)
        return loss, parts

    def validate(self, batches, fabric) -> dict:
        ys, scores = [], []
        for batch in batches:
            for view in self.views(fabric.to_device(batch)):
                scores.append(self.model.anomaly_score(*_inputs(view)).float().cpu().numpy())
                ys.append(view.y.cpu().numpy())
        y, s = np.concatenate(ys), np.concatenate(scores)
        benign = y == 0
        return {"loss": float(s[benign].mean()) if benign.any() else float("nan"), "auroc": auroc(y, s),
                "attack_score": float(s[~benign].mean()) if (~benign).any() else float("nan")}


class ClassifierDistillTask(ClassifierTask):
    def __init__(self, student, teacher, description, temperature=4.0, alpha=0.7, beta=0.5, **kw):
        super().__init__(student, description, **kw)
        self.teacher = teacher.eval().requires_grad_(False)
        self.distiller = GATDistiller.from_models(student, teacher)
        self.trainable = nn.ModuleDict({"student": student, "distiller": self.distiller})
        self.temperature, self.alpha, self.beta = temperature, alpha, beta

    def train(self) -> None:
        self.trainable.train()
        self.teacher.eval()

    def training_loss(self, batch):
        batch = self.prepare(batch)
        with torch.no_grad():
            t_logits, t_aux = self.teacher(*_inputs(batch), return_hidden=True)
        s_logits, s_aux = self.model(*_inputs(batch), return_hidden=True)
        loss, parts = self.distiller(s_logits, s_aux, t_logits, t_aux, batch.y, T=self.temperature,
                                     alpha=self.alpha, beta=self.beta, hard_loss=self._criterion)
        return loss, parts


class AutoencoderDistillTask(AutoencoderTask):
    def __init__(self, student, teacher, description, temperature=4.0, alpha=0.7, beta=0.5, **kw):
        super().__init__(student, description, **kw)
        self.teacher = teacher.eval().requires_grad_(False)
        self.distiller = VGAEDistiller.from_models(student, teacher)
        self.trainable = nn.ModuleDict({"student": student, "distiller": self.distiller})
        self.temperature, self.alpha, self.beta = temperature, alpha, beta

    def train(self) -> None:
        self.trainable.train()
        self.teacher.eval()

    def training_loss(self, batch):
        target_ids = batch.node_id
        batch = self.prepare(batch)
        with torch.no_grad():
            t_out = self.teacher(*_inputs(batch))
        s_out = self.model(*_inputs(batch))
        own, _ = self.model.loss(s_out, batch.x, batch.edge_index, target_ids, batch.batch,
                                 kl_weight=self.kl_weight)
        loss, parts = self.distiller(s_out, t_out, own, alpha=self.alpha, beta=self.beta, T=self.temperature)
        return loss, parts
