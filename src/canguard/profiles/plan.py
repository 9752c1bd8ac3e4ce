"""Which traffic enrols a vehicle: the plan the enroll and vehicle_profile rules carry out
(:mod:`canguard.profiles.enrollment`), from the catalog alone; the workflow builds it when it
builds its DAG, so this module imports nothing heavy.

Sources, per vehicle (config ``enrollment``)::

    attack_free   the vehicle's attack-free recordings (can-train-and-test: train_01/attack-free-*)
    prefix        the first ``seconds`` of each of the vehicle's test recordings
    recordings    named recordings (keys ``<split>/<name>``), whole or their first ``seconds``
    auto          attack_free where the vehicle has an attack-free recording, else prefix
"""

from __future__ import annotations

SOURCES = ("auto", "attack_free", "prefix", "recordings")


def plan_training_profile(vehicle: str, recordings: list[dict], seconds: float) -> dict:
    """A training vehicle's profile, fitted as a test vehicle is enrolled: on the first ``seconds`` of
    each of its training recordings (benign messages only: training labels may be used)."""
    items = [{"recording": e["key"], "seconds": float(seconds)} for e in recordings
             if e["vehicle"] == vehicle and e["role"] == "train"]
    if not items:
        raise ValueError(f"vehicle {vehicle!r} has no training recording")
    return {"vehicle": vehicle, "source": "training prefix", "seconds": float(seconds), "recordings": items,
            "benign_only": True}


def plan_enrollment(vehicle: str, recordings: list[dict], settings: dict) -> dict:
    """Which recordings (and how many seconds of each; None = whole) enrol ``vehicle``.

    ``recordings``: the dataset's unique catalog entries; ``settings``: config
    ``enrollment`` (``source``, ``seconds``, per-vehicle ``vehicles`` overrides).
    """
    own_settings = dict(settings.get("vehicles", {}).get(vehicle, {}))
    source = own_settings.get("source", settings["source"])
    seconds = float(own_settings.get("seconds", settings["seconds"]))
    if source not in SOURCES:
        raise ValueError(f"enrollment source of vehicle {vehicle!r} must be one of {SOURCES}, got {source!r}")
    own = [e for e in recordings if e["vehicle"] == vehicle]
    attack_free = [e for e in own if e["attack"] == "none"]
    if source == "auto":
        source = "attack_free" if attack_free else "prefix"
    if source == "attack_free":
        if not attack_free:
            raise ValueError(f"enrollment of vehicle {vehicle!r}: source attack_free, but it has no attack-free "
                             f"recording (its recordings: {[e['key'] for e in own]})")
        items = [{"recording": e["key"], "seconds": None} for e in attack_free]
    elif source == "prefix":
        if seconds <= 0:
            raise ValueError(f"enrollment of vehicle {vehicle!r}: prefix needs seconds > 0, got {seconds}")
        items = [{"recording": e["key"], "seconds": seconds} for e in own if e["role"] == "test"]
    else:
        keys = own_settings.get("recordings") or []
        known = {e["key"] for e in recordings}
        unknown = [k for k in keys if k not in known]
        if not keys or unknown:
            raise ValueError(f"enrollment.vehicles.{vehicle}.recordings must name recordings of the dataset; "
                             f"unknown: {unknown or '(none given)'}")
        items = [{"recording": k, "seconds": own_settings.get("seconds")} for k in keys]
    if not items:
        raise ValueError(f"vehicle {vehicle!r} has no recording to enrol from (source {source})")
    return {"vehicle": vehicle, "source": source, "seconds": seconds if source == "prefix" else None,
            "recordings": items, "benign_only": False}
