"""Node features relative to the profile of the vehicle a window was recorded on.

The intrinsic node features (:mod:`canguard.graphs.features`) describe what an
ID did in a window; these describe how that compares with what *this vehicle's*
ID normally does (:class:`canguard.profiles.VehicleProfile`), so that a model
can judge a vehicle it was never trained on, with no ID identity at all::

    novel            1 if the vehicle was never seen sending this ID
    rate_ratio       log((count + 0.5) / (expected + 0.5)), expected = window duration / the ID's period
    count_z          (count - usual count per window) / max(its std, 0.5)
    iat_min_ratio    log(shortest gap to the ID's previous message / the 1st percentile of its gaps):
                     below 0 = faster than it ever came
    gap_before       log(gap before its first message in the window / its longest normal silence)
    dlc_unseen       share of its messages with a DLC this ID never used
    value_unseen     share of its carried bytes with a value never seen (bytes with <= 32 values seen)
    out_of_range     share of its carried bytes outside the byte's range
    delta_unseen     share of its bytes whose change from the ID's previous message was never seen
                     (bytes with <= 32 distinct changes seen: counters, constants, flags)
    change_surprise  the largest, over its bytes, of the mean excess surprise of whether the byte changed
                     from the ID's previous message: -log P(changed or not | the byte's change rate)
                     minus that rate's entropy (0 on average for normal traffic; a forged field that
                     freezes a byte which always changes scores about -log(1 - rate) every message)
    overdue          (window) log1p(sum over the vehicle's IDs of silence / longest normal silence - 1,
                     where positive): a sender gone quiet
    has_profile      1 if the window was compared with a profile at all

Gaps and changes are measured against the previous message of the same ID in the
recording, inside the window or before it, as a detector on a live bus sees
them; a message with no previous one contributes no gap or change.  For a novel
ID every comparison but ``novel`` is 0.  A window without a profile (zero-shot
on an unknown vehicle) gets NaN in every column but ``has_profile`` = 0; the
normalisation turns NaN into 0.
"""

from __future__ import annotations

import numpy as np
import torch

from canguard.profiles.profile import VehicleProfile

RELATIVE_FEATURES: list[str] = [
    "novel", "rate_ratio", "count_z", "iat_min_ratio", "gap_before", "dlc_unseen", "value_unseen",
    "out_of_range", "delta_unseen", "change_surprise", "overdue", "has_profile",
]
NUM_RELATIVE_FEATURES = len(RELATIVE_FEATURES)
COL = {name: i for i, name in enumerate(RELATIVE_FEATURES)}

LOW_CARDINALITY = 32      # a byte with at most this many values (or changes) seen is categorical
MIN_OBSERVATIONS = 32     # pairs needed before an unseen value or change counts
MIN_IAT_SAMPLES = 20      # gaps needed before an ID can be overdue
LOG_CLIP = 10.0
_EPS = 1e-6


def _log_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.clip(np.log(np.maximum(a, _EPS) / np.maximum(b, _EPS)), -LOG_CLIP, LOG_CLIP)


def _node_mean(node: np.ndarray, values: np.ndarray, denom: np.ndarray, num_nodes: int) -> np.ndarray:
    """Per node: sum of ``values`` / sum of ``denom`` over its slots (0 where denom sums to 0)."""
    num = np.bincount(node, weights=values, minlength=num_nodes)
    den = np.bincount(node, weights=denom, minlength=num_nodes)
    return np.where(den > 0, num / np.maximum(den, 1e-12), 0.0)


def relative_node_features(
    *, timestamp: np.ndarray, can_id: np.ndarray, dlc: np.ndarray, payload: np.ndarray, code: np.ndarray,
    uid: np.ndarray, prev: np.ndarray, slot: np.ndarray, win: np.ndarray, node_of: np.ndarray,
    node_win: np.ndarray, node_code: np.ndarray, count: np.ndarray, starts: np.ndarray, size: int,
    profiles: list[VehicleProfile], window_profile: np.ndarray, t_origin: float | None = None,
) -> np.ndarray:
    """(N, NUM_RELATIVE_FEATURES) float32 for the nodes of a recording's windows.

    Arrays over the recording's messages: ``timestamp``, ``can_id``, ``dlc``, ``payload``,
    ``code`` (dense ID code into ``uid``), ``prev`` (previous message of the same ID, -1).
    Over window slots: ``slot`` (message index), ``win`` (window), ``node_of`` (node).
    Over nodes: ``node_win``, ``node_code``, ``count``.  ``window_profile`` (G,) indexes
    ``profiles`` per window, -1 = no profile.  ``t_origin``: the time since which an ID never seen
    has been silent (default: the first message's).
    """
    t_origin = float(timestamp[0]) if t_origin is None else float(t_origin)
    num_nodes = len(node_win)
    out = np.full((num_nodes, NUM_RELATIVE_FEATURES), np.nan, np.float64)
    out[:, COL["has_profile"]] = 0.0
    ends = starts + size - 1
    duration = timestamp[ends] - timestamp[starts]
    gap_to_prev = np.where(prev >= 0, timestamp - timestamp[np.maximum(prev, 0)], np.nan)
    slot_index = np.arange(len(slot))
    for p, prof in enumerate(profiles):
        wsel = window_profile == p
        if not wsel.any():
            continue
        nodes = np.flatnonzero(wsel[node_win])
        sel = wsel[win]
        m, n = slot[sel], node_of[sel]
        rows_of_code = prof.row(uid)
        r_node = rows_of_code[node_code[nodes]]
        known_node = r_node >= 0
        r = rows_of_code[code[m]]
        known = r >= 0
        rk = np.maximum(r, 0)
        feats = np.zeros((num_nodes, NUM_RELATIVE_FEATURES))

        feats[nodes, COL["novel"]] = (~known_node).astype(np.float64)
        rn = np.maximum(r_node, 0)
        period = prof.iat_median[rn]
        expected = duration[node_win[nodes]] / np.where(np.isfinite(period) & (period > 0), period, np.nan)
        rate = np.log((count[nodes] + 0.5) / (expected + 0.5))
        feats[nodes, COL["rate_ratio"]] = np.where(known_node & np.isfinite(rate), rate, 0.0)
        z = (count[nodes] - prof.count_mean[rn]) / np.maximum(prof.count_std[rn], 0.5)
        feats[nodes, COL["count_z"]] = np.where(known_node, z, 0.0)

        # timing against the ID's own gaps: the shortest gap, and the silence before its first message
        gaps = gap_to_prev[m]
        gmin = torch.full((num_nodes,), np.inf, dtype=torch.float64).scatter_reduce_(
            0, torch.from_numpy(n), torch.from_numpy(np.where(np.isfinite(gaps), gaps, np.inf)), "amin").numpy()
        ok = known_node & np.isfinite(gmin[nodes]) & np.isfinite(prof.iat_p01[rn])
        feats[nodes, COL["iat_min_ratio"]] = np.where(ok, _log_ratio(gmin[nodes], prof.iat_p01[rn]), 0.0)
        first = torch.full((num_nodes,), len(slot), dtype=torch.int64).scatter_reduce_(
            0, torch.from_numpy(n), torch.from_numpy(slot_index[sel]), "amin").numpy()
        gfirst = gap_to_prev[slot[np.minimum(first[nodes], len(slot) - 1)]]
        ok = known_node & np.isfinite(gfirst) & np.isfinite(prof.iat_max[rn])
        feats[nodes, COL["gap_before"]] = np.where(ok, _log_ratio(gfirst, prof.iat_max[rn]), 0.0)

        # payload against the ID's own DLCs, values, ranges and changes
        d = dlc[m].astype(np.int64)
        dlc_new = known & ((prof.dlc_mask[rk] >> d) & 1 == 0)
        ones = np.ones(len(m))
        feats[:, COL["dlc_unseen"]] = _node_mean(n, dlc_new, ones, num_nodes)
        has_prev = prev[m] >= 0
        pm = np.maximum(prev[m], 0)
        # per (ID, byte) of the profile, gathered once per slot: which bytes are categorical enough to judge a
        # value or a change by, their range, and the excess surprise of a changed or an unchanged byte
        pairs_ok = prof.pairs >= MIN_OBSERVATIONS
        value_ok = ((prof.value_seen.sum(axis=2) <= LOW_CARDINALITY) & pairs_ok)[rk]
        delta_ok = ((prof.delta_seen.sum(axis=2) <= LOW_CARDINALITY) & pairs_ok)[rk]
        pc = prof.change_rate()
        entropy = -(pc * np.log(pc) + (1 - pc) * np.log1p(-pc))
        nll_changed, nll_same = (-np.log(pc) - entropy)[rk], (-np.log1p(-pc) - entropy)[rk]
        byte_lo, byte_hi = prof.byte_min[rk], prof.byte_max[rk]
        prev_dlc = dlc[pm]
        value_seen = prof.value_seen.reshape(-1)   # [(row * 8 + byte) * 256 + value]
        delta_seen = prof.delta_seen.reshape(-1)
        unseen = eligible = outside = carried_n = delta_new = delta_eligible = 0.0
        excess = np.zeros((num_nodes, 8))
        for j in range(8):
            carried = known & (d > j)
            v = payload[m, j].astype(np.int64)
            cell = (rk * 8 + j) * 256
            elig = carried & value_ok[:, j]
            unseen = unseen + (elig & ~value_seen[cell + v])
            eligible = eligible + elig
            lo, hi = byte_lo[:, j], byte_hi[:, j]
            outside = outside + (carried & ((lo < 0) | (v < lo) | (v > hi)))
            carried_n = carried_n + carried
            both = carried & has_prev & (prev_dlc > j)
            delta = (v - payload[pm, j]) % 256
            elig_d = both & delta_ok[:, j]
            delta_new = delta_new + (elig_d & ~delta_seen[cell + delta])
            delta_eligible = delta_eligible + elig_d
            nll = np.where(delta != 0, nll_changed[:, j], nll_same[:, j])
            excess[:, j] = _node_mean(n, np.where(both, nll, 0.0), both, num_nodes)
        share = lambda a, b: np.where(np.asarray(b) > 0, a / np.maximum(b, 1), 0.0)  # noqa: E731
        feats[:, COL["value_unseen"]] = _node_mean(n, share(unseen, eligible), ones, num_nodes)
        feats[:, COL["out_of_range"]] = _node_mean(n, share(outside, carried_n), ones, num_nodes)
        feats[:, COL["delta_unseen"]] = _node_mean(n, share(delta_new, delta_eligible), ones, num_nodes)
        feats[:, COL["change_surprise"]] = excess.max(axis=1)

        # a sender gone quiet: silence at the window's end against each ID's longest normal silence
        overdue = _overdue(timestamp, code, uid, ends[wsel], prof, t_origin)
        by_window = np.zeros(len(starts))
        by_window[wsel] = overdue
        feats[nodes, COL["overdue"]] = by_window[node_win[nodes]]
        feats[nodes, COL["has_profile"]] = 1.0
        out[nodes] = feats[nodes]
    return out.astype(np.float32)


OVERDUE_BLOCK = 4096  # window ends per block of the (regular IDs x windows) look-up: bounded memory


def _overdue(timestamp: np.ndarray, code: np.ndarray, uid: np.ndarray, ends: np.ndarray,
             prof: VehicleProfile, t_origin: float) -> np.ndarray:
    """Per window end: log1p(sum over the profile's regular IDs of max(0, silence / iat_max - 1)).

    One sorted look-up for every (regular ID, window end): the ID's messages keyed by
    ``rank * n + message index``, searched for ``rank * n + end``; the sum over IDs runs in
    profile order, as one term per ID added in turn."""
    regular = np.flatnonzero((prof.iat_samples >= MIN_IAT_SAMPLES) & np.isfinite(prof.iat_max) & (prof.iat_max > 0))
    if len(regular) == 0 or len(ends) == 0:
        return np.zeros(len(ends))
    n, R = len(timestamp), len(regular)
    pos = np.searchsorted(uid, prof.can_id[regular])
    present = (pos < len(uid)) & (uid[np.minimum(pos, len(uid) - 1)] == prof.can_id[regular])
    rank_of_code = np.full(len(uid), -1, np.int64)
    rank_of_code[pos[present]] = np.flatnonzero(present)
    rank = rank_of_code[code]
    msg = np.flatnonzero(rank >= 0)                      # messages of the regular IDs, in file order
    key = rank[msg] * n + msg
    order = np.argsort(key, kind="stable")
    key, msg = key[order], msg[order]
    ranks = np.arange(R, dtype=np.int64)[:, None]
    iat_max = prof.iat_max[regular][:, None]
    out = np.zeros(len(ends))
    for lo in range(0, len(ends), OVERDUE_BLOCK):
        e = ends[lo: lo + OVERDUE_BLOCK]
        last = np.searchsorted(key, ranks * n + e[None, :], side="right") - 1      # (R, block)
        found = (last >= 0) & (key[np.maximum(last, 0)] // n == ranks) if len(key) else np.zeros((R, len(e)), bool)
        seen = np.where(found, timestamp[msg[np.maximum(last, 0)]] if len(key) else t_origin, t_origin)
        out[lo: lo + len(e)] = np.log1p(np.maximum(0.0, (timestamp[e][None, :] - seen) / iat_max - 1.0).sum(axis=0))
    return out
