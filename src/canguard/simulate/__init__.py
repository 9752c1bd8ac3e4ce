"""The built-in synthetic vehicle: a seeded CAN dataset in the can-train-and-test v1.5 layout.

Typical use::

    spec = SyntheticSpec.from_config(config["synthetic"])
    for plan in plan_recordings(spec):
        write_recording(plan, spec, root / plan.relpath)
"""

from canguard.simulate.attacks import ATTACKS, apply_attack, plan_intervals
from canguard.simulate.dataset import (
    RecordingPlan,
    SyntheticSpec,
    generate_recording,
    plan_recordings,
    synthetic_vehicle,
    write_cantt_csv,
    write_dataset,
    write_recording,
)
from canguard.simulate.traffic import benign_traffic
from canguard.simulate.vehicle import Sender, SyntheticVehicle, make_vehicle

__all__ = [
    "ATTACKS",
    "RecordingPlan",
    "Sender",
    "SyntheticSpec",
    "SyntheticVehicle",
    "apply_attack",
    "benign_traffic",
    "generate_recording",
    "make_vehicle",
    "plan_intervals",
    "plan_recordings",
    "synthetic_vehicle",
    "write_cantt_csv",
    "write_dataset",
    "write_recording",
]
