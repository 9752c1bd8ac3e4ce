"""Training under a concurrent job: 1 against 2 torch threads, with the machine idle and with one busy core.

    make bench                                  # all benchmarks -> benchmarks/results.json
    python benchmarks/threads_under_load.py     # this one alone, printed

A training job given 2 threads on a 2-core machine shares it with whatever else runs (another
job, a user's process). Each case trains the GAT teacher of training_throughput (batch 64, 30
steps after a warm-up, synthetic shards) in a fresh process, so that the thread pool and
OpenMP's settings are those of its start: 1 thread, 2 threads, and 2 threads with
``OMP_WAIT_POLICY=PASSIVE`` (waiting threads sleep instead of spinning); each idle and beside a
process that keeps one core busy. Graphs per second, in one run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = {"1 thread": (1, {}), "2 threads": (2, {}), "2 threads, OMP_WAIT_POLICY=PASSIVE": (2, {"OMP_WAIT_POLICY":
                                                                                                "PASSIVE"})}


def worker(threads: int, shards: str) -> None:
    import torch

    sys.path.insert(0, str(HERE))
    from training_throughput import time_training

    from canguard.graphs.dataset import GraphShards
    from canguard.training.config import TrainConfig
    from canguard.training.run import build_task

    torch.set_num_threads(threads)
    train = GraphShards(Path(shards) / "train")
    task = build_task("gat", "teacher", TrainConfig(unknown_id_rate=0.05), train)
    print(json.dumps({"graphs_per_second": time_training(task, train, torch.device("cpu"), "32-true")}))


def measure(threads: int, env: dict, shards: Path) -> float:
    out = subprocess.run([sys.executable, __file__, "--worker", str(threads), str(shards)], capture_output=True,
                         text=True, check=True, env=os.environ | env | {"OMP_NUM_THREADS": str(threads)})
    return json.loads(out.stdout.strip().splitlines()[-1])["graphs_per_second"]


def run() -> dict:
    sys.path.insert(0, str(HERE))
    from ingest_throughput import machine
    from training_throughput import make_shards

    if hasattr(os, "sched_setaffinity"):  # every core (the benchmarks before this one pin the process to one)
        os.sched_setaffinity(0, range(os.cpu_count()))
    results = {"machine": machine(), "model": "gat_teacher", "batch_size": 64, "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        shards = make_shards(Path(tmp))
        for load in ("idle", "one core busy"):
            hog = None
            if load != "idle":
                hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                for name, (threads, env) in CASES.items():
                    results["cases"][f"{name}, {load}"] = round(measure(threads, env, shards))
            finally:
                if hog is not None:
                    hog.kill()
                    hog.wait()
    c = results["cases"]
    results["busy_over_idle"] = {name: round(c[f"{name}, one core busy"] / c[f"{name}, idle"], 2) for name in CASES}
    return results


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), sys.argv[3])
    else:
        print(json.dumps(run(), indent=2))
