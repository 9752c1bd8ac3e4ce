"""Metrics of one model on every test scenario: overall, per attack type, detection delay, false alarms.

    metrics = evaluate(scores, threshold, episodes)

``scores`` is a model's scores table (see :mod:`canguard.evaluation.scoring`);
the threshold was fitted on its ``val`` rows only
(:mod:`canguard.evaluation.thresholds`); the ``val`` rows are never scored here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from canguard.evaluation.detection import detection_delays, detection_summary, false_alarms_per_hour
from canguard.metrics import auprc, auroc, binary_metrics


def _clean(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def window_metrics(y: np.ndarray, score: np.ndarray, threshold: float) -> dict:
    m = binary_metrics(y, score >= threshold)
    return _clean(m | {"windows": int(len(y)), "attack_windows": int(np.sum(y == 1)),
                       "auroc": auroc(y, score), "auprc": auprc(y, score)})


def evaluate(scores: pd.DataFrame, threshold: float, episodes: pd.DataFrame) -> dict:
    """Per scenario: window metrics, per-attack metrics, detection delay, false alarms per hour."""
    out = {}
    test = scores[scores["part"] != "val"]
    for scenario, rows in test.groupby("part", sort=True):
        rows = rows[rows["y"] >= 0]  # unlabelled windows cannot be scored
        y, s = rows["y"].to_numpy(), rows["score"].to_numpy()
        result = window_metrics(y, s, threshold)
        per_attack = {}
        for attack in sorted(set(rows["attack_type"]) - {"none", "unknown"}):
            recs = rows.loc[rows["attack_type"] == attack, "recording"].unique()
            sub = rows[rows["recording"].isin(recs)]  # the attack's recordings, benign windows included
            per_attack[attack] = window_metrics(sub["y"].to_numpy(), sub["score"].to_numpy(), threshold)
        eps = episodes[episodes["recording"].isin(rows["recording"].unique())]
        delays = detection_delays(rows, threshold, eps)
        fah, hours = false_alarms_per_hour(rows, threshold)
        out[scenario] = result | {"per_attack": per_attack, "detection": detection_summary(delays),
                                  "false_alarms_per_hour": None if math.isnan(fah) else fah,
                                  "benign_hours": hours}
    return out
