"""The GPU path end to end: bf16 training, batch-size finder on real GPU memory, profiler with CUDA.

    python benchmarks/gpu_check.py --out gpu_check.json     # on a machine with a CUDA GPU

Builds small synthetic shards (as benchmarks/training_throughput.py), then for
the GAT and VGAE teachers: trains 3 epochs with precision "auto" through the
workflow's engine, searches the largest batch size by out-of-memory search,
and profiles a few steps (per-phase time and memory, traces, CUDA memory
snapshot).  Prints and writes one JSON summary.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch
from training_throughput import make_shards

from canguard.training.config import TrainConfig
from canguard.training.run import train_model
from canguard.training.tune import tune_batch_size


def run(out_dir: Path) -> dict:
    assert torch.cuda.is_available(), "this check needs a CUDA GPU"
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        shards = make_shards(Path(tmp) / "shards")
        for family in ("gat", "vgae"):
            cfg = TrainConfig(max_epochs=3, batch_size=128, profile=True, profile_steps=6)
            run_dir = Path(tmp) / family
            summary = train_model(shards, family, "teacher", cfg, run_dir)
            phases = json.loads((run_dir / "profile/phases.json").read_text())
            found = tune_batch_size(shards, family, "teacher", TrainConfig(), Path(tmp) / f"{family}_bs.json",
                                    max_batch_size=1 << 16, target_memory_usage=0.8)
            report["models"][family] = {
                "train": {k: summary[k] for k in ("precision", "device", "best", "monitor", "epochs_run",
                                                  "seconds_this_run")},
                "profile_phases": phases.get("phases"),
                "profile_files": sorted(p.name for p in (run_dir / "profile").rglob("*") if p.is_file()),
                "batch_size_finder": {k: found[k] for k in ("batch_size", "method", "budget_bytes")}
                | {"probes": len(found["probes"])},
            }
    (out_dir / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str))
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".")
    args = parser.parse_args()
    print(json.dumps(run(Path(args.out)), indent=2, default=str))
