"""Inference cost of a trained detector: parameters, checkpoint size, latency per window, throughput.

    from canguard.evaluation.efficiency import measure_efficiency
    r = measure_efficiency("results/models/synthetic/gat_student/best.ckpt",
                           "results/shards/synthetic/val", threads=1)
    r["cpu"]["latency_ms_batch1"], r["cpu"]["throughput_windows_per_s"]

What is timed is what the detector does per window, on windows taken from the
real shards: for the GAT classifier the forward pass and the softmax, for the
VGAE the deterministic ``anomaly_score``.  Batch 1: each of ``batch1_windows``
consecutive single windows timed on its own (median and 90th percentile, ms);
batched: ``batches`` mini-batches of ``batch_size`` graphs timed together
(windows/s).  Everything runs under ``torch.inference_mode()`` with the model
in eval mode, on ``threads`` intra-op threads (the previous setting restored),
with every input moved to the device and unpacked before the clock starts.

Runtime (``runtime=``): ``"trace"`` (default) runs a ``torch.jit.trace`` of
the inference function, ``"eager"`` the Python modules.  A trace records the
same aten operators as the eager call, so the maths is unchanged; it only
removes the Python overhead (module calls, PyG's argument checks and
dispatch), which is most of the cost of one ~35-node window: on one CPU core
it cuts the GAT student's batch-1 latency from ~0.85 ms to ~0.3 ms.  A trace
fixes every Python value it saw, and the only such value that varies between
windows here is the number of graphs, so one trace is made per batch size
(``num_graphs`` given explicitly) and each trace is checked against the eager
result on every input it is timed on (``torch.allclose``); if tracing fails or
disagrees, the eager function is timed instead.  ``result["runtime"]`` says
which one ran.  ``torch.compile`` was measured and not kept: ~40 s to compile
and no faster than eager at batch 1 on CPU (dynamic shapes, guard overhead).
"""

from __future__ import annotations

import statistics
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from canguard.graphs.dataset import GraphShards, batch_from_shard
from canguard.models.factory import load_model

RUNTIMES = ("trace", "eager")


class InferenceFn(nn.Module):
    """The detector's per-window output for a fixed number of graphs.

    forward(x (N, F), edge_index (2, E), batch (N,), node_id (N,), edge_attr (E, D))
        -> (B, 2) class probabilities (GAT) or (B,) anomaly scores (VGAE).
    """

    def __init__(self, model: nn.Module, family: str, num_graphs: int):
        super().__init__()
        if family not in ("gat", "vgae"):
            raise ValueError(f"family must be 'gat' or 'vgae', got {family!r}")
        self.model, self.family, self.num_graphs = model, family, num_graphs

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor, node_id: Tensor, edge_attr: Tensor) -> Tensor:
        if self.family == "gat":
            return self.model(x, edge_index, batch, node_id, edge_attr, num_graphs=self.num_graphs).softmax(-1)
        return self.model.anomaly_score(x, edge_index, batch, node_id, edge_attr, num_graphs=self.num_graphs)


def _inputs(b, device: torch.device) -> tuple[Tensor, ...]:
    return tuple(t.to(device) for t in (b.x, b.edge_index, b.batch, b.node_id, b.edge_attr))


def compile_inference(model: nn.Module, family: str, num_graphs: int, inputs: list[tuple[Tensor, ...]],
                      runtime: str = "trace", rtol: float = 1e-5, atol: float = 1e-6) -> tuple[nn.Module, str]:
    """``(fn, runtime used)``: the inference function for ``num_graphs`` graphs per call.

    With ``runtime="trace"`` it is traced on ``inputs[0]`` and checked against the
    eager function on every one of ``inputs``; on any failure or mismatch the
    eager function is returned (with ``"eager"``).  Call under ``inference_mode``.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    eager = InferenceFn(model.eval(), family, num_graphs).eval()
    if runtime == "eager":
        return eager, "eager"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # deprecation and "treated as a constant" (checked below)
            traced = torch.jit.trace(eager, inputs[0], check_trace=False)
            for args in inputs:
                a, b = traced(*args), eager(*args)
                if a.shape != b.shape or not torch.allclose(a, b, rtol=rtol, atol=atol):
                    return eager, "eager"
    except Exception:  # noqa: BLE001 - any tracing problem means: measure the eager path
        return eager, "eager"
    return traced, "trace"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextmanager
def _threads(n: int):
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def _deterministic(on: bool):
    """Deterministic (sort-based) scatter as ``VGAE.anomaly_parts`` uses on CUDA, restored afterwards.

    Needed around a traced VGAE: the trace does not replay the Python that switches it on.
    """
    was, warn_only = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    if on and not was:
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        if on and not was:
            torch.use_deterministic_algorithms(was, warn_only=warn_only)


def _windows(shards: GraphShards, first: int, count: int) -> list:
    """``count`` consecutive windows from graph ``first`` on (wrapping round), one Batch each."""
    out, n = [], len(shards)
    for k in range(count):
        i = (first + k) % n
        s = int(np.searchsorted(shards.offsets, i, side="right")) - 1
        out.append(batch_from_shard(shards.shard(s), torch.tensor([i - int(shards.offsets[s])])))
    return out


def _batches(shards: GraphShards, batch_size: int, count: int) -> list:
    """``count`` full batches of ``batch_size`` graphs (shards cycled, graphs repeated if there are too few)."""
    full = [b for b in shards.batches(batch_size) if b.num_graphs == batch_size][:count]
    if not full:  # fewer graphs than batch_size in every shard: repeat the first shard's graphs
        shard = shards.shard(0)
        index = torch.arange(len(shard["y"])).repeat(-(-batch_size // len(shard["y"])))[:batch_size]
        full = [batch_from_shard(shard, index)]
    return [full[k % len(full)] for k in range(count)]


def measure_efficiency(ckpt: str | Path, shards_folder: str | Path, *, device: str = "cpu", threads: int = 1,
                       batch1_windows: int = 300, batch_size: int = 256, batches: int = 20, warmup: int = 20,
                       runtime: str = "trace") -> dict:
    """Size, batch-1 latency and batched throughput of one checkpoint on the windows of one shard folder.

    Returns ``{"model", "parameters", "checkpoint_bytes", "device", "threads", "runtime",
    <"cpu" or "cuda">: {"latency_ms_batch1", "latency_ms_batch1_p90", "throughput_windows_per_s",
    "batch_size", "batch1_windows", "batches"}}``; ``runtime`` is ``"trace"`` or ``"eager"``
    (see the module docstring), the weaker of the two runs if they differ.
    """
    ckpt = Path(ckpt)
    dev = torch.device(device)
    key = "cuda" if dev.type == "cuda" else "cpu"
    model, meta = load_model(ckpt, map_location="cpu")
    task = meta.get("task", {})
    family = task.get("family") or ("vgae" if hasattr(model, "anomaly_score") else "gat")
    model = model.to(dev).eval()
    shards = GraphShards(shards_folder)
    if len(shards) == 0:
        raise ValueError(f"no windows in {shards_folder}")

    singles = [_inputs(b, dev) for b in _windows(shards, 0, batch1_windows + warmup)]
    warm1, singles = singles[:warmup], singles[warmup:]
    bigs = [_inputs(b, dev) for b in _batches(shards, batch_size, batches)]
    n_big = batch_size

    used = set()
    with _threads(threads), torch.inference_mode(), _deterministic(dev.type == "cuda" and family == "vgae"):
        fn1, rt1 = compile_inference(model, family, 1, singles, runtime)
        fnb, rtb = compile_inference(model, family, n_big, bigs, runtime)
        used.update((rt1, rtb))

        for args in warm1:
            fn1(*args)
        _sync(dev)
        times = []
        for args in singles:
            t0 = time.perf_counter()
            fn1(*args)
            _sync(dev)
            times.append(time.perf_counter() - t0)

        for args in bigs[:2]:   # (also run while checking the trace)
            fnb(*args)
        _sync(dev)
        t0 = time.perf_counter()
        for args in bigs:
            fnb(*args)
        _sync(dev)
        total = time.perf_counter() - t0

    ms = sorted(1e3 * t for t in times)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return {
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "checkpoint_bytes": int(ckpt.stat().st_size),
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "threads": int(threads),
        "runtime": "eager" if "eager" in used else "trace",
        key: {
            "latency_ms_batch1": float(statistics.median(ms)),
            "latency_ms_batch1_p90": float(p90),
            "throughput_windows_per_s": float(len(bigs) * n_big / total),
            "batch_size": int(n_big),
            "batch1_windows": len(ms),
            "batches": len(bigs),
        },
    }
