"""A detector running over a stream of CAN messages: windows in, one JSON line per judged window out.

    detector = StreamingDetector(DetectorBundle(folder), bundle.judging("kia"))
    for chunk in source:                      # canguard.deploy.sources: Chunk(frames, rejects, ...)
        for line in detector.push(chunk):     # the windows this chunk completed (alarms only by default)
            print(json.dumps(line))
    report = detector.finish()                # counts: messages, rejects by reason, unknown IDs, ...

An alarm line::

    {"alarm": true, "window": 412, "first_message": 41200, "t_start": 1513920501.6, "t_end": ...,
     "score": 7.91, "threshold": 3.05, "model": "gat_student", "vehicle": "kia",
     "protocol": "enrolled", "unusual_ids": ["0x2C0", "0x130"], "latency_ms": 0.41}

``unusual_ids``: the window's CAN IDs whose normalised features lie furthest from
benign training traffic (largest |z|), a cheap pointer for an analyst, not an
attribution of the model's score.  ``latency_ms``: from the moment the window's last
message was handed to the detector to the moment its line was ready.  ``steps_back``
(only where there are any): how many of the window's messages are earlier than the
message before them in the stream (kept in arrival order: :mod:`canguard.ingest.timestamps`).

The report's ``time``: messages refused for their timestamp, by kind (not finite,
negative, after 2100: rejects, also in ``rejects_by_reason``), and among those kept the
steps back (with the largest) and the gaps in message time longer than ``idle_s``
(``--idle``; with the longest step forward), whatever the source: the ``silences`` beside it
are wall-clock silences of a live source (a bus, stdin).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from canguard.deploy.bundle import DetectorBundle, Judging
from canguard.deploy.onnx_model import batch_inputs
from canguard.deploy.stream import WindowStream
from canguard.frames import FRAME_TYPE_NAMES, Frames
from canguard.ingest.lines import quote_raw
from canguard.ingest.timestamps import TimeSteps, time_report

UNUSUAL_IDS = 3
LISTED_UNKNOWN_IDS = 50  # unknown IDs named in the report (all are counted)


@dataclass
class Chunk:
    """Messages from a source, and what it could not turn into messages (each with a reason)."""

    frames: Frames
    rejects: pa.Table | None = None     # columns line, raw, raw_bytes, reason (canguard.ingest.lines.REJECTS_SCHEMA)
    received: float = field(default_factory=time.perf_counter)  # when the chunk's last message arrived


class StreamingDetector:
    """Windows of the stream judged by a detector bundle (see the module docstring)."""

    def __init__(self, bundle: DetectorBundle, judging: Judging, scorer=None, all_windows: bool = False,
                 batch_windows: int = 64, idle_s: float = 1.0):
        self.bundle, self.judging = bundle, judging
        self.scorer = scorer if scorer is not None else bundle.scorer()
        self.stream = WindowStream(bundle.size, bundle.stride, judging.profile)
        self.all_windows, self.batch_windows = all_windows, batch_windows
        self.started = time.perf_counter()
        self.rejects: Counter = Counter()
        self.first_rejects: list[dict] = []
        self.frame_types: Counter = Counter()
        self.unknown_messages = 0
        self.unknown_ids: Counter = Counter()       # IDs outside the model's vocabulary
        self.not_in_profile: Counter = Counter()    # IDs the vehicle's profile never saw
        self.windows = self.alarms = 0
        self.latencies: list[float] = []
        self.silences: list[float] = []
        self.t_first = self.t_last = None
        self._quiet = False
        self.time = TimeSteps(idle_s)               # steps back and gaps, in message time
        self._steps_back = np.zeros(0, np.int64)    # stream index of each message earlier than the one before

    # --- input ------------------------------------------------------------------------------------

    def push(self, chunk: Chunk) -> list[dict]:
        """Account for a chunk's rejects and messages; the lines of the windows it completes."""
        if chunk.rejects is not None and chunk.rejects.num_rows:
            reasons = chunk.rejects.column("reason").to_pylist()
            self.rejects.update(reasons)
            if len(self.first_rejects) < 10:
                for row in chunk.rejects.slice(0, 10 - len(self.first_rejects)).to_pylist():
                    raw = row["raw"] or ""
                    self.first_rejects.append({"line": row["line"], "raw": quote_raw(raw),
                                               "raw_bytes": row.get("raw_bytes", len(raw.encode())),
                                               "reason": row["reason"]})
        frames = chunk.frames
        if len(frames):
            self._account(frames)
        self.stream.add(frames)
        out = []
        for graphs in self.stream.drain(self.batch_windows):
            out += self._judge(graphs, chunk.received)
        return out

    def silence(self, seconds: float) -> bool:
        """A source has seen no message for ``seconds`` (a bus gone quiet); True for a new silence."""
        new = not self._quiet
        if new:
            self.silences.append(seconds)
        else:
            self.silences[-1] = seconds
        self._quiet = True
        return new

    def _account(self, frames: Frames) -> None:
        self._quiet = False
        types = np.bincount(frames.frame_type, minlength=len(FRAME_TYPE_NAMES))
        for code, name in enumerate(FRAME_TYPE_NAMES):
            self.frame_types[name] += int(types[code])
        ids = frames.can_id.astype(np.int64)
        unknown = self.bundle.prep.node_ids(ids) == 0
        if unknown.any():
            self.unknown_messages += int(unknown.sum())
            self.unknown_ids.update(ids[unknown].tolist())
        if self.judging.profile is not None:
            novel = self.judging.profile.row(ids) < 0
            if novel.any():
                self.not_in_profile.update(ids[novel].tolist())
        if self.t_first is None:
            self.t_first = float(frames.timestamp[0])
        self.t_last = float(frames.timestamp[-1])
        back = self.time.add(frames.timestamp)
        if len(back):
            self._steps_back = np.concatenate([self._steps_back, self.stream.messages + back])

    # --- judging ----------------------------------------------------------------------------------

    def _judge(self, graphs, received: float) -> list[dict]:
        inputs = batch_inputs(graphs, self.bundle.prep)
        scores = self.scorer(inputs)
        alarm = scores >= self.judging.threshold   # THE alarm rule (canguard.evaluation.alarms.raises_alarm)
        ready = time.perf_counter()
        first_window = self.stream.windows - graphs.num_graphs
        self.windows += graphs.num_graphs
        self.alarms += int(alarm.sum())
        lines = []
        latency_ms = round((ready - received) * 1000.0, 3)
        self.latencies.append(latency_ms)
        steps_back = self._window_steps_back(graphs.start)
        for k in np.flatnonzero(alarm) if not self.all_windows else range(graphs.num_graphs):
            lines.append({
                "alarm": bool(alarm[k]), "window": first_window + int(k), "first_message": int(graphs.start[k]),
                "t_start": float(graphs.t_start[k]), "t_end": float(graphs.t_end[k]), "score": float(scores[k]),
                "threshold": self.judging.threshold, "model": self.bundle.name, "vehicle": self.judging.vehicle,
                "protocol": self.judging.protocol,
                **({"unusual_ids": self._unusual(graphs, inputs["x"], k)} if alarm[k] else {}),
                **({"steps_back": int(steps_back[k])} if steps_back[k] else {}),
                "latency_ms": latency_ms,
            })
        return lines

    def _window_steps_back(self, start: np.ndarray) -> np.ndarray:
        """Per window (first message ``start``): its messages that are earlier than the message before them in the
        stream (the first one's may lie in the window before); then forgets those no later window holds."""
        if len(self._steps_back) == 0:
            return np.zeros(len(start), np.int64)
        start = np.asarray(start, np.int64)
        lo = np.searchsorted(self._steps_back, start, side="left")
        hi = np.searchsorted(self._steps_back, start + self.stream.size - 1, side="right")
        next_start = self.stream.windows * self.stream.stride
        self._steps_back = self._steps_back[self._steps_back >= next_start]
        return hi - lo

    @staticmethod
    def _unusual(graphs, x: np.ndarray, k: int) -> list[str]:
        lo, hi = graphs.node_ptr[k], graphs.node_ptr[k + 1]
        z = np.abs(x[lo:hi]).max(axis=1)
        top = np.argsort(-z, kind="stable")[:UNUSUAL_IDS]
        return [f"0x{int(graphs.node_can_id[lo + i]):03X}" for i in top]

    # --- end --------------------------------------------------------------------------------------

    def finish(self) -> dict:
        """The report of the run: every input line or frame accounted for, and what was judged."""
        elapsed = time.perf_counter() - self.started
        kept = self.stream.messages
        lat = np.asarray(self.latencies) if self.latencies else np.zeros(0)
        return {
            "model": self.bundle.name, "detector_id": self.bundle.id, **self.judging.describe(),
            "messages": kept, "rejected": sum(self.rejects.values()), "rejects_by_reason": dict(self.rejects),
            "first_rejects": self.first_rejects,
            "frames_by_type": dict(self.frame_types),
            "windows": self.windows, "alarms": self.alarms,
            "messages_in_no_window": self.stream.tail,
            "unknown_id_messages": self.unknown_messages, "unknown_ids": len(self.unknown_ids),
            "unknown_ids_listed": [f"0x{i:03X}" for i, _ in self.unknown_ids.most_common(LISTED_UNKNOWN_IDS)],
            "ids_not_in_profile": len(self.not_in_profile),
            "silences": len(self.silences), "longest_silence_s": round(max(self.silences), 3) if self.silences else 0.0,
            "time": time_report(self.time, self.rejects),
            "traffic_seconds": round(self.t_last - self.t_first, 6) if self.t_first is not None else 0.0,
            "elapsed_s": round(elapsed, 3),
            "messages_per_second": round(kept / elapsed) if elapsed > 0 else None,
            "latency_ms_p50": float(np.percentile(lat, 50)) if len(lat) else None,
            "latency_ms_p99": float(np.percentile(lat, 99)) if len(lat) else None,
        }
