"""A deployable detector: one folder that scores CAN windows without the workflow, PyTorch or pickle.

    canguard export results/default/models/synthetic/gat_student/seed0
    # -> results/default/detectors/synthetic/gat_student/seed0/

Layout::

    detector.json                 what the detector is and how it judges (below)
    model.onnx                    the window score (canguard.deploy.onnx_model), weights inside
    integrity.json                every other file with its SHA-256, optionally signed
                                  (canguard.deploy.integrity)
    vehicles/<protocol>/<v>.json  per vehicle: its profile and its threshold
                                  zero_shot/<v>: a training vehicle, its training profile and the
                                                 threshold of benign validation windows
                                  enrolled/<v>:  an enrolled vehicle (by the workflow or
                                                 ``canguard enroll``), its enrollment profile and the
                                                 threshold of its enrollment windows

``detector.json`` holds the model's identity (family, role, sizes, parameters), the window
size and stride, the feature specification, the preprocessing (CAN-ID vocabulary, the mean
and standard deviation of every feature, what it was fitted on), the threshold for a vehicle
without profile, the false-alarm budget, the export's own check (ONNX against PyTorch), the
versions it was made with and the SHA-256 of every source (checkpoint, preprocessing,
thresholds, profiles).  Everything is JSON or ONNX: loading runs no pickle.

Loading trusts nothing it reads (:class:`DetectorBundle`): every file of the folder must be the one
``integrity.json`` lists (and, with ``trust``, signed by that key), the detector's identity
(``detector_id``) is recomputed from ``detector.json`` and the model and must match, and every JSON file is
checked key by key (:mod:`canguard.deploy.validate`) before a message is read.  A vehicle's name is a name
(:data:`VEHICLE_NAME`): it never leaves ``vehicles/<protocol>/``.

A detector judges a window of vehicle ``v`` as the evaluation's protocol that names it does
(:mod:`canguard.evaluation.alarms`): enrolled (``v``'s enrollment profile and threshold),
zero-shot on a training vehicle (its training profile, the validation threshold), or zero-shot
on a vehicle without profile (no profile, the threshold of validation windows without
profiles).
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from canguard import __version__
from canguard.atomic import file_sha256, write_bytes, write_text
from canguard.deploy import integrity
from canguard.deploy.validate import (
    Checker,
    DetectorError,
    check_integrity_record,
    check_manifest,
    check_vehicle_entry,
    read_json,
)
from canguard.detectors import FAMILIES, RULES
from canguard.evaluation.alarms import ZERO_SHOT_NO_PROFILE, ZERO_SHOT_PROFILE
from canguard.graphs.features import EDGE_FEATURES, NODE_FEATURES, feature_spec
from canguard.graphs.preprocessing import Preprocessing
from canguard.profiles.profile import VehicleProfile

log = logging.getLogger(__name__)

FORMAT = "canguard-detector"
FORMAT_VERSION = 2  # 2: integrity.json, detector_id from the whole manifest
MANIFEST = "detector.json"
MODEL_FILE = "model.onnx"
MAX_MODEL_BYTES = 1 << 30
# a vehicle's name: letters, digits, '_', '-', '.'; starts with a letter or digit (so never '.' or '..'),
# at most 64 characters: it is a file name inside vehicles/<protocol>/ and nothing else
VEHICLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
PROTOCOLS = ("enrolled", "zero_shot")  # the order a vehicle's entries are preferred in
SCORE_MEANING = {
    "gat": "the GAT's attack log-odds (logit of attack minus logit of benign)",
    "vgae": "the VGAE's reconstruction error (node features + CAN-ID cross-entropy + edges)",
    RULES: "the rule baseline's score (share of messages of IDs the profile never saw + the largest count "
           "excess in standard deviations / 100; canguard.models.rules)",
}


@dataclass
class Judging:
    """How a stream's windows are judged: the profile they are compared with and the threshold."""

    vehicle: str | None
    protocol: str           # "enrolled", "zero_shot" or "zero_shot (no profile)"
    profile: VehicleProfile | None
    threshold: float
    fit_on: str

    def describe(self) -> dict:
        return {"vehicle": self.vehicle, "protocol": self.protocol, "threshold": self.threshold,
                "threshold_fit_on": self.fit_on,
                "profile": self.profile.digest() if self.profile is not None else None}


def check_vehicle_name(vehicle: str) -> str:
    if not isinstance(vehicle, str) or not VEHICLE_NAME.fullmatch(vehicle):
        raise DetectorError(f"vehicle name {vehicle!r}: expected 1-64 letters, digits, '_', '-' or '.', starting "
                            f"with a letter or digit (a name, not a path)")
    return vehicle


def vehicle_file(folder: Path, protocol: str, vehicle: str) -> Path:
    """``vehicles/<protocol>/<vehicle>.json`` of ``folder``; the name is checked, and the path must stay inside."""
    if protocol not in PROTOCOLS:
        raise DetectorError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    base = (Path(folder) / "vehicles" / protocol).resolve()
    path = base / f"{check_vehicle_name(vehicle)}.json"
    if path.resolve().parent != base:
        raise DetectorError(f"vehicle name {vehicle!r}: its entry would lie outside {base}")
    return Path(folder) / "vehicles" / protocol / path.name


def vehicle_entry(vehicle: str, protocol: str, profile: VehicleProfile, threshold: dict, detector_id: str,
                  source: dict) -> dict:
    return {"vehicle": vehicle, "protocol": protocol, "detector_id": detector_id,
            "threshold": threshold, "source": source, "profile": profile.to_json()}


def write_vehicle(folder: Path, entry: dict) -> Path:
    path = vehicle_file(folder, entry["protocol"], entry["vehicle"])
    write_text(path, json.dumps(entry, indent=1, allow_nan=False) + "\n")
    return path


def _entry_id(path: Path) -> str | None:
    try:
        return json.loads(path.read_text()).get("detector_id")
    except (OSError, ValueError, AttributeError):
        return None


def versions() -> dict:
    import onnx
    import onnxruntime
    import torch
    import torch_geometric

    return {"canguard": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__}


def detector_id(manifest: dict) -> str:
    """What a detector is, from its content: every key of ``detector.json`` but the identity itself (the model
    through its SHA-256, the window, features, preprocessing, thresholds, budget...).  A vehicle's threshold is
    fitted for this identity, and loading recomputes it."""
    content = {k: v for k, v in manifest.items() if k != "detector_id"}
    return hashlib.blake2b(json.dumps(content, sort_keys=True, separators=(",", ":")).encode(),
                           digest_size=8).hexdigest()


class DetectorBundle:
    """A detector folder, checked as a whole on load (see the module docstring); ``trust``: a public key the
    folder must be signed by (``canguard detect --trust``)."""

    def __init__(self, folder: str | Path, trust: str | Path | None = None):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise DetectorError(f"{self.folder}: not a folder (expected a detector folder written by "
                                f"`canguard export`)")
        path = self.folder / MANIFEST
        self.manifest = read_json(path, "a detector folder's manifest, written by `canguard export`")
        c = Checker(path)
        c.obj(self.manifest, "", ("format", "format_version"))
        if self.manifest.get("format") != FORMAT or self.manifest.get("format_version") != FORMAT_VERSION:
            got = f"{self.manifest.get('format')!r} version {self.manifest.get('format_version')!r}"
            raise DetectorError(f"{path}: format {got}, expected {FORMAT!r} version {FORMAT_VERSION}; export again")
        record_path = self.folder / integrity.INTEGRITY
        record = read_json(record_path, "the list of the folder's files, written by `canguard export`")
        check_integrity_record(Checker(record_path), record, integrity.MAX_FILES)
        try:
            self.verified = integrity.verify_folder(self.folder, record, trust)
        except integrity.IntegrityError as e:
            raise DetectorError(str(e)) from None
        self.record = record
        check_manifest(c, self.manifest, (*FAMILIES, RULES), feature_spec(), NODE_FEATURES, EDGE_FEATURES)
        model = self.folder / self.manifest["onnx"]["file"]
        if model.stat().st_size > MAX_MODEL_BYTES:
            raise DetectorError(f"{model}: {model.stat().st_size} bytes, over the limit of {MAX_MODEL_BYTES}")
        self.model_bytes = model.read_bytes()
        digest = hashlib.sha256(self.model_bytes).hexdigest()
        if digest != self.manifest["onnx"]["sha256"]:
            raise DetectorError(f"{model}: content hash mismatch (expected {self.manifest['onnx']['sha256'][:16]}..., "
                                f"got {digest[:16]}...): the file was changed or truncated; export again")
        self.id = detector_id(self.manifest)
        for where, said in ((path, self.manifest["detector_id"]), (record_path, record["detector_id"])):
            if said != self.id:
                raise DetectorError(f"{where}: detector_id {said!r}, but the content of {MANIFEST} and the model is "
                                    f"{self.id!r}: the detector was changed after export; export again")
        self.prep = Preprocessing.from_json(self.manifest["preprocessing"])

    @property
    def name(self) -> str:
        return self.manifest["model"]["name"]

    @property
    def size(self) -> int:
        return int(self.manifest["windows"]["size"])

    @property
    def stride(self) -> int:
        return int(self.manifest["windows"]["stride"])

    def vehicles(self) -> dict[str, list[str]]:
        """protocol -> the vehicles with an entry."""
        return {p: sorted(f.stem for f in (self.folder / "vehicles" / p).glob("*.json")) for p in PROTOCOLS}

    def judging(self, vehicle: str | None = None, protocol: str | None = None) -> Judging:
        """How windows of ``vehicle`` are judged (``protocol``: force one; default enrolled, else zero-shot);
        without a vehicle, as a vehicle without profile."""
        if vehicle is None:
            if protocol == "enrolled":
                raise DetectorError("the enrolled protocol needs a vehicle (--vehicle): it judges by that vehicle's "
                                    "enrollment")
            t = self.manifest["thresholds"]["no_profile"]
            return Judging(None, "zero_shot (no profile)", None, float(t["value"]), t["fit_on"])
        if protocol is not None and protocol not in PROTOCOLS:
            raise DetectorError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        for p in [protocol] if protocol else PROTOCOLS:
            path = vehicle_file(self.folder, p, vehicle)
            if path.is_file():
                return self._judging_of(path, vehicle, p)
        known = {p: v for p, v in self.vehicles().items() if v}
        raise DetectorError(f"{self.folder}: no {protocol or 'enrolled or zero-shot'} entry for vehicle {vehicle!r} "
                            f"(entries: {known or 'none'}); enrol it with `canguard enroll --model {self.folder} "
                            f"--vehicle {vehicle} BENIGN.log`, or leave --vehicle out to judge without a profile")

    def _judging_of(self, path: Path, vehicle: str, protocol: str) -> Judging:
        entry = read_json(path, f"the {protocol} entry of vehicle {vehicle}")
        check_vehicle_entry(Checker(path), entry, vehicle, protocol, self.size)
        if entry["detector_id"] != self.id:
            raise DetectorError(f"{path}: fitted for detector {entry['detector_id']!r}, this is {self.id!r}: "
                                f"its threshold belongs to another model; enrol the vehicle again")
        t = entry["threshold"]
        return Judging(entry["vehicle"], entry["protocol"], VehicleProfile.from_json(entry["profile"]),
                       float(t["value"]), t["fit_on"])

    def scorer(self, threads: int = 1):
        from canguard.deploy.onnx_model import OnnxScorer

        return OnnxScorer(self.model_bytes, threads)


# --- export ---------------------------------------------------------------------------------------


def export_detector(ckpt: str | Path, preprocessing: str | Path, thresholds: str | Path, val_shards: str | Path,
                    out: str | Path, name: str, training_profiles: dict[str, str | Path] | None = None,
                    enrollments: dict[str, str | Path] | None = None, false_alarms_per_hour: float | None = None,
                    check_windows: int = 2048, sign_key: str | Path | None = None) -> dict:
    """Write the detector folder ``out`` from a trained model and the workflow's artefacts of its dataset;
    returns the manifest.  The ONNX model is checked against the PyTorch one on up to ``check_windows``
    validation windows (scores and alarm decisions at the no-profile and validation thresholds).  Every file is
    then listed in ``integrity.json``, signed with the Ed25519 private key ``sign_key`` if one is given."""
    from canguard.models.factory import load_model

    model, meta = load_model(ckpt)
    task = meta["task"]
    prep = Preprocessing.load(preprocessing)
    if task["preprocessing"] != prep.digest():
        raise DetectorError(f"{ckpt}: trained on preprocessing {task['preprocessing']}, but {preprocessing} is "
                            f"{prep.digest()}: they are not of the same run")
    info = {"name": name, "family": task["family"], "role": task["role"], "sizes": task["sizes"],
            "num_ids": task["num_ids"], "parameters": task["parameters"], "dataset": task.get("dataset"),
            "distilled_from": task.get("distilled_from")}
    return _export(model, info, (int(task["window_size"]), int(task["window_stride"])), prep, preprocessing,
                   thresholds, val_shards, out, {"checkpoint": {"path": str(ckpt), "sha256": file_sha256(ckpt)}},
                   training_profiles, enrollments, false_alarms_per_hour, check_windows, sign_key)


def export_rule_detector(preprocessing: str | Path, thresholds: str | Path, val_shards: str | Path,
                         out: str | Path, training_profiles: dict[str, str | Path] | None = None,
                         enrollments: dict[str, str | Path] | None = None, false_alarms_per_hour: float | None = None,
                         check_windows: int = 2048, sign_key: str | Path | None = None) -> dict:
    """The rule baseline (:class:`canguard.models.rules.ProfileRule`) as a detector folder, like a trained
    model's (:func:`export_detector`): nothing trained, its thresholds those of the workflow's evaluation of
    ``rules``; ``canguard detect`` and ``canguard enroll`` run it as any other detector."""
    from canguard.graphs.dataset import GraphShards
    from canguard.models.rules import ProfileRule

    prep = Preprocessing.load(preprocessing)
    manifest = GraphShards(val_shards).manifest
    size, stride = int(manifest["window_size"]), int(manifest["window_stride"])
    rule = ProfileRule(prep.node_mean, prep.node_std, size).eval()
    info = {"name": RULES, "family": RULES, "role": "", "sizes": {}, "num_ids": prep.num_ids,
            "parameters": 0, "dataset": None, "distilled_from": None}
    return _export(rule, info, (size, stride), prep, preprocessing, thresholds, val_shards, out, {},
                   training_profiles, enrollments, false_alarms_per_hour, check_windows, sign_key)


def _export(model, info: dict, windows: tuple[int, int], prep: Preprocessing, preprocessing, thresholds, val_shards,
            out, sources: dict, training_profiles, enrollments, false_alarms_per_hour, check_windows,
            sign_key) -> dict:
    """ONNX export of ``model``'s window score, checked against PyTorch on validation windows, then the folder."""
    import torch

    from canguard.deploy.onnx_model import OnnxScorer, TorchScorer, export_onnx
    from canguard.graphs.dataset import GraphShards, batch_from_shard
    from canguard.profiles.enrollment import Enrollment

    out = Path(out)
    family = info["family"]
    fitted = json.loads(Path(thresholds).read_text())
    shard = GraphShards(val_shards).shard(0)
    n = min(len(shard["y"]), check_windows)

    def inputs_of(count: int) -> dict:
        batch = batch_from_shard(shard, torch.arange(count))
        return {"x": batch.x.numpy(), "edge_index": batch.edge_index.numpy(), "batch": batch.batch.numpy(),
                "node_id": batch.node_id.numpy(), "edge_attr": batch.edge_attr.numpy(),
                "graph_ones": np.ones(count, np.float32)}

    inputs = inputs_of(n)
    model_bytes = export_onnx(model, family, inputs_of(min(n, 4)))
    reference = TorchScorer(model, family)(inputs)
    exported = OnnxScorer(model_bytes)(inputs)
    zero_shot = fitted["zero_shot"]
    agree = {k: bool(np.array_equal(reference >= zero_shot[k]["value"], exported >= zero_shot[k]["value"]))
             for k in (ZERO_SHOT_PROFILE, ZERO_SHOT_NO_PROFILE)}
    check = {"windows": int(n), "source": str(val_shards), "max_abs_diff": float(np.abs(reference - exported).max()),
             "decisions_agree": agree}
    if not all(agree.values()):
        raise DetectorError(f"{out}: the exported model's alarm decisions differ from PyTorch's on the validation "
                            f"windows ({check}); not exported")
    vehicles = []
    for protocol, paths, threshold_of in (
            ("zero_shot", training_profiles or {}, lambda v: zero_shot[ZERO_SHOT_PROFILE]),
            ("enrolled", enrollments or {}, lambda v: fitted["enrolled"][v])):
        for vehicle, path in sorted(paths.items()):
            if protocol == "enrolled" and vehicle not in fitted["enrolled"]:
                raise DetectorError(f"{thresholds}: no enrolled threshold for vehicle {vehicle!r}")
            enrollment = Enrollment.load(path)
            vehicles.append((protocol, vehicle, enrollment.profile, threshold_of(vehicle),
                             {"profile": str(path), "sha256": file_sha256(path), "report": enrollment.report()}))
    manifest = write_detector(
        out, model_bytes, info, windows, prep,
        {"no_profile": zero_shot[ZERO_SHOT_NO_PROFILE], "validation": zero_shot[ZERO_SHOT_PROFILE]},
        false_alarms_per_hour or zero_shot[ZERO_SHOT_PROFILE]["false_alarms_per_hour"], vehicles,
        check=check, sources=sources | {
            "preprocessing": {"path": str(preprocessing), "digest": prep.digest()},
            "thresholds": {"path": str(thresholds), "sha256": file_sha256(thresholds)}},
        sign_key=sign_key)
    log.info("%s: %s (%d bytes ONNX), checked on %d validation windows: max |ONNX - PyTorch| %.3g, decisions agree",
             out, info["name"], len(model_bytes), n, check["max_abs_diff"])
    return manifest


def write_detector(out: str | Path, model_bytes: bytes, model: dict, windows: tuple[int, int], prep: Preprocessing,
                   thresholds: dict, false_alarms_per_hour: float, vehicles: list[tuple], check: dict | None = None,
                   sources: dict | None = None, sign_key: str | Path | None = None) -> dict:
    """The detector folder ``out``: ``model.onnx`` (``model_bytes``), ``detector.json`` (``model``: name,
    family, role, sizes, num_ids, parameters, ...; the window ``(size, stride)``, the preprocessing, the
    ``no_profile`` and ``validation`` thresholds, the budget), one entry per ``(protocol, vehicle, profile,
    threshold, source)`` of ``vehicles``, and ``integrity.json`` over all of it (signed with ``sign_key``).
    Entries left from an earlier model are removed; any other file in ``out`` is refused.  Returns the manifest."""
    from canguard.deploy.onnx_model import INPUTS, OPSET, OUTPUT

    out = Path(out)
    entries = {f"{protocol}/{vehicle}": vehicle_file(out, protocol, vehicle).relative_to(out).as_posix()
               for protocol, vehicle, *_ in vehicles}
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "model": model,
        "score": SCORE_MEANING[model["family"]] + "; an alarm when score >= threshold",
        "onnx": {"file": MODEL_FILE, "sha256": hashlib.sha256(model_bytes).hexdigest(), "bytes": len(model_bytes),
                 "opset": OPSET, "inputs": list(INPUTS), "output": OUTPUT,
                 "exporter": "torch.onnx.export(dynamo=True)", "check": check},
        "windows": {"size": int(windows[0]), "stride": int(windows[1])},
        "features": feature_spec(),
        "preprocessing": prep.to_json(),
        "thresholds": thresholds,
        "false_alarms_per_hour": false_alarms_per_hour,
        "vehicles_at_export": entries,
        "sources": sources or {},
        "versions": versions(),
    }
    ident = detector_id(json.loads(json.dumps(manifest, allow_nan=False)))  # as a loader will read it
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "detector_id": ident} | manifest
    write_bytes(out / MODEL_FILE, model_bytes)
    for protocol, vehicle, profile, threshold, source in vehicles:
        write_vehicle(out, vehicle_entry(vehicle, protocol, profile, threshold, ident, source))
    for stale in (out / "vehicles").glob("*/*.json"):  # entries fitted for an earlier model: no longer valid
        if stale.relative_to(out).as_posix() not in entries.values() and _entry_id(stale) != ident:
            log.warning("%s: fitted for an earlier model, removed (enrol that vehicle again)", stale)
            stale.unlink()
    write_text(out / MANIFEST, json.dumps(manifest, indent=1, allow_nan=False) + "\n")
    kept = {MANIFEST, MODEL_FILE} | {f.relative_to(out).as_posix() for f in (out / "vehicles").glob("*/*.json")}
    strays = sorted(set(integrity.folder_files(out)) - kept)
    if strays:
        raise DetectorError(f"{out}: holds files that are not part of a detector ({', '.join(strays[:5])}); "
                            f"remove them or export to an empty folder")
    integrity.write_integrity(out, ident, sign_key)
    return manifest
