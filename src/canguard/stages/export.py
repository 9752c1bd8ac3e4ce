"""Rule export: every model of deploy.models (seed 0; ``rules``: the rule baseline) -> a self-contained detector folder
(:mod:`canguard.deploy.bundle`) that ``canguard detect`` runs: the ONNX model checked against PyTorch, the
preprocessing, and the profile and threshold of every training vehicle (zero-shot) and every enrolled test
vehicle.  One job exports them one after the other, so the exporter starts once."""

from canguard.deploy.bundle import export_detector, export_rule_detector
from canguard.detectors import RULES
from canguard.stages import pair


def run_export(inputs, outputs, params, wildcards) -> None:
    models = params["models"]
    ckpts = pair([m for m in models if m != RULES], inputs["ckpts"], "checkpoints")
    thresholds = pair(models, inputs["thresholds"], "threshold files")
    training_profiles = pair(params["training_vehicles"], inputs["training_profiles"], "training profiles")
    enrollments = pair(params["test_vehicles"], inputs["enrollments"], "enrollments")
    common = {"training_profiles": training_profiles, "enrollments": enrollments,
              "false_alarms_per_hour": params["false_alarms_per_hour"]}
    for model, folder in pair(models, outputs["detectors"], "detector folders").items():
        if model == RULES:
            export_rule_detector(inputs["preprocessing"], thresholds[model], inputs["val"], folder, **common)
        else:
            export_detector(ckpts[model], inputs["preprocessing"], thresholds[model], inputs["val"], folder,
                            name=model, **common)
