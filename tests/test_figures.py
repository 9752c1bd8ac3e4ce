"""Evaluation figures: every function writes a real PNG and SVG from small generated inputs."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from canguard.evaluation import figures as F

MODELS = ["gat_teacher", "gat_student", "gat_student_scratch", "vgae_teacher", "vgae_student",
          "vgae_student_scratch", "fusion_teacher", "fusion_student"]
SCENARIOS = ["test_01_known_vehicle_known_attack", "test_02_unknown_vehicle_known_attack"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def svg_texts(path: Path) -> str:
    """Every text of an SVG figure (STYLE keeps text as <text>), joined by newlines."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    return "\n".join("".join(e.itertext()) for e in root.iter() if e.tag.endswith("text"))


def check_written(paths, out_base: Path) -> None:
    assert [Path(p) for p in paths] == [out_base.with_name(out_base.name + ".png"),
                                        out_base.with_name(out_base.name + ".svg")]
    png, svg = map(Path, paths)
    data = png.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5_000
    assert "<svg" in svg.read_text()


def fake_scores(rng, separation: float, *, n_rec: int = 2, n_win: int = 300, threshold: float = 1.5) -> pd.DataFrame:
    """An alarms table: windows of 1 s in several parts, attack windows inside one or two episodes per
    recording, judged by one threshold."""
    rows = []
    for part in ["val", *SCENARIOS]:
        for r in range(n_rec):
            rec = f"{part}_rec{r}"
            t = 1.7e9 + 1000 * r + np.arange(n_win, dtype=float)
            y = np.zeros(n_win, dtype=int)
            y[80:120] = 1
            if r == 1:
                y[200:230] = 1
            atype = np.where(y == 1, "dos" if r == 0 else "fuzzy", "none")
            score = rng.normal(0.0, 1.0, n_win) + separation * y
            rows.append(pd.DataFrame({
                "protocol": "enrolled", "part": part, "recording": rec, "window": np.arange(n_win), "t_start": t,
                "t_end": t + 1.0, "y": y, "attack_type": atype, "attack_frac": y.astype(float),
                "excluded": np.arange(n_win) < 5, "score": score, "threshold": threshold,
                "margin": score - threshold, "alarm": score >= threshold}))
    return pd.concat(rows, ignore_index=True)


def fake_metrics(rng) -> dict:
    out = {}
    for m in MODELS:
        scen = {}
        for s in SCENARIOS:
            tp, fn = int(rng.integers(50, 100)), int(rng.integers(0, 30))
            tn, fp = int(rng.integers(800, 1000)), int(rng.integers(0, 40))
            p, r = tp / (tp + fp), tp / (tp + fn)
            attacks = ["dos", "fuzzy", "gear"] if s.startswith("test_01") else ["dos", "rpm"]
            scen[s] = {"tp": tp, "fp": fp, "tn": tn, "fn": fn, "precision": p, "recall": r,
                       "f1": 2 * p * r / (p + r), "auroc": 0.95, "auprc": 0.9,
                       "per_attack": {a: {"f1": float(rng.uniform(0.3, 1.0)),
                                          "recall": float(rng.uniform(0.3, 1.0))} for a in attacks},
                       "detection": {"delay_median_s": 0.5}, "false_alarms_per_hour": 1.0}
        out[m] = {"dataset": "hcrl_sa", "model": m,
                  "threshold": {"value": 0.5, "rule": "val_f1_max"}, "scenarios": scen}
    return out


def fake_efficiency(rng) -> dict:
    out = {}
    for m in MODELS:
        teacher = m.endswith("teacher")
        params = int(rng.integers(200_000, 900_000) if teacher else rng.integers(20_000, 90_000))
        lat = float(rng.uniform(2.0, 8.0) if teacher else rng.uniform(0.3, 1.0))
        out[m] = {"model": m, "parameters": params, "checkpoint_bytes": params * 4,
                  "cpu": {"latency_ms_batch1": lat, "throughput_windows_per_s": 1000 / lat}}
    return out


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_roc_pr_helpers(rng):
    y = np.r_[np.zeros(500), np.ones(500)]
    perfect = np.r_[rng.uniform(0, 1, 500), rng.uniform(2, 3, 500)]
    fpr, tpr = F.roc_curve(y, perfect)
    assert F.auc(fpr, tpr) == pytest.approx(1.0)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    rec, prec = F.pr_curve(y, perfect)
    assert F.average_precision(rec, prec) == pytest.approx(1.0)

    random = rng.uniform(0, 1, 1000)
    fpr, tpr = F.roc_curve(y, random)
    assert F.auc(fpr, tpr) == pytest.approx(0.5, abs=0.06)
    rec, prec = F.pr_curve(y, random)
    assert F.average_precision(rec, prec) == pytest.approx(0.5, abs=0.06)
    assert np.all(np.diff(rec) >= 0) and rec[0] == 0.0 and rec[-1] == 1.0

    # ties: a constant score is one threshold -> the diagonal
    fpr, tpr = F.roc_curve(y, np.ones(1000))
    assert F.auc(fpr, tpr) == pytest.approx(0.5)
    # the figures draw canguard.metrics' own curves, the ones AUROC and AUPRC are computed from
    from canguard import metrics
    assert F.roc_curve is metrics.roc_curve and F.pr_curve is metrics.pr_curve

    with pytest.raises(ValueError):
        F.roc_curve(np.zeros(10), rng.uniform(size=10))
    with pytest.raises(ValueError):
        F.pr_curve(np.zeros(10), rng.uniform(size=10))


def test_training_curves(tmp_path, rng):
    runs = {}
    for m in ["gat_teacher", "gat_student", "vgae_teacher", "vgae_student_scratch"]:
        rows = []
        for e in range(12):
            rows.append({"epoch": e, "step": 10 * e + 9, "train_loss": 1.0 / (e + 1) + rng.uniform(0, .05)})
            val = {"epoch": e, "step": 10 * e + 9, "val_loss": 1.2 / (e + 1) + rng.uniform(0, .05),
                   "val_auroc": 1 - 0.5 / (e + 1)}
            if m.startswith("gat"):
                val["val_f1"] = 1 - 0.6 / (e + 1)
            else:
                val["val_attack_score"] = 0.5 + 0.03 * e
                val["val_loss"] *= 50  # reconstruction loss on another scale -> log axis
            rows.append(val)
        path = tmp_path / m / "metrics.csv"
        path.parent.mkdir()
        pd.DataFrame(rows).to_csv(path, index=False)   # empty cells where not logged
        runs[m] = path
    out = tmp_path / "fig" / "training_curves"
    check_written(F.training_curves(runs, out, dataset="hcrl_sa"), out)
    texts = svg_texts(out.with_suffix(".svg"))
    assert all(F.pretty_model(m) in texts for m in runs)


def test_confusion_matrices(tmp_path, rng):
    metrics = fake_metrics(rng)
    out = tmp_path / "confusion"
    check_written(F.confusion_matrices(metrics, SCENARIOS[0], out), out)
    texts = svg_texts(out.with_suffix(".svg"))
    for m in MODELS:
        sc = metrics[m]["scenarios"][SCENARIOS[0]]
        assert f"F1 = {sc['f1']:.3f}" in texts
        for key in ("tp", "fp", "tn", "fn"):
            assert f"{sc[key]:,}" in texts
    # a model without that scenario gets an empty panel instead of an error
    metrics["gat_teacher"]["scenarios"].pop(SCENARIOS[1])
    check_written(F.confusion_matrices(metrics, SCENARIOS[1], tmp_path / "c2"), tmp_path / "c2")


def test_roc_pr_curves(tmp_path, rng):
    scores = {m: fake_scores(rng, sep) for m, sep in
              zip(MODELS[:5], [3.0, 2.0, 1.0, 0.5, 0.0])}
    out = tmp_path / "roc_pr"
    check_written(F.roc_pr_curves(scores, SCENARIOS[0], out, dataset="hcrl_sa"), out)
    from canguard.metrics import auprc, auroc
    texts = svg_texts(out.with_suffix(".svg"))
    for m, table in scores.items():
        rows = table[(table["part"] == SCENARIOS[0]) & ~table["excluded"]]
        assert f"{F.pretty_model(m)} (AUROC {auroc(rows['y'], rows['margin']):.3f})" in texts
        assert f"{F.pretty_model(m)} (AUPRC {auprc(rows['y'], rows['margin']):.3f})" in texts


def test_roc_pr_single_class_does_not_crash(tmp_path, rng):
    benign_only = fake_scores(rng, 2.0)
    benign_only.loc[benign_only["part"] == SCENARIOS[0], "y"] = 0
    scores = {"gat_teacher": fake_scores(rng, 2.0), "gat_student": benign_only}
    out = tmp_path / "roc_single"
    check_written(F.roc_pr_curves(scores, SCENARIOS[0], out), out)
    # a scenario with no rows at all
    check_written(F.roc_pr_curves(scores, "test_99_missing", tmp_path / "none"), tmp_path / "none")
    # and the other figures on the single-class scenario
    check_written(F.score_histograms(benign_only, SCENARIOS[0], tmp_path / "h1",
                                     model="gat_student"), tmp_path / "h1")


def test_score_histograms(tmp_path, rng):
    scores = fake_scores(rng, 3.0)
    out = tmp_path / "hist"
    check_written(F.score_histograms(scores, SCENARIOS[0], out, model="gat_teacher",
                                     dataset="hcrl_sa"), out)
    # what the histogram shows is the alarms table's alarm column, outside the excluded windows
    counts = F.alarm_counts(scores, SCENARIOS[0])
    rows = scores[(scores["part"] == SCENARIOS[0]) & ~scores["excluded"]]
    texts = svg_texts(out.with_suffix(".svg"))
    assert f"(n = {int((rows['y'] == 0).sum()):,})" in texts and f"(n = {int((rows['y'] == 1).sum()):,})" in texts
    assert counts == {"alarms": int(rows["alarm"].sum()), "false_alarms": int((rows["alarm"] & (rows["y"] == 0)).sum()),
                      "windows": len(rows)}


def test_per_attack_f1(tmp_path, rng):
    out = tmp_path / "per_attack"
    metrics = fake_metrics(rng)
    check_written(F.per_attack_f1(metrics, out), out)
    texts = svg_texts(out.with_suffix(".svg"))
    assert all(a in texts for a in ("dos", "fuzzy", "gear", "rpm")) and F.pretty_model(MODELS[0]) in texts


def test_f1_vs_latency(tmp_path, rng):
    metrics, eff = fake_metrics(rng), fake_efficiency(rng)
    out = tmp_path / "f1_latency"
    check_written(F.f1_vs_latency(metrics, eff, None, out), out)
    assert F.pretty_model("fusion_student") in svg_texts(out.with_suffix(".svg"))
    del eff["fusion_student"]   # a model without efficiency numbers is left out
    out = tmp_path / "f1_latency_s1"
    check_written(F.f1_vs_latency(metrics, eff, SCENARIOS[0], out), out)
    texts = svg_texts(out.with_suffix(".svg"))
    assert F.pretty_model("fusion_student") not in texts and F.pretty_model("fusion_teacher") in texts


def test_score_timeline(tmp_path, rng):
    scores = fake_scores(rng, 3.0)
    rec = f"{SCENARIOS[0]}_rec1"
    t0 = scores.loc[scores["recording"] == rec, "t_start"].min()
    episodes = pd.DataFrame({"recording": [rec, rec, "other"],
                             "start": [t0 + 80, t0 + 200, t0], "end": [t0 + 120, t0 + 230, t0 + 5],
                             "attack_type": ["dos", "fuzzy", "dos"]})
    out = tmp_path / "timeline"
    check_written(F.score_timeline(scores, rec, episodes, out, model="gat_teacher",
                                   dataset="hcrl_sa"), out)
    texts = svg_texts(out.with_suffix(".svg"))
    alarms = int(scores.loc[scores["recording"] == rec, "alarm"].sum())
    assert f"{alarms:,}" in texts and "episode: dos" in texts and "episode: fuzzy" in texts


def test_helpers():
    assert F.pretty_model("gat_student_scratch") == "GAT student (scratch)"
    assert F.pretty_model("vgae_teacher") == "VGAE teacher"
    assert F.pretty_scenario("test_01_known_vehicle_unknown_attack") == \
        "test 01: known vehicle, unknown attack"
    # same family -> same colour; different role -> different line style
    a, b = F.model_style("gat_teacher"), F.model_style("gat_student")
    assert a["color"] == b["color"] and a["linestyle"] != b["linestyle"]


def test_figures_are_written_in_the_formats_asked_for(tmp_path):
    rng = np.random.default_rng(3)
    table = fake_scores(rng, 3.0)
    with F.output_formats(["png"]):
        paths = F.roc_pr_curves({"gat_teacher": table}, SCENARIOS[0], tmp_path / "roc")
    assert [p.name for p in paths] == ["roc.png"] and not list(tmp_path.glob("*.svg"))
    with F.output_formats(["pdf", "svg"]):
        paths = F.roc_pr_curves({"gat_teacher": table}, SCENARIOS[0], tmp_path / "roc2")
    assert [p.suffix for p in paths] == [".pdf", ".svg"] and paths[0].read_bytes()[:4] == b"%PDF"
    with pytest.raises(ValueError, match="figure formats"):
        with F.output_formats(["gif"]):
            pass


def test_draw_all_in_several_processes_writes_the_same_files(tmp_path):
    """The figures rule draws in as many processes as it has threads: the same files, byte for byte, in the
    same order as one process draws them."""
    from canguard.evaluation.plots import draw_all

    rng = np.random.default_rng(5)
    metrics = {m: v for m, v in fake_metrics(rng).items() if m in ("gat_teacher", "gat_student")}
    tables = {"gat_teacher": fake_scores(rng, 3.0, n_win=120)}
    zero_shot = {m: t.assign(protocol="zero_shot") for m, t in tables.items()}
    alarms = {m: pd.concat([tables[m], zero_shot[m]], ignore_index=True) for m in tables}
    t0 = tables["gat_teacher"]["t_start"].min()
    episodes = pd.DataFrame({"recording": [f"{SCENARIOS[0]}_rec0"], "start": [t0 + 80], "end": [t0 + 110],
                             "attack_type": ["dos"]})
    written = {}
    for workers in (1, 2):
        written[workers] = draw_all(tmp_path / f"w{workers}", {"enrolled": metrics, "zero_shot": metrics}, alarms,
                                    fake_efficiency(np.random.default_rng(1)), {}, episodes, formats=["png"],
                                    score_models=("gat_teacher",), workers=workers)
    names = [[p.relative_to(tmp_path / f"w{w}") for p in written[w]] for w in (1, 2)]
    assert names[0] == names[1] and len(names[0]) >= 12
    assert all((tmp_path / "w1" / n).read_bytes() == (tmp_path / "w2" / n).read_bytes() for n in names[0])
