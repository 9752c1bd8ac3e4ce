"""canguard detect on one core: sustained messages per second over a replayed recording, and alarm latency.

    make bench                                  # all benchmarks -> benchmarks/results.json
    python benchmarks/detect_throughput.py      # this one alone, printed

Input: a real hcrl_sa attack recording (test_01 fuzzing-kia, 249,990 messages) when
../shared/datasets/hcrl_sa is present, the synthetic vehicle otherwise.  The detector: the
GAT and the VGAE student at their default sizes (the architecture the workflow deploys;
weights seeded, not trained: the cost does not depend on them), the Kia profile from its
attack-free training recording, the preprocessing fitted on the training recordings, W = S = 100.

Side by side in one run, one pinned core, one onnxruntime / torch thread:

* throughput: the streaming detector (canguard.deploy.detector, as ``canguard detect FILE`` runs
  it once the log is read) over the recording's messages in chunks of 25,600, windows scored 64
  at a time, with the exported ONNX model and with the PyTorch model; reading the log is timed
  apart;  compared with a saturated CAN bus: ~8,000 frames/s at 1 Mbit/s (DLC 8), ~4,000 at 500 kbit/s;
* latency: messages handed over one window (100 messages) at a time, as a live bus delivers them:
  from the hand-over of a window's last message to its line being ready (graph, features, score,
  threshold), p50 and p99 over 2,000 windows;
* the model alone at batch 1 (one window): ONNX Runtime against PyTorch, median over the windows.
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import numpy as np
import torch
from ingest_throughput import HCRL_SA, machine, pin_one_core

from canguard.deploy.bundle import Judging
from canguard.deploy.detector import Chunk, StreamingDetector
from canguard.deploy.onnx_model import OnnxScorer, TorchScorer, batch_inputs, export_onnx
from canguard.graphs.builder import build_window_graphs, select_graphs
from canguard.graphs.preprocessing import fit_preprocessing
from canguard.ingest.detect import read_any
from canguard.models.factory import build_model, count_parameters
from canguard.profiles import fit_profile

SIZE = STRIDE = 100
BUS_1M, BUS_500K = 8000, 4000
LATENCY_WINDOWS = 2000


def inputs():
    if HCRL_SA.is_dir():
        path = HCRL_SA / "test_01_known_vehicle_known_attack/fuzzing-kia.csv"
        t = time.perf_counter()
        frames = read_any(path).frames
        read_s = time.perf_counter() - t
        free = read_any(HCRL_SA / "train_01_attack_free/attack-free-kia.csv").frames
        training = [read_any(HCRL_SA / f).frames for f in ("train_02_with_attacks/DoS-kia.csv",
                                                           "train_02_with_attacks/attack-free-kia.csv")]
        return frames, free, training, read_s, f"hcrl_sa {path.relative_to(HCRL_SA)}"
    from canguard.simulate import SyntheticSpec, generate_recording, plan_recordings
    spec = SyntheticSpec.from_config({})
    plans = {p.name: p for p in plan_recordings(spec)}
    free = generate_recording(plans["attack-free-alpha"], spec)
    return generate_recording(plans["DoS-alpha"], spec), free, [free], None, "synthetic vehicle DoS-alpha"


def chunks(frames, n: int):
    return [Chunk(frames.take(np.arange(lo, min(len(frames), lo + n)))) for lo in range(0, len(frames), n)]


def throughput(bundle, judging, scorer, frames) -> dict:
    parts = chunks(frames, 25_600)
    detector = StreamingDetector(bundle, judging, scorer, all_windows=False, batch_windows=64)
    t = time.perf_counter()
    for c in parts:
        detector.push(c)
    seconds = time.perf_counter() - t
    rate = len(frames) / seconds
    return {"messages": len(frames), "seconds": round(seconds, 3), "messages_per_second": round(rate),
            "windows": detector.windows, "alarms": detector.alarms, "saturated_1mbit_buses": round(rate / BUS_1M, 1)}


def latency(bundle, judging, scorer, frames) -> dict:
    n = min(len(frames), LATENCY_WINDOWS * SIZE)
    detector = StreamingDetector(bundle, judging, scorer, all_windows=True, batch_windows=1)
    waits = []
    for c in chunks(frames.take(np.arange(n)), SIZE):
        c.received = time.perf_counter()
        lines = detector.push(c)
        waits.append((time.perf_counter() - c.received) * 1000.0)
        assert len(lines) == 1
    w = np.asarray(waits)
    return {"windows": len(w), "p50_ms": round(float(np.percentile(w, 50)), 3),
            "p99_ms": round(float(np.percentile(w, 99)), 3), "max_ms": round(float(w.max()), 3)}


def batch1(scorer, graphs, prep) -> float:
    singles = [batch_inputs(select_graphs(graphs, np.arange(graphs.num_graphs) == k), prep) for k in range(300)]
    for s in singles[:20]:
        scorer(s)
    times = []
    for s in singles:
        t = time.perf_counter()
        scorer(s)
        times.append(time.perf_counter() - t)
    return round(float(np.median(times)) * 1000.0, 4)


def run() -> dict:
    pin_one_core()
    torch.set_num_threads(1)
    frames, free, training, read_s, origin = inputs()
    profile = fit_profile([free], SIZE, "kia")
    fit = [(str(i), g, np.full(g.num_graphs, "train"))
           for i, g in enumerate(build_window_graphs(f, SIZE, STRIDE, [profile]) for f in training)]
    prep = fit_preprocessing(fit)
    graphs = build_window_graphs(frames, SIZE, STRIDE, [profile])
    judging = Judging("kia", "enrolled", profile, threshold=3.0, fit_on="(benchmark: a fixed threshold)")
    out = {"machine": machine() + ", pinned to one core, 1 thread", "input": origin,
           "window": {"size": SIZE, "stride": STRIDE}, "bus_limits_frames_per_second": {"1 Mbit/s": BUS_1M,
                                                                                         "500 kbit/s": BUS_500K}}
    if read_s is not None:
        out["read_log"] = {"seconds": round(read_s, 3), "messages_per_second": round(len(frames) / read_s)}
    for family in ("gat", "vgae"):
        torch.manual_seed(0)
        model = build_model(family, "student", prep.num_ids).eval()
        example = batch_inputs(select_graphs(graphs, np.arange(graphs.num_graphs) < 4), prep)
        bundle = SimpleNamespace(size=SIZE, stride=STRIDE, prep=prep, name=f"{family}_student", id="benchmark")
        scorers = {"onnx": OnnxScorer(export_onnx(model, family, example), threads=1),
                   "torch": TorchScorer(model, family)}
        res = {"parameters": count_parameters(model)}
        for name, scorer in scorers.items():
            res[name] = {"throughput": throughput(bundle, judging, scorer, frames),
                         "latency": latency(bundle, judging, scorer, frames),
                         "model_batch1_ms": batch1(scorer, graphs, prep)}
        res["onnx_over_torch_throughput"] = round(res["onnx"]["throughput"]["messages_per_second"]
                                                  / res["torch"]["throughput"]["messages_per_second"], 2)
        res["onnx_over_torch_batch1_speed"] = round(res["torch"]["model_batch1_ms"] / res["onnx"]["model_batch1_ms"], 2)
        out[f"{family}_student"] = res
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
