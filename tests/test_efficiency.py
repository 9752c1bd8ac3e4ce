"""Fast checks of canguard.evaluation.efficiency on tiny models and shards (no timing thresholds)."""

import numpy as np
import pytest
import torch

from canguard.evaluation.efficiency import InferenceFn, compile_inference, measure_efficiency
from canguard.frames import Frames
from canguard.graphs.builder import build_window_graphs
from canguard.graphs.dataset import GraphShards, batch_from_shard
from canguard.graphs.preprocessing import fit_preprocessing
from canguard.graphs.shards import ShardWriter
from canguard.models.factory import build_model, count_parameters
from canguard.training.checkpoint import save_checkpoint

NUM_IDS = 20
SIZES = {
    "gat": {"hidden": 8, "layers": 2, "heads": 2, "id_dim": 4, "dropout": 0.1, "share_weights": True},
    "vgae": {"hidden": 8, "latent": 4, "layers": 1, "encoder_heads": 2, "decoder_heads": 1, "id_dim": 4,
             "dropout": 0.1, "share_weights": True},
}
FAST = {"batch1_windows": 6, "batch_size": 4, "batches": 3, "warmup": 2}


@pytest.fixture(scope="module")
def shards_folder(tmp_path_factory):
    rng = np.random.default_rng(3)
    n = 1500
    ids = rng.choice([0x0C5, 0x153, 0x2A0, 0x7FF, 0x18FEF100], size=n)
    dlc = rng.integers(0, 9, size=n)
    payload = rng.integers(0, 256, size=(n, 8))
    payload[np.arange(8)[None, :] >= dlc[:, None]] = 0
    t = np.cumsum(rng.exponential(5e-4, size=n)) + 1.5e9
    frames = Frames(t, ids, dlc, payload, (rng.random(n) < 0.1).astype(np.int8))
    graphs = build_window_graphs(frames, 50, 50)
    prep = fit_preprocessing([("r", graphs, np.array(["train"] * graphs.num_graphs))])
    assert prep.num_ids <= NUM_IDS
    folder = tmp_path_factory.mktemp("shards") / "val"
    writer = ShardWriter(folder, prep, graphs_per_shard=7)   # several shards: batches cross them
    writer.add("r", "hash", graphs, np.arange(graphs.num_graphs), attack="dos")
    writer.close(dataset="toy", part="val")
    return folder


def _checkpoint(folder, family):
    torch.manual_seed(0)
    model = build_model(family, "student", num_ids=NUM_IDS, sizes=SIZES[family])
    n = count_parameters(model)
    path = folder / f"{family}_student" / "best.ckpt"
    save_checkpoint(path, {"model": model.state_dict()},
                    {"task": {"family": family, "role": "student", "num_ids": NUM_IDS, "sizes": SIZES[family],
                              "parameters": n}})
    return path, n


@pytest.mark.parametrize("family", ["gat", "vgae"])
@pytest.mark.parametrize("runtime", ["trace", "eager"])
def test_measure_efficiency_reports_sizes_latency_and_throughput(tmp_path, shards_folder, family, runtime):
    ckpt, n = _checkpoint(tmp_path, family)
    threads = torch.get_num_threads()
    r = measure_efficiency(ckpt, shards_folder, threads=1, runtime=runtime, **FAST)
    assert torch.get_num_threads() == threads                      # restored
    assert set(r) == {"parameters", "checkpoint_bytes", "device", "threads", "runtime", "cpu"}
    assert r["parameters"] == n and isinstance(r["parameters"], int)
    assert r["checkpoint_bytes"] == ckpt.stat().st_size > 0
    assert r["device"] == "cpu" and r["threads"] == 1
    assert r["runtime"] in ("trace", "eager") and (runtime == "trace" or r["runtime"] == "eager")
    cpu = r["cpu"]
    for key in ("latency_ms_batch1", "latency_ms_batch1_p90", "throughput_windows_per_s"):
        assert isinstance(cpu[key], float) and cpu[key] > 0, key
    assert cpu["latency_ms_batch1_p90"] >= cpu["latency_ms_batch1"]
    assert cpu["batch_size"] == FAST["batch_size"] and cpu["batch1_windows"] == FAST["batch1_windows"]
    assert cpu["batches"] == FAST["batches"]


@pytest.mark.parametrize("family", ["gat", "vgae"])
def test_traced_inference_equals_the_eager_detector_output(tmp_path, shards_folder, family):
    ckpt, _ = _checkpoint(tmp_path, family)
    from canguard.models.factory import load_model
    model, _ = load_model(ckpt)
    shards = GraphShards(shards_folder)
    shard = shards.shard(0)
    singles = [batch_from_shard(shard, torch.tensor([i])) for i in range(len(shard["y"]))]
    args = [(b.x, b.edge_index, b.batch, b.node_id, b.edge_attr) for b in singles]
    with torch.inference_mode():
        fn, used = compile_inference(model, family, 1, args, "trace")
        assert used == "trace"
        for a in args:
            expected = (model(*a).softmax(-1) if family == "gat" else model.anomaly_score(*a))
            torch.testing.assert_close(fn(*a), expected)
        assert fn(*args[0]).shape == ((1, 2) if family == "gat" else (1,))
        # a batch of another size goes through the eager function unchanged
        b = batch_from_shard(shard, torch.arange(3))
        out = InferenceFn(model, family, 3)(b.x, b.edge_index, b.batch, b.node_id, b.edge_attr)
        assert out.shape[0] == 3


def test_unknown_runtime_is_refused(tmp_path, shards_folder):
    ckpt, _ = _checkpoint(tmp_path, "gat")
    with pytest.raises(ValueError):
        measure_efficiency(ckpt, shards_folder, runtime="compile", **FAST)
