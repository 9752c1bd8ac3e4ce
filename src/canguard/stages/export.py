"""Rule export: a trained model (seed 0) -> a self-contained detector folder (:mod:`canguard.deploy.bundle`)
that ``canguard detect`` runs: the ONNX model checked against PyTorch, the preprocessing, and the profile
and threshold of every training vehicle (zero-shot) and every enrolled test vehicle."""

from canguard.deploy.bundle import export_detector
from canguard.stages import pair


def run_export(inputs, outputs, params, wildcards) -> None:
    export_detector(
        inputs["ckpt"], inputs["preprocessing"], inputs["thresholds"], inputs["val"], outputs["detector"],
        name=wildcards["model"],
        training_profiles=pair(params["training_vehicles"], inputs["training_profiles"], "training profiles"),
        enrollments=pair(params["test_vehicles"], inputs["enrollments"], "enrollments"),
        false_alarms_per_hour=params["false_alarms_per_hour"])
