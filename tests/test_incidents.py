"""The incident rule on constructed alarm sequences: hand-made cases, and the vectorised rule against the rule
read literally as a state machine, window by window, on random sequences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canguard.evaluation.incidents import IncidentRule, caught_episodes, incident_ids, incident_metrics


def state_machine(alarm: list[bool], rule: IncidentRule) -> list[int]:
    """The rule as the module docstring states it, one window at a time."""
    out, open_, incident, quiet, history = [], False, -1, 0, []
    pending: list[int] = []
    for i, a in enumerate(alarm):
        history.append(a)
        if not open_ and a and sum(history[-rule.n:]) >= rule.k:
            open_, incident, quiet, pending = True, incident + 1, 0, [i]
        elif open_:
            quiet = 0 if a else quiet + 1
            if quiet >= rule.quiet:
                open_ = False
            else:
                pending.append(i)
        out.append(-1)
        if open_ and a:  # every window from the opening to this alarm belongs to the incident
            for j in pending:
                out[j] = incident
            pending = [i]
    return out


def seq(text: str) -> np.ndarray:
    return np.array([c == "x" for c in text])


@pytest.mark.parametrize("alarms, rule, expected", [
    ("..x..x..", IncidentRule(2, 3, 2), [-1] * 8),                   # never 2 alarms within 3 windows
    ("..xx....", IncidentRule(2, 3, 2), [-1, -1, -1, 0, -1, -1, -1, -1]),  # opens at the second alarm
    ("x.x.x.x", IncidentRule(2, 3, 2), [-1, -1, 0, 0, 0, 0, 0]),      # one silent window never closes it
    ("xx..xx", IncidentRule(2, 3, 2), [-1, 0, -1, -1, -1, 1]),       # two silent windows close it: two incidents
    ("xx..x", IncidentRule(2, 5, 2), [-1, 0, -1, -1, 1]),            # n > quiet: the old alarms count again
    ("xxx.xx", IncidentRule(1, 1, 1), [0, 0, 0, -1, 1, 1]),          # one incident per run of alarms
    ("", IncidentRule(), []),
])
def test_hand_made_sequences(alarms, rule, expected):
    assert incident_ids(seq(alarms), rule).tolist() == expected
    assert state_machine(list(seq(alarms)), rule) == expected


@settings(max_examples=300, deadline=None)
@given(alarm=st.lists(st.booleans(), max_size=80), k=st.integers(1, 4), extra=st.integers(0, 4),
       quiet=st.integers(1, 6))
def test_the_vectorised_rule_is_the_state_machine(alarm, k, extra, quiet):
    rule = IncidentRule(k, k + extra, quiet)
    assert incident_ids(np.array(alarm, bool), rule).tolist() == state_machine(alarm, rule)


def windows_of(alarms: str, attack: str, t0: float = 0.0, recording: str = "r") -> pd.DataFrame:
    """One window per character, 0.1 s each; ``attack``: 'a' where the window holds an attack message."""
    n = len(alarms)
    t = t0 + 0.1 * np.arange(n)
    return pd.DataFrame({"recording": recording, "t_start": t, "t_end": t + 0.1, "alarm": seq(alarms),
                         "y": [int(c == "a") for c in attack]})


def test_metrics_count_true_and_false_incidents_recall_and_delay():
    rule = IncidentRule(2, 3, 3)
    #         window:  0123456789012345678901234567890123456789
    alarms = "x.xx.........xx.........................x....x......"
    attack = ".............aaaaaa....................................."[: len(alarms)]
    w = windows_of(alarms, attack)
    episodes = pd.DataFrame({"recording": ["r", "r"], "attack_type": ["dos", "dos"],
                             "start": [1.30, 3.00], "end": [1.85, 3.40]})
    m = incident_metrics(w, episodes, rule)
    assert m["incidents"] == 2 and m["false_incidents"] == 1  # windows 0-3 (benign), 13-14 (attack)
    benign_hours = (len(alarms) - 6) * 0.1 / 3600
    assert m["benign_hours"] == pytest.approx(benign_hours)
    assert m["false_incidents_per_hour"] == pytest.approx(1 / benign_hours)
    assert m["episodes"] == 2 and m["caught"] == 1 and m["incident_recall"] == 0.5  # the second has no alarm
    caught = caught_episodes(w, episodes, rule)
    assert caught["delay_s"].iloc[0] == pytest.approx(1.5 - 1.30)  # window 14 ends at 1.5: its verdict is out
    assert m["delay_median_s"] == pytest.approx(0.2)


def test_a_single_alarm_inside_an_episode_is_not_an_incident():
    rule = IncidentRule(2, 3, 3)
    w = windows_of("....x....", "...aaa...")
    episodes = pd.DataFrame({"recording": ["r"], "attack_type": ["fuzzing"], "start": [0.3], "end": [0.55]})
    m = incident_metrics(w, episodes, rule)
    assert m["incidents"] == 0 and m["caught"] == 0 and m["incident_recall"] == 0.0


@pytest.mark.parametrize("k, n, quiet", [(0, 3, 1), (4, 3, 1), (1, 1, 0)])
def test_a_rule_that_cannot_work_is_refused(k, n, quiet):
    with pytest.raises(ValueError, match="need 1 <= k <= n and quiet >= 1"):
        IncidentRule(k, n, quiet)
