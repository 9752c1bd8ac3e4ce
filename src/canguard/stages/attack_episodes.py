"""Rule attack_episodes: the test recordings -> their attack episodes (what detection delay is timed from)."""

import logging

import pandas as pd

from canguard.atomic import atomic_output
from canguard.evaluation.detection import attack_episodes
from canguard.stages import pair

log = logging.getLogger(__name__)


def run_attack_episodes(inputs, outputs, params, wildcards) -> None:
    recordings = pair(params["recordings"], inputs["recordings"], "recordings")
    attacks = pair(params["recordings"], params["attacks"], "attacks")
    frames = [attack_episodes(path, key, attacks[key], params["max_gap_s"]) for key, path in sorted(recordings.items())]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    with atomic_output(outputs["episodes"]) as tmp:
        table.to_parquet(tmp, index=False)
    log.info("%d attack episodes in %d recordings", len(table), len(recordings))
