"""Rule enroll: a test vehicle's enrollment traffic -> its enrolled profile (no labels, no retraining)."""

import logging

from canguard.profiles.enrollment import Enrollment, enroll
from canguard.stages import pair

log = logging.getLogger(__name__)


def fit_enrollment(plan: dict, recordings: list[str], size: int, out) -> Enrollment:
    """The enrollment of ``plan`` (:func:`canguard.profiles.enrollment.plan_enrollment`) from its recordings."""
    parquets = pair([item["recording"] for item in plan["recordings"]], recordings, "enrollment recordings")
    enrollment = enroll(plan, parquets, size)
    enrollment.save(out)
    r = enrollment.report()
    log.info("enrolled %s from %s: %d recordings, %.1f s, %d messages, %d IDs; %d attack messages inside%s",
             r["vehicle"], r["source"], r["recordings"], r["seconds"], r["messages"], r["profile_ids"],
             r["attack_messages"], " (FLAGGED)" if r["flagged"] else "")
    return enrollment


def run_enroll(inputs, outputs, params, wildcards) -> None:
    fit_enrollment(params["plan"], inputs["recordings"], params["size"], outputs["profile"])
