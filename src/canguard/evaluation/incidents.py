"""Alarms as a user sees them: a stream's alarming windows aggregated into incidents.

A detector left running on a vehicle does not page anyone for every alarming window.  Its windows, in stream
order, go through a *persistence rule* (:class:`IncidentRule`):

* an incident **opens** at a window when at least ``k`` of the last ``n`` windows (that one included) raised an
  alarm (:func:`canguard.evaluation.alarms.raises_alarm`); that window is always an alarming one;
* it **closes** once ``quiet`` windows in a row have raised none; the next alarm after that starts afresh (it
  needs ``k`` of its last ``n`` again, which may count alarms of the incident before where ``n > quiet``);
* the end of the stream closes an open incident.

So an incident is a run of alarms with fewer than ``quiet`` silent windows between consecutive ones, from its
``k``-th alarm (of ``n``) on.  ``k = n = quiet = 1`` gives one incident per run of alarming windows.

What is measured (:func:`incident_metrics`), on labelled windows (``y`` = 1: the window holds an attack message):

* an incident is **true** when one of its windows, from the one that opened it to its last alarm, is an attack
  window, and **false** otherwise; false incidents per hour = false incidents / hours of benign traffic (the
  summed duration of the benign windows, as :func:`canguard.evaluation.detection.false_alarms_per_hour`);
* an attack **episode** (:func:`canguard.evaluation.detection.attack_episodes`) is **caught** when an alarming
  window of an open incident overlaps it; its **delay** is the end of the first such window (the moment its verdict
  could be out) minus the episode's first attack message; incident recall = caught episodes / episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from canguard.evaluation.detection import detection_delays


@dataclass(frozen=True)
class IncidentRule:
    """Open at ``k`` alarming windows among the last ``n``; close after ``quiet`` windows without an alarm."""

    k: int = 2
    n: int = 3
    quiet: int = 10

    def __post_init__(self):
        if not (1 <= self.k <= self.n) or self.quiet < 1:
            raise ValueError(f"incident rule: need 1 <= k <= n and quiet >= 1, got k={self.k}, n={self.n}, "
                             f"quiet={self.quiet}")

    def describe(self) -> str:
        return f"{self.k} of {self.n} windows alarming, closed after {self.quiet} quiet windows"


def incident_ids(alarm: np.ndarray, rule: IncidentRule) -> np.ndarray:
    """(N,) int64: for each window of one stream (in order), the incident it belongs to (0, 1, ...), -1 for none.

    A window belongs to an incident from the window that opened it to the incident's last alarm; the quiet
    windows that close it belong to none.
    """
    alarm = np.asarray(alarm, dtype=bool)
    out = np.full(len(alarm), -1, np.int64)
    at = np.flatnonzero(alarm)
    if len(at) == 0:
        return out
    counts = np.concatenate([[0], np.cumsum(alarm, dtype=np.int64)])
    recent = counts[at + 1] - counts[np.maximum(at + 1 - rule.n, 0)]  # alarms among the last n, at each alarm
    runs = np.split(np.arange(len(at)), np.flatnonzero(np.diff(at) > rule.quiet) + 1)
    incident = 0
    for run in runs:  # one per run of alarms, at most one incident each
        ready = np.flatnonzero(recent[run] >= rule.k)
        if len(ready):
            out[at[run[ready[0]]]: at[run[-1]] + 1] = incident
            incident += 1
    return out


def incidents(windows: pd.DataFrame, rule: IncidentRule) -> pd.DataFrame:
    """The incidents of each recording's stream of windows (``recording``, ``t_start``, ``t_end``, ``alarm``,
    optionally ``y``), one row each: recording, opened (t_end of the window that opened it), last_alarm (t_end of
    its last alarming window), windows, alarms, and ``true`` where ``y`` is given (an attack window among its)."""
    rows = []
    for recording, w in windows.groupby("recording", sort=False):
        w = w.sort_values("t_start", kind="stable")
        ids = incident_ids(w["alarm"].to_numpy(bool), rule)
        if (ids < 0).all():
            continue
        t_end, alarm = w["t_end"].to_numpy(float), w["alarm"].to_numpy(bool)
        y = w["y"].to_numpy() if "y" in w else None
        for i in range(ids.max() + 1):
            member = np.flatnonzero(ids == i)
            rows.append({"recording": recording, "opened": float(t_end[member[0]]),
                         "last_alarm": float(t_end[member[-1]]), "windows": int(len(member)),
                         "alarms": int(alarm[member].sum()),
                         **({"true": bool((y[member] == 1).any())} if y is not None else {})})
    return pd.DataFrame(rows, columns=["recording", "opened", "last_alarm", "windows", "alarms", "true"])


def caught_episodes(windows: pd.DataFrame, episodes: pd.DataFrame, rule: IncidentRule) -> pd.DataFrame:
    """One row per attack episode: caught (an alarming window of an incident overlaps it), first (the end of the
    first such window) and delay_s: :func:`canguard.evaluation.detection.detection_delays` on the alarms that
    belong to an incident."""
    in_incident = np.zeros(len(windows), bool)
    for _, w in windows.reset_index(drop=True).groupby("recording", sort=False):
        w = w.sort_values("t_start", kind="stable")
        in_incident[w.index] = (incident_ids(w["alarm"].to_numpy(bool), rule) >= 0) & w["alarm"].to_numpy(bool)
    delays = detection_delays(windows.reset_index(drop=True).assign(alarm=in_incident), episodes)
    return delays.rename(columns={"detected": "caught", "first_alarm": "first"})


def incident_metrics(windows: pd.DataFrame, episodes: pd.DataFrame, rule: IncidentRule) -> dict:
    """Incident recall over ``episodes``, false incidents per hour of benign traffic, detection delay (median and
    90th percentile), with the counts they come from; ``windows`` of the recordings judged, labelled (``y``)."""
    found = incidents(windows, rule)
    caught = caught_episodes(windows, episodes, rule)
    benign = windows[windows["y"] == 0]
    hours = float((benign["t_end"] - benign["t_start"]).clip(lower=0).sum()) / 3600.0
    false = int((~found["true"].astype(bool)).sum()) if len(found) else 0
    delays = caught["delay_s"].dropna().to_numpy(float)
    return {
        "rule": rule.describe(), "incidents": int(len(found)), "false_incidents": false, "benign_hours": hours,
        "false_incidents_per_hour": false / hours if hours > 0 else float("nan"),
        "episodes": int(len(caught)), "caught": int(caught["caught"].sum()) if len(caught) else 0,
        "incident_recall": float(caught["caught"].mean()) if len(caught) else float("nan"),
        "delay_median_s": float(np.median(delays)) if len(delays) else float("nan"),
        "delay_p90_s": float(np.quantile(delays, 0.9)) if len(delays) else float("nan"),
    }
