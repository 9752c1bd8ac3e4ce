"""All figures of one dataset, as the workflow draws them (see :mod:`canguard.evaluation.figures`).

    results/figures/<dataset>/training_curves_<family>.{png,svg}
    results/figures/<dataset>/per_attack_f1.{png,svg}
    results/figures/<dataset>/f1_vs_latency.{png,svg}
    results/figures/<dataset>/<scenario>/confusion.{png,svg}
    results/figures/<dataset>/<scenario>/roc_pr.{png,svg}
    results/figures/<dataset>/<scenario>/scores_<model>.{png,svg}      (teachers and fusion)
    results/figures/<dataset>/<scenario>/timeline_<model>.{png,svg}    (first recording with attacks)
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from canguard.evaluation import figures

HISTOGRAM_MODELS = ("gat_teacher", "vgae_teacher", "fusion_teacher")


def draw_all(out_dir: str | Path, metrics_files: dict[str, str], score_files: dict[str, str],
             efficiency_files: dict[str, str], training_logs: dict[str, str], episodes: str) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = {m: json.loads(Path(p).read_text()) for m, p in metrics_files.items()}
    efficiency = {m: json.loads(Path(p).read_text()) for m, p in efficiency_files.items()}
    scores = {m: pd.read_parquet(p) for m, p in score_files.items()}
    eps = pd.read_parquet(episodes)
    dataset = next(iter(metrics.values()))["dataset"]
    written: list[Path] = []
    for family in sorted({m.split("_")[0] for m in training_logs}):
        runs = {m: p for m, p in training_logs.items() if m.startswith(family)}
        written += figures.training_curves(runs, out / f"training_curves_{family}", dataset=dataset)
    written += figures.per_attack_f1(metrics, out / "per_attack_f1")
    written += figures.f1_vs_latency({m: v for m, v in metrics.items() if m in efficiency}, efficiency, None,
                                     out / "f1_vs_latency")
    scenarios = sorted(next(iter(metrics.values()))["scenarios"])
    for scenario in scenarios:
        folder = out / scenario
        folder.mkdir(exist_ok=True)
        written += figures.confusion_matrices(metrics, scenario, folder / "confusion")
        written += figures.roc_pr_curves(scores, scenario, folder / "roc_pr", dataset=dataset)
        for model in HISTOGRAM_MODELS:
            if model not in scores:
                continue
            threshold = metrics[model]["threshold"]["value"]
            written += figures.score_histograms(scores[model], scenario, threshold, folder / f"scores_{model}", model,
                                                dataset=dataset)
            rows = scores[model][(scores[model]["part"] == scenario) & (scores[model]["y"] == 1)]
            if len(rows):
                recording = rows["recording"].iloc[0]
                written += figures.score_timeline(scores[model], recording, threshold, eps,
                                                  folder / f"timeline_{model}", model, dataset=dataset)
    return written
