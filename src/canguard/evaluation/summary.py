"""One table of datasets x scenarios x models: results/summary.csv and results/summary.md."""

from __future__ import annotations

import pandas as pd

COLUMNS = ["dataset", "protocol", "scenario", "model", "f1", "precision", "recall", "mcc", "fpr", "fnr", "accuracy",
           "auroc", "auprc", "threshold", "windows", "attack_windows", "delay_median_s", "missed_episodes",
           "episodes", "false_alarms_per_hour", "parameters", "latency_ms_batch1", "throughput_windows_per_s"]

MODEL_ORDER = ["gat_teacher", "gat_student", "gat_student_scratch", "vgae_teacher", "vgae_student",
               "vgae_student_scratch", "fusion_teacher", "fusion_student"]


def summary_rows(metrics: list[dict], efficiency: dict[tuple[str, str], dict]) -> pd.DataFrame:
    """``metrics``: one evaluation dict per dataset x model; ``efficiency`` keyed by (dataset, model)."""
    rows = []
    for m in metrics:
        eff = efficiency.get((m["dataset"], m["model"]), {})
        cpu = eff.get("cpu", {})
        for scenario, r in m["scenarios"].items():
            rows.append({
                "dataset": m["dataset"], "protocol": m.get("protocol", "validation threshold"),
                "scenario": scenario, "model": m["model"],
                **{k: r.get(k) for k in ("f1", "precision", "recall", "mcc", "fpr", "fnr", "accuracy", "auroc",
                                         "auprc", "windows", "attack_windows", "false_alarms_per_hour")},
                "threshold": m["threshold"]["value"],
                "delay_median_s": r["detection"]["delay_median_s"],
                "missed_episodes": r["detection"]["missed"], "episodes": r["detection"]["episodes"],
                "parameters": eff.get("parameters"), "latency_ms_batch1": cpu.get("latency_ms_batch1"),
                "throughput_windows_per_s": cpu.get("throughput_windows_per_s"),
            })
    table = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("parameters", "windows", "attack_windows", "missed_episodes", "episodes"):
        table[column] = table[column].astype("Int64")
    order = {name: i for i, name in enumerate(MODEL_ORDER)}
    table["_order"] = table["model"].map(lambda name: order.get(name, len(order)))
    table["_protocol"] = table["protocol"] != "validation threshold"
    return (table.sort_values(["dataset", "_protocol", "scenario", "_order"], kind="stable")
            .drop(columns=["_order", "_protocol"]).reset_index(drop=True))


def _fmt(v, digits=3):
    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def markdown(table: pd.DataFrame) -> str:
    """A Markdown table per dataset: scenario x model with the headline metrics."""
    out = ["# canguard summary", "",
           "Attack-class metrics per test scenario (never a weighted average); thresholds fitted on validation "
           "data only. Delay: median time from an attack episode's first message to the first alarm. "
           "FA/h: false alarms per hour of benign traffic. Latency: one CPU thread, batch 1.",
           "Per-recording calibration: scores standardised against each recording's first windows, "
           "assumed benign and then excluded from the metrics (canguard.evaluation.calibration).", ""]
    for (dataset, protocol), rows in table.groupby(["dataset", "protocol"], sort=False):
        out += [f"## {dataset}: {protocol}", "",
                "| scenario | model | F1 | precision | recall | MCC | FPR | AUROC | AUPRC | delay s | missed | FA/h | params | ms/window |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows.itertuples():
            out.append(
                f"| {r.scenario} | {r.model} | {_fmt(r.f1)} | {_fmt(r.precision)} | {_fmt(r.recall)} | "
                f"{_fmt(r.mcc)} | {_fmt(r.fpr)} | {_fmt(r.auroc)} | {_fmt(r.auprc)} | {_fmt(r.delay_median_s, 2)} | "
                f"{_fmt(r.missed_episodes)}/{_fmt(r.episodes)} | {_fmt(r.false_alarms_per_hour, 1)} | "
                f"{_fmt(r.parameters)} | {_fmt(r.latency_ms_batch1, 2)} |")
        out.append("")
    return "\n".join(out)
