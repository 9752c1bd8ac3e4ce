"""Decision thresholds and the GAT + VGAE fusion, all fitted on validation data only.

Rules (documented in the README and in each threshold file):

* classifier scores (GAT, fusion): the threshold that maximises the attack-class
  F1 on the validation windows; ties go to the highest such threshold (fewest alarms).
* anomaly scores (VGAE): the ``quantile`` (default 0.99) of the scores of benign
  validation windows, i.e. a target false-positive rate of 1 % on benign traffic;
  attack windows never shape it, so a detector of unknown attacks stays honest.
* fusion: a logistic stacker over (GAT log-odds, standardised VGAE score), fitted on
  the validation windows (L2-regularised, class-balanced), then thresholded as a classifier.
"""

from __future__ import annotations

import numpy as np
import torch


def best_f1_threshold(y: np.ndarray, score: np.ndarray) -> float:
    """Threshold t (predict attack when score >= t) with the largest F1 of the attack class."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    if y.sum() == 0:
        return float(np.max(score)) + 1e-12 if len(score) else 0.5
    order = np.argsort(-score, kind="mergesort")
    s, t = score[order], y[order]
    tp = np.cumsum(t)
    fp = np.cumsum(~t)
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # cut after each run of equal scores
    f1 = 2 * tp[last] / (tp[last] + fp[last] + t.sum())
    best = np.flatnonzero(f1 == f1.max())[0]  # first = highest threshold among the ties
    return float(s[last[best]])


def benign_quantile_threshold(y: np.ndarray, score: np.ndarray, quantile: float = 0.99) -> float:
    benign = np.asarray(score, dtype=np.float64)[np.asarray(y) == 0]
    if len(benign) == 0:
        raise ValueError("no benign validation windows to fit an anomaly threshold on")
    return float(np.quantile(benign, quantile))


def fit_threshold(kind: str, y: np.ndarray, score: np.ndarray, quantile: float = 0.99) -> dict:
    if kind == "anomaly":
        value = benign_quantile_threshold(y, score, quantile)
        rule = f"{quantile:.4g} quantile of benign validation scores"
    else:
        value = best_f1_threshold(y, score)
        rule = "maximum attack-class F1 on validation windows"
    return {"value": value, "rule": rule, "kind": kind, "fitted_on": "val",
            "val_windows": int(len(y)), "val_attack_windows": int(np.sum(np.asarray(y) == 1))}


class LogisticStacker:
    """p(attack) = sigmoid(w . f + b) over features f = (GAT log-odds, standardised VGAE score)."""

    def __init__(self, l2: float = 1e-3, steps: int = 500):
        self.l2, self.steps = l2, steps
        self.w = np.zeros(2)
        self.b = 0.0
        self.vgae_mean, self.vgae_std = 0.0, 1.0

    def features(self, gat_prob: np.ndarray, vgae_score: np.ndarray) -> np.ndarray:
        p = np.clip(np.asarray(gat_prob, dtype=np.float64), 1e-6, 1 - 1e-6)
        return np.stack([np.log(p / (1 - p)), (np.asarray(vgae_score) - self.vgae_mean) / self.vgae_std], axis=1)

    def fit(self, gat_prob: np.ndarray, vgae_score: np.ndarray, y: np.ndarray) -> "LogisticStacker":
        self.vgae_mean = float(np.mean(vgae_score))
        self.vgae_std = float(np.std(vgae_score)) or 1.0
        x = torch.tensor(self.features(gat_prob, vgae_score))
        t = torch.tensor(np.asarray(y), dtype=torch.float64)
        pos = float(t.sum())
        weight = torch.where(t == 1, len(t) / (2 * max(pos, 1.0)), len(t) / (2 * max(len(t) - pos, 1.0)))
        w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        b = torch.zeros((), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], lr=0.5, max_iter=self.steps, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            logits = x @ w + b
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, t, weight=weight)
                    + self.l2 * (w * w).sum())
            loss.backward()
            return loss

        opt.step(closure)
        self.w, self.b = w.detach().numpy(), float(b.detach())
        return self

    def predict(self, gat_prob: np.ndarray, vgae_score: np.ndarray) -> np.ndarray:
        z = self.features(gat_prob, vgae_score) @ self.w + self.b
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict:
        return {"w_gat_logodds": float(self.w[0]), "w_vgae": float(self.w[1]), "bias": self.b,
                "vgae_mean": self.vgae_mean, "vgae_std": self.vgae_std, "l2": self.l2}
