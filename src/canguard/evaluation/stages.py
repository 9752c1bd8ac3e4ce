"""The evaluation stages as the workflow runs them, one function per rule (files in, files out)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from canguard.evaluation.calibration import calibrate
from canguard.evaluation.detection import attack_episodes
from canguard.evaluation.evaluate import evaluate
from canguard.evaluation.fusion import fuse
from canguard.evaluation.scoring import score_model
from canguard.evaluation.summary import markdown, summary_rows
from canguard.evaluation.thresholds import fit_threshold

log = logging.getLogger(__name__)


def model_kind(model: str) -> str:
    """'anomaly' for the VGAE (threshold from benign scores), 'classifier' otherwise."""
    return "anomaly" if model.startswith("vgae") else "classifier"


def run_scoring(ckpt, parts: dict[str, str], out) -> None:
    table = score_model(ckpt, parts, out)
    log.info("scored %d windows of %d parts", len(table), len(parts))


def run_fusion(gat_scores, vgae_scores, out_scores, out_stacker) -> None:
    fused, stacker = fuse(pd.read_parquet(gat_scores), pd.read_parquet(vgae_scores))
    fused.to_parquet(out_scores, index=False)
    Path(out_stacker).write_text(json.dumps(stacker, indent=2) + "\n")
    log.info("stacker fitted on validation: %s", stacker)


def run_episodes(recordings: dict[str, str], attacks: dict[str, str], out, max_gap_s: float) -> None:
    frames = [attack_episodes(path, key, attacks[key], max_gap_s) for key, path in sorted(recordings.items())]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    table.to_parquet(out, index=False)
    log.info("%d attack episodes in %d recordings", len(table), len(recordings))


def _evaluate_protocol(table: pd.DataFrame, episodes: pd.DataFrame, kind: str, quantile: float) -> tuple[dict, dict]:
    val = table[(table["part"] == "val") & (table["y"] >= 0)]
    threshold = fit_threshold(kind, val["y"].to_numpy(), val["score"].to_numpy(), quantile)
    return threshold, evaluate(table, threshold["value"], episodes)


def run_evaluation(scores, episodes, dataset: str, model: str, out_metrics, out_threshold, quantile: float,
                   out_calibrated=None, warmup_windows: int = 40) -> dict:
    """Metrics with the validation-fitted threshold and, beside them, with per-recording calibration."""
    table, eps, kind = pd.read_parquet(scores), pd.read_parquet(episodes), model_kind(model)
    threshold, scenarios = _evaluate_protocol(table, eps, kind, quantile)
    Path(out_threshold).write_text(json.dumps(threshold, indent=2) + "\n")
    metrics = {"dataset": dataset, "model": model, "protocol": "validation threshold", "threshold": threshold,
               "scenarios": scenarios}
    Path(out_metrics).write_text(json.dumps(metrics, indent=2) + "\n")
    for scenario, r in scenarios.items():
        log.info("%s %s %s: F1 %.3f, AUROC %s", dataset, model, scenario, r["f1"], r["auroc"])
    if out_calibrated is not None:
        threshold_c, scenarios_c = _evaluate_protocol(calibrate(table, warmup_windows, kind), eps, kind, quantile)
        threshold_c |= {"calibration": f"per recording, first {warmup_windows} windows assumed benign"}
        calibrated = {"dataset": dataset, "model": model, "protocol": "per-recording calibration",
                      "threshold": threshold_c, "scenarios": scenarios_c}
        Path(out_calibrated).write_text(json.dumps(calibrated, indent=2) + "\n")
        for scenario, r in scenarios_c.items():
            log.info("%s %s %s, calibrated: F1 %.3f", dataset, model, scenario, r["f1"])
    return metrics


def run_summary(metrics_files: list[str], efficiency_files: list[str], out_csv, out_md) -> pd.DataFrame:
    metrics = [json.loads(Path(p).read_text()) for p in metrics_files]
    efficiency = {}
    for p in efficiency_files:
        e = json.loads(Path(p).read_text())
        efficiency[(e["dataset"], e["model"])] = e
    table = summary_rows(metrics, efficiency)
    table.to_csv(out_csv, index=False)
    Path(out_md).write_text(markdown(table) + "\n")
    return table
