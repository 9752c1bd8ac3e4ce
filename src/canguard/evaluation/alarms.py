"""The alarm rule, and the threshold every window is judged by under each protocol.

One rule, used by the metrics, the detection delays and the figures alike: a
window raises an alarm when its score reaches its threshold, ``score >= threshold``
(:func:`raises_alarm`).  The alarms table written by the evaluation holds, per
window, the threshold it was judged by and whether it raised an alarm; everything
downstream reads that column and never re-derives it.

Thresholds (:mod:`canguard.evaluation.thresholds`, a false-alarm budget on benign
windows), by protocol:

==========  ===============================  ==============================================
protocol    window of                        threshold fitted on
==========  ===============================  ==============================================
zero_shot   a vehicle with training profile  benign validation windows, with profiles
zero_shot   a vehicle without (unknown)      benign validation windows, profiles dropped
enrolled    any vehicle                      that vehicle's enrollment windows (out of sample)
==========  ===============================  ==============================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from canguard.evaluation.thresholds import false_alarm_threshold, seconds_per_window

PROTOCOLS = ("zero_shot", "enrolled")
ZERO_SHOT_PROFILE, ZERO_SHOT_NO_PROFILE = "validation", "validation without profile"


def raises_alarm(score, threshold) -> np.ndarray:
    """THE alarm rule: ``score >= threshold`` (element-wise)."""
    return np.asarray(score, dtype=np.float64) >= np.asarray(threshold, dtype=np.float64)


def fit_thresholds(scores: pd.DataFrame, false_alarms_per_hour: float, size: int, stride: int) -> dict:
    """``{"zero_shot": {fit set: info}, "enrolled": {vehicle: info}}`` from a scores table."""
    def fit(rows: pd.DataFrame, fit_on: str) -> dict:
        spw = seconds_per_window(rows["t_start"], rows["t_end"], size, stride)
        return false_alarm_threshold(rows["score"].to_numpy(), spw, false_alarms_per_hour) | {"fit_on": fit_on}

    val = scores[(scores["protocol"] == "validation") & (scores["y"] == 0)]
    out = {"zero_shot": {
        ZERO_SHOT_PROFILE: fit(val[val["part"] == "val"], "benign validation windows"),
        ZERO_SHOT_NO_PROFILE: fit(val[val["part"] == "val_masked"], "benign validation windows, profiles dropped"),
    }, "enrolled": {}}
    enrollment = scores[(scores["protocol"] == "enrolled") & (scores["part"] == "enrollment")]
    for vehicle, rows in enrollment.groupby("vehicle", sort=True):
        out["enrolled"][str(vehicle)] = fit(rows, f"enrollment windows of {vehicle} (out of sample, unlabelled)")
    return out


def window_thresholds(rows: pd.DataFrame, thresholds: dict, protocol: str) -> tuple[np.ndarray, np.ndarray]:
    """(threshold value, its fit set) for each row of one protocol."""
    if protocol == "zero_shot":
        key = np.where(rows["has_profile"].to_numpy(bool), ZERO_SHOT_PROFILE, ZERO_SHOT_NO_PROFILE)
        table = thresholds["zero_shot"]
    else:
        key = rows["vehicle"].to_numpy(str)
        table = thresholds["enrolled"]
        missing = sorted(set(key) - set(table))
        if missing:
            raise ValueError(f"no enrolled threshold for vehicle(s) {missing}: they have no enrollment windows")
    value = np.array([table[k]["value"] for k in key], dtype=np.float64) if len(key) else np.zeros(0)
    return value, key


def judge(scores: pd.DataFrame, thresholds: dict) -> pd.DataFrame:
    """The alarms table: every window of both protocols (enrollment windows included) with
    ``threshold``, ``threshold_fit`` (which fit set), ``margin`` (score - threshold) and ``alarm``."""
    frames = []
    for protocol in PROTOCOLS:
        rows = scores[scores["protocol"] == protocol].copy()
        value, key = window_thresholds(rows, thresholds, protocol)
        rows["threshold"], rows["threshold_fit"] = value, key
        rows["margin"] = rows["score"].to_numpy(np.float64) - value
        rows["alarm"] = raises_alarm(rows["score"], value)
        frames.append(rows)
    return pd.concat(frames, ignore_index=True)
