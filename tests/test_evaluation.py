"""Evaluation metrics against hand-computed cases; thresholds, fusion, detection delay, summary."""

import math

import numpy as np
import pandas as pd
import pytest

from canguard.evaluation.calibration import calibrate
from canguard.evaluation.detection import detection_delays, detection_summary, false_alarms_per_hour
from canguard.evaluation.evaluate import evaluate
from canguard.evaluation.fusion import fuse
from canguard.evaluation.summary import markdown, summary_rows
from canguard.evaluation.thresholds import (LogisticStacker, benign_quantile_threshold, best_f1_threshold,
                                            fit_threshold)
from canguard.metrics import auprc, auroc, binary_metrics


def test_binary_metrics_hand_computed():
    m = binary_metrics(np.array([1, 1, 0, 0, 1]), np.array([1, 0, 0, 1, 1]))
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (2, 1, 1, 1)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3) and m["accuracy"] == pytest.approx(3 / 5)
    assert m["mcc"] == pytest.approx((2 * 1 - 1 * 1) / math.sqrt(3 * 3 * 2 * 2))
    assert m["fpr"] == pytest.approx(1 / 2) and m["fnr"] == pytest.approx(1 / 3)


def test_degenerate_predictions_do_not_divide_by_zero():
    m = binary_metrics(np.zeros(4), np.zeros(4))
    assert m["f1"] == 0.0 and m["mcc"] == 0.0 and m["accuracy"] == 1.0


def test_ranking_metrics_hand_computed():
    assert auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert auroc(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.5)  # a tie counts half
    assert math.isnan(auroc(np.array([1, 1]), np.array([0.2, 0.3])))
    # ranked 1, 0, 1: precision 1 at recall 1/2, 2/3 at recall 1
    assert auprc(np.array([1, 0, 1]), np.array([0.9, 0.8, 0.7])) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_thresholds_fitted_by_their_rules():
    y = np.array([0, 0, 1, 1, 1])
    assert best_f1_threshold(y, np.array([0.1, 0.2, 0.3, 0.9, 0.95])) == pytest.approx(0.3)
    scores = np.r_[np.arange(100.0), 1e6]  # the attack window's huge score must not move it
    assert benign_quantile_threshold(np.r_[np.zeros(100), 1], scores, 0.99) == pytest.approx(98.01)
    info = fit_threshold("anomaly", np.r_[np.zeros(100), 1], scores, 0.9)
    assert info["fitted_on"] == "val" and "quantile" in info["rule"]


def test_stacker_learns_to_combine_two_scores():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    gat = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.2, len(y)), 0.01, 0.99)
    vgae = 2.0 * y + rng.normal(0, 1.0, len(y))
    stacker = LogisticStacker().fit(gat, vgae, y)
    fused = stacker.predict(gat, vgae)
    assert stacker.w[0] > 0 and stacker.w[1] > 0
    assert auroc(y, fused) > max(auroc(y, gat), auroc(y, vgae))


def _scores(score_fn):
    """Two scenarios; each has one recording with 10 windows of 1 s, attack in windows 4..6."""
    rows = []
    for part, rec, attack in (("val", "train_02/dos-a", "dos"), ("test_01_x", "test_01/dos-b", "dos"),
                              ("test_03_y", "test_03/replay-b", "replay")):
        for w in range(10):
            y = int(4 <= w <= 6)
            rows.append({"part": part, "recording": rec, "window": w, "t_start": 100.0 + w,
                         "t_end": 100.0 + w + 0.9, "y": y, "attack_type": attack if y else "none",
                         "attack_frac": 0.5 * y, "score": score_fn(part, w, y)})
    return pd.DataFrame(rows)


def test_evaluate_per_scenario_attack_delay_and_false_alarms():
    # test_01: detected from window 5 (one late), one false alarm at window 0; test_03: never detected
    scores = _scores(lambda part, w, y: {"test_01_x": float(w >= 5 and y or w == 0),
                                         "test_03_y": 0.0, "val": float(y)}[part])
    episodes = pd.DataFrame({"recording": ["test_01/dos-b", "test_03/replay-b"], "attack_type": ["dos", "replay"],
                             "start": [104.2, 104.2], "end": [106.5, 106.5]})
    result = evaluate(scores, 0.5, episodes)
    assert set(result) == {"test_01_x", "test_03_y"}  # val is never evaluated
    a = result["test_01_x"]
    assert (a["tp"], a["fp"], a["fn"], a["tn"]) == (2, 1, 1, 6)
    assert a["per_attack"]["dos"]["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert a["detection"]["episodes"] == 1 and a["detection"]["missed"] == 0
    assert a["detection"]["delay_median_s"] == pytest.approx(105.9 - 104.2)  # window 5 ends at 105.9
    assert a["false_alarms_per_hour"] == pytest.approx(1 / (7 * 0.9 / 3600))
    b = result["test_03_y"]
    assert b["recall"] == 0.0 and b["detection"]["missed"] == 1 and b["detection"]["delay_median_s"] is None


def test_detection_delay_alarm_before_episode_does_not_count():
    windows = pd.DataFrame({"recording": "r", "t_start": [0.0, 1.0, 2.0], "t_end": [0.9, 1.9, 2.9],
                            "score": [1.0, 0.0, 1.0], "y": [0, 0, 1]})
    eps = pd.DataFrame({"recording": ["r"], "attack_type": ["dos"], "start": [2.1], "end": [2.8]})
    d = detection_delays(windows, 0.5, eps)
    assert d["delay_s"].iloc[0] == pytest.approx(0.8)
    assert detection_summary(d)["detected"] == 1
    fah, hours = false_alarms_per_hour(windows, 0.5)
    assert hours == pytest.approx(1.8 / 3600) and fah == pytest.approx(1 / hours)


def test_fusion_is_fitted_on_validation_rows_only():
    gat = _scores(lambda part, w, y: 0.9 if y else 0.1)
    vgae = _scores(lambda part, w, y: 5.0 if y else 1.0)
    fused, stacker = fuse(gat, vgae)
    assert len(fused) == len(gat) and list(fused.columns) == list(gat.columns)
    assert auroc(fused["y"].to_numpy(), fused["score"].to_numpy()) == 1.0
    with pytest.raises(ValueError, match="same windows"):
        fuse(gat, vgae.iloc[:-1])


def test_summary_table_and_markdown():
    scores = _scores(lambda part, w, y: float(y))
    episodes = pd.DataFrame(columns=["recording", "attack_type", "start", "end"])
    metrics = {"dataset": "toy", "model": "gat_student", "threshold": {"value": 0.5, "rule": "r"},
               "scenarios": evaluate(scores, 0.5, episodes)}
    eff = {("toy", "gat_student"): {"parameters": 123, "cpu": {"latency_ms_batch1": 0.5,
                                                               "throughput_windows_per_s": 9000.0}}}
    calibrated = metrics | {"protocol": "per-recording calibration"}
    table = summary_rows([calibrated, metrics], eff)
    assert list(table["protocol"]) == ["validation threshold"] * 2 + ["per-recording calibration"] * 2
    assert list(table["scenario"])[:2] == ["test_01_x", "test_03_y"] and (table["f1"] == 1.0).all()
    assert table["parameters"].tolist() == [123] * 4
    md = markdown(table)
    assert "| test_01_x | gat_student | 1.000 |" in md
    assert "## toy: validation threshold" in md and "## toy: per-recording calibration" in md


def test_calibration_standardises_each_recording_against_its_warm_up():
    # two recordings whose benign levels differ by 100: after calibration both start near 0
    rows = []
    for rec, offset in (("known", 0.0), ("unknown", 100.0)):
        for w in range(20):
            rows.append({"part": "test_02", "recording": rec, "window": w, "y": int(w >= 15),
                         "score": offset + (10.0 if w >= 15 else float(w % 3))})
    table = calibrate(pd.DataFrame(rows), warmup_windows=6, kind="anomaly")
    assert len(table) == 2 * 14 and table["window"].min() == 6  # warm-up windows excluded
    for rec, part in table.groupby("recording"):
        benign, attack = part[part["y"] == 0]["score"], part[part["y"] == 1]["score"]
        assert benign.abs().max() < 2 and attack.min() > 5, rec
    # probabilities go through log-odds: a saturated detector keeps its ranking
    probs = pd.DataFrame({"part": "p", "recording": "r", "window": range(10), "y": [0] * 8 + [1] * 2,
                          "score": [0.99, 0.991, 0.992, 0.99, 0.991, 0.992, 0.99, 0.991, 0.99999, 0.999999]})
    out = calibrate(probs, 4, "classifier")
    assert out["score"].iloc[-1] > out["score"].iloc[-2] > out["score"].iloc[0]
    with pytest.raises(ValueError):
        calibrate(probs, 1, "anomaly")
