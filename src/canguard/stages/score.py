"""Rule score: a trained model -> the score of every window it is judged on (validation, enrollment and
each test scenario under both protocols)."""

import logging
import os

from canguard.evaluation.scoring import score_model

log = logging.getLogger(__name__)


def shards_root(parts: list[str]) -> str:
    """The dataset's shard folder, above every part folder."""
    return os.path.commonpath(parts)


def run_score(inputs, outputs, params, wildcards) -> None:
    table = score_model(inputs["ckpt"], shards_root(inputs["parts"]), params["scenarios"], outputs["scores"])
    log.info("scored %d windows in %d parts", len(table), table.groupby(["protocol", "part"]).ngroups)
