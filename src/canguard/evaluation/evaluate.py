"""Metrics of one detector under one protocol: per test scenario, per attack type, detection delay, false alarms.

    metrics = evaluate(alarms[alarms["protocol"] == "enrolled"], episodes)

``alarms`` is the alarms table (:func:`canguard.evaluation.alarms.judge`): every
window with the threshold it is judged by and its alarm.  Only test windows count
(never validation or enrollment windows), and of them only labelled ones that do
not share a moment with enrollment traffic (``excluded``).  Ranking metrics
(AUROC, AUPRC) rank the margin ``score - threshold``, so that windows judged by
different thresholds (vehicles enrolled apart) are on one scale.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from canguard.evaluation.detection import detection_delays, detection_summary, false_alarms_per_hour
from canguard.evaluation.incidents import IncidentRule, incident_metrics
from canguard.metrics import auprc, auroc, binary_metrics


def _clean(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def window_metrics(rows: pd.DataFrame) -> dict:
    y = rows["y"].to_numpy()
    m = binary_metrics(y, rows["alarm"].to_numpy(bool))
    margin = rows["margin"].to_numpy()
    return _clean(m | {"windows": int(len(y)), "attack_windows": int(np.sum(y == 1)),
                       "auroc": auroc(y, margin), "auprc": auprc(y, margin)})


def scored_rows(alarms: pd.DataFrame) -> pd.DataFrame:
    """The windows metrics are computed on: test windows, labelled, outside enrollment traffic."""
    return alarms[(alarms["part"] != "enrollment") & (alarms["y"] >= 0) & ~alarms["excluded"].astype(bool)]


def evaluate(alarms: pd.DataFrame, episodes: pd.DataFrame, incident_rule: IncidentRule | None = None) -> dict:
    """Per scenario: window metrics, per-attack metrics, detection delay, false alarms per hour, and the
    incidents of the windows' alarms (:mod:`canguard.evaluation.incidents`, the default rule unless given)."""
    incident_rule = incident_rule or IncidentRule()
    out = {}
    all_rows = alarms[alarms["part"] != "enrollment"]
    for scenario, rows in scored_rows(alarms).groupby("part", sort=True):
        result = window_metrics(rows)
        per_attack = {}
        for attack in sorted(set(rows["attack_type"]) - {"none", "unknown"}):
            recs = rows.loc[rows["attack_type"] == attack, "recording"].unique()
            mine = rows[rows["recording"].isin(recs)]
            per_attack[attack] = window_metrics(mine) | {"incident_recall": _clean(incident_metrics(
                mine, episodes[episodes["recording"].isin(recs)], incident_rule))["incident_recall"]}
        eps = episodes[episodes["recording"].isin(rows["recording"].unique())]
        delays = detection_delays(rows, eps)
        fah, hours = false_alarms_per_hour(rows)
        scenario_rows = all_rows[all_rows["part"] == scenario]
        out[str(scenario)] = result | {
            "per_attack": per_attack, "detection": detection_summary(delays),
            "false_alarms_per_hour": None if math.isnan(fah) else fah, "benign_hours": hours,
            "incidents": _clean(incident_metrics(rows, eps, incident_rule)),
            "excluded_windows": int(scenario_rows["excluded"].astype(bool).sum()),
            "vehicles": sorted(map(str, rows["vehicle"].unique())),
            "thresholds": sorted(map(str, rows["threshold_fit"].unique())),
        }
    return out
