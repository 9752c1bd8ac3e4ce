"""Every JSON file of a detector folder checked before it is used: types, finite values, ranges and sizes.

A detector folder travels to vehicles and is read by code that trusts nothing in it: each file is read up to a
stated size (:data:`MAX_JSON_BYTES`), parsed without the non-standard ``NaN``/``Infinity`` literals, and checked
key by key.  A mistake ends in one :class:`DetectorError` line naming the file and the key path
(``vehicles/enrolled/kia.json: profile.ids[3].bytes[0].min: expected an integer in [-1, 255], got 300``), never
in a traceback.

Limits (one place): a JSON file :data:`MAX_JSON_BYTES`; a vehicle profile :data:`MAX_PROFILE_IDS` CAN IDs; a
vocabulary :data:`MAX_VOCABULARY` IDs; a window :data:`MAX_WINDOW_SIZE` messages.  A CAN ID is below 2**29
(extended frames).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

MAX_JSON_BYTES = 16 << 20     # a profile of MAX_PROFILE_IDS IDs takes about 8 MiB
MAX_PROFILE_IDS = 4096        # twice the 11-bit ID space; real vehicles send 20-200 IDs
MAX_VOCABULARY = 1 << 16
MAX_WINDOW_SIZE = 100_000
MAX_CAN_ID = (1 << 29) - 1
_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class DetectorError(ValueError):
    """A detector folder that cannot be used; the message names the file and what was expected."""


def read_json(path: Path, what: str, limit: int = MAX_JSON_BYTES) -> object:
    """``path`` parsed as strict JSON (no NaN/Infinity), at most ``limit`` bytes; errors name the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DetectorError(f"{path}: missing: expected {what}") from None
    if not path.is_file():
        raise DetectorError(f"{path}: not a regular file: expected {what}")
    if size > limit:
        raise DetectorError(f"{path}: {size} bytes, over the limit of {limit} for {what}")
    try:
        return json.loads(path.read_bytes(), parse_constant=_no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as e:
        raise DetectorError(f"{path}: not valid JSON ({e}): the file was changed or truncated") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Checker:
    """Type and range checks on one parsed file; each failure raises one line with the file and key path."""

    def __init__(self, file: Path | str):
        self.file = file

    def fail(self, path: str, expected: str, got=None, show: bool = True) -> None:
        tail = f", got {_show(got)}" if show else ""
        raise DetectorError(f"{self.file}: {path or '(top level)'}: expected {expected}{tail}")

    def obj(self, value, path: str, required: tuple[str, ...] = ()) -> dict:
        if not isinstance(value, dict):
            self.fail(path, "an object", type(value).__name__)
        for key in required:
            if key not in value:
                self.fail(f"{path}.{key}" if path else key, "a value", show=False)
        return value

    def list(self, value, path: str, max_len: int, length: int | None = None) -> list:
        if not isinstance(value, list):
            self.fail(path, "a list", type(value).__name__)
        if length is not None and len(value) != length:
            self.fail(path, f"a list of {length} items", f"{len(value)} items")
        if len(value) > max_len:
            self.fail(path, f"at most {max_len} items", f"{len(value)}")
        return value

    def string(self, value, path: str, pattern: re.Pattern | None = None, choices=None) -> str:
        if not isinstance(value, str):
            self.fail(path, "a string", value)
        if choices is not None and value not in choices:
            self.fail(path, f"one of {list(choices)}", value)
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(path, f"a string matching {pattern.pattern}", value)
        return value

    def integer(self, value, path: str, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.fail(path, f"an integer in [{lo}, {hi}]", value)
        return value

    def number(self, value, path: str, lo: float = -math.inf, hi: float = math.inf, nullable: bool = False,
               above: bool = False) -> float | None:
        if value is None and nullable:
            return None
        ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value) \
            and (value > lo if above else value >= lo) and value <= hi
        if not ok:
            bound = f"({lo}, {hi}]" if above else f"[{lo}, {hi}]"
            self.fail(path, f"a finite number in {bound}" + (" or null" if nullable else ""), value)
        return float(value)


# --- the files -------------------------------------------------------------------------------------------------


def check_threshold(c: Checker, t, path: str) -> None:
    c.obj(t, path, ("value", "fit_on"))
    c.number(t["value"], f"{path}.value")
    c.string(t["fit_on"], f"{path}.fit_on")
    if "false_alarms_per_hour" in t:
        c.number(t["false_alarms_per_hour"], f"{path}.false_alarms_per_hour", 0.0, above=True)


def check_manifest(c: Checker, m, families, feature_spec: dict, node_features: list, edge_features: list) -> None:
    """detector.json (the format and version are checked by the caller, first)."""
    c.obj(m, "", ("detector_id", "model", "onnx", "windows", "features", "preprocessing", "thresholds",
                  "false_alarms_per_hour"))
    c.string(m["detector_id"], "detector_id", _HEX16)
    model = c.obj(m["model"], "model", ("name", "family", "role", "num_ids"))
    c.string(model["name"], "model.name")
    c.string(model["family"], "model.family", choices=families)
    c.string(model["role"], "model.role")
    onnx = c.obj(m["onnx"], "onnx", ("file", "sha256", "bytes"))
    c.string(onnx["file"], "onnx.file", choices=("model.onnx",))
    c.string(onnx["sha256"], "onnx.sha256", _HEX64)
    windows = c.obj(m["windows"], "windows", ("size", "stride"))
    c.integer(windows["size"], "windows.size", 1, MAX_WINDOW_SIZE)
    c.integer(windows["stride"], "windows.stride", 1, MAX_WINDOW_SIZE)
    if m["features"] != feature_spec:
        c.fail("features", "this canguard's feature specification (canguard.graphs.features.feature_spec)",
               show=False)
    prep = c.obj(m["preprocessing"], "preprocessing",
                 ("vocabulary", "node_features", "node_mean", "node_std", "edge_features", "edge_mean", "edge_std",
                  "fitted_on"))
    vocabulary = c.list(prep["vocabulary"], "preprocessing.vocabulary", MAX_VOCABULARY)
    previous = -1
    for i, can_id in enumerate(vocabulary):
        c.integer(can_id, f"preprocessing.vocabulary[{i}]", previous + 1, MAX_CAN_ID)  # ascending, no repeats
        previous = can_id
    c.integer(model["num_ids"], "model.num_ids", len(vocabulary) + 1, len(vocabulary) + 1)
    for kind, names in (("node", node_features), ("edge", edge_features)):
        if prep[f"{kind}_features"] != names:
            c.fail(f"preprocessing.{kind}_features", f"this canguard's {kind} features {names}",
                   prep[f"{kind}_features"])
        for stat in ("mean", "std"):
            values = c.list(prep[f"{kind}_{stat}"], f"preprocessing.{kind}_{stat}", len(names), len(names))
            for i, v in enumerate(values):
                c.number(v, f"preprocessing.{kind}_{stat}[{i}]", 0.0 if stat == "std" else -math.inf,
                         above=stat == "std")
    thresholds = c.obj(m["thresholds"], "thresholds", ("no_profile", "validation"))
    for key in ("no_profile", "validation"):
        check_threshold(c, thresholds[key], f"thresholds.{key}")
    c.number(m["false_alarms_per_hour"], "false_alarms_per_hour", 0.0, above=True)


def check_vehicle_entry(c: Checker, e, vehicle: str, protocol: str, window_size: int) -> None:
    """vehicles/<protocol>/<vehicle>.json: what it says it is, its threshold and its profile."""
    c.obj(e, "", ("vehicle", "protocol", "detector_id", "threshold", "profile"))
    c.string(e["vehicle"], "vehicle", choices=(vehicle,))
    c.string(e["protocol"], "protocol", choices=(protocol,))
    c.string(e["detector_id"], "detector_id", _HEX16)
    check_threshold(c, e["threshold"], "threshold")
    check_profile(c, e["profile"], "profile", window_size)


def check_profile(c: Checker, p, path: str, window_size: int) -> None:
    """A vehicle profile's file form (:meth:`canguard.profiles.profile.VehicleProfile.to_json`)."""
    c.obj(p, path, ("vehicle", "window_size", "source", "duration_s", "ids"))
    c.string(p["vehicle"], f"{path}.vehicle")
    c.integer(p["window_size"], f"{path}.window_size", window_size, window_size)
    c.number(p["duration_s"], f"{path}.duration_s", 0.0)
    ids = c.list(p["ids"], f"{path}.ids", MAX_PROFILE_IDS)
    previous = -1
    for k, entry in enumerate(ids):
        at = f"{path}.ids[{k}]"
        c.obj(entry, at, ("can_id", "messages", "iat_median_s", "iat_p01_s", "iat_max_s", "iat_samples", "dlc",
                          "count_per_window", "bytes"))
        c.integer(entry["can_id"], f"{at}.can_id", previous + 1, MAX_CAN_ID)  # ascending: row() searches it
        previous = entry["can_id"]
        c.integer(entry["messages"], f"{at}.messages", 1, 1 << 53)
        c.integer(entry["iat_samples"], f"{at}.iat_samples", 0, entry["messages"])
        iat = {q: c.number(entry[f"iat_{q}_s"], f"{at}.iat_{q}_s", 0.0, nullable=True) for q in ("p01", "median",
                                                                                                     "max")}
        nulls = [v is None for v in iat.values()]
        if any(nulls) != all(nulls) or all(nulls) != (entry["iat_samples"] == 0):
            c.fail(at, "iat_*_s null exactly where iat_samples is 0", [entry["iat_samples"], *iat.values()])
        if not any(nulls) and not iat["p01"] <= iat["median"] <= iat["max"]:
            c.fail(f"{at}", "iat_p01_s <= iat_median_s <= iat_max_s", list(iat.values()))
        dlc = c.list(entry["dlc"], f"{at}.dlc", 9)
        for i, d in enumerate(dlc):
            c.integer(d, f"{at}.dlc[{i}]", 0, 8)
        if len(set(dlc)) != len(dlc) or not dlc:
            c.fail(f"{at}.dlc", "distinct DLC values, at least one", dlc)
        count = c.obj(entry["count_per_window"], f"{at}.count_per_window", ("mean", "std"))
        c.number(count["mean"], f"{at}.count_per_window.mean", 0.0, window_size)
        c.number(count["std"], f"{at}.count_per_window.std", 0.0, window_size)
        for j, b in enumerate(c.list(entry["bytes"], f"{at}.bytes", 8, 8)):
            bp = f"{at}.bytes[{j}]"
            c.obj(b, bp, ("min", "max", "values", "deltas", "pairs", "changes"))
            lo, hi = c.integer(b["min"], f"{bp}.min", -1, 255), c.integer(b["max"], f"{bp}.max", -1, 255)
            if (lo < 0) != (hi < 0) or lo > hi:
                c.fail(bp, "min <= max (both -1 for a byte never carried)", [lo, hi])
            c.string(b["values"], f"{bp}.values", _HEX64)
            c.string(b["deltas"], f"{bp}.deltas", _HEX64)
            pairs = c.integer(b["pairs"], f"{bp}.pairs", 0, entry["messages"])
            c.integer(b["changes"], f"{bp}.changes", 0, pairs)


def check_integrity_record(c: Checker, r, max_files: int) -> None:
    c.obj(r, "", ("format", "detector_id", "files"))
    c.string(r["format"], "format", choices=("canguard-detector-files",))
    c.string(r["detector_id"], "detector_id", _HEX16)
    files = c.obj(r["files"], "files")
    if len(files) > max_files:
        c.fail("files", f"at most {max_files} files", len(files))
    for name, f in files.items():
        c.obj(f, f"files[{name!r}]", ("sha256", "bytes"))
        c.string(f["sha256"], f"files[{name!r}].sha256", _HEX64)
        c.integer(f["bytes"], f"files[{name!r}].bytes", 0, 1 << 40)
    if "signature" in r:
        s = c.obj(r["signature"], "signature", ("algorithm", "public_key", "key_id", "value"))
        c.string(s["algorithm"], "signature.algorithm", choices=("ed25519",))
        c.string(s["public_key"], "signature.public_key", re.compile("[0-9a-f]{64}"))
        c.string(s["key_id"], "signature.key_id", _HEX16)
        c.string(s["value"], "signature.value", re.compile("[0-9a-f]{128}"))
