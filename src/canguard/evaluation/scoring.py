"""Score every window of the validation part and of each test scenario with one trained model.

The scores table (one parquet per dataset x model) is what thresholds, metrics,
fusion and figures read::

    part         string   "val" or a test scenario ("test_01_known_vehicle_known_attack", ...)
    recording    string   recording key (<split>/<name>)
    window       int64    window index in the recording
    t_start/t_end float64 timestamps of the window's first and last message
    y            int8     window label (1 attack)
    attack_type  string   "none" for benign windows
    attack_frac  float32
    score        float64  larger = more attack-like: P(attack) for the GAT classifier,
                          the reconstruction-error anomaly score for the VGAE
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from canguard.graphs.dataset import GraphShards, batch_from_shard
from canguard.training.run import load_model


@torch.inference_mode()
def score_batch(model: torch.nn.Module, family: str, batch) -> torch.Tensor:
    args = (batch.x, batch.edge_index, batch.batch, batch.node_id, batch.edge_attr)
    if family == "gat":
        return torch.softmax(model(*args).float(), dim=1)[:, 1]
    return model.anomaly_score(*args).float()


def score_part(model: torch.nn.Module, family: str, shards: GraphShards, part: str,
               batch_size: int = 512, device: str | torch.device = "cpu") -> pd.DataFrame:
    """Scores of every window of one part, in shard order."""
    recordings = [r["recording"] for r in shards.manifest["recordings"]]
    attack_types = shards.manifest["attack_types"]
    frames = []
    for s in range(len(shards.manifest["shards"])):
        shard = shards.shard(s)
        n = len(shard["y"])
        scores = []
        for lo in range(0, n, batch_size):
            batch = batch_from_shard(shard, torch.arange(lo, min(n, lo + batch_size))).to(device)
            scores.append(score_batch(model, family, batch).cpu().numpy())
        frames.append(pd.DataFrame({
            "part": part,
            "recording": np.asarray(recordings, dtype=object)[shard["recording"].numpy()],
            "window": shard["window"].numpy(),
            "t_start": shard["t_start"].numpy(), "t_end": shard["t_end"].numpy(),
            "y": shard["y"].numpy().astype(np.int8),
            "attack_type": np.asarray(attack_types, dtype=object)[shard["attack_type"].numpy()],
            "attack_frac": shard["attack_frac"].numpy(),
            "score": np.concatenate(scores).astype(np.float64) if scores else np.zeros(0),
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def score_model(ckpt: str | Path, parts: dict[str, str | Path], out: str | Path, device: str = "cpu") -> pd.DataFrame:
    """Score the validation part and every test scenario; ``parts`` maps part name -> shard folder."""
    model, meta = load_model(ckpt, map_location=device)
    model.to(device)
    family = meta["task"]["family"]
    table = pd.concat([score_part(model, family, GraphShards(folder), part, device=device)
                       for part, folder in parts.items()], ignore_index=True)
    table.to_parquet(out, index=False)
    return table
