"""Window graphs: the vectorised builder against a naive reference, labels, splits, vocabulary,
normalisation and shards."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from canguard.frames import Frames
from canguard.graphs.builder import build_window_graphs, select_graphs, window_starts
from canguard.graphs.dataset import GraphShards, UnknownIdDropout, batch_from_shard
from canguard.graphs.features import NODE_FEATURES, NUM_NODE_FEATURES, UNSCALED_FEATURES
from canguard.graphs.preprocessing import UNKNOWN_ID, fit_preprocessing
from canguard.graphs.reference import build_window_graphs_reference
from canguard.graphs.shards import ShardWriter
from canguard.graphs.split import assign_time_blocks, split_training_windows
from canguard.profiles import fit_profile


def random_recording(rng: np.random.Generator, n: int, num_ids: int = 6, attack_rate: float = 0.1) -> Frames:
    ids = rng.choice([0x000, 0x0C5, 0x153, 0x2A0, 0x7FF, 0x18FEF100][:num_ids], size=n)
    dlc = rng.integers(0, 9, size=n)
    payload = rng.integers(0, 256, size=(n, 8))
    payload[np.arange(8)[None, :] >= dlc[:, None]] = 0
    t = np.cumsum(rng.exponential(5e-4, size=n)) + 1.5e9
    label = (rng.random(n) < attack_rate).astype(np.int8)
    return Frames(t, ids, dlc, payload, label)


def assert_graphs_equal(a, b):
    for name in a.__dict__:
        va, vb = getattr(a, name), getattr(b, name)
        assert va.shape == vb.shape, name
        np.testing.assert_allclose(va, vb, atol=1e-5, err_msg=name)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300), size=st.integers(2, 40),
       stride=st.integers(1, 50), num_ids=st.integers(1, 6))
def test_vectorised_builder_equals_reference(seed, n, size, stride, num_ids):
    frames = random_recording(np.random.default_rng(seed), n, num_ids)
    assert_graphs_equal(build_window_graphs(frames, size, stride),
                        build_window_graphs_reference(frames, size, stride))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 250), size=st.integers(2, 30),
       stride=st.integers(1, 40), num_ids=st.integers(1, 6))
def test_relative_features_equal_reference(seed, n, size, stride, num_ids):
    """Features against vehicle profiles (two profiles and no profile, window by window)."""
    rng = np.random.default_rng(seed)
    frames = random_recording(rng, n, num_ids)
    slow = random_recording(rng, 400, max(1, num_ids - 1))
    slow.payload[:, :3] //= 64  # low-cardinality bytes, so unseen values and changes count
    frames.payload[:, :3] //= 48
    profiles = [fit_profile([slow], 10, "a"), fit_profile([frames.take(np.arange(n // 2))], 10, "b")]
    window_profile = rng.integers(-1, 2, size=len(window_starts(n, size, stride)))
    assert_graphs_equal(build_window_graphs(frames, size, stride, profiles, window_profile),
                        build_window_graphs_reference(frames, size, stride, profiles, window_profile))


def test_builder_on_real_traffic_equals_reference(hcrl_sa_sample):
    from canguard.ingest.cantt import read_cantt_csv
    frames = read_cantt_csv(hcrl_sa_sample / "test_01_known_vehicle_known_attack" / "fuzzing-kia.csv").frames
    benign = read_cantt_csv(hcrl_sa_sample / "train_01_attack_free" / "attack-free-kia.csv").frames
    profiles = [fit_profile([benign], 100, "kia")]
    assert_graphs_equal(build_window_graphs(frames, 100, 50, profiles),
                        build_window_graphs_reference(frames, 100, 50, profiles))


def test_window_count_and_tail():
    assert window_starts(250, 100, 100).tolist() == [0, 100]  # last 50 messages: no full window
    assert window_starts(250, 100, 50).tolist() == [0, 50, 100, 150]
    assert window_starts(99, 100, 100).tolist() == []


def test_label_rule_and_attack_fraction():
    rng = np.random.default_rng(0)
    frames = random_recording(rng, 40, attack_rate=0.0)
    frames.label[[5, 6, 25]] = 1  # windows of 10: window 0 has 2 attacks, window 2 one
    g = build_window_graphs(frames, 10, 10)
    assert g.y.tolist() == [1, 0, 1, 0]
    np.testing.assert_allclose(g.attack_frac, [0.2, 0.0, 0.1, 0.0])
    frames.label[33] = -1
    assert build_window_graphs(frames, 10, 10).y.tolist() == [1, 0, 1, -1]


def test_graph_structure_of_a_known_window():
    # IDs A B A A C: nodes A, B, C; transitions A->B, B->A, A->A, A->C (deduplicated)
    ids = np.array([0xA, 0xB, 0xA, 0xA, 0xC])
    t = np.array([0.0, 0.001, 0.002, 0.004, 0.005])
    dlc = np.array([8, 2, 8, 8, 0])
    payload = np.zeros((5, 8), np.uint8)
    payload[[0, 2, 3], 0] = [0, 51, 255]
    g = build_window_graphs(Frames(t, ids, dlc, payload, np.zeros(5)), 5, 5)
    assert g.node_can_id.tolist() == [0xA, 0xB, 0xC]
    assert g.edge_index.T.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0]]
    assert g.edge_attr[:, 0].tolist() == [1, 1, 1, 1]
    x = dict(zip(NODE_FEATURES, g.x[0]))
    assert x["count"] == 3 and x["dlc_mean"] == 8
    assert x["byte0_min"] == 0 and x["byte0_max"] == 1 and x["byte0_mean"] == pytest.approx(102 / 255)
    assert x["first_pos"] == 0 and x["last_pos"] == 0.75
    c = dict(zip(NODE_FEATURES, g.x[2]))  # DLC 0: no byte present, statistics 0
    assert c["byte0_present"] == 0 and c["byte0_max"] == 0 and c["iat_mean"] == 0


@pytest.mark.parametrize("size, stride", [(100, 100), (100, 30), (10, 1)])
def test_time_block_split_never_shares_a_message(size, stride):
    rng = np.random.default_rng(3)
    labels = (rng.random(500) < 0.1).astype(np.int8)
    part = assign_time_blocks(labels, size, stride, block_windows=20, val_fraction=0.3, rng=rng)
    assert {"train", "val"} <= set(part)
    starts = np.arange(len(part)) * stride
    train_msgs = np.zeros(starts[-1] + size, bool)
    for s in starts[part == "train"]:
        train_msgs[s:s + size] = True
    for s in starts[part == "val"]:
        assert not train_msgs[s:s + size].any()


def test_split_keeps_attacks_in_both_parts_and_recording_method():
    labels = np.zeros(400, np.int8)
    labels[100:140] = 1  # one attack interval, two blocks of 20
    table = split_training_windows({"train_02/a": labels}, 100, 100, "time_block", 20, 0.2, seed=1)
    part = np.asarray(table.column("part").to_pylist())
    assert (labels[part == "val"] == 1).any() and (labels[part == "train"] == 1).any()
    rec = split_training_windows({"x/a": labels, "x/b": labels[:10]}, 100, 100, "recording", 20, 0.2, 0,
                                 val_recordings=["x/b"])
    assert set(zip(rec.column("recording").to_pylist(), rec.column("part").to_pylist())) == {
        ("x/a", "train"), ("x/b", "val")}
    with pytest.raises(ValueError, match="val_recordings"):
        split_training_windows({"x/a": labels}, 100, 100, "recording", 20, 0.2, 0, val_recordings=["x/zz"])


def _fitted(rng):
    frames = random_recording(rng, 2000, attack_rate=0.0)
    graphs = build_window_graphs(frames, 50, 50, [fit_profile([frames.take(np.arange(1000))], 50, "v")])
    part = np.array(["train"] * 30 + ["val"] * 10)
    return frames, graphs, part


def test_normalisation_and_vocabulary_come_from_benign_training_windows_only():
    rng = np.random.default_rng(5)
    _, graphs, part = _fitted(rng)
    graphs.y[:5] = 1  # five training windows are attacks
    poisoned = select_graphs(graphs, np.ones(graphs.num_graphs, bool))
    poisoned.x = poisoned.x.copy()
    attack_or_val = np.repeat((graphs.y == 1) | (part != "train"), np.diff(graphs.node_ptr))
    poisoned.x[attack_or_val] = 1e6  # what fitting must never see
    poisoned.node_can_id = np.where(attack_or_val, 0x555, poisoned.node_can_id)
    prep = fit_preprocessing([("r", poisoned, part)])
    clean = select_graphs(graphs, (part == "train") & (graphs.y == 0))
    expected = clean.x.mean(axis=0)
    expected[[NODE_FEATURES.index(f) for f in UNSCALED_FEATURES]] = 0.0  # 0/1 flags are not scaled
    np.testing.assert_allclose(prep.node_mean, expected, rtol=1e-5, atol=1e-9)
    assert 0x555 not in prep.vocabulary.tolist()
    assert prep.fitted_on["benign_train_windows"] == 25


def test_unseen_ids_map_to_the_unknown_token():
    _, graphs, part = _fitted(np.random.default_rng(6))
    prep = fit_preprocessing([("r", graphs, part)])
    known = prep.vocabulary
    ids = prep.node_ids(np.array([known[0], 0x123456, known[-1], 0x7FE]))
    assert ids.tolist() == [1, UNKNOWN_ID, len(known), UNKNOWN_ID]
    assert prep.num_ids == len(known) + 1


def test_shards_round_trip_bounded_and_batched(tmp_path):
    rng = np.random.default_rng(7)
    frames, graphs, part = _fitted(rng)
    prep = fit_preprocessing([("r", graphs, part)])
    writer = ShardWriter(tmp_path / "train", prep, graphs_per_shard=7)
    writer.add("train_01/a", "hash-a", graphs, np.arange(graphs.num_graphs), attack="dos")
    writer.add("train_01/b", "hash-b", select_graphs(graphs, np.arange(40) < 12), np.arange(12), attack="dos")
    manifest = writer.close(dataset="toy", part="train")
    assert manifest["num_graphs"] == 52 and len(manifest["shards"]) == 8
    assert max(s["graphs"] for s in manifest["shards"]) <= 7
    assert manifest["num_nodes"] == len(graphs.x) + graphs.node_ptr[12]
    assert [r["source_hash"] for r in manifest["recordings"]] == ["hash-a", "hash-b"]

    shards = GraphShards(tmp_path / "train")
    assert len(shards) == 52
    # graph 9 = shard 1, graph 2 of recording a
    d = shards[9]
    a, b = graphs.node_ptr[9], graphs.node_ptr[10]
    np.testing.assert_allclose(d.x.numpy(), prep.normalize_nodes(graphs.x[a:b]), rtol=1e-6)
    assert d.node_id.tolist() == prep.node_ids(graphs.node_can_id[a:b]).tolist()
    assert d.edge_index.numpy().tolist() == graphs.edge_index[:, graphs.edge_ptr[9]:graphs.edge_ptr[10]].tolist()

    batches = list(shards.batches(5, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert sum(b.num_graphs for b in batches) == 52
    b = batches[0]
    assert b.x.shape[1] == NUM_NODE_FEATURES and b.batch.max() + 1 == b.num_graphs
    assert int(b.edge_index.max()) < b.x.shape[0]
    # every edge stays inside its own graph
    assert torch.equal(b.batch[b.edge_index[0]], b.batch[b.edge_index[1]])


def test_batch_equals_pyg_collation_of_single_graphs(tmp_path):
    from torch_geometric.data import Batch
    _, graphs, part = _fitted(np.random.default_rng(8))
    prep = fit_preprocessing([("r", graphs, part)])
    writer = ShardWriter(tmp_path / "s", prep, graphs_per_shard=100)
    writer.add("r", "h", graphs, np.arange(graphs.num_graphs), attack="dos")
    writer.close()
    shards = GraphShards(tmp_path / "s")
    idx = torch.tensor([3, 0, 17])
    fast = batch_from_shard(shards.shard(0), idx)
    ref = Batch.from_data_list([shards[i] for i in idx.tolist()])
    for key in ("x", "node_id", "edge_index", "edge_attr", "y", "batch"):
        assert torch.equal(fast[key], ref[key]), key


def test_unknown_id_dropout_rate():
    from torch_geometric.data import Batch
    batch = Batch(node_id=torch.arange(1, 20001))
    out = UnknownIdDropout(0.1, torch.Generator().manual_seed(0))(batch)
    share = (out.node_id == UNKNOWN_ID).float().mean().item()
    assert 0.09 < share < 0.11
    with pytest.raises(ValueError):
        UnknownIdDropout(1.0)


def test_zscore_in_blocks_equals_the_whole_array_at_once(monkeypatch):
    """Normalisation runs on blocks of rows in place; the values are bit for bit those of one whole-array pass."""
    from canguard.graphs import preprocessing
    rng = np.random.default_rng(0)
    x = (rng.normal(0, 50, (1000, 7))).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    x[3, 2], x[4, 5] = np.inf, -np.inf
    mean, std = rng.normal(0, 3, 7), rng.uniform(0.1, 4, 7)
    clip = preprocessing.CLIP
    whole = np.nan_to_num(np.clip((x - mean) / std, -clip, clip), nan=0.0).astype(np.float32)
    monkeypatch.setattr(preprocessing, "ZSCORE_ROWS", 64)
    blocks = preprocessing._zscore(x, mean, std, nan_to_zero=True)
    assert blocks.dtype == np.float32 and np.array_equal(blocks.view(np.uint32), whole.view(np.uint32))
    assert blocks[3, 2] == preprocessing.CLIP and blocks[4, 5] == -preprocessing.CLIP
