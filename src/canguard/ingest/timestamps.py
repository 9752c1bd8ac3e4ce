"""Which timestamps a message may carry, and how time that runs backwards or jumps is accounted for.

One policy for every reader (:mod:`canguard.ingest`), so for the ingest of a recording and for
``canguard detect`` on a file, candump lines on stdin or a python-can bus alike:

* **Rejected** (a reject row with its reason, as a malformed line is): a timestamp that is not
  finite (``nan``, ``inf``, ``1e999``: :data:`NOT_FINITE`), that is negative (``-5.0``:
  :data:`NEGATIVE`), or that lies after 2100-01-01 00:00 UTC, :data:`MAX_TIMESTAMP` =
  4,102,444,800 s (``1e300``: :data:`AFTER_2100`).  Every format canguard reads counts seconds,
  either since the epoch (candump, can-train-and-test, Car-Hacking, BLF, TRC, a python-can bus:
  about 1.7e9 today) or since the start of the recording (ASC, captures that count from 0).  Both
  clocks lie in ``[0, MAX_TIMESTAMP]`` for any real recording (a relative clock would need 130 years
  to leave it); a value outside is corruption or another unit (milliseconds, microseconds), and
  would make a window's timing features overflow.  A whole file in another unit is then refused
  with this reason as the top one, not read as nonsense.
* **Kept, in arrival order, and counted** (:class:`TimeSteps`): a message whose timestamp is earlier
  than the previous kept message's (a *step back*, counted with the largest one: real input, e.g.
  set_01/set_02's payload-fuzzing recordings step back 555 times by at most 0.14 ms), and a step
  forward longer than ``gap_s`` (a *gap*: :data:`GAP_S` in the ingest report, ``--idle`` in
  ``detect``), with the longest step forward.

Windows of messages whose time steps back: messages are never re-sorted, the window is the
``W`` messages as they arrived (the offline ingest keeps file order too, so a stream and the
offline windows agree).  Inside a window a step back is a negative gap: the intrinsic
inter-arrival and edge-gap features clamp it to 0 (:func:`canguard.graphs.builder._ms_log`); the
relative ones that compare a gap with the vehicle's profile (``iat_min_ratio``, ``gap_before``)
see the shortest gap there is (their floor, ``-10``: faster than the ID ever came), ``rate_ratio``
of a window whose last message is earlier than its first is 0 where its ratio has no logarithm,
and ``overdue`` counts no silence.  With every timestamp in ``[0, MAX_TIMESTAMP]`` every feature
stays finite (checked with steps of 10 s and of the whole range, 0 to MAX_TIMESTAMP, both ways).  ``detect``'s line of
a window holding steps back says how many (``"steps_back": k``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from canguard.ingest.lines import NUMBER_RE, LineChecks, as_mask

MAX_TIMESTAMP = 4_102_444_800.0  # 2100-01-01T00:00:00Z in seconds since the epoch
GAP_S = 1.0  # a step forward longer than this is a gap (the ingest report; detect uses its --idle)

NOT_FINITE = "timestamp is not finite (nan or infinite)"
NEGATIVE = "timestamp is negative"
AFTER_2100 = (f"timestamp after 2100-01-01 (over {MAX_TIMESTAMP:.0f} s): not seconds since the epoch "
              f"or since the recording's start")
#: the reject reasons of this policy, and the key each is counted under in a report's "time"
REJECT_KINDS = {NOT_FINITE: "rejected_not_finite", NEGATIVE: "rejected_negative", AFTER_2100: "rejected_after_2100"}

NON_FINITE_RE = r"(?i)^[+-]?(nan|inf|infinity)$"


def parse_timestamps(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Decimal strings to float64: (values, is a number).  ``nan``, ``inf`` and ``1e999`` are numbers
    (not finite ones, rejected by :func:`reject_bad_times`); anything else that is not a decimal is not."""
    number = as_mask(pc.match_substring_regex(arr, NUMBER_RE))
    if not number.all():
        number |= as_mask(pc.match_substring_regex(arr, NON_FINITE_RE))
    safe = arr if number.all() else pc.if_else(pa.array(number), arr, pa.scalar(b"0", arr.type))
    values = pc.cast(safe.cast(pa.large_string()), pa.float64()).to_numpy(zero_copy_only=False)
    return values, number


def in_range(t: np.ndarray) -> np.ndarray:
    """Mask of the timestamps this policy keeps: finite, at least 0, at most MAX_TIMESTAMP."""
    t = np.asarray(t, dtype=np.float64)
    return (t >= 0.0) & (t <= MAX_TIMESTAMP)


def reject_bad_times(checks: LineChecks, t: np.ndarray) -> None:
    """Reject the lines whose timestamp ``t`` this policy refuses, each with its reason."""
    t = np.asarray(t, dtype=np.float64)
    if in_range(t).all():
        return
    checks.reject(~np.isfinite(t), NOT_FINITE)
    checks.reject(t < 0.0, NEGATIVE)
    checks.reject(t > MAX_TIMESTAMP, AFTER_2100)


def time_reason(t: float) -> str | None:
    """Why one message's timestamp is refused (the reasons of :func:`reject_bad_times`), or None."""
    if not np.isfinite(t):
        return NOT_FINITE
    if t < 0.0:
        return NEGATIVE
    if t > MAX_TIMESTAMP:
        return AFTER_2100
    return None


class TimeSteps:
    """Steps between consecutive kept messages, in arrival order, fed a batch of timestamps at a time:
    steps back (counted, with the largest) and steps forward longer than ``gap_s`` (gaps, with the
    longest step forward)."""

    def __init__(self, gap_s: float = GAP_S):
        self.gap_s = float(gap_s)
        self.last: float | None = None
        self.steps_back = 0
        self.largest_step_back_s = 0.0
        self.gaps = 0
        self.longest_step_s = 0.0

    def add(self, t: np.ndarray) -> np.ndarray:
        """Account for the next messages; returns the indexes into ``t`` of those earlier than the message
        before them."""
        t = np.asarray(t, dtype=np.float64)
        if len(t) == 0:
            return np.zeros(0, np.int64)
        step = np.diff(t, prepend=t[0] if self.last is None else self.last)
        self.last = float(t[-1])
        back = np.flatnonzero(step < 0.0)
        if len(back):
            self.steps_back += len(back)
            self.largest_step_back_s = max(self.largest_step_back_s, float(-step[back].min()))
        longest = float(step.max())
        if longest > self.longest_step_s:
            self.longest_step_s = longest
        if longest > self.gap_s:
            self.gaps += int(np.count_nonzero(step > self.gap_s))
        return back

    def describe(self) -> dict:
        return {"steps_back": self.steps_back, "largest_step_back_s": round(self.largest_step_back_s, 6),
                "gaps": self.gaps, "gap_s": self.gap_s, "longest_step_s": round(self.longest_step_s, 6)}


def time_report(steps: TimeSteps, reasons: Mapping[str, int]) -> dict:
    """A report's ``time``: messages refused for their timestamp, by kind (from the rejects by reason),
    then the steps back and gaps of those kept."""
    return {kind: int(reasons.get(reason, 0)) for reason, kind in REJECT_KINDS.items()} | steps.describe()


def merge_time_reports(reports: list[dict]) -> dict:
    """The ``time`` of several recordings: counts summed, the largest step back and longest step the largest."""
    out: dict = {kind: 0 for kind in REJECT_KINDS.values()} | TimeSteps().describe()
    for r in reports:
        for key in (*REJECT_KINDS.values(), "steps_back", "gaps"):
            out[key] += r.get(key, 0)
        for key in ("largest_step_back_s", "longest_step_s"):
            out[key] = max(out[key], r.get(key, 0.0))
        out["gap_s"] = r.get("gap_s", out["gap_s"])
    return out


__all__ = [
    "MAX_TIMESTAMP", "GAP_S", "NOT_FINITE", "NEGATIVE", "AFTER_2100", "REJECT_KINDS", "parse_timestamps", "in_range",
    "reject_bad_times", "time_reason", "TimeSteps", "time_report", "merge_time_reports",
]
