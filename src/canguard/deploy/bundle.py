"""A deployable detector: one folder that scores CAN windows without the workflow, PyTorch or pickle.

    canguard export results/default/models/synthetic/gat_student/seed0
    # -> results/default/detectors/synthetic/gat_student/seed0/

Layout::

    detector.json                 what the detector is and how it judges (below)
    model.onnx                    the window score (canguard.deploy.onnx_model), weights inside
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from canguard import __version__
from canguard.atomic import file_sha256, write_bytes, write_text
from canguard.evaluation.alarms import ZERO_SHOT_NO_PROFILE, ZERO_SHOT_PROFILE
from canguard.graphs.features import feature_spec
from canguard.graphs.preprocessing import Preprocessing
from canguard.profiles.profile import VehicleProfile

log = logging.getLogger(__name__)

FORMAT = "canguard-detector"
FORMAT_VERSION = 1
MANIFEST = "detector.json"
MODEL_FILE = "model.onnx"
PROTOCOLS = ("enrolled", "zero_shot")  # the order a vehicle's entries are preferred in
SCORE_MEANING = {
    "gat": "the GAT's attack log-odds (logit of attack minus logit of benign)",
    "vgae": "the VGAE's reconstruction error (node features + CAN-ID cross-entropy + edges)",
}


class DetectorError(ValueError):
    """A detector folder that cannot be used; the message names the file and what was expected."""


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


def vehicle_file(folder: Path, protocol: str, vehicle: str) -> Path:
    return Path(folder) / "vehicles" / protocol / f"{vehicle}.json"


def vehicle_entry(vehicle: str, protocol: str, profile: VehicleProfile, threshold: dict, detector_id: str,
                  source: dict) -> dict:
    return {"vehicle": vehicle, "protocol": protocol, "detector_id": detector_id,
            "threshold": threshold, "source": source, "profile": profile.to_json()}


def write_vehicle(folder: Path, entry: dict) -> Path:
    path = vehicle_file(folder, entry["protocol"], entry["vehicle"])
    write_text(path, json.dumps(entry, indent=1) + "\n")
    return path


def versions() -> dict:
    import onnx
    import onnxruntime
    import torch
    import torch_geometric

    return {"canguard": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__}


def detector_id(model_bytes: bytes, prep: Preprocessing) -> str:
    """What a vehicle's threshold was fitted for: this model under this preprocessing."""
    return hashlib.blake2b(model_bytes + prep.digest().encode(), digest_size=8).hexdigest()


class DetectorBundle:
    """A detector folder, checked on load (format, model hash, vehicles fitted for this model)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        path = self.folder / MANIFEST
        try:
            self.manifest = json.loads(path.read_text())
        except FileNotFoundError:
            raise DetectorError(f"{path}: missing: expected a detector folder written by `canguard export`") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DetectorError(f"{path}: not valid JSON ({e}): the file was changed or truncated; export again") \
                from None
        if self.manifest.get("format") != FORMAT or self.manifest.get("format_version") != FORMAT_VERSION:
            got = f"{self.manifest.get('format')!r} version {self.manifest.get('format_version')!r}"
            raise DetectorError(f"{path}: format {got}, expected {FORMAT!r} version {FORMAT_VERSION}")
        model = self.folder / self.manifest["onnx"]["file"]
        if not model.is_file():
            raise DetectorError(f"{model}: missing (listed in {path}); export again")
        self.model_bytes = model.read_bytes()
        digest = hashlib.sha256(self.model_bytes).hexdigest()
        if digest != self.manifest["onnx"]["sha256"]:
            raise DetectorError(f"{model}: content hash mismatch (expected {self.manifest['onnx']['sha256'][:16]}..., "
                                f"got {digest[:16]}...): the file was changed or truncated; export again")
        self.prep = Preprocessing.from_json(self.manifest["preprocessing"])
        self.id = self.manifest["detector_id"]

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
                return self._judging_of(path)
        known = {p: v for p, v in self.vehicles().items() if v}
        raise DetectorError(f"{self.folder}: no {protocol or 'enrolled or zero-shot'} entry for vehicle {vehicle!r} "
                            f"(entries: {known or 'none'}); enrol it with `canguard enroll --model {self.folder} "
                            f"--vehicle {vehicle} BENIGN.log`, or leave --vehicle out to judge without a profile")

    def _judging_of(self, path: Path) -> Judging:
        try:
            entry = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DetectorError(f"{path}: not valid JSON ({e}); enrol the vehicle again") from None
        if entry.get("detector_id") != self.id:
            raise DetectorError(f"{path}: fitted for detector {entry.get('detector_id')!r}, this is {self.id!r}: "
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
                    check_windows: int = 2048) -> dict:
    """Write the detector folder ``out`` from a trained model and the workflow's artefacts of its dataset;
    returns the manifest.  The ONNX model is checked against the PyTorch one on up to ``check_windows``
    validation windows (scores and alarm decisions at the no-profile and validation thresholds)."""
    import torch

    from canguard.deploy.onnx_model import INPUTS, OPSET, OUTPUT, OnnxScorer, TorchScorer, export_onnx
    from canguard.graphs.dataset import GraphShards, batch_from_shard
    from canguard.models.factory import load_model
    from canguard.profiles.enrollment import Enrollment

    out = Path(out)
    model, meta = load_model(ckpt)
    task = meta["task"]
    prep = Preprocessing.load(preprocessing)
    if task["preprocessing"] != prep.digest():
        raise DetectorError(f"{ckpt}: trained on preprocessing {task['preprocessing']}, but {preprocessing} is "
                            f"{prep.digest()}: they are not of the same run")
    fitted = json.loads(Path(thresholds).read_text())
    shards = GraphShards(val_shards)
    shard = shards.shard(0)
    n = min(len(shard["y"]), check_windows)
    batch = batch_from_shard(shard, torch.arange(n))
    inputs = {"x": batch.x.numpy(), "edge_index": batch.edge_index.numpy(), "batch": batch.batch.numpy(),
              "node_id": batch.node_id.numpy(), "edge_attr": batch.edge_attr.numpy(),
              "graph_ones": np.ones(n, np.float32)}
    example = batch_from_shard(shard, torch.arange(min(n, 4)))
    model_bytes = export_onnx(model, task["family"], {
        "x": example.x.numpy(), "edge_index": example.edge_index.numpy(), "batch": example.batch.numpy(),
        "node_id": example.node_id.numpy(), "edge_attr": example.edge_attr.numpy(),
        "graph_ones": np.ones(min(n, 4), np.float32)})
    reference = TorchScorer(model, task["family"])(inputs)
    exported = OnnxScorer(model_bytes)(inputs)
    zero_shot = fitted["zero_shot"]
    agree = {k: bool(np.array_equal(reference >= zero_shot[k]["value"], exported >= zero_shot[k]["value"]))
             for k in (ZERO_SHOT_PROFILE, ZERO_SHOT_NO_PROFILE)}
    check = {"windows": int(n), "source": str(val_shards), "max_abs_diff": float(np.abs(reference - exported).max()),
             "decisions_agree": agree}
    if not all(agree.values()):
        raise DetectorError(f"{out}: the exported model's alarm decisions differ from PyTorch's on the validation "
                            f"windows ({check}); not exported")
    ident = detector_id(model_bytes, prep)
    write_bytes(out / MODEL_FILE, model_bytes)
    vehicles = {}
    for protocol, paths, threshold_of in (
            ("zero_shot", training_profiles or {}, lambda v: zero_shot[ZERO_SHOT_PROFILE]),
            ("enrolled", enrollments or {}, lambda v: fitted["enrolled"][v])):
        for vehicle, path in sorted(paths.items()):
            if protocol == "enrolled" and vehicle not in fitted["enrolled"]:
                raise DetectorError(f"{thresholds}: no enrolled threshold for vehicle {vehicle!r}")
            enrollment = Enrollment.load(path)
            entry = vehicle_entry(vehicle, protocol, enrollment.profile, threshold_of(vehicle), ident,
                                  {"profile": str(path), "sha256": file_sha256(path), "report": enrollment.report()})
            vehicles[f"{protocol}/{vehicle}"] = str(write_vehicle(out, entry).relative_to(out))
    for stale in (out / "vehicles").glob("*/*.json"):  # entries fitted for an earlier model: no longer valid
        if str(stale.relative_to(out)) not in vehicles.values() and json.loads(stale.read_text()).get(
                "detector_id") != ident:
            log.warning("%s: fitted for an earlier model, removed (enrol that vehicle again)", stale)
            stale.unlink()
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "detector_id": ident,
        "model": {"name": name, "family": task["family"], "role": task["role"], "sizes": task["sizes"],
                  "num_ids": task["num_ids"], "parameters": task["parameters"], "dataset": task.get("dataset"),
                  "distilled_from": task.get("distilled_from")},
        "score": SCORE_MEANING[task["family"]] + "; an alarm when score >= threshold",
        "onnx": {"file": MODEL_FILE, "sha256": hashlib.sha256(model_bytes).hexdigest(), "bytes": len(model_bytes),
                 "opset": OPSET, "inputs": list(INPUTS), "output": OUTPUT,
                 "exporter": "torch.onnx.export(dynamo=True)", "check": check},
        "windows": {"size": int(task["window_size"]), "stride": int(task["window_stride"])},
        "features": feature_spec(),
        "preprocessing": prep.to_json(),
        "thresholds": {"no_profile": zero_shot[ZERO_SHOT_NO_PROFILE], "validation": zero_shot[ZERO_SHOT_PROFILE]},
        "false_alarms_per_hour": false_alarms_per_hour or zero_shot[ZERO_SHOT_PROFILE]["false_alarms_per_hour"],
        "vehicles_at_export": vehicles,
        "sources": {"checkpoint": {"path": str(ckpt), "sha256": file_sha256(ckpt)},
                    "preprocessing": {"path": str(preprocessing), "digest": prep.digest()},
                    "thresholds": {"path": str(thresholds), "sha256": file_sha256(thresholds)}},
        "versions": versions(),
    }
    write_text(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    log.info("%s: %s (%d bytes ONNX), checked on %d validation windows: max |ONNX - PyTorch| %.3g, decisions agree",
             out, name, len(model_bytes), n, check["max_abs_diff"])
    return manifest
