"""Rule summary: every metrics and efficiency file -> results/<run>/summary.csv (one row per seed) and
results/<run>/summary.md (means and spreads, distillation, fusion and per-attack tables)."""

from pathlib import Path

from canguard.evaluation.summary import markdown, per_attack_rows, summary_rows
from canguard.stages import read_json


def run_summary(inputs, outputs, params, wildcards) -> None:
    metrics = [read_json(p) for p in inputs["metrics"]]
    efficiency = {}
    for p in inputs["efficiency"]:
        e = read_json(p)
        efficiency[(e["dataset"], e["model"])] = e
    table = summary_rows(metrics, efficiency)
    table.insert(0, "run", wildcards["run"])
    table.to_csv(outputs["csv"], index=False)
    Path(outputs["md"]).write_text(markdown(table, per_attack_rows(metrics), run=wildcards["run"]) + "\n")
