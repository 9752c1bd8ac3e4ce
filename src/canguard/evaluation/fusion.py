"""Fusion of detectors: an alarm when any member raises one, each member at its own threshold.

Why an OR of thresholded members rather than a stacker fitted on validation
attacks: a stacker learns to trust whichever member separates the *training*
attacks best (the GAT, on DoS and fuzzing) and drowns the anomaly detector that
finds the attack nobody trained for.  The OR cannot drown a member:

* recall: every attack window one member catches, the fusion catches, so the
  fusion's recall is at least the better member's;
* false alarms: at most the sum of the members', and each member is held to the
  false-alarm budget on benign windows.

So the fusion's F1 falls below its better member's only by the other member's
false alarms, which the budget keeps small; the test suite checks the guarantee
on constructed scores, and the README reports it on every scenario.

The fused score, for ranking metrics and figures, is the largest member margin
on a common scale, ``max_i (score_i - threshold_i) / scale_i`` (``scale_i``: the
spread of member i's fit scores in its tail), with threshold 0: it is >= 0
exactly when some member raises an alarm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from canguard.evaluation.alarms import raises_alarm

KEYS = ["protocol", "part", "recording", "window"]


def fuse(members: dict[str, pd.DataFrame], thresholds: dict[str, dict]) -> pd.DataFrame:
    """The fusion's alarms table from the members' alarms tables (and the thresholds they were judged by).

    Rows are the members' common windows (all members must cover the same ones);
    ``score``/``margin`` is the fused score, ``threshold`` 0, ``alarm`` the OR, and
    ``alarm_<member>`` each member's own alarm.
    """
    names = list(members)
    base = members[names[0]].drop(columns=["score", "threshold", "margin", "alarm"]).copy()
    scaled = []
    for name in names:
        table = members[name]
        if len(table) != len(base) or not table[KEYS].reset_index(drop=True).equals(base[KEYS].reset_index(drop=True)):
            raise ValueError(f"fusion members {names} do not cover the same windows in the same order")
        scale = np.array([_scale(thresholds[name], p, k) for p, k in zip(table["protocol"], table["threshold_fit"])])
        scaled.append(table["margin"].to_numpy(np.float64) / scale)
        base[f"alarm_{name}"] = table["alarm"].to_numpy(bool)
    fused = np.max(np.stack(scaled), axis=0)
    base["score"] = fused
    base["threshold"] = 0.0
    base["threshold_fit"] = "any member at its own threshold"
    base["margin"] = fused
    base["alarm"] = raises_alarm(fused, 0.0)
    either = np.any(np.stack([base[f"alarm_{n}"] for n in names]), axis=0)
    if not np.array_equal(base["alarm"].to_numpy(), either):  # the fused score encodes the OR exactly
        raise AssertionError("fused score and OR of member alarms disagree")
    return base


def _scale(thresholds: dict, protocol: str, key: str) -> float:
    return float(thresholds[protocol][key]["tail_scale"])
