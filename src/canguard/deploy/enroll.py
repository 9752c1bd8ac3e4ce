"""Enrolling a new vehicle into a detector: its profile and threshold from benign traffic of its own.

    canguard enroll --model results/default/detectors/synthetic/gat_student/seed0 --vehicle delta benign.log

The same procedure as the workflow's enrolled protocol (:mod:`canguard.profiles.enrollment`,
:func:`canguard.evaluation.alarms.fit_thresholds`), with the detector's exported model: every
message of the logs counts (no labels are read to clean them; labelled attack messages are
counted and reported), the profile is fitted on all of it, and the threshold on the
enrollment windows scored out of sample (each half of a log against the profile of the other
half) at the detector's false-alarm budget.  Nothing is retrained.  The entry is written to
``vehicles/enrolled/<vehicle>.json`` in the detector folder, or, with ``out``, in a new folder: a copy of the
detector (verified on load) with the entry added, the folder read left as it was.  The folder's
``integrity.json`` then lists the new entry (re-signed with ``sign_key``; a signature is otherwise dropped, since
it no longer covers the folder).
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from pathlib import Path

import numpy as np

from canguard.deploy import integrity
from canguard.deploy.bundle import DetectorBundle, DetectorError, check_vehicle_name, vehicle_entry, write_vehicle
from canguard.deploy.onnx_model import batch_inputs
from canguard.evaluation.thresholds import false_alarm_threshold, seconds_per_window
from canguard.graphs.builder import select_graphs
from canguard.graphs.parts import profiled_window_graphs
from canguard.ingest.detect import read_any
from canguard.profiles.enrollment import enroll_frames

log = logging.getLogger(__name__)


def enroll_vehicle(bundle: DetectorBundle, vehicle: str, logs: list[str | Path], seconds: float | None = None,
                   false_alarms_per_hour: float | None = None, scorer=None, out: str | Path | None = None,
                   sign_key: str | Path | None = None) -> tuple[dict, Path]:
    """Fit ``vehicle``'s enrollment from ``logs`` (the first ``seconds`` of each, or all); returns the entry
    and the file it was written to (in ``out``, a new detector folder, if given)."""
    check_vehicle_name(vehicle)
    if out is not None:
        out = Path(out)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise DetectorError(f"{out}: exists and is not an empty folder (enroll --out writes a new detector "
                                f"folder)")
    if sign_key is not None:
        integrity.load_private_key(sign_key)  # a bad key fails now, not after the enrollment's work
    if not logs:
        raise ValueError("enroll: no log given (expected one or more benign logs of the vehicle)")
    recordings, rejects, read = [], Counter(), []
    for path in logs:
        result = read_any(path)
        recordings.append((str(path), result.frames, seconds))
        rejects.update(result.rejects.column("reason").to_pylist())
        read.append({"log": str(path), "format": result.format, "messages": len(result.frames),
                     "rejected": result.rejects.num_rows})
    enrollment = enroll_frames(vehicle, "logs", recordings, bundle.size, seconds)
    size, stride = bundle.size, bundle.stride
    scorer = scorer if scorer is not None else bundle.scorer()
    scores, t_start, t_end = [], [], []
    for key, frames, _ in recordings:
        graphs, index = profiled_window_graphs(key, frames, enrollment, size, stride)
        graphs = select_graphs(graphs, index > 0)  # inside an enrollment half, judged by the other half
        scores.append(scorer(batch_inputs(graphs, bundle.prep)))
        t_start.append(graphs.t_start)
        t_end.append(graphs.t_end)
    scores = np.concatenate(scores) if scores else np.zeros(0)
    if len(scores) == 0:
        raise ValueError(f"enroll {vehicle}: no enrollment window of {size} messages inside a half of "
                         f"{[str(p) for p in logs]} (each log needs at least {2 * size} messages"
                         f"{f' in its first {seconds} s' if seconds else ''})")
    budget = false_alarms_per_hour or bundle.manifest["false_alarms_per_hour"]
    spw = seconds_per_window(np.concatenate(t_start), np.concatenate(t_end), size, stride)
    threshold = false_alarm_threshold(scores, spw, budget) | {
        "fit_on": f"enrollment windows of {vehicle} (out of sample, unlabelled)"}
    report = enrollment.report() | {"enrollment_windows": len(scores), "logs": read,
                                    "rejects_by_reason": dict(rejects)}
    if report["flagged"]:
        log.warning("enroll %s: %d labelled attack messages in the enrollment traffic: the profile and the "
                    "threshold include them", vehicle, report["attack_messages"])
    entry = vehicle_entry(vehicle, "enrolled", enrollment.profile, threshold, bundle.id,
                          {"enrolled_by": "canguard enroll", "report": report})
    folder = bundle.folder if out is None else copy_detector(bundle, out)
    path = write_vehicle(folder, entry)
    integrity.update_integrity(folder, bundle.record, [path.relative_to(folder).as_posix()], sign_key)
    if bundle.record.get("signature") and sign_key is None:
        log.warning("%s: was signed by key %s; the signature no longer covers the folder and was removed (enrol "
                    "with --sign KEY to sign it again)", folder, bundle.record["signature"]["key_id"])
    log.info("enrolled %s: %d messages, %d IDs, threshold %.4g from %d windows (%s)", vehicle, report["messages"],
             report["profile_ids"], threshold["value"], len(scores), threshold["method"])
    return entry, path


def copy_detector(bundle: DetectorBundle, out: Path) -> Path:
    """The files of ``bundle`` (as verified on load) copied into the new folder ``out``."""
    for name in bundle.record["files"]:
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundle.folder / name, target)
    shutil.copyfile(bundle.folder / integrity.INTEGRITY, out / integrity.INTEGRITY)
    return out
