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

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

from canguard.detectors import FUSION, Detector
from canguard.evaluation import figures

SCORE_MODELS = tuple(Detector(f, "teacher").name for f in ("gat", "vgae", FUSION))
PROTOCOLS = ("enrolled", "zero_shot")


def draw_all(out_dir: str | Path, metrics: dict[str, dict[str, dict]], alarms: dict[str, pd.DataFrame],
             efficiency: dict[str, dict], training_logs: dict[str, str], episodes: pd.DataFrame,
             formats=figures.FORMATS, score_models=SCORE_MODELS, workers: int = 1) -> list[Path]:
    """``metrics``: protocol -> detector name -> its metrics; ``alarms``: detector name -> its alarms table;
    ``training_logs``: trained model -> its metrics.csv; each figure written in ``formats``; score
    histograms and timelines for the detectors of ``score_models``.  ``workers`` > 1 draws the figures
    in that many processes (matplotlib's layout and rendering hold one core each); the files are the
    same either way."""
    tasks = _figure_tasks(Path(out_dir), metrics, alarms, efficiency, training_logs, episodes, score_models)
    if workers <= 1 or len(tasks) < 2:
        return [path for task in tasks for path in _draw(formats, *task)]
    # fork: the workers start with matplotlib and pandas already imported (each task's tables travel
    # pickled); the figures stage imports no torch and starts no thread before this
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=get_context("fork")) as pool:
        done = pool.map(_draw, [formats] * len(tasks), *zip(*tasks))
        return [path for paths in done for path in paths]


def _draw(formats, name: str, args: tuple, kwargs: dict) -> list[Path]:
    with figures.output_formats(formats):
        return getattr(figures, name)(*args, **kwargs)


def _figure_tasks(out, metrics, alarms, efficiency, training_logs, episodes, score_models) -> list[tuple]:
    """Every figure to draw, as ``(function of canguard.evaluation.figures, args, kwargs)``, in file order."""
    out.mkdir(parents=True, exist_ok=True)
    dataset = next(iter(metrics["enrolled"].values()))["dataset"]
    tasks = []
    for family in sorted({Detector.parse(m).family for m in training_logs}):
        runs = {m: p for m, p in training_logs.items() if Detector.parse(m).family == family}
        tasks.append(("training_curves", (runs, out / f"training_curves_{family}"), {"dataset": dataset}))
    tasks.append(("f1_vs_latency", ({m: v for m, v in metrics["enrolled"].items() if m in efficiency}, efficiency,
                                    None, out / "f1_vs_latency"), {}))
    for protocol in PROTOCOLS:
        base = out / protocol
        base.mkdir(exist_ok=True)
        by_model = metrics[protocol]
        tasks.append(("per_attack_f1", (by_model, base / "per_attack_f1"), {}))
        protocol_alarms = {m: a[a["protocol"] == protocol] for m, a in alarms.items()}
        for scenario in sorted(next(iter(by_model.values()))["scenarios"]):
            folder = base / scenario
            folder.mkdir(exist_ok=True)
            tasks.append(("confusion_matrices", (by_model, scenario, folder / "confusion"), {}))
            tasks.append(("roc_pr_curves", (protocol_alarms, scenario, folder / "roc_pr"), {"dataset": dataset}))
            for model in score_models:
                if model not in protocol_alarms:
                    continue
                table = protocol_alarms[model]
                tasks.append(("score_histograms", (table, scenario, folder / f"scores_{model}", model),
                              {"dataset": dataset}))
                rows = table[(table["part"] == scenario) & (table["y"] == 1)]
                if len(rows):
                    tasks.append(("score_timeline", (table, rows["recording"].iloc[0], episodes,
                                                     folder / f"timeline_{model}", model), {"dataset": dataset}))
    return tasks
