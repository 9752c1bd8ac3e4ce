"""Rule export: every trained model of deploy.models (seed 0) -> a self-contained detector folder
(:mod:`canguard.deploy.bundle`) that ``canguard detect`` runs: the ONNX model checked against PyTorch, the
preprocessing, and the profile and threshold of every training vehicle (zero-shot) and every enrolled test
vehicle.  One job exports them one after the other, so the exporter starts once."""

from canguard.deploy.bundle import export_detector
from canguard.stages import pair


def run_export(inputs, outputs, params, wildcards) -> None:
    models = params["models"]
    ckpts = pair(models, inputs["ckpts"], "checkpoints")
    thresholds = pair(models, inputs["thresholds"], "threshold files")
    training_profiles = pair(params["training_vehicles"], inputs["training_profiles"], "training profiles")
    enrollments = pair(params["test_vehicles"], inputs["enrollments"], "enrollments")
    for model, folder in pair(models, outputs["detectors"], "detector folders").items():
        export_detector(ckpts[model], inputs["preprocessing"], thresholds[model], inputs["val"], folder, name=model,
                        training_profiles=training_profiles, enrollments=enrollments,
                        false_alarms_per_hour=params["false_alarms_per_hour"])
