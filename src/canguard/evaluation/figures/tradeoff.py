"""Detection against cost: mean test F1 against batch-1 latency, marker area the parameters."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import Bbox

from canguard.evaluation.figures.style import (
    dataset_of,
    join_title,
    model_style,
    new_figure,
    no_data,
    pretty_model,
    pretty_scenario,
    save_figure,
    split_model,
    styled,
)


def _mean_test_f1(m: Mapping, scenario: str | None) -> float:
    scen = m.get("scenarios", {})
    if scenario is not None:
        return float((scen.get(scenario) or {}).get("f1", np.nan))
    tests = [k for k in scen if k.startswith("test")] or [k for k in scen if k != "val"]
    vals = [scen[k].get("f1") for k in tests if scen[k].get("f1") is not None]
    return float(np.mean(vals)) if vals else float("nan")


def _nice_sizes(pmin: float, pmax: float) -> list[float]:
    """Two or three round parameter counts spanning [pmin, pmax] for the size legend."""
    cands = [m * 10 ** e for e in range(2, 10) for m in (1, 2, 5)]
    inside = [c for c in cands if pmin <= c <= pmax]
    if len(inside) > 3:
        inside = [inside[0], inside[len(inside) // 2], inside[-1]]
    return inside or [pmax]


def _fmt_params(p: float) -> str:
    for div, suf in ((1e6, "M"), (1e3, "k")):
        if p >= div:
            return f"{p / div:.3g}{suf}"
    return f"{p:.0f}"


@styled
def f1_vs_latency(metrics: Mapping[str, Mapping], efficiency: Mapping[str, Mapping],
                  scenario: str | None, out_base: str | Path) -> list[Path]:
    """F1 against CPU latency at batch size 1 (log x); marker area ~ parameter count.

    F1 is the scenario's, or the mean over the test scenarios when ``scenario`` is None.
    Teacher -> student of each family are joined by an arrow (the distillation step).
    """
    points = {}
    for i, name in enumerate(metrics):
        eff = efficiency.get(name)
        if not eff:
            continue
        lat = (eff.get("cpu") or {}).get("latency_ms_batch1")
        f1 = _mean_test_f1(metrics[name], scenario)
        if lat is None or not np.isfinite(lat) or lat <= 0 or not np.isfinite(f1):
            continue
        points[name] = (float(lat), f1, float(eff.get("parameters") or 0), i)
    fig = new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    if not points:
        no_data(ax, "no models with both metrics and efficiency")
    else:
        pmax = max(p[2] for p in points.values()) or 1.0

        def size(p: float) -> float:
            return 25 + 475 * (p / pmax)

        labels = []
        for name, (lat, f1, par, i) in points.items():
            st = model_style(name, i)
            ax.scatter([lat], [f1], s=size(par), marker=st["marker"], zorder=3,
                       facecolor=mpl.colors.to_rgba(st["color"], 0.35 + 0.5 * st["alpha"]),
                       edgecolor=st["color"], linewidth=1.2)
            labels.append((pretty_model(name), (lat, f1), math.sqrt(size(par)) / 2, st["color"]))
        arrows = []
        for name, (lat, f1, _, _) in points.items():
            family, role = split_model(name)
            student = f"{family}_student"
            if role == "teacher" and student in points:
                s_lat, s_f1 = points[student][:2]
                ax.annotate("", xy=(s_lat, s_f1), xytext=(lat, f1), zorder=2,
                            arrowprops={"arrowstyle": "-|>", "color": "0.35", "lw": 1.1,
                                        "shrinkA": 9, "shrinkB": 9,
                                        "connectionstyle": f"arc3,rad={_ARROW_RAD}"})
                arrows.append(((lat, f1), (s_lat, s_f1)))
        ax.set_xscale("log")
        lats = np.array([p[0] for p in points.values()])
        ax.set_xlim(lats.min() / 2.2, lats.max() * 2.2)   # room for the names
        f1s = np.array([p[1] for p in points.values()])
        pad = max(0.03, 0.12 * (f1s.max() - f1s.min()))
        ax.set_ylim(max(0.0, f1s.min() - pad), min(1.0, f1s.max() + pad) + 0.01)
        ax.set_xlabel("CPU latency, batch size 1 (ms, log scale)")
        ax.set_ylabel("F1 (attack class)" + (" — mean over test scenarios" if scenario is None else ""))
        pmin = min(p[2] for p in points.values() if p[2] > 0) if any(p[2] > 0 for p in points.values()) else pmax
        handles = [ax.scatter([], [], s=size(p), facecolor="0.8", edgecolor="0.4", marker="o",
                              label=_fmt_params(p)) for p in _nice_sizes(pmin, pmax)]
        handles.append(Line2D([], [], color="0.35", marker=">", markersize=5, lw=1.1,
                              label="distillation\n(teacher → student)"))
        ax.legend(handles=handles, title="Parameters", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  labelspacing=1.3, borderpad=0.8, handletextpad=1.0)
        _log_ticks(ax.xaxis, lats.min() / 2.2, lats.max() * 2.2)
        _place_labels(fig, ax, labels, arrows)
    where = pretty_scenario(scenario) if scenario else "mean over test scenarios"
    fig.suptitle(join_title("F1 vs CPU latency", dataset_of(metrics), where))
    return save_figure(fig, out_base)


_ARROW_RAD = 0.15


def _log_ticks(axis, lo: float, hi: float) -> None:
    """Plain-number tick labels on a log axis (1, 2, 5, 10, ... when it spans few decades)."""
    fmt = mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_formatter(fmt)
    if math.log10(hi / lo) <= 2.5:
        axis.set_minor_locator(mpl.ticker.LogLocator(subs=(2.0, 5.0)))
        axis.set_minor_formatter(fmt)
    else:
        axis.set_minor_formatter(mpl.ticker.NullFormatter())


def _place_labels(fig: Figure, ax, items: list[tuple[str, tuple[float, float], float, str]],
                  arrows: list[tuple[tuple[float, float], tuple[float, float]]] = ()) -> None:
    """Name each point where its label hides no other label, marker or arrow (greedy, display space).

    ``items``: (text, (x, y) in data units, marker radius in points, colour); ``arrows``: (start,
    end) in data units of the ``arc3`` arrows drawn between points.  Each label tries eight
    positions around its marker and keeps the one with the fewest collisions, preferring positions
    inside the axes.  Labels stay out of the layout so that placing them moves nothing.
    """
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    px_per_pt = fig.dpi / 72.0
    ax_box = ax.get_window_extent(renderer)
    centres = [ax.transData.transform(xy) for _, xy, _, _ in items]
    # sample the arc3 arrows (quadratic Bezier curves, as matplotlib draws them) in display space
    u = np.linspace(0.0, 1.0, 40)[:, None]
    arrow_pts = np.empty((0, 2))
    for a, b in arrows:
        p0, p2 = ax.transData.transform(a), ax.transData.transform(b)
        d = p2 - p0
        p1 = (p0 + p2) / 2 + _ARROW_RAD * np.array([d[1], -d[0]])
        arrow_pts = np.vstack([arrow_pts, (1 - u) ** 2 * p0 + 2 * u * (1 - u) * p1 + u ** 2 * p2])
    markers = [Bbox.from_bounds(cx - r * px_per_pt, cy - r * px_per_pt, 2 * r * px_per_pt,
                                2 * r * px_per_pt) for (cx, cy), (_, _, r, _) in zip(centres, items)]
    placed: list[Bbox] = []
    for k, (text, xy, r, colour) in enumerate(items):
        g, d = r + 3, (r + 1) * 0.75
        candidates = [(g, 0, "left", "center"), (d, d, "left", "bottom"), (d, -d, "left", "top"),
                      (-g, 0, "right", "center"), (0, g, "center", "bottom"),
                      (0, -g, "center", "top"), (-d, d, "right", "bottom"), (-d, -d, "right", "top")]
        best = None
        for rank, (dx, dy, ha, va) in enumerate(candidates):
            t = ax.annotate(text, xy, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                            fontsize=7.5, color=colour, zorder=4, annotation_clip=False)
            t.set_in_layout(False)
            bb = t.get_window_extent(renderer).padded(3.0)
            hits = sum(bb.overlaps(o) for o in placed)
            hits += sum(bb.overlaps(m) for j, m in enumerate(markers) if j != k)
            hits += bool(np.any((arrow_pts[:, 0] >= bb.x0) & (arrow_pts[:, 0] <= bb.x1)
                                & (arrow_pts[:, 1] >= bb.y0) & (arrow_pts[:, 1] <= bb.y1)))
            outside = not (ax_box.x0 <= bb.x0 and bb.x1 <= ax_box.x1
                           and ax_box.y0 <= bb.y0 and bb.y1 <= ax_box.y1)
            cost = 10 * hits + 25 * outside + rank
            t.remove()
            if best is None or cost < best[0]:
                best = (cost, (dx, dy, ha, va), bb)
        _, (dx, dy, ha, va), bb = best
        t = ax.annotate(text, xy, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                        fontsize=7.5, color=colour, zorder=4, annotation_clip=False)
        t.set_in_layout(False)
        placed.append(bb)
