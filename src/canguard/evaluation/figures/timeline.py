"""A recording's scores over time, its attack episodes and its alarms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from canguard.evaluation.figures.style import (
    _ATTACK_COLOURS,
    _RASTERIZE_ABOVE,
    ATTACK_COLOUR,
    OKABE_ITO,
    join_title,
    new_figure,
    no_data,
    positive_and_skewed,
    pretty_model,
    save_figure,
    styled,
)


def _runs(start: np.ndarray, end: np.ndarray, mask: np.ndarray) -> list[tuple[float, float]]:
    """Merge consecutive masked windows (sorted by start) into (x, width) intervals."""
    out: list[list[float]] = []
    prev = False
    for a, b, m in zip(start, end, mask):
        if m and prev and out:
            out[-1][1] = max(out[-1][1], b)
        elif m:
            out.append([a, b])
        prev = m
    return [(a, b - a) for a, b in out]


@styled
def score_timeline(alarms: pd.DataFrame, recording: str, episodes: pd.DataFrame,
                   out_base: str | Path, model: str, *, dataset: str | None = None) -> list[Path]:
    """Score over time for one recording: attack episodes shaded, threshold and alarms marked.

    ``alarms``: the rows of one protocol (one threshold per recording: its vehicle's).  x is
    ``t_start`` minus the recording's first ``t_start`` (s).  A strip under the main axes shows
    the windows labelled attack (truth) and the windows that raise an alarm (the alarms table's
    ``alarm`` column, what the metrics count); enrollment windows are shaded grey.
    """
    rows = alarms.loc[(alarms["recording"] == recording) & (alarms["part"] != "enrollment")].sort_values("t_start")
    fig = new_figure(7.6, 4.2)
    ax, strip = fig.subplots(2, 1, sharex=True, height_ratios=[4, 1])
    if rows.empty:
        no_data(ax, f"no windows for recording {recording}")
        strip.remove()
    else:
        t0 = float(rows["t_start"].iloc[0])
        t = rows["t_start"].to_numpy(dtype=np.float64) - t0
        t_end = (rows["t_end"].to_numpy(dtype=np.float64) - t0) if "t_end" in rows else t
        s = rows["score"].to_numpy(dtype=np.float64)
        y = rows["y"].to_numpy() == 1
        alarm = rows["alarm"].to_numpy(dtype=bool)
        threshold = float(rows["threshold"].iloc[0])
        dense = len(rows) > _RASTERIZE_ABOVE
        legend = []
        ep = episodes.loc[episodes["recording"] == recording] if len(episodes) else episodes
        types = list(dict.fromkeys(ep["attack_type"])) if len(ep) else []
        for _, e in ep.iterrows():
            colour = _ATTACK_COLOURS[types.index(e["attack_type"]) % len(_ATTACK_COLOURS)]
            for a in (ax, strip):
                a.axvspan(float(e["start"]) - t0, float(e["end"]) - t0, color=colour, alpha=0.18,
                          linewidth=0, zorder=0)
        legend += [Patch(facecolor=_ATTACK_COLOURS[k % len(_ATTACK_COLOURS)], alpha=0.3,
                         label=f"episode: {a}") for k, a in enumerate(types)]
        if "excluded" in rows and rows["excluded"].any():
            for x, width in _runs(t, t_end, rows["excluded"].to_numpy(bool)):
                ax.axvspan(x, x + width, color="0.5", alpha=0.15, linewidth=0, zorder=0)
            legend.append(Patch(facecolor="0.5", alpha=0.3, label="enrollment (in no metric)"))
        ax.plot(t, s, color="0.2", linewidth=0.8, rasterized=dense, zorder=2)
        legend.append(Line2D([], [], color="0.2", linewidth=0.8, label="score"))
        ax.axhline(threshold, color="black", linestyle="--", linewidth=1.1, zorder=6)
        legend.append(Line2D([], [], color="black", linestyle="--", label=f"threshold {threshold:.4g}"))
        # with many windows the per-window markers hide the score; the strip below still shows both
        if y.any() and not dense:
            ax.scatter(t[y], s[y], s=14, facecolor="none", edgecolor=ATTACK_COLOUR, linewidth=0.8,
                       zorder=4)
            legend.append(Line2D([], [], linestyle="", marker="o", markerfacecolor="none",
                                 markeredgecolor=ATTACK_COLOUR, label="true attack window"))
        if alarm.any() and not dense:
            ax.scatter(t[alarm], s[alarm], s=10, marker="x", color=OKABE_ITO["blue"], linewidth=0.9,
                       zorder=5)
            legend.append(Line2D([], [], linestyle="", marker="x", color=OKABE_ITO["blue"],
                                 label=f"alarm (score >= threshold): {int(alarm.sum()):,}"))
        if positive_and_skewed(s) and threshold > 0:
            ax.set_yscale("log")
        ax.set_ylabel("Score")
        strip.broken_barh(_runs(t, t_end, y), (1.15, 0.7), facecolor=ATTACK_COLOUR,
                          rasterized=dense)
        strip.broken_barh(_runs(t, t_end, alarm), (0.15, 0.7), facecolor=OKABE_ITO["blue"],
                          rasterized=dense)
        if dense:
            legend.append(Patch(facecolor=ATTACK_COLOUR, label="true attack windows (strip)"))
            legend.append(Patch(facecolor=OKABE_ITO["blue"],
                                label=f"alarms (strip): {int(alarm.sum()):,} windows"))
        ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        strip.set_yticks([0.5, 1.5], ["alarm", "truth"])
        strip.set_ylim(0, 2)
        strip.grid(axis="y", visible=False)
        strip.tick_params(axis="y", length=0)
        strip.set_xlabel("Time since recording start (s)")
        strip.set_xlim(0, max(float(t_end.max()), 1e-9))
    fig.suptitle(join_title("Score timeline", pretty_model(model), dataset, recording))
    return save_figure(fig, out_base)
