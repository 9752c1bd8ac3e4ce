"""A small real detector folder without the workflow: an untrained GAT student exported to ONNX, its preprocessing
and profiles fitted on four seconds of the synthetic vehicle alpha, thresholds from its benign windows, written by
canguard.deploy.bundle.write_detector (the folder writer of ``canguard export``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from canguard.deploy.bundle import write_detector
from canguard.deploy.onnx_model import OnnxScorer, batch_inputs, export_onnx
from canguard.evaluation.thresholds import false_alarm_threshold, seconds_per_window
from canguard.graphs.builder import build_window_graphs, select_graphs
from canguard.graphs.preprocessing import fit_preprocessing
from canguard.models.factory import build_model
from canguard.profiles.profile import fit_profile
from canguard.simulate import SyntheticSpec, generate_recording, plan_recordings

SIZE = STRIDE = 100


def synthetic_logs() -> dict:
    """name -> Frames: 4 s of alpha's attack-free traffic and its DoS."""
    spec = SyntheticSpec.from_config({"duration_s": 4, "seed": 3})
    plans = {p.name: p for p in plan_recordings(spec)}
    return {name: generate_recording(plans[name], spec) for name in ("attack-free-alpha", "DoS-alpha")}


def build_detector(out: Path, sign_key: Path | None = None) -> Path:
    logs = synthetic_logs()
    free = logs["attack-free-alpha"]
    profile = fit_profile([free], SIZE, "alpha", {"recordings": ["attack-free-alpha"]})
    graphs = build_window_graphs(free, SIZE, STRIDE, [profile])
    prep = fit_preprocessing([("attack-free-alpha", graphs, np.full(graphs.num_graphs, "train"))])
    torch.manual_seed(0)
    model = build_model("gat", "student", prep.num_ids).eval()
    example = batch_inputs(select_graphs(graphs, np.arange(graphs.num_graphs) < 4), prep)
    model_bytes = export_onnx(model, "gat", example)
    scores = OnnxScorer(model_bytes)(batch_inputs(graphs, prep))
    spw = seconds_per_window(graphs.t_start, graphs.t_end, SIZE, STRIDE)
    fit_on = "benign windows of attack-free-alpha (a test fixture)"
    threshold = false_alarm_threshold(scores, spw, 10.0) | {"fit_on": fit_on}
    no_profile = build_window_graphs(free, SIZE, STRIDE, None)
    bare = false_alarm_threshold(OnnxScorer(model_bytes)(batch_inputs(no_profile, prep)), spw, 10.0) | {
        "fit_on": fit_on + ", without profile"}
    info = {"name": "gat_student", "family": "gat", "role": "student", "sizes": {}, "num_ids": prep.num_ids,
            "parameters": sum(p.numel() for p in model.parameters()), "dataset": "synthetic", "distilled_from": None}
    vehicles = [(protocol, "alpha", profile, threshold, {"fixture": "tests/detector_folder.py"})
                for protocol in ("zero_shot", "enrolled")]
    write_detector(out, model_bytes, info, (SIZE, STRIDE), prep, {"no_profile": bare, "validation": threshold}, 10.0,
                   vehicles, sign_key=sign_key)
    return out
