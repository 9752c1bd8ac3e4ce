"""Evaluation against hand-computed cases: metrics, false-alarm-budget thresholds, the one alarm rule,
protocols, exclusion of enrollment windows, detection delay, the fusion guarantee, the summary."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canguard.evaluation import figures
from canguard.evaluation.alarms import fit_thresholds, judge, raises_alarm
from canguard.evaluation.detection import detection_delays, detection_summary, false_alarms_per_hour
from canguard.evaluation.evaluate import evaluate, scored_rows
from canguard.evaluation.fusion import fuse
from canguard.evaluation.summary import markdown, summary_rows
from canguard.evaluation.thresholds import false_alarm_threshold
from canguard.metrics import auprc, auroc, binary_metrics


def test_binary_metrics_hand_computed():
    m = binary_metrics(np.array([1, 1, 0, 0, 1]), np.array([1, 0, 0, 1, 1]))
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (2, 1, 1, 1)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3) and m["accuracy"] == pytest.approx(3 / 5)
    assert m["mcc"] == pytest.approx((2 * 1 - 1 * 1) / math.sqrt(3 * 3 * 2 * 2))
    assert m["fpr"] == pytest.approx(1 / 2) and m["fnr"] == pytest.approx(1 / 3)


def test_without_attack_windows_f1_recall_precision_are_undefined_not_zero():
    m = binary_metrics(np.zeros(4), np.array([0, 1, 0, 0]))
    assert all(math.isnan(m[k]) for k in ("f1", "recall", "precision", "fnr", "mcc"))
    assert m["fpr"] == pytest.approx(0.25) and m["fp"] == 1
    missed = binary_metrics(np.array([1, 0]), np.array([0, 0]))  # attacks present, no alarm: 0, not n/a
    assert missed["f1"] == 0.0 and missed["recall"] == 0.0 and missed["precision"] == 0.0


def test_ranking_metrics_hand_computed():
    assert auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert auroc(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.5)  # a tie counts half
    assert math.isnan(auroc(np.array([1, 1]), np.array([0.2, 0.3])))
    assert auprc(np.array([1, 0, 1]), np.array([0.9, 0.8, 0.7])) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_false_alarm_threshold_empirical_with_many_windows_extrapolated_with_few():
    rng = np.random.default_rng(0)
    many = rng.exponential(1.0, 200_000)
    info = false_alarm_threshold(many, seconds_per_window=0.05, false_alarms_per_hour=36)  # alpha = 5e-4
    assert info["method"] == "empirical quantile" and info["alpha"] == pytest.approx(5e-4)
    assert info["value"] == pytest.approx(-math.log(5e-4), rel=0.05)  # exponential: P(X > t) = e^-t
    # 500 windows cannot resolve alpha = 5e-4: the exponential tail extrapolates beyond the sample
    few = rng.exponential(1.0, 500)
    info = false_alarm_threshold(few, 0.05, 36)
    assert info["method"].startswith("exponential tail") and info["value"] > few.max() * 0.8
    assert info["value"] == pytest.approx(-math.log(5e-4), rel=0.25)
    with pytest.raises(ValueError, match="no benign windows"):
        false_alarm_threshold(np.array([]), 0.05, 36)


def _scores(score_fn, vehicles=("kia", "spark")):
    """Windows of 1 s; per recording 10 windows, attack in windows 4..6.

    validation: one recording of kia, scored with profile (val) and without (val_masked);
    enrolled: enrollment windows of each vehicle (benign); test_01 (kia) and test_02 (spark) under both
    protocols; kia has a training profile, spark none (zero-shot: no profile).
    """
    rows = []

    def add(protocol, part, rec, vehicle, has_profile, attack=True, excluded=()):
        for w in range(10):
            y = int(attack and 4 <= w <= 6)
            rows.append({"protocol": protocol, "part": part, "recording": rec, "vehicle": vehicle, "window": w,
                         "t_start": 100.0 + w, "t_end": 100.0 + w + 0.9, "y": y,
                         "attack_type": "dos" if y else "none", "attack_frac": 0.5 * y,
                         "excluded": w in excluded, "has_profile": has_profile,
                         "score": score_fn(protocol, part, vehicle, w, y)})

    add("validation", "val", "train_02/DoS-kia", "kia", True)
    add("validation", "val_masked", "train_02/DoS-kia", "kia", False)
    for v in vehicles:
        add("enrolled", "enrollment", f"enrol/{v}", v, True, attack=False)
    for protocol in ("zero_shot", "enrolled"):
        add(protocol, "test_01", "test_01/DoS-kia", "kia", True)
        add(protocol, "test_02", "test_02/DoS-spark", "spark", protocol == "enrolled", excluded=(0, 1))
    return pd.DataFrame(rows)


def _score(protocol, part, vehicle, w, y):
    """Benign levels: kia ~1, spark ~10 unless enrolled; attacks +5 over the level; 0.1 * w jitter."""
    level = 10.0 if vehicle == "spark" and part != "val" else 1.0
    return level + 5.0 * y + 0.01 * w


def test_thresholds_per_protocol_and_vehicle():
    t = fit_thresholds(_scores(_score), false_alarms_per_hour=36, size=100, stride=100)
    zs = t["zero_shot"]
    assert set(zs) == {"validation", "validation without profile"} and set(t["enrolled"]) == {"kia", "spark"}
    # fitted on benign windows only: the validation attacks (score 6) never shape it
    assert zs["validation"]["value"] < 5 and t["enrolled"]["spark"]["value"] > 10
    alarms = judge(_scores(_score), t)
    spark_enrolled = alarms[(alarms["protocol"] == "enrolled") & (alarms["part"] == "test_02")]
    assert (spark_enrolled["threshold_fit"] == "spark").all()
    assert (alarms.loc[(alarms["protocol"] == "zero_shot") & (alarms["part"] == "test_02"), "threshold_fit"]
            == "validation without profile").all()


def test_alarm_rule_counts_equality_and_is_the_one_used_by_figures():
    assert raises_alarm([1.0, 0.999, 2.0], 1.0).tolist() == [True, False, True]
    alarms = judge(_scores(_score), fit_thresholds(_scores(_score), 36, 100, 100))
    metrics = evaluate(alarms[alarms["protocol"] == "enrolled"], pd.DataFrame(columns=["recording", "start", "end"]))
    for scenario, m in metrics.items():
        counts = figures.alarm_counts(alarms[alarms["protocol"] == "enrolled"], scenario)
        assert counts == {"alarms": m["tp"] + m["fp"], "false_alarms": m["fp"], "windows": m["windows"]}


def test_excluded_and_enrollment_windows_are_in_no_metric():
    alarms = judge(_scores(_score), fit_thresholds(_scores(_score), 36, 100, 100))
    rows = scored_rows(alarms)
    assert not rows["excluded"].any() and not (rows["part"] == "enrollment").any()
    result = evaluate(alarms[alarms["protocol"] == "enrolled"], pd.DataFrame(columns=["recording", "start", "end"]))
    assert result["test_02"]["windows"] == 8 and result["test_02"]["excluded_windows"] == 2
    assert result["test_01"]["windows"] == 10
    # enrolled, spark is judged by its own threshold: the attacks, and only they, raise alarms
    assert result["test_02"]["f1"] == 1.0
    # zero-shot, spark without profile is judged by the validation threshold: its benign level is above it
    zero = evaluate(alarms[alarms["protocol"] == "zero_shot"], pd.DataFrame(columns=["recording", "start", "end"]))
    assert zero["test_02"]["fpr"] == 1.0


def test_scenario_without_attacks_reports_false_alarms_and_na():
    table = _scores(_score)
    table.loc[table["part"] == "test_01", ["y", "attack_type"]] = [0, "none"]
    alarms = judge(table, fit_thresholds(table, 36, 100, 100))
    r = evaluate(alarms[alarms["protocol"] == "enrolled"], pd.DataFrame(columns=["recording", "start", "end"]))
    assert r["test_01"]["f1"] is None and r["test_01"]["recall"] is None and r["test_01"]["precision"] is None
    assert r["test_01"]["fp"] == 3 and r["test_01"]["false_alarms_per_hour"] == pytest.approx(3 / (10 * 0.9 / 3600))


def test_detection_delay_alarm_before_episode_does_not_count():
    windows = pd.DataFrame({"recording": "r", "t_start": [0.0, 1.0, 2.0], "t_end": [0.9, 1.9, 2.9],
                            "alarm": [True, False, True], "y": [0, 0, 1]})
    eps = pd.DataFrame({"recording": ["r"], "attack_type": ["dos"], "start": [2.1], "end": [2.8]})
    d = detection_delays(windows, eps)
    assert d["delay_s"].iloc[0] == pytest.approx(0.8)
    assert detection_summary(d)["detected"] == 1
    fah, hours = false_alarms_per_hour(windows)
    assert hours == pytest.approx(1.8 / 3600) and fah == pytest.approx(1 / hours)


def _member_alarms(score_fn):
    table = _scores(score_fn)
    thresholds = fit_thresholds(table, 36, 100, 100)
    return judge(table, thresholds), thresholds


def test_fusion_is_the_or_of_members_at_their_own_thresholds():
    # the classifier sees attacks in test_01 only, the anomaly detector in test_02 only
    a, ta = _member_alarms(lambda p, part, v, w, y: 1.0 + 0.01 * w + (5.0 * y if part == "test_01" else 0.0))
    b, tb = _member_alarms(lambda p, part, v, w, y: 1.0 + 0.01 * w + (5.0 * y if part == "test_02" else 0.0))
    fused = fuse({"gat": a, "vgae": b}, {"gat": ta, "vgae": tb})
    assert (fused["alarm"] == (fused["alarm_gat"] | fused["alarm_vgae"])).all()
    assert (fused["alarm"] == (fused["score"] >= 0)).all()
    episodes = pd.DataFrame(columns=["recording", "start", "end"])
    for protocol in ("zero_shot", "enrolled"):
        f1 = {name: evaluate(t[t["protocol"] == protocol], episodes) for name, t in (("gat", a), ("vgae", b),
                                                                                    ("fusion", fused))}
        for scenario in ("test_01", "test_02"):
            best = max(f1["gat"][scenario]["f1"], f1["vgae"][scenario]["f1"])
            assert f1["fusion"][scenario]["f1"] >= best - 0.01, (protocol, scenario)
    with pytest.raises(ValueError, match="same windows"):
        fuse({"gat": a, "vgae": b.iloc[:-1]}, {"gat": ta, "vgae": tb})


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), attack_rate=st.floats(0.02, 0.5), budget=st.floats(0.0, 0.02))
def test_fusion_guarantee_on_constructed_scores(seed, attack_rate, budget):
    """Two members, each raising false alarms on at most `budget` of the benign windows: the OR's recall
    is at least the better member's, its false alarms at most their sum, so its F1 never falls more than
    the other member's false alarms allow below the better member's."""
    rng = np.random.default_rng(seed)
    n = 2000
    y = rng.random(n) < attack_rate
    alarms = []
    for _ in range(2):
        hit = y & (rng.random(n) < rng.uniform(0, 1))
        false = ~y & (rng.random(n) < budget)
        alarms.append(hit | false)
    fused = alarms[0] | alarms[1]
    m = [binary_metrics(y, a) for a in alarms]
    f = binary_metrics(y, fused)
    if y.sum() == 0:
        return
    assert f["recall"] >= max(m[0]["recall"], m[1]["recall"])
    assert f["fp"] <= m[0]["fp"] + m[1]["fp"]
    better = int(m[1]["f1"] > m[0]["f1"])
    # F1 = 2tp / (2tp + fp + fn): the fusion loses at most the other member's false alarms
    bound = 2 * m[better]["tp"] / (2 * m[better]["tp"] + m[better]["fp"] + m[1 - better]["fp"] + m[better]["fn"])
    assert f["f1"] >= bound - 1e-12


def test_summary_table_and_markdown():
    alarms = judge(_scores(_score), fit_thresholds(_scores(_score), 36, 100, 100))
    episodes = pd.DataFrame(columns=["recording", "start", "end"])
    metrics = [{"dataset": "toy", "model": "gat_student", "seed": s, "protocol": p,
                "scenarios": evaluate(alarms[alarms["protocol"] == p], episodes)}
               for p in ("zero_shot", "enrolled") for s in (0, 1)]
    eff = {("toy", "gat_student"): {"parameters": 123, "cpu": {"latency_ms_batch1": 0.5,
                                                               "throughput_windows_per_s": 9000.0}}}
    table = summary_rows(metrics, eff)
    assert list(table["protocol"])[:4] == ["enrolled"] * 4
    assert table["seed"].tolist()[:2] == [0, 1] and table["parameters"].tolist() == [123] * 8
    md = markdown(table)
    assert "## toy: enrolled" in md and "## toy: zero_shot" in md
    assert "| test_02 | gat_student | 2 | 1.000 (1.000-1.000) |" in md  # mean (min-max) over seeds


def test_runs_compare_side_by_side_by_name():
    from canguard.evaluation.compare import compare_runs, markdown

    def run(name, f1s):
        return pd.DataFrame([{"run": name, "dataset": "d", "protocol": "enrolled", "scenario": "test_01",
                              "model": model, "seed": seed, "f1": f1}
                             for (model, seed), f1 in f1s.items()])

    a = run("a", {("gat_teacher", 0): 0.5, ("gat_teacher", 1): 0.7, ("rules", 0): 0.9})
    b = run("b", {("gat_teacher", 0): 0.8})
    wide = compare_runs([a, b])
    assert list(wide["model"]) == ["rules", "gat_teacher"] and list(wide.columns[-2:]) == ["a", "b"]
    teacher = wide[wide["model"] == "gat_teacher"].iloc[0]
    assert teacher["a"] == pytest.approx(0.6) and teacher["b"] == pytest.approx(0.8)
    assert "| d | enrolled | test_01 | rules | 0.900 | n/a |" in markdown(wide, "f1")
    with pytest.raises(ValueError, match="without column"):
        compare_runs([a.drop(columns="run")])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6)), min_size=2, max_size=60))
def test_auroc_is_the_share_of_attack_benign_pairs_ranked_right_ties_half(pairs):
    y = np.array([p[0] for p in pairs])
    score = np.array([p[1] for p in pairs], dtype=float)  # few distinct values: many ties
    pos, neg = score[y == 1], score[y == 0]
    if not len(pos) or not len(neg):
        assert math.isnan(auroc(y, score))
        return
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert auroc(y, score) == pytest.approx(wins / (len(pos) * len(neg)))
