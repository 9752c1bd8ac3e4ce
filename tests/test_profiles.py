"""Vehicle profiles: a hand-made recording with known periods, DLCs and byte ranges gives the expected profile."""

import numpy as np

from canguard.frames import Frames
from canguard.profiles import VehicleProfile, fit_profile


def hand_made(duration_s: float = 2.0, t0: float = 100.0) -> Frames:
    """0x100 every 10 ms (DLC 8: byte 0 a counter 0..255, byte 1 constant 0x42, byte 2 in 10..20);
    0x200 every 50 ms (DLC 2: byte 0 toggles between 0 and 1 each message, byte 1 = 7)."""
    t1 = t0 + np.arange(0, duration_s, 0.010)
    t2 = t0 + 0.003 + np.arange(0, duration_s, 0.050)
    p1 = np.zeros((len(t1), 8), np.uint8)
    p1[:, 0] = np.arange(len(t1)) % 256
    p1[:, 1] = 0x42
    p1[:, 2] = 10 + np.arange(len(t1)) % 11
    p2 = np.zeros((len(t2), 8), np.uint8)
    p2[:, 0] = np.arange(len(t2)) % 2
    p2[:, 1] = 7
    t = np.concatenate([t1, t2])
    order = np.argsort(t, kind="stable")
    return Frames(t[order], np.r_[np.full(len(t1), 0x100), np.full(len(t2), 0x200)][order],
                  np.r_[np.full(len(t1), 8), np.full(len(t2), 2)][order], np.concatenate([p1, p2])[order],
                  np.zeros(len(t)))


def test_profile_of_a_hand_made_recording():
    frames = hand_made()
    p = fit_profile([frames], window_size=12, vehicle="toy", source={"recordings": ["toy/a"]})
    assert p.can_id.tolist() == [0x100, 0x200]
    assert p.messages.tolist() == [200, 40]
    np.testing.assert_allclose(p.share, [200 / 240, 40 / 240])
    np.testing.assert_allclose(p.iat_median, [0.010, 0.050], rtol=1e-6)
    np.testing.assert_allclose(p.iat_max, [0.010, 0.050], rtol=1e-6)
    assert p.iat_samples.tolist() == [199, 39]
    assert p.dlc_mask.tolist() == [1 << 8, 1 << 2]
    # ranges: counter 0..199, constant, 10..20; bytes beyond DLC 2 never carried
    assert p.byte_min[0, :3].tolist() == [0, 0x42, 10] and p.byte_max[0, :3].tolist() == [199, 0x42, 20]
    assert p.byte_min[1].tolist() == [0, 7, -1, -1, -1, -1, -1, -1]
    assert p.byte_max[1, :2].tolist() == [1, 7]
    assert p.value_seen[0, 1].sum() == 1 and p.value_seen[0, 1, 0x42]
    assert np.flatnonzero(p.value_seen[0, 2]).tolist() == list(range(10, 21))
    # deltas: the counter always +1, the constant never changes, the toggle +1 / -1 (= 255)
    assert np.flatnonzero(p.delta_seen[0, 0]).tolist() == [1]
    assert np.flatnonzero(p.delta_seen[0, 1]).tolist() == [0]
    assert np.flatnonzero(p.delta_seen[1, 0]).tolist() == [1, 255]
    assert p.pairs[0, 0] == 199 and p.changes[0, 0] == 199 and p.changes[0, 1] == 0
    assert p.pairs[1, 2] == 0  # byte 2 of 0x200 is never carried
    # per window of 12 messages, 0x100 sends 10 and 0x200 sends 2 (5 messages of 0x100 per one of 0x200)
    np.testing.assert_allclose(p.count_mean, [10.0, 2.0], atol=0.1)
    assert p.row(np.array([0x200, 0x300, 0x100])).tolist() == [1, -1, 0]


def test_segments_never_join():
    """An inter-arrival time never spans two segments (two recordings, an hour apart)."""
    a, b = hand_made(t0=100.0), hand_made(t0=3700.0)
    p = fit_profile([a, b], window_size=12, vehicle="toy")
    np.testing.assert_allclose(p.iat_max, [0.010, 0.050], rtol=1e-6)
    assert p.iat_samples.tolist() == [398, 78]
    np.testing.assert_allclose(p.duration_s, 2 * (a.timestamp[-1] - a.timestamp[0]))


def test_file_form_round_trips(tmp_path):
    p = fit_profile([hand_made()], window_size=12, vehicle="toy", source={"seconds": 2})
    p.save(tmp_path / "toy.json")
    q = VehicleProfile.load(tmp_path / "toy.json")
    for name in ("can_id", "messages", "iat_median", "iat_p01", "iat_max", "iat_samples", "dlc_mask",
                 "byte_min", "byte_max", "value_seen", "delta_seen", "pairs", "changes", "count_mean",
                 "count_std"):
        np.testing.assert_array_equal(getattr(p, name), getattr(q, name), err_msg=name)
    assert q.source == {"seconds": 2} and q.digest() == p.digest()


def test_empty_profile_knows_no_id():
    p = fit_profile([], window_size=10, vehicle="none")
    assert p.num_ids == 0 and p.row(np.array([1, 2])).tolist() == [-1, -1]
