"""Losses: class weights, focal loss, and knowledge distillation for the GAT and the VGAE.

Conventions: ``logits`` (B, C) float, ``y`` (B,) int64; every loss returns a 0-dim
tensor, and the distillers return ``(loss, parts)`` with ``parts`` a dict of
Python floats for logging.  Teacher tensors are always detached here, so no
gradient reaches the teacher even if it was run without ``torch.no_grad()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def class_weights(counts: Sequence[int] | Tensor) -> Tensor:
    """Inverse-frequency class weights ``N / (C * n_c)`` (float32, (C,)).

    Normalised so the count-weighted mean weight is 1 (``sum_c n_c w_c = N``);
    an empty class is counted as 1 so its weight stays finite.
    E.g. ``class_weights([cb["benign"], cb["attack"]])`` from a manifest's ``class_balance``.
    """
    n = torch.as_tensor(counts, dtype=torch.float64).clamp(min=1)
    return (n.sum() / (len(n) * n)).float()


def focal_loss(logits: Tensor, y: Tensor, gamma: float = 2.0, weight: Tensor | None = None) -> Tensor:
    """Focal loss ``-w_y (1 - p_y)^gamma log p_y``, weighted mean like ``F.cross_entropy``.

    logits (B, C), y (B,) int64, weight (C,) or None.  With ``gamma=0`` it equals
    ``F.cross_entropy(logits, y, weight=weight)``.
    """
    logp = F.log_softmax(logits, dim=-1).gather(1, y[:, None]).squeeze(1)
    loss = -(1 - logp.exp()).pow(gamma) * logp
    if weight is None:
        return loss.mean()
    w = weight.to(logits.dtype)[y]
    return (w * loss).sum() / w.sum()


def distillation_kl(student_logits: Tensor, teacher_logits: Tensor, T: float = 4.0) -> Tensor:
    """``T^2 * KL(softmax(teacher / T) || softmax(student / T))``, averaged over rows.

    (R, C) logits -> 0-dim; exactly 0 when the logits are equal.  The ``T^2``
    keeps the soft-target gradients on the scale of a hard-label loss.
    """
    s = F.log_softmax(student_logits / T, dim=-1)
    t = F.log_softmax(teacher_logits.detach() / T, dim=-1)
    return T * T * F.kl_div(s, t, reduction="batchmean", log_target=True)


def gat_distillation_loss(student_logits: Tensor, teacher_logits: Tensor, y: Tensor, T: float = 4.0,
                          alpha: float = 0.7, weight: Tensor | None = None) -> Tensor:
    """``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, y; weight)``."""
    return (alpha * distillation_kl(student_logits, teacher_logits, T)
            + (1 - alpha) * F.cross_entropy(student_logits, y, weight=weight))


def _projection(d_in: int, d_out: int, identity_init: bool) -> nn.Linear:
    """Linear(d_in, d_out); with ``identity_init`` (requires d_in == d_out) W = I and b = 0."""
    lin = nn.Linear(d_in, d_out)
    if identity_init:
        if d_in != d_out:
            raise ValueError(f"identity_init needs equal dims, got {d_in} -> {d_out}")
        with torch.no_grad():
            lin.weight.copy_(torch.eye(d_in))
            lin.bias.zero_()
    return lin


def layer_map(student_layers: int, teacher_layers: int) -> list[int]:
    """Teacher layer matched to each student layer: ``round(i * (Lt - 1) / (Ls - 1))``.

    First to first, last to last, evenly in between (3 -> 5: [0, 2, 4]);
    a one-layer student is matched to the teacher's last layer.
    """
    if student_layers == 1:
        return [teacher_layers - 1]
    return [int(i * (teacher_layers - 1) / (student_layers - 1) + 0.5) for i in range(student_layers)]


class GATDistiller(nn.Module):
    """Logit distillation plus hint (intermediate) matching from a student GAT to a teacher GAT.

    Holds one learned projection per student layer (student hidden -> teacher
    hidden) and one for the graph embedding (student D -> teacher D).  Its
    parameters must be optimised together with the student's.

    forward(student_logits (B, 2), student_aux, teacher_logits (B, 2), teacher_aux, y (B,), ...)
    where the ``aux`` dicts are ``GATClassifier(..., return_hidden=True)[1]``:
    ``{"hidden": [L x (N, H)], "graph": (B, D)}``.

    loss = alpha * T^2 * KL + (1 - alpha) * hard + beta * (hidden + graph), with
    hidden = mean over student layers i of MSE(P_i(h_s[i]), h_t[map(i)]),
    graph = MSE(P_g(g_s), g_t), and ``hard`` the loss of the labels: class-weighted
    cross-entropy by default, or the ``hard_loss(logits, y)`` given (the task's focal loss).
    """

    def __init__(self, student_hidden: int, teacher_hidden: int, student_layers: int, teacher_layers: int,
                 student_graph_dim: int, teacher_graph_dim: int, identity_init: bool = False):
        super().__init__()
        self.mapping = layer_map(student_layers, teacher_layers)
        self.hidden_proj = nn.ModuleList(
            _projection(student_hidden, teacher_hidden, identity_init) for _ in range(student_layers))
        self.graph_proj = _projection(student_graph_dim, teacher_graph_dim, identity_init)

    @classmethod
    def from_models(cls, student: nn.Module, teacher: nn.Module, identity_init: bool = False) -> GATDistiller:
        """Dimensions read from two :class:`~canguard.models.gat.GATClassifier`."""
        return cls(student.hidden, teacher.hidden, student.layers, teacher.layers,
                   student.graph_dim, teacher.graph_dim, identity_init)

    def forward(self, student_out: Tensor, student_aux: dict, teacher_out: Tensor, teacher_aux: dict,
                y: Tensor, T: float = 4.0, alpha: float = 0.7, beta: float = 0.5,
                weight: Tensor | None = None, hard_loss=None) -> tuple[Tensor, dict[str, float]]:
        kd = distillation_kl(student_out, teacher_out, T)
        ce = hard_loss(student_out, y) if hard_loss is not None else F.cross_entropy(student_out, y, weight=weight)
        t_hidden = teacher_aux["hidden"]
        hidden = torch.stack([
            F.mse_loss(proj(h), t_hidden[j].detach())
            for proj, h, j in zip(self.hidden_proj, student_aux["hidden"], self.mapping)]).mean()
        graph = F.mse_loss(self.graph_proj(student_aux["graph"]), teacher_aux["graph"].detach())
        loss = alpha * kd + (1 - alpha) * ce + beta * (hidden + graph)
        parts = {"kd": kd, "ce": ce, "hidden": hidden, "graph": graph, "total": loss}
        return loss, {k: float(v.detach()) for k, v in parts.items()}


class VGAEDistiller(nn.Module):
    """Distillation from a teacher VGAE to a student VGAE.

    Holds a learned projection of the student latent (Z_s) to the teacher's (Z_t).

    forward(student_out, teacher_out, own_loss, ...) with the ``VGAEOutput``s of
    both models on the same batch and ``own_loss`` the student's
    ``VGAE.loss(...)[0]``:

    loss = own_loss + beta * MSE(P(mu_s), mu_t)
           + alpha * (MSE(x_hat_s, x_hat_t) + T^2 * KL(softmax(id_t / T) || softmax(id_s / T)))

    (the ID KL is averaged over nodes, and is 0 for models without an ID decoder):
    ``alpha`` weighs the teacher's reconstructions as soft targets, ``beta`` the
    latent matching, ``T`` softens the teacher's ID distribution, as for the GAT.
    """

    def __init__(self, student_latent: int, teacher_latent: int, identity_init: bool = False):
        super().__init__()
        self.latent_proj = _projection(student_latent, teacher_latent, identity_init)

    @classmethod
    def from_models(cls, student: nn.Module, teacher: nn.Module, identity_init: bool = False) -> VGAEDistiller:
        """Dimensions read from two :class:`~canguard.models.vgae.VGAE`."""
        return cls(student.latent, teacher.latent, identity_init)

    def forward(self, student_out, teacher_out, own_loss: Tensor, alpha: float = 0.7, beta: float = 0.5,
                T: float = 4.0) -> tuple[Tensor, dict[str, float]]:
        latent = F.mse_loss(self.latent_proj(student_out.mu), teacher_out.mu.detach())
        feature = F.mse_loss(student_out.x_hat, teacher_out.x_hat.detach())
        width = student_out.id_logits.size(1)
        both_decode_ids = width > 0 and width == teacher_out.id_logits.size(1)
        ident = distillation_kl(student_out.id_logits, teacher_out.id_logits, T) if both_decode_ids \
            else feature.new_zeros(())
        loss = own_loss + beta * latent + alpha * (feature + ident)
        parts = {"own": own_loss, "latent": latent, "recon_feature": feature, "recon_id": ident, "total": loss}
        return loss, {k: float(v.detach()) for k, v in parts.items()}
