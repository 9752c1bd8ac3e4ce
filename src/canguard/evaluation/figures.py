"""Publication-quality figures for the evaluation report.

Every public plotting function builds a :class:`matplotlib.figure.Figure`
directly (object-oriented API, Agg canvas, no pyplot global state), applies
the shared :data:`STYLE` through :func:`matplotlib.rc_context`, writes both
``<out_base>.png`` (150 dpi) and ``<out_base>.svg`` and returns the written
paths.  Colours come from the Okabe-Ito palette (colour-blind safe); a model's
*family* (``gat``, ``vgae``, ``fusion``) sets its colour and its *role*
(teacher, student, student trained from scratch) its line style, marker and
bar hatch, so the same model looks the same in every figure.

The ROC and precision-recall curves are computed here in numpy
(:func:`roc_curve`, :func:`pr_curve`, :func:`auc`, :func:`average_precision`).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

__all__ = [
    "OKABE_ITO", "STYLE", "roc_curve", "pr_curve", "auc", "average_precision",
    "model_style", "pretty_model", "pretty_scenario",
    "training_curves", "confusion_matrices", "roc_pr_curves", "score_histograms",
    "per_attack_f1", "f1_vs_latency", "score_timeline", "alarm_counts",
]

# --------------------------------------------------------------------------- style

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
}
_CYCLE = [OKABE_ITO[k] for k in ("blue", "vermillion", "green", "orange", "purple", "sky_blue",
                                 "black", "yellow")]
_FAMILY_COLOURS = {"gat": OKABE_ITO["blue"], "vgae": OKABE_ITO["vermillion"],
                   "fusion": OKABE_ITO["green"], "rules": OKABE_ITO["black"]}
_EXTRA_COLOURS = [OKABE_ITO[k] for k in ("orange", "purple", "sky_blue", "black")]
# role -> (line style, marker, bar hatch, bar face alpha)
_ROLES = {
    "teacher": ("-", "o", "", 1.0),
    "student": ("--", "s", "///", 0.55),
    "student_scratch": (":", "^", "...", 0.25),
}
_ATTACK_COLOURS = [OKABE_ITO[k] for k in ("vermillion", "orange", "purple", "sky_blue", "green",
                                          "yellow", "blue")]
BENIGN_COLOUR = OKABE_ITO["sky_blue"]
ATTACK_COLOUR = OKABE_ITO["vermillion"]

#: rc parameters shared by every figure (applied with ``matplotlib.rc_context``).
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "legend.frameon": False,
    "figure.titlesize": 11,
    "figure.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "axes.prop_cycle": cycler(color=_CYCLE),
    "lines.linewidth": 1.6,
    "lines.markersize": 4,
    "savefig.dpi": 200,          # rasterised parts of SVGs (PNGs are written at PNG_DPI)
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    "svg.fonttype": "none",       # keep text as text in the SVG (editable, searchable)
    "svg.hashsalt": "canguard",   # deterministic element ids -> reproducible SVG files
}
PNG_DPI = 150
_MAX_CURVE_POINTS = 1000   # resolution of curve thinning (per unit of axis)
_RASTERIZE_ABOVE = 5000    # dense artists are rasterised inside the SVG


def _styled(func):
    """Run a plotting function inside the shared rc context."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(STYLE):
            return func(*args, **kwargs)
    return wrapper


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, out_base: str | Path) -> list[Path]:
    out_base = Path(out_base)
    out_base.parent.mkdir(parents=True, exist_ok=True)
    png = out_base.with_name(out_base.name + ".png")
    svg = out_base.with_name(out_base.name + ".svg")
    fig.savefig(png, dpi=PNG_DPI, metadata={"Software": None})
    fig.savefig(svg, metadata={"Date": None})
    return [png, svg]


def _split_model(name: str) -> tuple[str, str]:
    """``"gat_student_scratch"`` -> ``("gat", "student_scratch")``; unknown role -> ``""``."""
    for role in sorted(_ROLES, key=len, reverse=True):
        if name.endswith("_" + role):
            return name[: -len(role) - 1], role
    return name, ""


def pretty_model(name: str) -> str:
    """``"gat_student_scratch"`` -> ``"GAT student (scratch)"``."""
    family, role = _split_model(name)
    fam = {"gat": "GAT", "vgae": "VGAE", "fusion": "Fusion", "rules": "Rule baseline"}.get(
        family, family.replace("_", " "))
    role_txt = {"teacher": "teacher", "student": "student",
                "student_scratch": "student (scratch)"}.get(role, "")
    return f"{fam} {role_txt}".strip()


def pretty_scenario(scenario: str) -> str:
    """``"test_01_known_vehicle_unknown_attack"`` -> ``"test 01: known vehicle, unknown attack"``."""
    m = re.fullmatch(r"(test)_(\d+)_?(.*)", scenario)
    if not m:
        return scenario.replace("_", " ")
    rest = re.sub(r"(known|unknown)_vehicle_(known|unknown)_attack", r"\1 vehicle, \2 attack",
                  m.group(3)).replace("_", " ")
    return f"test {m.group(2)}" + (f": {rest}" if rest else "")


def _short_scenario(scenario: str) -> str:
    m = re.match(r"test_(\d+)", scenario)
    return f"test {m.group(1)}" if m else scenario.replace("_", " ")


def model_style(name: str, index: int = 0) -> dict:
    """Colour, line style, marker, hatch and face alpha of a model (family -> colour, role -> rest)."""
    family, role = _split_model(name)
    colour = _FAMILY_COLOURS.get(family, _EXTRA_COLOURS[index % len(_EXTRA_COLOURS)])
    ls, marker, hatch, alpha = _ROLES.get(role, ("-", "D", "", 0.8))
    return {"color": colour, "linestyle": ls, "marker": marker, "hatch": hatch, "alpha": alpha}


def _title(*parts: str | None) -> str:
    return " · ".join(p for p in parts if p)


def _dataset_of(metrics: Mapping[str, Mapping]) -> str | None:
    names = sorted({str(m.get("dataset")) for m in metrics.values() if m.get("dataset")})
    return ", ".join(names) if names else None


def _no_data(ax, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4",
            wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.spines[:].set_visible(False)


def _positive_and_skewed(values: np.ndarray, ratio: float = 1e3) -> bool:
    """True when every value is > 0 and the 1st..99th percentile range spans ``ratio``."""
    v = values[np.isfinite(values)]
    if v.size < 2 or np.any(v <= 0):
        return False
    lo, hi = np.percentile(v, [1, 99])
    return bool(hi / lo >= ratio) if lo > 0 else False


# --------------------------------------------------------------------------- curves (numpy)

def _curve_counts(y, score):
    y = np.asarray(y).astype(bool).ravel()
    score = np.asarray(score, dtype=np.float64).ravel()
    if y.shape != score.shape:
        raise ValueError(f"y and score differ in length: {y.shape} vs {score.shape}")
    keep = np.isfinite(score)
    y, score = y[keep], score[keep]
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    order = np.argsort(-score, kind="mergesort")
    y, score = y[order], score[order]
    # one point per distinct threshold: the last index of each run of equal scores
    last = np.r_[np.flatnonzero(np.diff(score) != 0), len(score) - 1] if len(score) else np.array([], int)
    tps = np.cumsum(y)[last].astype(np.float64)
    fps = np.cumsum(~y)[last].astype(np.float64)
    return tps, fps, n_pos, n_neg


def roc_curve(y, score) -> tuple[np.ndarray, np.ndarray]:
    """ROC curve ``(fpr, tpr)`` from (0, 0) to (1, 1), one point per distinct score (ties joined).

    ``y`` is 1 for attack, ``score`` larger for more attack-like windows; non-finite scores are
    dropped.  Raises ``ValueError`` unless both classes are present.
    """
    tps, fps, n_pos, n_neg = _curve_counts(y, score)
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"ROC needs both classes (attack: {n_pos}, benign: {n_neg})")
    return np.r_[0.0, fps / n_neg], np.r_[0.0, tps / n_pos]


def pr_curve(y, score) -> tuple[np.ndarray, np.ndarray]:
    """Precision-recall curve ``(recall, precision)``, recall rising from 0 (where precision is 1).

    Raises ``ValueError`` without attack windows.
    """
    tps, fps, n_pos, _ = _curve_counts(y, score)
    if n_pos == 0:
        raise ValueError("precision-recall needs at least one attack window")
    return np.r_[0.0, tps / n_pos], np.r_[1.0, tps / (tps + fps)]


def auc(x: np.ndarray, y: np.ndarray) -> float:
    """Trapezoidal area under a curve given by points sorted along ``x``."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Step-wise area under the PR curve (average precision): sum of (R_i - R_{i-1}) * P_i."""
    recall, precision = np.asarray(recall, np.float64), np.asarray(precision, np.float64)
    return float(np.sum(np.diff(recall) * precision[1:]))


def _thin(x: np.ndarray, y: np.ndarray, n: int = _MAX_CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Drop points of a curve in [0, 1]^2 that do not move it by 1/n in either direction."""
    if len(x) <= 2 * n:
        return x, y
    cell = np.round(x * n).astype(np.int64) * (n + 1) + np.round(y * n).astype(np.int64)
    keep = np.r_[True, cell[1:] != cell[:-1]]
    keep[-1] = True
    return x[keep], y[keep]


# --------------------------------------------------------------------------- figures

# metric -> (panel title, y label, CSV column names in order of preference)
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


@_styled
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
    fig = _new_figure(3.3 * ncols, 2.7 * nrows + 0.6)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    if not present:
        _no_data(axes[0], "no training metrics found")
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
    fig.suptitle(_title("Training curves", dataset))
    return _save(fig, out_base)


def _has_counts(m: Mapping, scenario: str) -> bool:
    sc = (m.get("scenarios") or {}).get(scenario) or {}
    return all(c in sc for c in ("tp", "fp", "tn", "fn"))


@_styled
def confusion_matrices(metrics: Mapping[str, Mapping], scenario: str,
                       out_base: str | Path) -> list[Path]:
    """Grid of 2x2 confusion matrices (one per model) for ``scenario``.

    Cells show counts and row-normalised percentages; colour is the row-normalised fraction.
    """
    names = list(metrics)
    n = max(len(names), 1)
    ncols = min(n, 4)
    nrows = math.ceil(n / ncols)
    fig = _new_figure(2.35 * ncols + 0.9, 2.35 * nrows + 0.5)
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
            _no_data(ax, "no results for\n" + pretty_scenario(scenario).replace(": ", ":\n"))
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
    fig.suptitle(_title("Confusion matrices", _dataset_of(metrics), pretty_scenario(scenario))
                 + (f"\nprotocol: {', '.join(protocols)}; thresholds: false-alarm budget on benign windows"
                    if protocols else ""))
    return _save(fig, out_base)


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


@_styled
def roc_pr_curves(scores: Mapping[str, pd.DataFrame], scenario: str, out_base: str | Path, *,
                  dataset: str | None = None) -> list[Path]:
    """ROC (AUROC in the legend) and precision-recall (AUPRC in the legend) side by side.

    One curve per model, from its alarms table's rows of ``scenario``, ranked by the margin
    ``score - threshold`` (as the metrics rank them).  A model whose rows hold a single class
    gets no curve, only a legend entry that says so.
    """
    fig = _new_figure(7.6, 4.3 + 0.14 * (len(scores) + 1))   # room for the legends below
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
            x, yy = _thin(fpr, tpr)
            ax_roc.plot(x, yy, label=f"{label} (AUROC {auc(fpr, tpr):.3f})", **kw)
        else:
            why = "no windows" if not len(rows) else ("only benign" if not n_pos else "only attack")
            ax_roc.plot([], [], label=f"{label}: n/a ({why})", **kw)
        if n_pos:
            rec, prec = pr_curve(y, s)
            x, yy = _thin(rec, prec)
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
    fig.suptitle(_title("ROC and precision-recall", dataset, pretty_scenario(scenario)))
    return _save(fig, out_base)


@_styled
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
    fig = _new_figure(6.4, 3.8)
    ax = fig.add_subplot()
    if s.size == 0:
        _no_data(ax, f"no scores for {scenario}")
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
    fig.suptitle(_title("Score distributions", pretty_model(model), dataset,
                        pretty_scenario(scenario)))
    return _save(fig, out_base)


@_styled
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
    labels = [f"{_short_scenario(s)} / {a}" if n_scen_of[a] > 1 else a for s, a in groups]
    names = list(metrics)
    fig = _new_figure(min(max(6.4, 0.15 * len(groups) * max(len(names), 1) + 3.0), 12.0), 4.0)
    ax = fig.add_subplot()
    if not groups:
        _no_data(ax, "no per-attack results")
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
        key = "; ".join(f"{_short_scenario(s)} = {pretty_scenario(s).split(': ', 1)[-1]}"
                        for s in shown if _short_scenario(s) != pretty_scenario(s))
        ax.set_xlabel("Attack type" + (f"\n({key})" if key else ""), fontsize=8)
    fig.suptitle(_title("Per-attack F1", _dataset_of(metrics)))
    return _save(fig, out_base)


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


@_styled
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
    fig = _new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    if not points:
        _no_data(ax, "no models with both metrics and efficiency")
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
            family, role = _split_model(name)
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
    fig.suptitle(_title("F1 vs CPU latency", _dataset_of(metrics), where))
    return _save(fig, out_base)


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


@_styled
def score_timeline(alarms: pd.DataFrame, recording: str, episodes: pd.DataFrame,
                   out_base: str | Path, model: str, *, dataset: str | None = None) -> list[Path]:
    """Score over time for one recording: attack episodes shaded, threshold and alarms marked.

    ``alarms``: the rows of one protocol (one threshold per recording: its vehicle's).  x is
    ``t_start`` minus the recording's first ``t_start`` (s).  A strip under the main axes shows
    the windows labelled attack (truth) and the windows that raise an alarm (the alarms table's
    ``alarm`` column, what the metrics count); enrollment windows are shaded grey.
    """
    rows = alarms.loc[(alarms["recording"] == recording) & (alarms["part"] != "enrollment")].sort_values("t_start")
    fig = _new_figure(7.6, 4.2)
    ax, strip = fig.subplots(2, 1, sharex=True, height_ratios=[4, 1])
    if rows.empty:
        _no_data(ax, f"no windows for recording {recording}")
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
        if _positive_and_skewed(s) and threshold > 0:
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
    fig.suptitle(_title("Score timeline", pretty_model(model), dataset, recording))
    return _save(fig, out_base)
