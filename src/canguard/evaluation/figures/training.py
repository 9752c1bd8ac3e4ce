"""Training curves: loss and validation metrics per epoch, one panel each, every model of a family."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from canguard.evaluation.figures.style import (
    join_title,
    model_style,
    new_figure,
    no_data,
    pretty_model,
    save_figure,
    styled,
)

_TRAIN_METRICS = {
    "train_loss": ("Training loss", "Loss", ("train_loss", "train_loss_epoch")),
    "val_loss": ("Validation loss", "Loss", ("val_loss", "val_loss_epoch")),
    "val_f1": ("Validation F1 (attack class)", "F1", ("val_f1",)),
    "val_auroc": ("Validation AUROC", "AUROC", ("val_auroc",)),
    "val_attack_score": ("Validation attack score", "Attack score", ("val_attack_score",)),
}


def _read_training_log(path: str | Path) -> pd.DataFrame:
    """Lightning CSVLogger ``metrics.csv`` -> one row per epoch (mean of the logged non-empty cells)."""
    df = pd.read_csv(path)
    if "epoch" not in df.columns:
        raise ValueError(f"{path}: no 'epoch' column")
    out = {}
    for key, (_, _, aliases) in _TRAIN_METRICS.items():
        col = next((a for a in aliases if a in df.columns), None)
        if col is not None:
            out[key] = pd.to_numeric(df[col], errors="coerce")
    frame = pd.DataFrame(out, index=df.index)
    frame["epoch"] = pd.to_numeric(df["epoch"], errors="coerce")
    frame = frame.dropna(subset=["epoch"])
    return frame.groupby("epoch").mean().dropna(axis=1, how="all").sort_index()


@styled
def training_curves(runs: Mapping[str, str | Path], out_base: str | Path, *,
                    dataset: str | None = None) -> list[Path]:
    """Training curves: one panel per metric present in any run, one line per model, x = epoch.

    ``runs`` maps a model name to its Lightning ``metrics.csv``.  Loss panels use a log y axis
    when the losses span more than a decade.
    """
    logs = {name: _read_training_log(p) for name, p in runs.items()}
    present = [k for k in _TRAIN_METRICS if any(k in log.columns for log in logs.values())]
    n = max(len(present), 1)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = new_figure(3.3 * ncols, 2.7 * nrows + 0.6)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    if not present:
        no_data(axes[0], "no training metrics found")
    handles = {}
    for ax, key in zip(axes, present):
        label, ylabel, _ = _TRAIN_METRICS[key]
        values = []
        for i, (name, log) in enumerate(logs.items()):
            if key not in log.columns:
                continue
            s = log[key].dropna()
            if s.empty:
                continue
            st = model_style(name, i)
            (line,) = ax.plot(s.index, s.values, color=st["color"], linestyle=st["linestyle"],
                              marker=st["marker"] if len(s) <= 30 else None,
                              markersize=3, label=pretty_model(name))
            handles.setdefault(name, line)
            values.append(s.values)
        ax.set_title(label)
        ax.set_xlabel("Epoch")
        ax.set_ylabel(ylabel)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if values and key.endswith("loss"):
            v = np.concatenate(values)
            v = v[np.isfinite(v)]
            if v.size and v.min() > 0 and v.max() / v.min() > 10:
                ax.set_yscale("log")
    for ax in axes[len(present):] if present else axes[1:]:
        ax.remove()
    if handles:
        fig.legend(list(handles.values()), [h.get_label() for h in handles.values()],
                   loc="outside lower center", ncols=min(len(handles), 4))
    fig.suptitle(join_title("Training curves", dataset))
    return save_figure(fig, out_base)
