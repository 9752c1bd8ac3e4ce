"""Attack episodes, detection delay and false alarms per hour.

An *episode* is a stretch of attack messages in a recording: attack messages
closer than ``max_gap_s`` to each other belong to the same episode (a DoS
interleaves its frames with benign traffic, so single runs would be too short).
A window raises an *alarm* by the one alarm rule
(:func:`canguard.evaluation.alarms.raises_alarm`), read here from the alarms
table's ``alarm`` column; the alarm is known when the window is complete, at its
last message (``t_end``).

* detection delay of an episode = time of the first alarm raised by a window
  that overlaps the episode, minus the episode's first attack message; an episode
  without such an alarm is *missed*.
* false alarms per hour = alarms on benign windows per hour of benign traffic
  (the summed duration of the benign windows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq


def attack_episodes(parquet: str, recording: str, attack: str, max_gap_s: float = 1.0) -> pd.DataFrame:
    """Episodes of one ingested recording: recording, attack_type, start, end, messages."""
    t = pq.read_table(parquet, columns=["timestamp", "label"])
    ts = t.column("timestamp").to_numpy()
    attack_ts = np.sort(ts[t.column("label").to_numpy() == 1])
    if len(attack_ts) == 0:
        return pd.DataFrame(columns=["recording", "attack_type", "start", "end", "messages"])
    breaks = np.flatnonzero(np.diff(attack_ts) > max_gap_s)
    first = np.r_[0, breaks + 1]
    last = np.r_[breaks, len(attack_ts) - 1]
    return pd.DataFrame({"recording": recording, "attack_type": attack, "start": attack_ts[first],
                         "end": attack_ts[last], "messages": last - first + 1})


def detection_delays(windows: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    """One row per episode: detected, first alarm time and delay (seconds).

    ``windows``: alarms of the episodes' recordings (recording, t_start, t_end, alarm).
    """
    rows = []
    for rec, eps in episodes.groupby("recording", sort=False):
        w = windows[windows["recording"] == rec]
        alarm_start = w["t_start"].to_numpy()
        alarm_end = w["t_end"].to_numpy()
        alarmed = w["alarm"].to_numpy(bool)
        for ep in eps.itertuples():
            hit = alarmed & (alarm_end >= ep.start) & (alarm_start <= ep.end)
            first = float(alarm_end[hit].min()) if hit.any() else None
            rows.append({"recording": rec, "attack_type": ep.attack_type, "start": ep.start, "end": ep.end,
                         "detected": first is not None, "first_alarm": first,
                         "delay_s": max(0.0, first - ep.start) if first is not None else None})
    return pd.DataFrame(rows, columns=["recording", "attack_type", "start", "end", "detected", "first_alarm",
                                       "delay_s"])


def detection_summary(delays: pd.DataFrame) -> dict:
    d = delays["delay_s"].dropna().to_numpy(dtype=float)
    return {
        "episodes": int(len(delays)),
        "detected": int(delays["detected"].sum()) if len(delays) else 0,
        "missed": int((~delays["detected"].astype(bool)).sum()) if len(delays) else 0,
        "delay_mean_s": float(d.mean()) if len(d) else None,
        "delay_median_s": float(np.median(d)) if len(d) else None,
        "delay_p90_s": float(np.quantile(d, 0.9)) if len(d) else None,
    }


def false_alarms_per_hour(windows: pd.DataFrame) -> tuple[float, float]:
    """(false alarms per hour of benign traffic, benign hours); ``windows`` carry an ``alarm`` column."""
    benign = windows[windows["y"] == 0]
    hours = float((benign["t_end"] - benign["t_start"]).clip(lower=0).sum()) / 3600.0
    alarms = int(benign["alarm"].astype(bool).sum())
    return (alarms / hours if hours > 0 else float("nan")), hours
