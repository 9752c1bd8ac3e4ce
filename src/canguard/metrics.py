"""Detection metrics for the attack class (never a weighted average over classes).

All functions take numpy arrays: ``y`` in {0, 1} (1 = attack), ``pred`` in
{0, 1}, ``score`` a real number that is larger for more attack-like windows.
"""

from __future__ import annotations

import numpy as np


def confusion(y: np.ndarray, pred: np.ndarray) -> dict[str, int]:
    y, pred = np.asarray(y).astype(bool), np.asarray(pred).astype(bool)
    return {"tp": int(np.sum(y & pred)), "fp": int(np.sum(~y & pred)),
            "tn": int(np.sum(~y & ~pred)), "fn": int(np.sum(y & ~pred))}


NAN = float("nan")


def _div(a: float, b: float, empty: float = 0.0) -> float:
    return float(a / b) if b else empty


def binary_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Accuracy, precision, recall, F1 and MCC of the attack class, false-positive and -negative rates.

    Without attack windows, recall, precision, F1, FNR and MCC are undefined (NaN,
    reported as n/a): a scenario of benign windows only is judged by its false
    alarms, never by a 0.000 it could not have avoided.  With attack windows but no
    alarm, precision, recall and F1 are 0.
    """
    c = confusion(y, pred)
    tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
    has_attacks = tp + fn > 0
    precision = _div(tp, tp + fp) if has_attacks else NAN
    recall = _div(tp, tp + fn) if has_attacks else NAN
    denom = np.sqrt(float(tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        **c,
        "accuracy": _div(tp + tn, tp + fp + tn + fn),
        "precision": precision,
        "recall": recall,
        "f1": _div(2 * tp, 2 * tp + fp + fn) if has_attacks else NAN,
        "mcc": _div(tp * tn - fp * fn, denom) if has_attacks and tn + fp > 0 else NAN,
        "fpr": _div(fp, fp + tn, NAN),
        "fnr": _div(fn, fn + tp) if has_attacks else NAN,
    }


def curve_counts(y, score) -> tuple[np.ndarray, np.ndarray, int, int]:
    """True and false positives at each distinct threshold, highest first (ties joined into one
    point), and the numbers of attack and benign windows; non-finite scores are dropped.  The one
    tie-aware curve of canguard: AUROC, AUPRC and the figures' ROC and PR curves come from it."""
    y = np.asarray(y).astype(bool).ravel()
    score = np.asarray(score, dtype=np.float64).ravel()
    if y.shape != score.shape:
        raise ValueError(f"y and score differ in length: {y.shape} vs {score.shape}")
    keep = np.isfinite(score)
    y, score = y[keep], score[keep]
    order = np.argsort(-score, kind="mergesort")
    y, score = y[order], score[order]
    # one point per distinct threshold: the last index of each run of equal scores
    last = np.r_[np.flatnonzero(np.diff(score) != 0), len(score) - 1] if len(score) else np.array([], int)
    tps = np.cumsum(y)[last].astype(np.float64)
    fps = np.cumsum(~y)[last].astype(np.float64)
    return tps, fps, int(y.sum()), int((~y).sum())


def roc_curve(y, score) -> tuple[np.ndarray, np.ndarray]:
    """ROC curve ``(fpr, tpr)`` from (0, 0) to (1, 1), one point per distinct score (ties joined).

    Raises ``ValueError`` unless both classes are present.
    """
    tps, fps, n_pos, n_neg = curve_counts(y, score)
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"ROC needs both classes (attack: {n_pos}, benign: {n_neg})")
    return np.r_[0.0, fps / n_neg], np.r_[0.0, tps / n_pos]


def pr_curve(y, score) -> tuple[np.ndarray, np.ndarray]:
    """Precision-recall curve ``(recall, precision)``, recall rising from 0 (where precision is 1).

    Raises ``ValueError`` without attack windows.
    """
    tps, fps, n_pos, _ = curve_counts(y, score)
    if n_pos == 0:
        raise ValueError("precision-recall needs at least one attack window")
    return np.r_[0.0, tps / n_pos], np.r_[1.0, tps / (tps + fps)]


def auc(x: np.ndarray, y: np.ndarray) -> float:
    """Trapezoidal area under a curve given by points sorted along ``x``."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Step-wise area under the PR curve (average precision): sum of (R_i - R_{i-1}) * P_i."""
    recall, precision = np.asarray(recall, np.float64), np.asarray(precision, np.float64)
    return float(np.sum(np.diff(recall) * precision[1:]))


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve, ties counted half (the Mann-Whitney U); NaN with one class only."""
    try:
        return auc(*roc_curve(y, score))
    except ValueError:
        return NAN


def auprc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (step-wise); NaN without attacks."""
    try:
        return average_precision(*pr_curve(y, score))
    except ValueError:
        return NAN
