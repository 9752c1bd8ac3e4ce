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


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tie-averaged ranks); NaN with one class only."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=np.float64)
    sorted_scores = score[order]
    # average ranks of ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def auprc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (step-wise); NaN without attacks."""
    y = np.asarray(y).astype(bool)
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="mergesort")
    y_sorted = y[order]
    s_sorted = np.asarray(score, dtype=np.float64)[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(~y_sorted)
    # one point per distinct threshold: the last index of each run of equal scores
    last = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(s_sorted) - 1]
    precision = tp[last] / (tp[last] + fp[last])
    recall = tp[last] / y.sum()
    prev_recall = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - prev_recall) * precision))
