"""All figures of one dataset, as the workflow draws them (see :mod:`canguard.evaluation.figures`).

Seed 0 of every detector; per protocol (``enrolled``, ``zero_shot``)::

    results/figures/<dataset>/training_curves_<family>.{png,svg}
    results/figures/<dataset>/f1_vs_latency.{png,svg}                          (enrolled)
    results/figures/<dataset>/<protocol>/per_attack_f1.{png,svg}
    results/figures/<dataset>/<protocol>/<scenario>/confusion.{png,svg}
    results/figures/<dataset>/<protocol>/<scenario>/roc_pr.{png,svg}
    results/figures/<dataset>/<protocol>/<scenario>/scores_<model>.{png,svg}    (teachers and fusion)
    results/figures/<dataset>/<protocol>/<scenario>/timeline_<model>.{png,svg}  (first recording with attacks)

Alarms, thresholds and margins are read from each detector's alarms table, never re-derived.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from canguard.evaluation import figures

HISTOGRAM_MODELS = ("gat_teacher", "vgae_teacher", "fusion_teacher")
PROTOCOLS = ("enrolled", "zero_shot")


def draw_all(out_dir: str | Path, metrics_files: dict[str, dict[str, str]], alarm_files: dict[str, str],
             efficiency_files: dict[str, str], training_logs: dict[str, str], episodes: str) -> list[Path]:
    """``metrics_files``: protocol -> model -> metrics file; ``alarm_files``: model -> alarms table."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = {p: {m: json.loads(Path(f).read_text()) for m, f in files.items()} for p, files in metrics_files.items()}
    efficiency = {m: json.loads(Path(p).read_text()) for m, p in efficiency_files.items()}
    alarms = {m: pd.read_parquet(p) for m, p in alarm_files.items()}
    eps = pd.read_parquet(episodes)
    dataset = next(iter(metrics["enrolled"].values()))["dataset"]
    written: list[Path] = []
    for family in sorted({m.split("_")[0] for m in training_logs}):
        runs = {m: p for m, p in training_logs.items() if m.startswith(family)}
        written += figures.training_curves(runs, out / f"training_curves_{family}", dataset=dataset)
    written += figures.f1_vs_latency({m: v for m, v in metrics["enrolled"].items() if m in efficiency}, efficiency,
                                     None, out / "f1_vs_latency")
    for protocol in PROTOCOLS:
        base = out / protocol
        base.mkdir(exist_ok=True)
        by_model = metrics[protocol]
        written += figures.per_attack_f1(by_model, base / "per_attack_f1")
        protocol_alarms = {m: a[a["protocol"] == protocol] for m, a in alarms.items()}
        for scenario in sorted(next(iter(by_model.values()))["scenarios"]):
            folder = base / scenario
            folder.mkdir(exist_ok=True)
            written += figures.confusion_matrices(by_model, scenario, folder / "confusion")
            written += figures.roc_pr_curves(protocol_alarms, scenario, folder / "roc_pr", dataset=dataset)
            for model in HISTOGRAM_MODELS:
                if model not in protocol_alarms:
                    continue
                table = protocol_alarms[model]
                written += figures.score_histograms(table, scenario, folder / f"scores_{model}", model,
                                                    dataset=dataset)
                rows = table[(table["part"] == scenario) & (table["y"] == 1)]
                if len(rows):
                    written += figures.score_timeline(table, rows["recording"].iloc[0], eps,
                                                      folder / f"timeline_{model}", model, dataset=dataset)
    return written
