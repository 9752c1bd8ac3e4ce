"""Batch-size finder and LR range test on toy modules and simulated memory limits."""

import json
import math

import pytest
import torch
from torch import nn

from canguard.training.batch_size_finder import find_batch_size, is_oom_error
from canguard.training.lr_finder import lr_find
from canguard.training.memory import available_memory_bytes, step_memory_bytes


def simulated_oom_step(limit, calls, error=lambda: torch.cuda.OutOfMemoryError("CUDA out of memory")):
    def try_step(bs):
        calls.append(bs)
        if bs > limit:
            raise error()
    return try_step


@pytest.mark.parametrize("limit", [300, 16, 17, 1, 4095])
def test_oom_search_finds_exact_largest_batch(limit):
    calls = []
    res = find_batch_size(simulated_oom_step(limit, calls), device="cpu", search="oom", start=16)
    assert res.batch_size == limit
    assert res.method == "oom_search"
    assert max(calls) <= 4096
    assert [p["batch_size"] for p in res.probes] == calls
    assert all(p["ok"] == (p["batch_size"] <= limit) for p in res.probes)


def test_oom_search_respects_max_batch_size_and_runtime_oom_message():
    calls = []
    step = simulated_oom_step(10_000, calls, error=lambda: RuntimeError("CUDA error: out of memory"))
    res = find_batch_size(step, device="cpu", search="oom", start=16, max_batch_size=100)
    assert res.batch_size == 100 and max(calls) == 100

    calls = []
    step = simulated_oom_step(70, calls, error=lambda: RuntimeError("CUDA error: out of memory"))
    assert find_batch_size(step, device="cpu", search="oom", start=16, max_batch_size=100).batch_size == 70
    assert max(calls) <= 100


def test_oom_search_granularity_and_failures():
    calls = []
    res = find_batch_size(simulated_oom_step(300, calls), device="cpu", search="oom", granularity=16)
    assert 300 - 16 < res.batch_size <= 300
    with pytest.raises(RuntimeError, match="even a batch of 1"):
        find_batch_size(simulated_oom_step(0, []), device="cpu", search="oom")

    def other_error(bs):
        raise ValueError("a real bug")
    with pytest.raises(ValueError, match="a real bug"):
        find_batch_size(other_error, device="cpu", search="oom")


def test_is_oom_error():
    assert is_oom_error(torch.cuda.OutOfMemoryError("x"))
    assert is_oom_error(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert not is_oom_error(RuntimeError("shape mismatch"))
    assert not is_oom_error(ValueError("out of memory"))


@pytest.mark.parametrize("a,b,budget,target", [(1_000, 100, 50_000, 0.8), (5_000, 37, 1_000_000, 0.5),
                                                (0, 1, 10**9, 0.8)])
def test_memory_estimate_fits_budget(a, b, budget, target):
    measured = []

    def measure(bs):
        measured.append(bs)
        return a + b * bs

    res = find_batch_size(lambda bs: None, device="cpu", measure=measure, memory_budget_bytes=budget,
                          target_memory_usage=target, max_batch_size=4096)
    assert res.method == "memory_estimate"
    assert res.budget_bytes == int(target * budget)
    expected = min(4096, (int(target * budget) - a) // b)
    assert res.batch_size == expected
    assert a + b * res.batch_size <= target * budget
    if res.batch_size < 4096:
        assert a + b * (res.batch_size + 1) > target * budget
    assert max(measured) <= 4096 and len(measured) >= 2
    assert res.fit == pytest.approx((a, b))


def test_memory_estimate_at_least_one():
    with pytest.warns(RuntimeWarning):
        res = find_batch_size(lambda bs: None, device="cpu", measure=lambda bs: 10**6 + bs,
                              memory_budget_bytes=1000)
    assert res.batch_size == 1


def _mlp_step(width=64):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def try_step(bs):
        x = torch.randn(bs, 32)
        loss = model(x).square().mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return model, opt, try_step


def test_step_memory_bytes_grows_with_batch_size():
    model, opt, try_step = _mlp_step()
    small = step_memory_bytes(try_step, 8, model=model, optimizer=opt)
    large = step_memory_bytes(try_step, 512, model=model, optimizer=opt)
    n_params = sum(p.numel() for p in model.parameters())
    assert small >= 4 * n_params * 4  # params + grads + Adam's two moments, float32
    assert large > small
    # activations saved: at least the input and two hidden layers per sample
    assert large - small >= (512 - 8) * (32 + 64) * 4


def test_memory_estimate_default_measure_on_real_mlp():
    model, opt, try_step = _mlp_step()
    budget = 2_000_000
    res = find_batch_size(try_step, device="cpu", memory_budget_bytes=budget, model=model, optimizer=opt)
    a, b = res.fit
    assert b > 0
    assert 1 <= res.batch_size <= 4096
    assert a + b * res.batch_size <= 0.8 * budget < a + b * (res.batch_size + 1)


def test_available_memory_bytes_positive():
    assert available_memory_bytes() > 0


def _regression():
    torch.manual_seed(0)
    x = torch.randn(1024, 8)
    w = torch.randn(8, 1)
    y = x @ w + 0.01 * torch.randn(1024, 1)
    batches = [(x[i:i + 128], y[i:i + 128]) for i in range(0, 1024, 128)]
    model = nn.Linear(8, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.123, momentum=0.9)
    return model, opt, batches


def mse(model, batch):
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def test_lr_find_suggestion_and_restore(tmp_path):
    model, opt, batches = _regression()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng_before = torch.get_rng_state()
    res = lr_find(model, opt, batches, mse, min_lr=1e-5, max_lr=10.0, num_steps=100, out_dir=tmp_path)
    assert math.isfinite(res.suggestion)
    assert 1e-4 <= res.suggestion <= 1.0
    assert res.stopped_early  # lr=10 with momentum diverges on this problem
    assert len(res.lrs) == len(res.losses) == len(res.raw_losses) < 100
    assert res.lrs == sorted(res.lrs) and res.lrs[0] == pytest.approx(1e-5)
    # state restored exactly
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    assert opt.param_groups[0]["lr"] == 0.123
    assert not opt.state or all(not s for s in opt.state.values())
    assert torch.equal(torch.get_rng_state(), rng_before)
    # files
    rows = (tmp_path / "lr_find.csv").read_text().splitlines()
    assert rows[0] == "lr,loss,raw_loss" and len(rows) == len(res.lrs) + 1
    summary = json.loads((tmp_path / "lr_find.json").read_text())
    assert summary["suggestion"] == res.suggestion
    assert (tmp_path / "lr_find.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lr_find_custom_backward_cycles_batches_and_fallback():
    model, opt, batches = _regression()
    calls = []

    def backward(loss):
        calls.append(1)
        loss.backward()

    # 8 batches, 30 steps: the list is re-iterated; max_lr small so it never diverges
    res = lr_find(model, opt, batches, mse, min_lr=1e-6, max_lr=1e-3, num_steps=30, backward=backward)
    assert len(calls) == 30 == len(res.lrs)
    assert not res.stopped_early
    assert res.lrs[-1] == pytest.approx(1e-3)
    assert math.isfinite(res.suggestion) and res.suggestion > 0

    # a one-shot iterator ends the test when it runs out
    res = lr_find(model, opt, iter(batches), mse, num_steps=30)
    assert len(res.lrs) == 8


def test_lr_find_nonfinite_loss_is_handled():
    model, opt, batches = _regression()

    def nan_loss(model, batch):
        return mse(model, batch) * float("nan")

    with pytest.warns(RuntimeWarning):
        res = lr_find(model, opt, batches, nan_loss, num_steps=10)
    assert res.stopped_early and res.lrs == [] and res.suggestion == 1e-6
