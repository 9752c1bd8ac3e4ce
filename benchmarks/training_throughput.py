"""Training throughput (graphs/s) of every model, and parameter counts of teachers and students.

    make bench                                   # all benchmarks -> benchmarks/results.json
    python benchmarks/training_throughput.py     # this one alone; on a GPU if there is one

Shards are built in a temporary folder from the synthetic vehicle (benign and
DoS recordings of one vehicle, windows of 100).  Each model trains for a fixed
number of optimiser steps after a warm-up, at batch 64, through the same
engine task code the workflow uses (forward, loss, backward, AdamW step);
teachers and students are timed in the same run, so their ratio is robust to a
noisy machine.  On CPU one core is used (torch threads = 1).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from canguard.graphs.builder import build_window_graphs, select_graphs
from canguard.graphs.dataset import GraphShards
from canguard.graphs.preprocessing import fit_preprocessing
from canguard.graphs.shards import ShardWriter
from canguard.models.factory import count_parameters
from canguard.profiles import fit_profile
from canguard.simulate import SyntheticSpec, generate_recording, plan_recordings
from canguard.training.config import TrainConfig
from canguard.training.engine import resolve_precision
from canguard.training.run import build_task

BATCH = 64
STEPS = 30
WARMUP = 5


def make_shards(root: Path, duration_s: float = 30, names=("attack-free-alpha", "DoS-alpha"), parts=("train", "val"),
                attack: str = "dos") -> Path:
    """Shards of synthetic recordings ``names`` (windows of 100, each compared with its vehicle's profile, fitted
    on that vehicle's attack-free recording), every window in each of ``parts``."""
    spec = SyntheticSpec.from_config({"duration_s": duration_s})
    plans = {p.name: p for p in plan_recordings(spec)}
    frames = {name: generate_recording(plans[name], spec) for name in names}
    vehicle = {name: name.rsplit("-", 1)[1] for name in names}
    profiles = {v: fit_profile([frames[f"attack-free-{v}"]], 100, v) for v in set(vehicle.values())}
    recs = [(name, build_window_graphs(f, 100, 100, [profiles[vehicle[name]]])) for name, f in frames.items()]
    prep = fit_preprocessing([(name, g, np.full(g.num_graphs, "train")) for name, g in recs])
    for part in parts:
        writer = ShardWriter(root / part, prep, 4096)
        for name, g in recs:
            writer.add(name, name, select_graphs(g, np.ones(g.num_graphs, bool)), np.arange(g.num_graphs), attack)
        writer.close(dataset="bench", part=part, window_size=100, window_stride=100)
    return root


def time_training(task, shards: GraphShards, device: torch.device, precision: str) -> float:
    task.to(device)
    task.train()
    params = [p for p in task.trainable.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-3)
    batches = [b.to(device) for b in shards.batches(BATCH, shuffle=True, generator=torch.Generator().manual_seed(0),
                                                    drop_last=True, label=task.train_label)]
    dtype = torch.bfloat16 if precision.startswith("bf16") else None
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    graphs = 0
    for step in range(WARMUP + STEPS):
        if step == WARMUP:
            sync()
            start = time.perf_counter()
            graphs = 0
        batch = batches[step % len(batches)]
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss, _ = task.training_loss(batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        graphs += batch.num_graphs
    sync()
    return graphs / (time.perf_counter() - start)


def run() -> dict:
    from ingest_throughput import machine
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(1)
    precision = resolve_precision("auto")
    device_name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu, 1 thread"
    results = {"machine": machine(), "device": device_name,
               "precision": precision, "batch_size": BATCH, "steps": STEPS, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = make_shards(Path(tmp))
        train = GraphShards(root / "train")
        cfg = TrainConfig(unknown_id_rate=0.05)
        for family in ("gat", "vgae"):
            teacher = build_task(family, "teacher", cfg, train)
            torch.save({"model": teacher.model.state_dict()}, Path(tmp) / "t.ckpt")
            for role in ("teacher", "student"):
                task = teacher if role == "teacher" else build_task(family, "student", cfg, train)
                results["models"][f"{family}_{role}"] = {
                    "parameters": count_parameters(task.model),
                    "train_graphs_per_second": round(time_training(task, train, device, precision)),
                }
            t, s = results["models"][f"{family}_teacher"], results["models"][f"{family}_student"]
            student = results["models"][f"{family}_student"]
            student["parameters_vs_teacher"] = round(s["parameters"] / t["parameters"], 3)
            results["models"][f"{family}_student"]["speedup_vs_teacher"] = round(
                s["train_graphs_per_second"] / t["train_graphs_per_second"], 2)
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
