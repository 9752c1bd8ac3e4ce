"""Per-recording calibration: scores standardised against each recording's first, benign minutes.

A threshold fitted on the training vehicles does not transfer to a vehicle the
detector has never seen: its benign traffic may score above every threshold
(hcrl_sa's Spark does, for every model).  A deployed detector can calibrate on
the vehicle it is installed in: it observes the first ``warmup_windows``
windows of a recording, assumes them attack-free, and standardises every later
score against them::

    calibrated = (score - median(warm-up scores)) / (IQR(warm-up scores) / 1.349)

(classifier probabilities are first turned into log-odds, which do not
saturate).  The warm-up windows are then excluded from every metric, and the
threshold is fitted on calibrated validation scores by the usual rules.  This
is a separate evaluation protocol, reported beside the plain one, never mixed:
it assumes each recording starts with ``warmup_windows`` benign windows (true
for every hcrl_sa test recording: the first attack comes after 11 s or more).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_SCALE = 1e-6


def to_logodds(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def calibrate(scores: pd.DataFrame, warmup_windows: int, kind: str) -> pd.DataFrame:
    """Scores of each (part, recording) standardised against its first windows; warm-up rows dropped.

    ``kind`` is "classifier" (scores are probabilities: log-odds first) or "anomaly".
    """
    if warmup_windows < 2:
        raise ValueError("calibration needs at least 2 warm-up windows")
    raw = to_logodds(scores["score"].to_numpy()) if kind == "classifier" else scores["score"].to_numpy(np.float64)
    table = scores.assign(score=raw).sort_values(["part", "recording", "window"], kind="stable")
    rank = table.groupby(["part", "recording"], sort=False).cumcount()
    warm = table[rank < warmup_windows].groupby(["part", "recording"])["score"]
    center = warm.median()
    spread = (warm.quantile(0.75) - warm.quantile(0.25)) / 1.349
    spread = spread.where(spread > MIN_SCALE, warm.std().fillna(0.0)).clip(lower=MIN_SCALE)
    keys = pd.MultiIndex.from_frame(table[["part", "recording"]])
    table["score"] = (table["score"].to_numpy() - center.reindex(keys).to_numpy()) / spread.reindex(keys).to_numpy()
    return table[rank.to_numpy() >= warmup_windows].reset_index(drop=True)
