"""The look shared by every figure: palette, rc style, names and styles of models and scenarios,
saving in the configured formats."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
from collections.abc import Mapping
from pathlib import Path

import matplotlib as mpl
import numpy as np
from cycler import cycler
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from canguard.atomic import atomic_output
from canguard.detectors import Detector

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


def styled(func):
    """Run a plotting function inside the shared rc context."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(STYLE):
            return func(*args, **kwargs)
    return wrapper


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


FORMATS = ("png", "svg")
#: the formats every figure is written in (config figures.formats; :func:`output_formats`)
_formats: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("formats", default=FORMATS)
_SAVE_OPTIONS = {"png": {"dpi": PNG_DPI, "metadata": {"Software": None}}, "svg": {"metadata": {"Date": None}},
                 "pdf": {"metadata": {"CreationDate": None}}}


@contextlib.contextmanager
def output_formats(formats):
    """Write the figures drawn inside the block in ``formats`` (of png, svg, pdf) only."""
    unknown = sorted(set(formats) - set(_SAVE_OPTIONS))
    if unknown or not formats:
        raise ValueError(f"figure formats must be some of {sorted(_SAVE_OPTIONS)}, got {list(formats)}")
    token = _formats.set(tuple(formats))
    try:
        yield
    finally:
        _formats.reset(token)


def save_figure(fig: Figure, out_base: str | Path) -> list[Path]:
    out_base = Path(out_base)
    out_base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in _formats.get():
        path = out_base.with_name(f"{out_base.name}.{fmt}")
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format=fmt, **_SAVE_OPTIONS[fmt])
        written.append(path)
    return written


def split_model(name: str) -> tuple[str, str]:
    """``"gat_student_scratch"`` -> ``("gat", "student_scratch")``; a name that is no detector -> ``(name, "")``."""
    try:
        d = Detector.parse(name)
    except ValueError:
        return name, ""
    return d.family, d.role


def pretty_model(name: str) -> str:
    """``"gat_student_scratch"`` -> ``"GAT student (scratch)"``."""
    try:
        return Detector.parse(name).label
    except ValueError:
        return name.replace("_", " ")


def pretty_scenario(scenario: str) -> str:
    """``"test_01_known_vehicle_unknown_attack"`` -> ``"test 01: known vehicle, unknown attack"``."""
    m = re.fullmatch(r"(test)_(\d+)_?(.*)", scenario)
    if not m:
        return scenario.replace("_", " ")
    rest = re.sub(r"(known|unknown)_vehicle_(known|unknown)_attack", r"\1 vehicle, \2 attack",
                  m.group(3)).replace("_", " ")
    return f"test {m.group(2)}" + (f": {rest}" if rest else "")


def short_scenario(scenario: str) -> str:
    m = re.match(r"test_(\d+)", scenario)
    return f"test {m.group(1)}" if m else scenario.replace("_", " ")


def model_style(name: str, index: int = 0) -> dict:
    """Colour, line style, marker, hatch and face alpha of a model (family -> colour, role -> rest)."""
    family, role = split_model(name)
    colour = _FAMILY_COLOURS.get(family, _EXTRA_COLOURS[index % len(_EXTRA_COLOURS)])
    ls, marker, hatch, alpha = _ROLES.get(role, ("-", "D", "", 0.8))
    return {"color": colour, "linestyle": ls, "marker": marker, "hatch": hatch, "alpha": alpha}


def join_title(*parts: str | None) -> str:
    return " · ".join(p for p in parts if p)


def dataset_of(metrics: Mapping[str, Mapping]) -> str | None:
    names = sorted({str(m.get("dataset")) for m in metrics.values() if m.get("dataset")})
    return ", ".join(names) if names else None


def no_data(ax, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4",
            wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.spines[:].set_visible(False)


def positive_and_skewed(values: np.ndarray, ratio: float = 1e3) -> bool:
    """True when every value is > 0 and the 1st..99th percentile range spans ``ratio``."""
    v = values[np.isfinite(values)]
    if v.size < 2 or np.any(v <= 0):
        return False
    lo, hi = np.percentile(v, [1, 99])
    return bool(hi / lo >= ratio) if lo > 0 else False


def thin_curve(x: np.ndarray, y: np.ndarray, n: int = _MAX_CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Drop points of a curve in [0, 1]^2 that do not move it by 1/n in either direction."""
    if len(x) <= 2 * n:
        return x, y
    cell = np.round(x * n).astype(np.int64) * (n + 1) + np.round(y * n).astype(np.int64)
    keep = np.r_[True, cell[1:] != cell[:-1]]
    keep[-1] = True
    return x[keep], y[keep]
