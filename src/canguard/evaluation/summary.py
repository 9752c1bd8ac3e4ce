"""One table of datasets x protocols x scenarios x models (x seeds): results/summary.csv and results/summary.md.

The CSV has one row per seed; the Markdown gives, per dataset and protocol, the
mean and the spread (min-max) over seeds of each metric.
"""

from __future__ import annotations

import pandas as pd

from canguard.detectors import FAMILIES, FUSED_ROLES, FUSION, ROLES, Detector, table_order

COLUMNS = ["dataset", "protocol", "scenario", "model", "seed", "f1", "precision", "recall", "mcc", "fpr", "fnr",
           "accuracy", "auroc", "auprc", "windows", "attack_windows", "excluded_windows", "delay_median_s",
           "missed_episodes", "episodes", "false_alarms_per_hour", "incident_recall", "false_incidents_per_hour",
           "incident_delay_median_s", "enrollment_seconds",
           "enrollment_attack_messages", "parameters", "latency_ms_batch1", "throughput_windows_per_s"]

PROTOCOL_ORDER = ["enrolled", "zero_shot"]


def summary_rows(metrics: list[dict], efficiency: dict[tuple[str, str], dict]) -> pd.DataFrame:
    """``metrics``: one evaluation dict per dataset x model x seed x protocol; ``efficiency`` by (dataset, model)."""
    rows = []
    for m in metrics:
        eff = efficiency.get((m["dataset"], m["model"]), {})
        cpu = eff.get("cpu", {})
        for scenario, r in m["scenarios"].items():
            seconds = r.get("enrollment_seconds")
            rows.append({
                "dataset": m["dataset"], "protocol": m["protocol"], "scenario": scenario, "model": m["model"],
                "seed": m.get("seed", 0),
                **{k: r.get(k) for k in ("f1", "precision", "recall", "mcc", "fpr", "fnr", "accuracy", "auroc",
                                         "auprc", "windows", "attack_windows", "excluded_windows",
                                         "false_alarms_per_hour", "enrollment_attack_messages")},
                "enrollment_seconds": sum(seconds.values()) if seconds else None,
                "delay_median_s": r["detection"]["delay_median_s"],
                "missed_episodes": r["detection"]["missed"], "episodes": r["detection"]["episodes"],
                "incident_recall": r.get("incidents", {}).get("incident_recall"),
                "false_incidents_per_hour": r.get("incidents", {}).get("false_incidents_per_hour"),
                "incident_delay_median_s": r.get("incidents", {}).get("delay_median_s"),
                "parameters": eff.get("parameters"), "latency_ms_batch1": cpu.get("latency_ms_batch1"),
                "throughput_windows_per_s": cpu.get("throughput_windows_per_s"),
            })
    table = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("seed", "parameters", "windows", "attack_windows", "excluded_windows", "missed_episodes",
                   "episodes", "enrollment_attack_messages"):
        table[column] = table[column].astype("Int64")
    for column in ("f1", "precision", "recall", "mcc", "fpr", "fnr", "auroc", "auprc", "false_alarms_per_hour",
                   "incident_recall", "false_incidents_per_hour", "incident_delay_median_s"):
        table[column] = pd.to_numeric(table[column], errors="coerce")
    table["_order"] = table["model"].map(table_order)
    table["_protocol"] = table["protocol"].map(lambda p: PROTOCOL_ORDER.index(p) if p in PROTOCOL_ORDER else 9)
    return (table.sort_values(["dataset", "_protocol", "scenario", "_order", "seed"], kind="stable")
            .drop(columns=["_order", "_protocol"]).reset_index(drop=True))


def _fmt(v, digits=3):
    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _spread(values: pd.Series, digits: int = 3) -> str:
    """Mean over seeds, with the min-max range where there are several."""
    v = pd.to_numeric(values, errors="coerce").dropna()
    if len(v) == 0:
        return "n/a"
    if len(v) == 1:
        return f"{v.iloc[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ({v.min():.{digits}f}-{v.max():.{digits}f})"


def aggregate(table: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset x protocol x scenario x model: mean over seeds, and the seed count."""
    keys = ["dataset", "protocol", "scenario", "model"]
    numeric = ["f1", "precision", "recall", "fpr", "auroc", "false_alarms_per_hour", "delay_median_s",
               "incident_recall", "false_incidents_per_hour"]
    grouped = table.groupby(keys, sort=False)
    out = grouped[numeric].mean()
    out["seeds"] = grouped["seed"].nunique()
    out["f1_min"], out["f1_max"] = grouped["f1"].min(), grouped["f1"].max()
    return out.reset_index()


def per_attack_rows(metrics: list[dict]) -> pd.DataFrame:
    """One row per dataset x protocol x scenario x attack type x model x seed: the attack's F1, recall,
    FPR (over the attack's recordings, their benign windows included)."""
    rows = [{"dataset": m["dataset"], "protocol": m["protocol"], "scenario": scenario, "attack": attack,
             "model": m["model"], "seed": m.get("seed", 0), "f1": a.get("f1"), "recall": a.get("recall"),
             "fpr": a.get("fpr")}
            for m in metrics for scenario, r in m["scenarios"].items() for attack, a in r["per_attack"].items()]
    return pd.DataFrame(rows, columns=["dataset", "protocol", "scenario", "attack", "model", "seed", "f1",
                                       "recall", "fpr"])


def per_attack_table(rows: pd.DataFrame) -> list[str]:
    """Scenario / attack x detector: mean F1 over seeds."""
    models = sorted(set(rows["model"]), key=table_order)
    out = ["| scenario | attack | " + " | ".join(models) + " |", "|---|---|" + "---|" * len(models)]
    for (scenario, attack), g in rows.groupby(["scenario", "attack"], sort=True):
        out.append(f"| {scenario} | {attack} | " + " | ".join(_fmt(_mean_f1(g, m)) for m in models) + " |")
    return out


def _mean_f1(rows: pd.DataFrame, model: str) -> float:
    v = pd.to_numeric(rows.loc[rows["model"] == model, "f1"], errors="coerce").dropna()
    return float(v.mean()) if len(v) else float("nan")


def distillation_table(rows: pd.DataFrame) -> list[str]:
    """Per family and scenario: teacher, distilled student, student without teacher (mean F1 over seeds)."""
    out = ["| family | scenario | teacher | distilled student | student without teacher | distilled - scratch | "
           "distilled - teacher |", "|---|---|---|---|---|---|---|"]
    for family in FAMILIES:
        for scenario, g in rows.groupby("scenario", sort=False):
            t, d, s = (_mean_f1(g, Detector(family, r).name) for r in ROLES)
            if pd.isna(t) and pd.isna(d):
                continue
            out.append(f"| {family} | {scenario} | {_fmt(t)} | {_fmt(d)} | {_fmt(s)} | {_fmt(d - s, 3)} | "
                       f"{_fmt(d - t, 3)} |")
    return out


def fusion_table(rows: pd.DataFrame) -> list[str]:
    """Per role and scenario: the fusion's mean F1 against its better member's (the guarantee: >= -0.01)."""
    out = ["| fusion | scenario | GAT | VGAE | fusion | fusion - better member |", "|---|---|---|---|---|---|"]
    for role in FUSED_ROLES:
        for scenario, g in rows.groupby("scenario", sort=False):
            gat, vgae, fusion = (_mean_f1(g, Detector(m, role).name) for m in (*FAMILIES, FUSION))
            if pd.isna(fusion):
                continue
            better = max(gat, vgae) if not (pd.isna(gat) or pd.isna(vgae)) else float("nan")
            out.append(f"| {Detector(FUSION, role)} | {scenario} | {_fmt(gat)} | {_fmt(vgae)} | {_fmt(fusion)} | "
                       f"{_fmt(fusion - better, 3)} |")
    return out


def markdown(table: pd.DataFrame, attacks: pd.DataFrame | None = None, run: str | None = None) -> str:
    """A Markdown table per dataset and protocol: scenario x model, mean over seeds (min-max); then the
    distillation and fusion comparisons and, with ``attacks`` (:func:`per_attack_rows`), F1 per attack."""
    out = [f"# canguard summary: run {run}" if run else "# canguard summary", "",
           "Attack-class metrics per test scenario (never a weighted average), mean over seeds with the "
           "min-max range where several seeds ran. Every detector, the rule baseline included, raises an alarm "
           "when its score reaches its threshold, fitted to a false-alarm budget on benign windows only: "
           "validation windows (zero-shot) or the vehicle's enrollment windows (enrolled). Windows that share a "
           "moment with enrollment traffic are in no metric, in either protocol. n/a: undefined (no attack "
           "windows). FA/h: false alarms per hour of benign traffic. Delay: median time from an attack episode's "
           "first message to the first alarm. Incidents: alarms as a user sees them (an incident opens at k "
           "alarming windows of the last n and closes after quiet windows without one; evaluation.incidents): "
           "inc. recall = attack episodes an incident caught, FI/h = false incidents per hour of benign traffic. "
           "Enrolled: seconds of enrollment traffic of the scenario's vehicles, "
           "and the attack messages inside it (labels read only to report this).", ""]
    for (dataset, protocol), rows in table.groupby(["dataset", "protocol"], sort=False):
        out += [f"## {dataset}: {protocol}", "",
                "| scenario | model | seeds | F1 | precision | recall | FPR | AUROC | FA/h | delay s | "
                "missed | inc. recall | FI/h | enrollment s | attack msgs in enrollment | params | ms/window |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for (scenario, model), g in rows.groupby(["scenario", "model"], sort=False):
            first = g.iloc[0]
            out.append(
                f"| {scenario} | {model} | {g['seed'].nunique()} | {_spread(g['f1'])} | {_spread(g['precision'])} | "
                f"{_spread(g['recall'])} | {_spread(g['fpr'])} | {_spread(g['auroc'])} | "
                f"{_spread(g['false_alarms_per_hour'], 1)} | {_spread(g['delay_median_s'], 2)} | "
                f"{_fmt(first.missed_episodes)}/{_fmt(first.episodes)} | {_spread(g['incident_recall'])} | "
                f"{_spread(g['false_incidents_per_hour'], 1)} | {_fmt(first.enrollment_seconds, 1)} | "
                f"{_fmt(first.enrollment_attack_messages)} | {_fmt(first.parameters)} | "
                f"{_fmt(first.latency_ms_batch1, 2)} |")
        out.append("")
        kinds = [Detector.parse(m) for m in rows["model"].unique()]
        if any(d.role == "student_scratch" for d in kinds):
            out += [f"### {dataset}, {protocol}: distillation (mean F1 over seeds)", "", *distillation_table(rows), ""]
        if any(d.family == FUSION for d in kinds):
            out += [f"### {dataset}, {protocol}: fusion against its better member (mean F1 over seeds)", "",
                    *fusion_table(rows), ""]
        if attacks is not None and len(attacks):
            mine = attacks[(attacks["dataset"] == dataset) & (attacks["protocol"] == protocol)]
            if len(mine):
                out += [f"### {dataset}, {protocol}: F1 per attack type (its recordings; mean over seeds)", "",
                        *per_attack_table(mine), ""]
    return "\n".join(out)
