"""Phase profiler on a toy training loop (CPU): phases.json, a trace, and the null profiler."""

import json

import torch
from torch import nn

from canguard.training.profiler import NullProfiler, PhaseProfiler, summary_table

PHASES = ("data", "forward", "backward", "optimizer")


def _train(prof, steps=6):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    data = [(torch.randn(32, 16), torch.randn(32, 1)) for _ in range(steps)]
    it = iter(data)
    for _ in range(steps):
        with prof.phase("data"):
            x, y = next(it)
        with prof.phase("forward"):
            loss = nn.functional.mse_loss(model(x), y)
        with prof.phase("backward"):
            loss.backward()
        with prof.phase("optimizer"):
            opt.step()
            opt.zero_grad()
        prof.step()


def test_phase_profiler_writes_phases_and_trace(tmp_path):
    with PhaseProfiler(tmp_path, "cpu", wait=1, warmup=1, active=2) as prof:
        _train(prof, steps=6)
    summary = json.loads((tmp_path / "phases.json").read_text())
    assert summary == prof.summary == prof.close()  # close() is idempotent
    assert set(summary["phases"]) == set(PHASES)
    for name in PHASES:
        s = summary["phases"][name]
        assert s["count"] == 6
        assert s["total_s"] >= 0 and s["mean_s"] == s["total_s"] / 6
        assert 0 <= s["p50_ms"] <= s["p90_ms"]
        assert 0 <= s["share"] <= 1
        assert s["peak_memory_bytes"] > 0  # process RSS on CPU
    assert summary["steps"]["count"] == 6
    assert sum(s["share"] for s in summary["phases"].values()) <= 1 + 1e-9
    traces = list((tmp_path / "traces").glob("*.pt.trace.json*"))
    assert len(traces) >= 1
    trace = json.loads(traces[0].read_text())
    names = {e.get("name") for e in trace["traceEvents"]}
    assert {"phase:forward", "phase:backward"} <= names
    table = summary_table(summary)
    assert all(name in table for name in PHASES) and table == summary_table(summary["phases"])


def test_phase_profiler_without_trace_and_nested_phases(tmp_path):
    prof = PhaseProfiler(tmp_path, "cpu", torch_trace=False)
    with prof.phase("step"):
        with prof.phase("inner"):
            torch.ones(1000).sum()
    out = prof.close()
    assert out["phases"]["step"]["count"] == out["phases"]["inner"]["count"] == 1
    assert out["phases"]["step"]["peak_memory_bytes"] >= out["phases"]["inner"]["peak_memory_bytes"]
    assert out["steps"]["count"] == 0  # step() never called: shares are of the phase time
    assert not (tmp_path / "traces").exists()


def test_null_profiler_is_a_noop(tmp_path):
    prof = NullProfiler(tmp_path, "cpu", wait=1)
    with prof:
        _train(prof, steps=2)
    assert prof.close() == {}
    assert list(tmp_path.iterdir()) == []
    assert summary_table({}) == "(no phases recorded)"
