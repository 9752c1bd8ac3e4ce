"""Runs side by side: the summaries of several runs (results/<run>/summary.csv) in one table.

    canguard compare results/hcrl_sa/summary.csv results/hcrl_sa_fleet/summary.csv --metric f1

One row per dataset, protocol, scenario and detector; one column per run with the mean of the
metric over that run's seeds (``n/a`` where it is undefined or the run lacks the row).  Rows are
matched by name only: the table says which runs it compares, and each run's config says what
differs.
"""

from __future__ import annotations

import pandas as pd

from canguard.detectors import table_order

KEYS = ["dataset", "protocol", "scenario", "model"]


def compare_runs(tables: list[pd.DataFrame], metric: str = "f1") -> pd.DataFrame:
    """Mean ``metric`` over seeds, a column per run (in the order given)."""
    runs = []
    for table in tables:
        missing = sorted(set(KEYS + ["run", metric]) - set(table.columns))
        if missing:
            raise ValueError(f"a summary without column(s) {', '.join(missing)}")
        runs += [r for r in table["run"].unique() if r not in runs]
    frame = pd.concat(tables, ignore_index=True)
    frame[metric] = pd.to_numeric(frame[metric], errors="coerce")
    wide = frame.groupby(KEYS + ["run"], sort=False)[metric].mean().unstack("run")
    wide = wide.reindex(columns=runs).reset_index()
    wide["_order"] = wide["model"].map(table_order)
    return wide.sort_values(["dataset", "protocol", "scenario", "_order"], kind="stable").drop(columns="_order")


def markdown(wide: pd.DataFrame, metric: str) -> str:
    runs = [c for c in wide.columns if c not in KEYS]
    out = [f"{metric}, mean over seeds, per run", "",
           "| dataset | protocol | scenario | model | " + " | ".join(runs) + " |",
           "|---|---|---|---|" + "---|" * len(runs)]
    for _, row in wide.iterrows():
        values = ["n/a" if pd.isna(row[r]) else f"{row[r]:.3f}" for r in runs]
        out.append(f"| {row.dataset} | {row.protocol} | {row.scenario} | {row.model} | " + " | ".join(values) + " |")
    return "\n".join(out)
