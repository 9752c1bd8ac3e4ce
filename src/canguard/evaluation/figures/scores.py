"""Score figures of one scenario: ROC and precision-recall curves, score histograms with the threshold."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from canguard.evaluation.figures.style import (
    ATTACK_COLOUR,
    BENIGN_COLOUR,
    join_title,
    model_style,
    new_figure,
    no_data,
    pretty_model,
    pretty_scenario,
    save_figure,
    styled,
    thin_curve,
)
from canguard.metrics import auc, average_precision, pr_curve, roc_curve


def _scenario_rows(alarms: pd.DataFrame, scenario: str) -> pd.DataFrame:
    """The windows of a scenario that metrics count: labelled, outside enrollment traffic."""
    keep = (alarms["part"] == scenario) & (alarms["y"] >= 0)
    if "excluded" in alarms:
        keep &= ~alarms["excluded"].astype(bool)
    return alarms.loc[keep]


def alarm_counts(alarms: pd.DataFrame, scenario: str) -> dict[str, int]:
    """The alarms a scenario's figures show: read from the alarms table, as the metrics count them."""
    rows = _scenario_rows(alarms, scenario)
    alarm = rows["alarm"].to_numpy(bool)
    return {"alarms": int(alarm.sum()), "false_alarms": int((alarm & (rows["y"].to_numpy() == 0)).sum()),
            "windows": int(len(rows))}


@styled
def roc_pr_curves(scores: Mapping[str, pd.DataFrame], scenario: str, out_base: str | Path, *,
                  dataset: str | None = None) -> list[Path]:
    """ROC (AUROC in the legend) and precision-recall (AUPRC in the legend) side by side.

    One curve per model, from its alarms table's rows of ``scenario``, ranked by the margin
    ``score - threshold`` (as the metrics rank them).  A model whose rows hold a single class
    gets no curve, only a legend entry that says so.
    """
    fig = new_figure(7.6, 4.3 + 0.14 * (len(scores) + 1))   # room for the legends below
    ax_roc, ax_pr = fig.subplots(1, 2)
    ax_roc.plot([0, 1], [0, 1], color="0.6", linestyle=(0, (4, 3)), linewidth=1, label="chance")
    prevalence = None
    for i, (name, df) in enumerate(scores.items()):
        st = model_style(name, i)
        kw = {"color": st["color"], "linestyle": st["linestyle"]}
        rows = _scenario_rows(df, scenario)
        y = rows["y"].to_numpy().astype(bool)
        s = rows["margin"].to_numpy(dtype=np.float64)
        n_pos, n_neg = int(y.sum()), int((~y).sum())
        label = pretty_model(name)
        if n_pos and n_neg:
            fpr, tpr = roc_curve(y, s)
            x, yy = thin_curve(fpr, tpr)
            ax_roc.plot(x, yy, label=f"{label} (AUROC {auc(fpr, tpr):.3f})", **kw)
        else:
            why = "no windows" if not len(rows) else ("only benign" if not n_pos else "only attack")
            ax_roc.plot([], [], label=f"{label}: n/a ({why})", **kw)
        if n_pos:
            rec, prec = pr_curve(y, s)
            x, yy = thin_curve(rec, prec)
            ax_pr.plot(x, yy, drawstyle="steps-pre",
                       label=f"{label} (AUPRC {average_precision(rec, prec):.3f})", **kw)
            if prevalence is None and n_neg:
                prevalence = n_pos / (n_pos + n_neg)
        else:
            why = "no windows" if not len(rows) else "no attack windows"
            ax_pr.plot([], [], label=f"{label}: n/a ({why})", **kw)
    if prevalence is not None:
        ax_pr.axhline(prevalence, color="0.6", linestyle=(0, (4, 3)), linewidth=1,
                      label=f"chance (prevalence {prevalence:.3f})")
    for ax, (xl, yl, title) in zip(
            (ax_roc, ax_pr),
            (("False-positive rate", "True-positive rate (recall)", "ROC"),
             ("Recall", "Precision", "Precision-recall"))):
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.02)
        ax.set_aspect("equal")
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.set_title(title)
        # below the axes: curves of good models run through every corner of the plot
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=7.5,
                  handlelength=2.6)
    fig.suptitle(join_title("ROC and precision-recall", dataset, pretty_scenario(scenario)))
    return save_figure(fig, out_base)


@styled
def score_histograms(alarms: pd.DataFrame, scenario: str, out_base: str | Path,
                     model: str, *, dataset: str | None = None) -> list[Path]:
    """Benign vs attack distributions of one model's margin to its threshold on one scenario.

    The margin is ``score - threshold`` of each window's own threshold (vehicles enrolled apart
    have thresholds of their own), so the threshold is the line at 0; the alarm counts are the
    alarms table's ``alarm`` column, the same the metrics count.  Counts are on a log y axis when
    very skewed.
    """
    rows = _scenario_rows(alarms, scenario)
    s = rows["margin"].to_numpy(dtype=np.float64)
    y = rows["y"].to_numpy().astype(bool)
    alarm = rows["alarm"].to_numpy(dtype=bool)
    finite = np.isfinite(s)
    s, y, alarm = s[finite], y[finite], alarm[finite]
    fig = new_figure(6.4, 3.8)
    ax = fig.add_subplot()
    if s.size == 0:
        no_data(ax, f"no scores for {scenario}")
    else:
        lo, hi = min(s.min(), 0.0), max(s.max(), 0.0)
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        bins = np.linspace(lo, hi, 61)
        counts = []
        for mask, colour, label in ((~y, BENIGN_COLOUR, "benign"), (y, ATTACK_COLOUR, "attack")):
            if not mask.any():
                continue
            c, _, _ = ax.hist(s[mask], bins=bins, color=colour, alpha=0.45,
                              label=f"{label} (n = {int(mask.sum()):,})")
            ax.hist(s[mask], bins=bins, histtype="step", color=colour, linewidth=1.2)
            counts.append(c)
        allc = np.concatenate(counts)
        pos = allc[allc > 0]
        if pos.size and pos.max() / pos.min() > 50:
            ax.set_yscale("log")
        fpr = alarm[~y].mean() if (~y).any() else float("nan")
        rec = alarm[y].mean() if y.any() else float("nan")
        counts = alarm_counts(alarms, scenario)
        extra = ", ".join(t for t in (f"{counts['alarms']:,} alarms, {counts['false_alarms']:,} false",
                                      f"FPR {100 * fpr:.1f} %" if np.isfinite(fpr) else "",
                                      f"recall {100 * rec:.1f} %" if np.isfinite(rec) else "") if t)
        ax.axvline(0.0, color="black", linestyle="--", linewidth=1.2,
                   label="threshold (alarm at >= 0)" + (f" ({extra})" if extra else ""))
        ax.set_xlabel("Score - threshold (larger = more attack-like)")
        ax.set_ylabel("Windows")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=3, fontsize=7.5)
        if (~finite).any():
            ax.text(0.99, 0.98, f"{int((~finite).sum())} non-finite scores dropped", ha="right",
                    va="top", transform=ax.transAxes, fontsize=7, color="0.4")
    fig.suptitle(join_title("Score distributions", pretty_model(model), dataset,
                        pretty_scenario(scenario)))
    return save_figure(fig, out_base)
