"""F1 per attack type and detector."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd

from canguard.evaluation.figures.style import (
    dataset_of,
    join_title,
    model_style,
    new_figure,
    no_data,
    pretty_model,
    pretty_scenario,
    save_figure,
    short_scenario,
    styled,
)


@styled
def per_attack_f1(metrics: Mapping[str, Mapping], out_base: str | Path) -> list[Path]:
    """Grouped bars: x = attack type (per scenario where it appears in several), bars = models."""
    groups: list[tuple[str, str]] = []
    for m in metrics.values():
        for scen, sc in m.get("scenarios", {}).items():
            for attack in (sc.get("per_attack") or {}):
                if attack != "none" and (scen, attack) not in groups:
                    groups.append((scen, attack))
    scen_order = {s: i for i, s in enumerate(dict.fromkeys(g[0] for g in groups))}
    groups.sort(key=lambda g: (scen_order[g[0]], g[1]))
    n_scen_of = pd.Series([a for _, a in groups]).value_counts().to_dict() if groups else {}
    labels = [f"{short_scenario(s)} / {a}" if n_scen_of[a] > 1 else a for s, a in groups]
    names = list(metrics)
    fig = new_figure(min(max(6.4, 0.15 * len(groups) * max(len(names), 1) + 3.0), 12.0), 4.0)
    ax = fig.add_subplot()
    if not groups:
        no_data(ax, "no per-attack results")
    else:
        x = np.arange(len(groups))
        width = 0.84 / max(len(names), 1)
        for i, name in enumerate(names):
            st = model_style(name, i)
            scen = metrics[name].get("scenarios", {})
            f1 = [((scen.get(s) or {}).get("per_attack") or {}).get(a, {}).get("f1") for s, a in groups]
            f1 = [np.nan if v is None else v for v in f1]
            face = mpl.colors.to_rgba(st["color"], st["alpha"])
            ax.bar(x - 0.42 + width * (i + 0.5), np.asarray(f1, dtype=float), width,
                   facecolor=face, edgecolor=st["color"], hatch=st["hatch"], linewidth=0.8,
                   label=pretty_model(name))
        ax.set_xticks(x, labels, rotation=30 if len(groups) > 4 else 0,
                      ha="right" if len(groups) > 4 else "center", rotation_mode="anchor")
        ax.set_xlim(-0.55, len(groups) - 0.45)
        ax.set_ylim(0, 1.0)
        ax.set_ylabel("F1 (attack class)")
        ax.grid(axis="x", visible=False)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="Model")
        shown = [s for s in scen_order if any(n_scen_of[a] > 1 and g == s for g, a in groups)]
        key = "; ".join(f"{short_scenario(s)} = {pretty_scenario(s).split(': ', 1)[-1]}"
                        for s in shown if short_scenario(s) != pretty_scenario(s))
        ax.set_xlabel("Attack type" + (f"\n({key})" if key else ""), fontsize=8)
    fig.suptitle(join_title("Per-attack F1", dataset_of(metrics)))
    return save_figure(fig, out_base)
