"""Confusion matrices of every detector on one scenario, from its metrics file."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib as mpl
import numpy as np

from canguard.evaluation.figures.style import (
    dataset_of,
    join_title,
    new_figure,
    no_data,
    pretty_model,
    pretty_scenario,
    save_figure,
    styled,
)


def _has_counts(m: Mapping, scenario: str) -> bool:
    sc = (m.get("scenarios") or {}).get(scenario) or {}
    return all(c in sc for c in ("tp", "fp", "tn", "fn"))


@styled
def confusion_matrices(metrics: Mapping[str, Mapping], scenario: str,
                       out_base: str | Path) -> list[Path]:
    """Grid of 2x2 confusion matrices (one per model) for ``scenario``.

    Cells show counts and row-normalised percentages; colour is the row-normalised fraction.
    """
    names = list(metrics)
    n = max(len(names), 1)
    ncols = min(n, 4)
    nrows = math.ceil(n / ncols)
    fig = new_figure(2.35 * ncols + 0.9, 2.35 * nrows + 0.5)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    cmap = mpl.colormaps["Blues"]
    norm = mpl.colors.Normalize(0.0, 1.0)
    image = None
    for k, ax in enumerate(axes.ravel()):
        if k >= len(names):
            ax.remove()
            continue
        name = names[k]
        sc = metrics[name].get("scenarios", {}).get(scenario)
        ax.set_title(pretty_model(name), fontsize=9)
        if not _has_counts(metrics[name], scenario):
            no_data(ax, "no results for\n" + pretty_scenario(scenario).replace(": ", ":\n"))
            continue
        counts = np.array([[sc["tn"], sc["fp"]], [sc["fn"], sc["tp"]]], dtype=np.float64)
        rows = counts.sum(axis=1, keepdims=True)
        frac = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
        image = ax.imshow(frac, cmap=cmap, norm=norm)
        for i in range(2):
            for j in range(2):
                pct = f"{100 * frac[i, j]:.1f} %" if rows[i, 0] > 0 else "–"
                ax.text(j, i, f"{int(counts[i, j]):,}\n({pct})", ha="center", va="center",
                        fontsize=8, color="white" if frac[i, j] > 0.55 else "black")
        ax.set_xticks([0, 1], ["Benign", "Attack"])
        ax.set_yticks([0, 1], ["Benign", "Attack"])
        ax.set_xlabel("Predicted")
        if not any(_has_counts(metrics[names[j]], scenario) for j in range(k - k % ncols, k)):
            ax.set_ylabel("True")   # first panel with data in its row
        ax.grid(False)
        ax.spines[:].set_visible(False)
        ax.tick_params(length=0)
        if sc.get("f1") is not None:
            ax.set_title(f"{pretty_model(name)}\nF1 = {sc['f1']:.3f}", fontsize=9)
        else:
            ax.set_title(f"{pretty_model(name)}\nF1 n/a (no attack windows)", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=[a for a in axes.ravel() if a.figure is fig], shrink=0.8,
                     label="Row-normalised fraction")
    protocols = sorted({str(m["protocol"]) for m in metrics.values() if m.get("protocol")})
    fig.suptitle(join_title("Confusion matrices", dataset_of(metrics), pretty_scenario(scenario))
                 + (f"\nprotocol: {', '.join(protocols)}; thresholds: false-alarm budget on benign windows"
                    if protocols else ""))
    return save_figure(fig, out_base)
