"""Enrollment: a vehicle's benign traffic, without labels, from which its profile and thresholds are fitted.

A user who installs canguard on a vehicle gives it traffic of that vehicle that is
believed to be attack-free; nothing is retrained.  Where it comes from, per vehicle
(config ``enrollment``)::

    attack_free   the vehicle's attack-free recordings (can-train-and-test: train_01/attack-free-*)
    prefix        the first ``seconds`` of each of the vehicle's test recordings; those
                  messages are then excluded from every metric, in every protocol
    recordings    named recordings (keys ``<split>/<name>``), whole or their first ``seconds``
    auto          attack_free where the vehicle has an attack-free recording, else prefix

Enrollment traffic is used as a deployed detector would see it: every message
counts, labels are not read to clean it.  Where the data is labelled, the attack
messages inside it are counted and reported, and a vehicle whose enrollment holds
any is flagged.

The enrolled profile is fitted on all of it; the thresholds are fitted on the
enrollment windows scored *out of sample*: each segment is cut in two halves and
the windows of one half are compared with the profile of the other
(:attr:`Enrollment.halves`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from canguard.atomic import write_text
from canguard.frames import Frames
from canguard.graphs.windows import read_recording
from canguard.profiles.plan import SOURCES, plan_enrollment, plan_training_profile  # noqa: F401 (re-exported)
from canguard.profiles.profile import VehicleProfile, fit_profile


@dataclass
class Enrollment:
    """A vehicle's enrollment: its traffic segments, the profile, the two half profiles and the report."""

    vehicle: str
    source: str
    segments: list[dict]   # recording, t_from, t_mid, t_to (timestamps), messages, attack_messages, ...
    profile: VehicleProfile
    halves: tuple[VehicleProfile, VehicleProfile]   # first halves, second halves of the segments

    @property
    def attack_messages(self) -> int:
        return sum(s["attack_messages"] for s in self.segments)

    def report(self) -> dict:
        seconds = sum(s["t_to"] - s["t_from"] for s in self.segments)
        return {"vehicle": self.vehicle, "source": self.source, "recordings": len(self.segments),
                "seconds": round(seconds, 3), "messages": sum(s["messages"] for s in self.segments),
                "attack_messages": self.attack_messages,
                "unlabelled_messages": sum(s["unlabelled_messages"] for s in self.segments),
                "flagged": self.attack_messages > 0, "profile_ids": self.profile.num_ids}

    def spans(self, recording: str) -> list[tuple[float, float, float]]:
        """(t_from, t_mid, t_to) of this vehicle's enrollment segments inside ``recording``."""
        return [(s["t_from"], s["t_mid"], s["t_to"]) for s in self.segments if s["recording"] == recording]

    def profiles(self) -> list[VehicleProfile]:
        """``[profile, first half, second half]``: what :meth:`window_profiles` indexes."""
        return [self.profile, *self.halves]

    def window_profiles(self, recording: str, t_start: np.ndarray, t_end: np.ndarray) -> np.ndarray:
        """Index into :meth:`profiles` for each window of ``recording``.

        A window inside the first half of an enrollment segment is compared with the
        second half's profile (2), one inside the second half with the first half's (1):
        never with a profile fitted on itself.  Every other window gets the full profile
        (0); -1 marks a window that straddles the middle of a segment (half of it is in
        each half profile): it is compared with nothing and dropped where it would be used.
        """
        index = np.zeros(len(t_start), dtype=np.int64)
        for t_from, t_mid, t_to in self.spans(recording):
            first = (t_start >= t_from) & (t_end < t_mid)
            second = (t_start >= t_mid) & (t_end <= t_to)
            straddle = (t_start < t_mid) & (t_end >= t_mid) & (t_end >= t_from) & (t_start <= t_to)
            index[first], index[second], index[straddle] = 2, 1, -1
        return index

    def inside(self, recording: str, t_start: np.ndarray, t_end: np.ndarray) -> np.ndarray:
        """(G,) bool: the window lies wholly inside one of the enrollment segments of ``recording``."""
        out = np.zeros(len(t_start), bool)
        for t_from, _, t_to in self.spans(recording):
            out |= (t_start >= t_from) & (t_end <= t_to)
        return out

    def to_json(self) -> dict:
        return {"report": self.report(), "segments": self.segments, "profile": self.profile.to_json(),
                "halves": [h.to_json() for h in self.halves]}

    def save(self, path: str | Path) -> None:
        write_text(path, json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Enrollment:
        d = json.loads(Path(path).read_text())
        return cls(d["report"]["vehicle"], d["report"]["source"], d["segments"],
                   VehicleProfile.from_json(d["profile"]),
                   tuple(VehicleProfile.from_json(h) for h in d["halves"]))


def enroll(plan: dict, parquets: dict[str, str | Path], window_size: int) -> Enrollment:
    """Fit a vehicle's enrollment from its plan (:func:`plan_enrollment`, :func:`plan_training_profile`);
    ``parquets``: key -> ingested file.  With ``plan["benign_only"]`` the labelled attack messages are
    left out of the profile (training data); else every message counts, as on a vehicle."""
    recordings = [(item["recording"], read_recording(parquets[item["recording"]])[0], item["seconds"])
                  for item in plan["recordings"]]
    return enroll_frames(plan["vehicle"], plan["source"], recordings, window_size, plan["seconds"],
                         bool(plan.get("benign_only")))


def enroll_frames(vehicle: str, source: str, recordings: list[tuple[str, Frames, float | None]], window_size: int,
                  seconds: float | None = None, benign_only: bool = False) -> Enrollment:
    """A vehicle's enrollment from ``(recording, frames, seconds)``: the first ``seconds`` (None: all) of
    each recording's messages are one segment (``canguard enroll`` passes the logs it read)."""
    segments, first, second, info = [], [], [], []
    for key, frames, prefix in recordings:
        if len(frames) == 0:
            continue
        t = frames.timestamp
        keep = t < t[0] + prefix if prefix is not None else np.ones(len(frames), bool)
        seg: Frames = frames.take(np.flatnonzero(keep))
        if len(seg) < 2:
            continue
        mid = len(seg) // 2
        fit = (lambda f: f.take(f.label == 0)) if benign_only else (lambda f: f)
        segments.append(fit(seg))
        first.append(fit(seg.take(np.arange(mid))))
        second.append(fit(seg.take(np.arange(mid, len(seg)))))
        info.append({"recording": key, "t_from": float(seg.timestamp[0]),
                     "t_mid": float(seg.timestamp[mid]), "t_to": float(seg.timestamp[-1]),
                     "messages": len(seg), "attack_messages": int(np.sum(seg.label == 1)),
                     "unlabelled_messages": int(np.sum(seg.label == -1))})
    if not segments:
        raise ValueError(f"vehicle {vehicle!r}: its enrollment recordings hold no traffic")
    about = {"enrollment": source, "recordings": [s["recording"] for s in info], "seconds": seconds,
             "benign_only": benign_only}
    return Enrollment(vehicle, source, info, fit_profile(segments, window_size, vehicle, about),
                      (fit_profile(first, window_size, vehicle, about | {"half": 0}),
                       fit_profile(second, window_size, vehicle, about | {"half": 1})))
