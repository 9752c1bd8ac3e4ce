"""Rule simulate: one planned recording of a synthetic dataset -> its CSV (can-train-and-test layout)."""

import logging

from canguard.simulate import SyntheticSpec, plan_recordings, write_recording

log = logging.getLogger(__name__)


def run_simulate(inputs, outputs, params, wildcards) -> None:
    spec = SyntheticSpec.from_config(params["spec"])
    wanted = (wildcards["split"], wildcards["recording"])
    plan = next((p for p in plan_recordings(spec) if (p.split, p.name) == wanted), None)
    if plan is None:
        raise ValueError(f"{'/'.join(wanted)} is not a recording the synthetic spec plans")
    write_recording(plan, spec, outputs["csv"])
    log.info("wrote %s", outputs["csv"])
