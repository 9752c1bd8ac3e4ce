"""Rule catalog: a dataset's raw files (and the training files of `train_with`) -> its recordings.

Every file under the dataset's root is a recording or listed under ``ignored`` with the reason;
each reason is logged as a warning, to the rule's log and to the console (stderr).  The ignored
files of a ``train_with`` dataset belong to that dataset's own catalog and are not listed here.
"""

import logging
import sys
from collections import defaultdict

from canguard.catalog import Ignored, build_catalog, scan, training_recordings
from canguard.stages import write_json

log = logging.getLogger(__name__)
SHOWN = 5  # ignored files named per reason in the log


def run_catalog(inputs, outputs, params, wildcards) -> None:
    found = scan(wildcards["dataset"], params["root"], params["vehicles"])
    recordings = list(found.recordings)
    for other, ds in params["train_with"].items():
        recordings += training_recordings(other, ds["root"], ds["vehicles"])
    catalog = build_catalog(recordings, found.ignored)
    write_json(outputs["catalog"], catalog)
    for entry in catalog["recordings"]:
        if entry["duplicate_of"]:
            log.info("%s is byte-identical to %s: ingested once", entry["key"], entry["duplicate_of"])
    warn_ignored(found.ignored)
    log.info("%d files found = %d recordings + %d duplicates + %d ignored", catalog["n_files"],
             catalog["n_unique"], catalog["n_duplicates"], catalog["n_ignored"])


def warn_ignored(ignored: list[Ignored]) -> None:
    """One warning per reason, naming the first files ignored for it."""
    by_reason: dict[str, list[str]] = defaultdict(list)
    for item in ignored:
        by_reason[item.reason].append(item.path)
    for reason, paths in by_reason.items():
        more = f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else ""
        message = f"ignored {len(paths)} file(s), {reason}: {', '.join(paths[:SHOWN])}{more}"
        log.warning("%s", message)
        if not _logs_to_stderr():
            print(f"WARNING catalog: {message}", file=sys.stderr)


def _logs_to_stderr() -> bool:
    """Whether the root logger already writes to the console (no rule log: :func:`canguard.logs.setup_logging`)."""
    return any(type(h) is logging.StreamHandler and h.stream is sys.stderr for h in logging.getLogger().handlers)
