"""Rule score_rules: the rule baseline's scores (no training: each window's comparison with its
vehicle's profile)."""

import logging

from canguard.evaluation.scoring import score_rule
from canguard.stages.score import shards_root

log = logging.getLogger(__name__)


def run_score_rules(inputs, outputs, params, wildcards) -> None:
    table = score_rule(inputs["preprocessing"], shards_root(inputs["parts"]), params["scenarios"], outputs["scores"])
    log.info("rule baseline: scored %d windows", len(table))
