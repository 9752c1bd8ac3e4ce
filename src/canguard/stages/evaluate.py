"""Rule evaluate: one detector's scores -> thresholds (a false-alarm budget on benign windows), the alarms
table, and the metrics of both protocols."""

import logging

import pandas as pd

from canguard.atomic import atomic_output
from canguard.detectors import Detector
from canguard.evaluation.alarms import PROTOCOLS, fit_thresholds, judge
from canguard.evaluation.evaluate import evaluate
from canguard.evaluation.incidents import IncidentRule
from canguard.stages import pair, read_json, write_json

log = logging.getLogger(__name__)

PROTOCOL_NAMES = {
    "zero_shot": "zero-shot: nothing of a test vehicle seen; a known vehicle is compared with its training "
                 "profile, an unknown one with none; thresholds from benign validation windows",
    "enrolled": "enrolled: every test vehicle is compared with the profile of its enrollment traffic, and "
                "judged by thresholds fitted on its enrollment windows; no retraining",
}


def identity(detector: Detector, wildcards) -> dict:
    """What every metrics file says it is about."""
    return {"dataset": wildcards["dataset"], "model": detector.name, "family": detector.family,
            "role": detector.role, "kind": detector.kind, "seed": int(wildcards["seed"])}


def write_metrics(alarms: pd.DataFrame, inputs, outputs, params, ident: dict, thresholds: dict) -> None:
    """The metrics of both protocols from an alarms table (the enrolled ones with their enrollment report)."""
    episodes = pd.read_parquet(inputs["episodes"])
    enrollment = {v: read_json(p)["report"] for v, p in pair(params["test_vehicles"], inputs["enrollments"]).items()}
    rule = IncidentRule(**params["incidents"])
    for protocol in PROTOCOLS:
        scenarios = evaluate(alarms[alarms["protocol"] == protocol], episodes, rule)
        metrics = ident | {"protocol": protocol, "protocol_description": PROTOCOL_NAMES[protocol],
                           "thresholds": thresholds, "scenarios": scenarios}
        if protocol == "enrolled":
            metrics["enrollment"] = enrollment
            for r in scenarios.values():
                r["enrollment_attack_messages"] = sum(enrollment[v]["attack_messages"] for v in r["vehicles"])
                r["enrollment_seconds"] = {v: enrollment[v]["seconds"] for v in r["vehicles"]}
        write_json(outputs[protocol], metrics)
        for scenario, r in scenarios.items():
            log.info("%s %s %s, %s: F1 %s, AUROC %s, FA/h %s, incident recall %s, false incidents/h %s",
                     ident["dataset"], ident["model"], scenario, protocol, r["f1"], r["auroc"],
                     r["false_alarms_per_hour"], r["incidents"]["incident_recall"],
                     r["incidents"]["false_incidents_per_hour"])


def run_evaluate(inputs, outputs, params, wildcards) -> None:
    table = pd.read_parquet(inputs["scores"])
    thresholds = fit_thresholds(table, params["false_alarms_per_hour"], params["size"], params["stride"])
    alarms = judge(table, thresholds)
    with atomic_output(outputs["alarms"]) as tmp:
        alarms.to_parquet(tmp, index=False)
    write_json(outputs["thresholds"], thresholds)
    write_metrics(alarms, inputs, outputs, params, identity(Detector.parse(wildcards["model"]), wildcards),
                  thresholds)
