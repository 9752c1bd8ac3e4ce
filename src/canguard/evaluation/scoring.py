"""Score every window that thresholds and metrics need, with one detector.

The scores table (one parquet per dataset x model x seed) is what thresholds,
metrics, fusion and figures read; one row per window::

    protocol     string   "validation", "zero_shot" or "enrolled"
    part         string   validation: "val" (with the training profiles) and "val_masked" (the same
                          windows without profile); zero_shot / enrolled: a test scenario, and for
                          enrolled also "enrollment" (the enrollment windows, out of sample)
    recording    string   recording key (<split>/<name>)
    vehicle      string
    window       int64    window index in the recording
    t_start/t_end float64 timestamps of the window's first and last message
    y            int8     window label (1 attack, 0 benign, -1 unlabelled)
    attack_type  string   "none" for benign windows
    attack_frac  float32
    excluded     bool     the window shares a moment with enrollment traffic: in no metric
    has_profile  bool     the window was compared with a profile of its vehicle
    score        float64  larger = more attack-like: the GAT's attack log-odds
                          (logit of attack minus logit of benign), the VGAE's reconstruction error,
                          the rule's novelty-plus-excess score
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from canguard.atomic import atomic_output
from canguard.graphs.dataset import RELATIVE_COLUMNS, GraphShards, batch_from_shard, drop_profile
from canguard.graphs.preprocessing import Preprocessing
from canguard.models.factory import load_model
from canguard.models.rules import ProfileRule

HAS_PROFILE = RELATIVE_COLUMNS.stop - 1  # column of has_profile in x


@torch.inference_mode()
def score_batch(model: torch.nn.Module, family: str, batch) -> torch.Tensor:
    """(B,) scores of a batch: larger = more attack-like."""
    args = (batch.x, batch.edge_index, batch.batch, batch.node_id, batch.edge_attr)
    if family == "gat":
        logits = model(*args).float()
        return logits[:, 1] - logits[:, 0]
    return model.anomaly_score(*args).float()


def score_part(model: torch.nn.Module, family: str, shards: GraphShards, protocol: str, part: str,
               drop_profiles: bool = False, batch_size: int = 512,
               device: str | torch.device = "cpu") -> pd.DataFrame:
    """Scores of every window of one shard folder, in shard order (``drop_profiles``: as if no profile)."""
    m = shards.manifest
    recordings = np.asarray([r["recording"] for r in m["recordings"]], dtype=object)
    vehicles = np.asarray(m["vehicles"], dtype=object)
    attack_types = np.asarray(m["attack_types"], dtype=object)
    frames = []
    for s in range(len(m["shards"])):
        shard = shards.shard(s)
        n = len(shard["y"])
        scores = []
        for lo in range(0, n, batch_size):
            batch = batch_from_shard(shard, torch.arange(lo, min(n, lo + batch_size)))
            if drop_profiles:
                batch.x = drop_profile(batch.x, torch.ones(batch.x.size(0), dtype=torch.bool))
            scores.append(score_batch(model, family, batch.to(device)).cpu().numpy())
        first_node = shard["node_ptr"][:-1].clamp_max(max(len(shard["x"]) - 1, 0))
        has_profile = (shard["x"][first_node, HAS_PROFILE] > 0.5).numpy() if len(shard["x"]) else np.zeros(n, bool)
        frames.append(pd.DataFrame({
            "protocol": protocol, "part": part,
            "recording": recordings[shard["recording"].numpy()],
            "vehicle": vehicles[shard["vehicle"].numpy()],
            "window": shard["window"].numpy(),
            "t_start": shard["t_start"].numpy(), "t_end": shard["t_end"].numpy(),
            "y": shard["y"].numpy().astype(np.int8),
            "attack_type": attack_types[shard["attack_type"].numpy()],
            "attack_frac": shard["attack_frac"].numpy(),
            "excluded": shard["excluded"].numpy().astype(bool),
            "has_profile": has_profile & ~drop_profiles,
            "score": np.concatenate(scores).astype(np.float64) if scores else np.zeros(0),
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def scoring_plan(shards_root: str | Path, scenarios: list[str]) -> list[tuple[str, str, Path, bool]]:
    """(protocol, part, folder, drop_profiles) of everything a detector is scored on."""
    root = Path(shards_root)
    plan = [("validation", "val", root / "val", False), ("validation", "val_masked", root / "val", True),
            ("enrolled", "enrollment", root / "enrolled" / "enrollment", False)]
    for protocol in ("zero_shot", "enrolled"):
        plan += [(protocol, s, root / protocol / s, False) for s in scenarios]
    return plan


def score_model(ckpt: str | Path, shards_root: str | Path, scenarios: list[str], out: str | Path,
                device: str = "cpu") -> pd.DataFrame:
    """Score validation (with and without profiles), enrollment and every test scenario of both protocols."""
    model, meta = load_model(ckpt, map_location=device)
    return _score_all(model.to(device), meta["task"]["family"], shards_root, scenarios, out, device)


def score_rule(preprocessing: str | Path, shards_root: str | Path, scenarios: list[str],
               out: str | Path) -> pd.DataFrame:
    """The rule baseline (:class:`canguard.models.rules.ProfileRule`) on everything a detector is scored on."""
    prep = Preprocessing.load(preprocessing)
    window_size = GraphShards(Path(shards_root) / "val").manifest["window_size"]
    rule = ProfileRule(prep.node_mean, prep.node_std, window_size).eval()
    return _score_all(rule, "rules", shards_root, scenarios, out, "cpu")


def _score_all(model, family, shards_root, scenarios, out, device) -> pd.DataFrame:
    table = pd.concat([score_part(model, family, GraphShards(folder), protocol, part, drop, device=device)
                       for protocol, part, folder, drop in scoring_plan(shards_root, scenarios)],
                      ignore_index=True)
    with atomic_output(out) as tmp:
        table.to_parquet(tmp, index=False)
    return table
