"""A naive, obviously correct window-graph builder: one window at a time, pandas and Python lists.

It is what research code typically does (and ~100x slower); canguard keeps it
as the reference that the vectorised :mod:`canguard.graphs.builder` is tested
against and benchmarked with.  Same output layout and ordering: nodes sorted by
CAN ID within a window, edges sorted by (source, destination).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from canguard.frames import Frames
from canguard.graphs.builder import WindowGraphs
from canguard.graphs.features import NUM_NODE_FEATURES
from canguard.graphs.relative import LOG_CLIP, LOW_CARDINALITY, MIN_IAT_SAMPLES, MIN_OBSERVATIONS, NUM_RELATIVE_FEATURES
from canguard.graphs.windows import window_starts
from canguard.profiles.profile import VehicleProfile


def _log_ms(seconds: float) -> float:
    return float(np.log1p(max(seconds, 0.0) * 1000.0))


def _graph(df: pd.DataFrame, size: int):
    ids = sorted(df["can_id"].unique().tolist())
    local = {cid: i for i, cid in enumerate(ids)}
    rows = []
    for _, group in df.groupby("can_id", sort=True):
        feats = [float(len(group))]
        stats = {"mean": [], "std": [], "min": [], "max": [], "present": []}
        for j in range(8):
            vals = group.loc[group["dlc"] > j, f"b{j}"].to_numpy(dtype=float) / 255.0
            if len(vals):
                stats["mean"].append(vals.mean())
                stats["std"].append(vals.std())
                stats["min"].append(vals.min())
                stats["max"].append(vals.max())
            else:
                for k in ("mean", "std", "min", "max"):
                    stats[k].append(0.0)
            stats["present"].append(len(vals) / len(group))
        for k in ("mean", "std", "min", "max", "present"):
            feats += stats[k]
        gaps = [_log_ms(b - a) for a, b in zip(group["t"].tolist(), group["t"].tolist()[1:])]
        feats += [group["dlc"].mean(), float(np.mean(gaps)) if gaps else 0.0,
                  float(np.std(gaps)) if gaps else 0.0,
                  group["pos"].min() / max(size - 1, 1), group["pos"].max() / max(size - 1, 1)]
        rows.append(feats)
    edges: dict[tuple[int, int], list[float]] = {}
    seq, times = df["can_id"].tolist(), df["t"].tolist()
    for i in range(len(seq) - 1):
        edges.setdefault((local[seq[i]], local[seq[i + 1]]), []).append(_log_ms(times[i + 1] - times[i]))
    keys = sorted(edges)
    return ids, rows, keys, [[len(edges[k]), float(np.mean(edges[k]))] for k in keys]


def _clip_log(a: float, b: float) -> float:
    return float(np.clip(np.log(max(a, 1e-6) / max(b, 1e-6)), -LOG_CLIP, LOG_CLIP))


def _previous(frames: Frames, i: int) -> int:
    """Index of the previous message with the same ID, scanning back (-1 if none)."""
    for k in range(i - 1, -1, -1):
        if frames.can_id[k] == frames.can_id[i]:
            return k
    return -1


def _relative_reference(frames: Frames, start: int, size: int, ids: list[int], prof: VehicleProfile | None):
    """Relative features of one window's nodes (rows in ``ids`` order), straight from the definitions."""
    if prof is None:
        rows = np.full((len(ids), NUM_RELATIVE_FEATURES), np.nan)
        rows[:, -1] = 0.0
        return rows.tolist()
    end = start + size - 1
    t = frames.timestamp
    duration = t[end] - t[start]
    lookup = {int(c): k for k, c in enumerate(prof.can_id)}
    total = 0.0
    for k in range(prof.num_ids):
        if prof.iat_samples[k] < MIN_IAT_SAMPLES or not np.isfinite(prof.iat_max[k]) or prof.iat_max[k] <= 0:
            continue
        last = next((i for i in range(end, -1, -1) if frames.can_id[i] == prof.can_id[k]), None)
        seen = t[last] if last is not None else t[0]
        total += max(0.0, (t[end] - seen) / prof.iat_max[k] - 1.0)
    overdue = float(np.log1p(total))
    rate_ch = prof.change_rate()
    out = []
    for cid in ids:
        msgs = [i for i in range(start, end + 1) if frames.can_id[i] == cid]
        r = lookup.get(int(cid))
        if r is None:
            out.append([1.0] + [0.0] * 9 + [overdue, 1.0])
            continue
        count = len(msgs)
        period = prof.iat_median[r]
        rate = float(np.log((count + 0.5) / (duration / period + 0.5))) if np.isfinite(period) and period > 0 \
            else 0.0
        rate = rate if np.isfinite(rate) else 0.0
        z = (count - prof.count_mean[r]) / max(prof.count_std[r], 0.5)
        prevs = [_previous(frames, i) for i in msgs]
        gaps = [t[i] - t[p] for i, p in zip(msgs, prevs) if p >= 0]
        iat_min = _clip_log(min(gaps), prof.iat_p01[r]) if gaps and np.isfinite(prof.iat_p01[r]) else 0.0
        gap_before = (_clip_log(t[msgs[0]] - t[prevs[0]], prof.iat_max[r])
                      if prevs[0] >= 0 and np.isfinite(prof.iat_max[r]) else 0.0)
        dlc_new, unseen, outside, delta_new = [], [], [], []
        excess = [[] for _ in range(8)]  # per byte, the excess surprise of each pair that carries it
        for i, p in zip(msgs, prevs):
            dlc = int(frames.dlc[i])
            dlc_new.append(float(not (prof.dlc_mask[r] >> dlc) & 1))
            u = e = o = dn = de = 0
            for j in range(dlc):
                v = int(frames.payload[i, j])
                n_values = int(prof.value_seen[r, j].sum())
                if n_values <= LOW_CARDINALITY and prof.pairs[r, j] >= MIN_OBSERVATIONS:
                    e += 1
                    u += int(not prof.value_seen[r, j, v])
                lo, hi = int(prof.byte_min[r, j]), int(prof.byte_max[r, j])
                o += int(lo < 0 or v < lo or v > hi)
                if p >= 0 and frames.dlc[p] > j:
                    delta = (v - int(frames.payload[p, j])) % 256
                    pc = rate_ch[r, j]
                    entropy = -(pc * np.log(pc) + (1 - pc) * np.log(1 - pc))
                    excess[j].append((-np.log(pc) if delta != 0 else -np.log(1 - pc)) - entropy)
                    if int(prof.delta_seen[r, j].sum()) <= LOW_CARDINALITY and prof.pairs[r, j] >= MIN_OBSERVATIONS:
                        de += 1
                        dn += int(not prof.delta_seen[r, j, delta])
            unseen.append(u / e if e else 0.0)
            outside.append(o / dlc if dlc else 0.0)
            delta_new.append(dn / de if de else 0.0)
        out.append([0.0, rate, z, iat_min, gap_before, np.mean(dlc_new), np.mean(unseen), np.mean(outside),
                    np.mean(delta_new), max(float(np.mean(x)) if x else 0.0 for x in excess), overdue, 1.0])
    return out


def build_window_graphs_reference(frames: Frames, size: int, stride: int,
                                  profiles: list[VehicleProfile] | None = None,
                                  window_profile: np.ndarray | None = None) -> WindowGraphs:
    xs, can_ids, eis, eas, nptr, eptr, ys, fracs = [], [], [], [], [0], [0], [], []
    starts = window_starts(len(frames), size, stride)
    profiles = list(profiles or [])
    if window_profile is None:
        window_profile = np.full(len(starts), 0 if profiles else -1)
    for w, s in enumerate(starts):
        sl = slice(s, s + size)
        df = pd.DataFrame({"t": frames.timestamp[sl], "can_id": frames.can_id[sl].astype(np.int64),
                           "dlc": frames.dlc[sl], "pos": np.arange(size),
                           **{f"b{j}": frames.payload[sl, j] for j in range(8)}})
        ids, rows, keys, attrs = _graph(df, size)
        prof = profiles[window_profile[w]] if window_profile[w] >= 0 else None
        rows = [a + b for a, b in zip(rows, _relative_reference(frames, s, size, ids, prof))]
        xs += rows
        can_ids += ids
        eis += keys
        eas += attrs
        nptr.append(nptr[-1] + len(ids))
        eptr.append(eptr[-1] + len(keys))
        labels = frames.label[sl]
        ys.append(-1 if (labels == -1).any() else int((labels == 1).any()))
        fracs.append(float((labels == 1).mean()))
    return WindowGraphs(
        x=np.asarray(xs, np.float32).reshape(-1, NUM_NODE_FEATURES), node_can_id=np.asarray(can_ids, np.int64),
        edge_index=np.asarray(eis, np.int64).reshape(-1, 2).T.copy(),
        edge_attr=np.asarray(eas, np.float32).reshape(-1, 2), node_ptr=np.asarray(nptr, np.int64),
        edge_ptr=np.asarray(eptr, np.int64), y=np.asarray(ys, np.int64), attack_frac=np.asarray(fracs, np.float32),
        start=starts, t_start=frames.timestamp[starts], t_end=frames.timestamp[starts + size - 1],
    )
