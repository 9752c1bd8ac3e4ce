"""Fusion of the GAT classifier and the VGAE anomaly detector by a logistic stacker fitted on validation."""

from __future__ import annotations

import pandas as pd

from canguard.evaluation.thresholds import LogisticStacker

KEYS = ["part", "recording", "window"]


def fuse(gat: pd.DataFrame, vgae: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Scores table of the fusion (score = stacker probability) and the stacker's parameters."""
    both = gat.merge(vgae[KEYS + ["score"]], on=KEYS, suffixes=("_gat", "_vgae"), validate="one_to_one")
    if len(both) != len(gat) or len(both) != len(vgae):
        raise ValueError("GAT and VGAE scores do not cover the same windows")
    val = both[both["part"] == "val"]
    stacker = LogisticStacker().fit(val["score_gat"].to_numpy(), val["score_vgae"].to_numpy(), val["y"].to_numpy())
    both["score"] = stacker.predict(both["score_gat"].to_numpy(), both["score_vgae"].to_numpy())
    return both.drop(columns=["score_gat", "score_vgae"])[gat.columns], stacker.to_dict()
