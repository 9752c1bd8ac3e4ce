"""One detector identity: names, roles, kinds, and the training settings each model reads."""

import pytest

from canguard.detectors import Detector, all_names, evaluated_detectors, fusions, table_order, trained_detectors
from canguard.training.config import TrainConfig, settings_for


def test_names_round_trip_and_say_what_a_detector_is():
    for name in all_names():
        assert Detector.parse(name).name == name
    scratch = Detector.parse("vgae_student_scratch")
    assert (scratch.family, scratch.role, scratch.architecture, scratch.distilled, scratch.kind) == (
        "vgae", "student_scratch", "student", False, "anomaly")
    assert Detector.parse("gat_student").distilled and Detector.parse("gat_student").kind == "classifier"
    assert Detector.parse("rules").kind == "rule" and not Detector.parse("rules").trained
    assert [m.name for m in Detector.parse("fusion_student").members] == ["gat_student", "vgae_student"]
    assert Detector.parse("gat_student_scratch").label == "GAT student (scratch)"


@pytest.mark.parametrize("name", ["gat", "gat_pupil", "fusion_student_scratch", "rules_teacher", "xgb_teacher"])
def test_a_name_that_is_no_detector_is_rejected(name):
    with pytest.raises(ValueError, match="not a detector name"):
        Detector.parse(name)


def test_detector_lists_follow_the_families():
    assert [d.name for d in trained_detectors(["gat"])] == ["gat_teacher", "gat_student", "gat_student_scratch"]
    assert fusions(["gat"]) == [] and len(fusions(["gat", "vgae"])) == 2
    names = [d.name for d in evaluated_detectors()]
    assert names[0] == "rules" and names[-1] == "fusion_student" and len(names) == 9
    assert sorted(reversed(names), key=table_order) == names


def test_a_model_reads_only_its_own_training_settings():
    full = TrainConfig().to_dict()
    teacher = settings_for(full, "gat", distilled=False)
    assert "temperature" not in teacher and "kl_weight" not in teacher and teacher["loss"] == "weighted_ce"
    student = settings_for(full, "vgae", distilled=True)
    assert {"temperature", "alpha", "beta", "kl_weight"} <= set(student) and "loss" not in student
    assert TrainConfig.from_dict(student).temperature == full["temperature"]
    with pytest.raises(ValueError, match="unknown training setting"):
        settings_for({"temprature": 2.0}, "gat", distilled=True)
