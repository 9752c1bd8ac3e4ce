"""Training throughput where it matters: at batch 64 and at the batch the finder picks, through the engine's
own data loader, with the share of step time spent waiting for data; bf16-mixed beside 32-true on a GPU.

    make bench                                   # all benchmarks -> benchmarks/results.json
    python benchmarks/training_at_scale.py       # this one alone; on a GPU if there is one

What is timed is what ``canguard.training.engine`` runs: batches gathered from the memory-mapped shards by
:class:`canguard.graphs.dataset.ShardBatches` in a ``DataLoader`` with the engine's
:func:`~canguard.training.engine.loader_settings` (on CPU no workers; on a GPU worker processes and pinned
memory), moved to the device, then forward, loss, backward and an AdamW step.  Per step, "data" is the wait
for the next batch plus its copy to the device; "compute" is the rest, synchronised with the device.  The
finder is :func:`canguard.training.tune.tune_batch_size` (on CPU its memory estimate against the available
memory, on a GPU the doubling search to out-of-memory), capped here at ``MAX_BATCH`` and at a quarter of the
training windows, so that an epoch has several steps.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from training_throughput import make_shards

from canguard.graphs.dataset import GraphShards, ShardBatches
from canguard.training.config import TrainConfig
from canguard.training.engine import loader_settings
from canguard.training.run import build_task
from canguard.training.tune import tune_batch_size

MAX_BATCH = 65536
STEPS = {64: 40}          # steps timed at batch 64; other batches: STEPS_LARGE
STEPS_LARGE = 8
WARMUP = 3
RECORDINGS = ("attack-free-alpha", "DoS-alpha", "fuzzing-alpha", "attack-free-bravo", "DoS-bravo")  # both vehicles


def time_steps(task, shards: GraphShards, device: torch.device, precision: str, batch_size: int,
               steps: int) -> dict:
    """Graphs/s and the data share of ``steps`` training steps (after ``WARMUP``) through the engine's loader."""
    task.to(device)
    task.train()
    optimizer = torch.optim.AdamW([p for p in task.trainable.parameters() if p.requires_grad], lr=1e-3)
    settings = loader_settings(device.type)
    dataset = ShardBatches(shards, batch_size, shuffle=True, seed=0, label=task.train_label, drop_last=True)
    loader = DataLoader(dataset, batch_size=None, **settings)
    dtype = torch.bfloat16 if precision.startswith("bf16") else None
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    data_s = compute_s = 0.0
    graphs = done = 0
    epoch = 0
    while done < WARMUP + steps:
        dataset.set_epoch(epoch)
        epoch += 1
        it = iter(loader)
        while done < WARMUP + steps:
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                break
            batch = batch.to(device, non_blocking=settings["pin_memory"])
            sync()
            t1 = time.perf_counter()
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss, _ = task.training_loss(batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            sync()
            t2 = time.perf_counter()
            if done >= WARMUP:
                data_s, compute_s, graphs = data_s + t1 - t0, compute_s + t2 - t1, graphs + batch.num_graphs
            done += 1
        del it
    total = data_s + compute_s
    return {"batch_size": batch_size, "steps": steps, "graphs_per_second": round(graphs / total),
            "step_ms": round(1e3 * total / steps, 2), "data_share": round(data_s / total, 4),
            "compute_share": round(compute_s / total, 4), "workers": settings["num_workers"],
            "pin_memory": settings["pin_memory"]}


def run(duration_s: float = 60.0) -> dict:
    from ingest_throughput import machine
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(1)
    precisions = ["32-true", "bf16-mixed"] if device.type == "cuda" and torch.cuda.is_bf16_supported() \
        else ["32-true"]
    results = {"machine": machine(), "device": torch.cuda.get_device_name() if device.type == "cuda"
               else "cpu, 1 thread", "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = make_shards(Path(tmp), duration_s, RECORDINGS, parts=("train",), attack="mixed")
        train = GraphShards(root / "train")
        for family in ("gat", "vgae"):
            cfg = TrainConfig(unknown_id_rate=0.05, accelerator="cuda" if device.type == "cuda" else "cpu")
            graphs = build_task(family, "teacher", cfg, train).num_training_graphs(train)  # VGAE: benign only
            found = tune_batch_size(root, family, "teacher", cfg, Path(tmp) / f"{family}_bs.json",
                                    max_batch_size=min(MAX_BATCH, graphs // 4))
            entry = {"train_graphs": graphs, "runs": [],
                     "finder": {k: found[k] for k in ("batch_size", "method") if k in found}}
            for precision in precisions:
                for bs in dict.fromkeys((64, int(found["batch_size"]))):
                    task = build_task(family, "teacher", cfg, train)
                    entry["runs"].append({"precision": precision} | time_steps(
                        task, train, device, precision, bs, STEPS.get(bs, STEPS_LARGE)))
            results["models"][f"{family}_teacher"] = entry
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
