"""Rule summary: every metrics and efficiency file -> results/<run>/summary.csv (one row per seed) and
results/<run>/summary.md (means and spreads, distillation, fusion and per-attack tables)."""

from canguard.atomic import atomic_output, write_text
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
    with atomic_output(outputs["csv"]) as tmp:
        table.to_csv(tmp, index=False)
    write_text(outputs["md"], markdown(table, per_attack_rows(metrics), run=wildcards["run"]) + "\n")
