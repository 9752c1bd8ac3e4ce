"""Features relative to a vehicle's profile react to what each attack changes, and stay quiet on normal traffic."""

import numpy as np
from test_profiles import hand_made

from canguard.frames import Frames
from canguard.graphs.builder import build_window_graphs
from canguard.graphs.features import INTRINSIC_FEATURES
from canguard.graphs.relative import RELATIVE_FEATURES
from canguard.profiles import fit_profile

W = 12


def relative(frames: Frames, profile) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    g = build_window_graphs(frames, W, W, [profile] if profile is not None else None)
    rel = g.x[:, len(INTRINSIC_FEATURES):]
    node_win = np.repeat(np.arange(g.num_graphs), np.diff(g.node_ptr))
    return {name: rel[:, i] for i, name in enumerate(RELATIVE_FEATURES)}, g.node_can_id, node_win


def test_normal_traffic_of_the_profiled_vehicle_is_unremarkable():
    profile = fit_profile([hand_made(4.0)], W, "toy")
    f, _, _ = relative(hand_made(2.0, t0=500.0), profile)
    for name in ("novel", "dlc_unseen", "value_unseen", "out_of_range", "delta_unseen", "overdue"):
        assert np.all(f[name] == 0), name
    assert np.all(f["has_profile"] == 1)
    assert np.all(np.abs(f["iat_min_ratio"]) < 0.01) and np.all(f["gap_before"] <= 0.01)


def test_each_attack_moves_its_feature():
    profile = fit_profile([hand_made(4.0)], W, "toy")
    base = hand_made(2.0, t0=500.0)
    t0 = base.timestamp[0]

    # injection: a new ID (DoS-like) and 0x100 at 5x its rate with a forged constant payload
    t_inj = t0 + 1.0 + np.arange(0, 0.1, 0.002)
    forged = np.tile(np.array([9, 0x99, 77, 0, 0, 0, 0, 0], np.uint8), (len(t_inj), 1))
    inj = Frames(np.r_[t_inj, t_inj + 0.0005], np.r_[np.full(len(t_inj), 0x100), np.zeros(len(t_inj))],
                 np.full(2 * len(t_inj), 8), np.r_[forged, np.zeros_like(forged)], np.ones(2 * len(t_inj)))
    frames = Frames.concat([base, inj]).sorted_by_time()
    f, ids, node_win = relative(frames, profile)
    attacked = frames.label.reshape(-1)[: len(frames) // W * W].reshape(-1, W).any(axis=1)[node_win]
    new_id = ids == 0
    assert np.all(f["novel"][new_id] == 1) and np.all(f["novel"][~new_id] == 0)
    spoofed = (ids == 0x100) & attacked
    # (the last window holds the end of the burst only: all of them above normal, most far above)
    assert f["rate_ratio"][spoofed].min() > 0.25 and np.median(f["rate_ratio"][spoofed]) > 1.0
    assert f["iat_min_ratio"][spoofed].max() < -1.0
    assert f["value_unseen"][spoofed].min() > 0 and f["out_of_range"][spoofed].min() > 0
    assert f["delta_unseen"][spoofed].min() > 0
    assert np.all(f["value_unseen"][(ids == 0x100) & ~attacked] == 0)

    # suppression: 0x200 (every 50 ms) silent for 0.5 s -> windows in the silence are overdue
    t = base.timestamp - t0
    quiet = (base.can_id == 0x200) & (t > 1.0) & (t < 1.5)
    f, ids, node_win = relative(base.take(~quiet), profile)
    g = build_window_graphs(base.take(~quiet), W, W, [profile])
    inside = (g.t_start - t0 > 1.12) & (g.t_end - t0 < 1.5)
    outside = (g.t_end - t0 < 0.95) | (g.t_start - t0 > 1.6)
    overdue = np.zeros(g.num_graphs)
    overdue[node_win] = f["overdue"]
    assert np.all(overdue[inside] > 0) and np.all(overdue[outside] == 0)
    resumed = (ids == 0x200) & (np.r_[g.t_start][node_win] - t0 > 1.45) & (np.r_[g.t_start][node_win] - t0 < 1.55)
    assert f["gap_before"][resumed].max() > 1.0


def test_without_a_profile_every_relative_feature_is_missing():
    f, _, _ = relative(hand_made(1.0), None)
    assert np.all(f["has_profile"] == 0)
    assert all(np.all(np.isnan(f[name])) for name in RELATIVE_FEATURES if name != "has_profile")


def test_a_frozen_field_is_surprising():
    """Masquerade-like: 0x100's counter byte (it always changes) stops changing for 0.3 s."""
    profile = fit_profile([hand_made(4.0)], W, "toy")
    frames = hand_made(2.0, t0=500.0)
    t = frames.timestamp - frames.timestamp[0]
    frozen = (frames.can_id == 0x100) & (t > 1.0) & (t < 1.3)
    frames.payload[frozen, 0] = 77
    g = build_window_graphs(frames, W, W, [profile])
    f, ids, node_win = relative(frames, profile)
    inside = ((g.t_start - frames.timestamp[0] > 1.02) & (g.t_end - frames.timestamp[0] < 1.28))[node_win]
    target = ids == 0x100
    assert f["change_surprise"][target & inside].min() > 3.0  # about -log(1 - rate) per message
    settled = np.r_[g.t_start][node_win] - frames.timestamp[0] > 1.5
    assert np.abs(f["change_surprise"][target & ~inside & settled]).max() < 0.5
