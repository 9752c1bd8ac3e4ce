"""All figures of one dataset, as the workflow draws them (see :mod:`canguard.evaluation.figures`).

Seed 0 of every detector; per protocol (``enrolled``, ``zero_shot``)::

    results/<run>/figures/<dataset>/training_curves_<family>.{png,svg}
    results/<run>/figures/<dataset>/f1_vs_latency.{png,svg}                          (enrolled)
    results/<run>/figures/<dataset>/<protocol>/per_attack_f1.{png,svg}
    results/<run>/figures/<dataset>/<protocol>/<scenario>/confusion.{png,svg}
    results/<run>/figures/<dataset>/<protocol>/<scenario>/roc_pr.{png,svg}
    results/<run>/figures/<dataset>/<protocol>/<scenario>/scores_<model>.{png,svg}    (figures.score_models)
    results/<run>/figures/<dataset>/<protocol>/<scenario>/timeline_<model>.{png,svg}  (first recording with attacks)

Alarms, thresholds and margins are read from each detector's alarms table, never re-derived.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from canguard.detectors import FUSION, Detector
from canguard.evaluation import figures

SCORE_MODELS = tuple(Detector(f, "teacher").name for f in ("gat", "vgae", FUSION))
PROTOCOLS = ("enrolled", "zero_shot")


def draw_all(out_dir: str | Path, metrics: dict[str, dict[str, dict]], alarms: dict[str, pd.DataFrame],
             efficiency: dict[str, dict], training_logs: dict[str, str], episodes: pd.DataFrame,
             formats=figures.FORMATS, score_models=SCORE_MODELS) -> list[Path]:
    """``metrics``: protocol -> detector name -> its metrics; ``alarms``: detector name -> its alarms table;
    ``training_logs``: trained model -> its metrics.csv; each figure written in ``formats``; score
    histograms and timelines for the detectors of ``score_models``."""
    with figures.output_formats(formats):
        return _draw_all(out_dir, metrics, alarms, efficiency, training_logs, episodes, score_models)


def _draw_all(out_dir, metrics, alarms, efficiency, training_logs, episodes, score_models) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    eps = episodes
    dataset = next(iter(metrics["enrolled"].values()))["dataset"]
    written: list[Path] = []
    for family in sorted({Detector.parse(m).family for m in training_logs}):
        runs = {m: p for m, p in training_logs.items() if Detector.parse(m).family == family}
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
            for model in score_models:
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
