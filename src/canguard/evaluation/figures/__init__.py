"""Publication-quality figures for the evaluation report.

Every public plotting function builds a :class:`matplotlib.figure.Figure`
directly (object-oriented API, Agg canvas, no pyplot global state), applies
the shared :data:`STYLE` through :func:`matplotlib.rc_context`, writes both
``<out_base>.png`` (150 dpi) and ``<out_base>.svg`` (or the formats of
:func:`output_formats`) and returns the written paths.  Colours come from
the Okabe-Ito palette (colour-blind safe); a model's *family* (``gat``,
``vgae``, ``fusion``) sets its colour and its *role* (teacher, student,
student trained from scratch) its line style, marker and bar hatch, so the same model looks the same in every figure.

The ROC and precision-recall curves are :mod:`canguard.metrics`' own (the curves AUROC and
AUPRC are computed from), re-exported here.
"""

from canguard.evaluation.figures.attacks import per_attack_f1
from canguard.evaluation.figures.confusion import confusion_matrices
from canguard.evaluation.figures.scores import alarm_counts, roc_pr_curves, score_histograms
from canguard.evaluation.figures.style import (
    FORMATS,
    OKABE_ITO,
    STYLE,
    model_style,
    output_formats,
    pretty_model,
    pretty_scenario,
)
from canguard.evaluation.figures.timeline import score_timeline
from canguard.evaluation.figures.tradeoff import f1_vs_latency
from canguard.evaluation.figures.training import training_curves
from canguard.metrics import auc, average_precision, pr_curve, roc_curve

__all__ = [
    "FORMATS", "OKABE_ITO", "STYLE", "roc_curve", "pr_curve", "auc", "average_precision",
    "model_style", "output_formats", "pretty_model", "pretty_scenario",
    "training_curves", "confusion_matrices", "roc_pr_curves", "score_histograms",
    "per_attack_f1", "f1_vs_latency", "score_timeline", "alarm_counts",
]
