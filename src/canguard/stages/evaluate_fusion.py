"""Rule evaluate_fusion: the OR fusion of the GAT and the VGAE of one role and seed, each member at its own
threshold -> the alarms table and metrics of both protocols."""

import pandas as pd

from canguard.atomic import atomic_output
from canguard.detectors import FUSION, Detector
from canguard.evaluation.alarms import fit_thresholds, judge
from canguard.evaluation.fusion import fuse
from canguard.stages import write_json
from canguard.stages.evaluate import identity, write_metrics


def run_evaluate_fusion(inputs, outputs, params, wildcards) -> None:
    fusion = Detector(FUSION, wildcards["role"])
    thresholds, alarms = {}, {}
    for member in fusion.members:
        table = pd.read_parquet(inputs[member.family])
        thresholds[member.family] = fit_thresholds(table, params["false_alarms_per_hour"], params["size"],
                                                   params["stride"])
        alarms[member.family] = judge(table, thresholds[member.family])
    fused = fuse(alarms, thresholds)
    with atomic_output(outputs["alarms"]) as tmp:
        fused.to_parquet(tmp, index=False)
    write_json(outputs["thresholds"], thresholds)
    ident = identity(fusion, wildcards) | {"members": [m.name for m in fusion.members]}
    write_metrics(fused, inputs, outputs, params, ident, {"members": thresholds})
