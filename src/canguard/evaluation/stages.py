"""The evaluation stages as the workflow runs them, one function per rule (files in, files out).

    score            a trained model (or the rule baseline) -> scores of every window it is judged on
    attack_episodes  test recordings -> attack episodes (for detection delay)
    evaluate         scores -> thresholds, alarms table, metrics of both protocols  (per model x seed)
    evaluate_fusion  members' scores -> the same for their OR fusion
    summary          every metrics file -> results/summary.{csv,md}
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from canguard.evaluation.alarms import PROTOCOLS, fit_thresholds, judge
from canguard.evaluation.detection import attack_episodes
from canguard.evaluation.evaluate import evaluate
from canguard.evaluation.fusion import fuse
from canguard.evaluation.scoring import score_model, score_rule
from canguard.evaluation.summary import markdown, per_attack_rows, summary_rows

log = logging.getLogger(__name__)

PROTOCOL_NAMES = {
    "zero_shot": "zero-shot: nothing of a test vehicle seen; a known vehicle is compared with its training "
                 "profile, an unknown one with none; thresholds from benign validation windows",
    "enrolled": "enrolled: every test vehicle is compared with the profile of its enrollment traffic, and "
                "judged by thresholds fitted on its enrollment windows; no retraining",
}


def run_scoring(ckpt, shards_root, scenarios: list[str], out) -> None:
    table = score_model(ckpt, shards_root, scenarios, out)
    log.info("scored %d windows in %d parts", len(table), table.groupby(["protocol", "part"]).ngroups)


def run_rule_scoring(preprocessing, shards_root, scenarios: list[str], out) -> None:
    table = score_rule(preprocessing, shards_root, scenarios, out)
    log.info("rule baseline: scored %d windows", len(table))


def run_episodes(recordings: dict[str, str], attacks: dict[str, str], out, max_gap_s: float) -> None:
    frames = [attack_episodes(path, key, attacks[key], max_gap_s) for key, path in sorted(recordings.items())]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    table.to_parquet(out, index=False)
    log.info("%d attack episodes in %d recordings", len(table), len(recordings))


def _enrollment_reports(enrollments: dict[str, str]) -> dict[str, dict]:
    return {v: json.loads(Path(p).read_text())["report"] for v, p in enrollments.items()}


def _write_metrics(alarms: pd.DataFrame, episodes: pd.DataFrame, identity: dict, thresholds: dict,
                   enrollment: dict, outputs: dict[str, str]) -> dict:
    results = {}
    for protocol in PROTOCOLS:
        scenarios = evaluate(alarms[alarms["protocol"] == protocol], episodes)
        metrics = identity | {"protocol": protocol, "protocol_description": PROTOCOL_NAMES[protocol],
                              "thresholds": thresholds, "scenarios": scenarios}
        if protocol == "enrolled":
            metrics["enrollment"] = enrollment
            for r in scenarios.values():
                r["enrollment_attack_messages"] = sum(enrollment[v]["attack_messages"] for v in r["vehicles"])
                r["enrollment_seconds"] = {v: enrollment[v]["seconds"] for v in r["vehicles"]}
        Path(outputs[protocol]).write_text(json.dumps(metrics, indent=2) + "\n")
        for scenario, r in scenarios.items():
            log.info("%s %s %s, %s: F1 %s, AUROC %s, FA/h %s", identity["dataset"], identity["model"],
                     scenario, protocol, r["f1"], r["auroc"], r["false_alarms_per_hour"])
        results[protocol] = metrics
    return results


def run_evaluation(scores, episodes, enrollments: dict[str, str], identity: dict, false_alarms_per_hour: float,
                   size: int, stride: int, out_alarms, out_thresholds, out_metrics: dict[str, str]) -> dict:
    """Thresholds, alarms and metrics of both protocols for one detector.

    ``identity``: dataset, model, family, role, seed (copied into every metrics file);
    ``out_metrics``: protocol -> its metrics file.
    """
    table = pd.read_parquet(scores)
    thresholds = fit_thresholds(table, false_alarms_per_hour, size, stride)
    alarms = judge(table, thresholds)
    alarms.to_parquet(out_alarms, index=False)
    Path(out_thresholds).write_text(json.dumps(thresholds, indent=2) + "\n")
    return _write_metrics(alarms, pd.read_parquet(episodes), identity, thresholds,
                          _enrollment_reports(enrollments), out_metrics)


def run_fusion_evaluation(member_scores: dict[str, str], episodes, enrollments: dict[str, str], identity: dict,
                          false_alarms_per_hour: float, size: int, stride: int, out_alarms, out_thresholds,
                          out_metrics: dict[str, str]) -> dict:
    """The OR fusion of the members (name -> scores file), each at its own threshold."""
    thresholds, alarms = {}, {}
    for name, path in member_scores.items():
        table = pd.read_parquet(path)
        thresholds[name] = fit_thresholds(table, false_alarms_per_hour, size, stride)
        alarms[name] = judge(table, thresholds[name])
    fused = fuse(alarms, thresholds)
    fused.to_parquet(out_alarms, index=False)
    Path(out_thresholds).write_text(json.dumps(thresholds, indent=2) + "\n")
    identity = identity | {"members": list(member_scores)}
    return _write_metrics(fused, pd.read_parquet(episodes), identity, {"members": thresholds},
                          _enrollment_reports(enrollments), out_metrics)


def run_summary(metrics_files: list[str], efficiency_files: list[str], out_csv, out_md) -> pd.DataFrame:
    metrics = [json.loads(Path(p).read_text()) for p in metrics_files]
    efficiency = {}
    for p in efficiency_files:
        e = json.loads(Path(p).read_text())
        efficiency[(e["dataset"], e["model"])] = e
    table = summary_rows(metrics, efficiency)
    table.to_csv(out_csv, index=False)
    Path(out_md).write_text(markdown(table, per_attack_rows(metrics)) + "\n")
    return table

