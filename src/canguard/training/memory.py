"""Memory of one training step and memory available, for the batch-size finder (CPU and CUDA)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

# Messages of allocation failures that are not (or not always) torch.OutOfMemoryError.
OOM_MESSAGES = (
    "out of memory",
    "CUBLAS_STATUS_ALLOC_FAILED",
    "CUDNN_STATUS_NOT_SUPPORTED",  # cuDNN's way of saying "no workspace"
    "can't allocate memory",  # DefaultCPUAllocator
)


def fit_line(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares ``y = a + b x``."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return my - b * mx, b


def _tensor_bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def step_memory_bytes(
    try_step: Callable[[int], Any],
    batch_size: int,
    model: torch.nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> int:
    """Estimated peak bytes of one ``try_step(batch_size)``, counted, not sampled.

    = bytes of the tensors autograd saves for backward during the step
    (captured with ``torch.autograd.graph.saved_tensors_hooks``; each storage
    counted once, parameters excluded) + parameters + their gradients + the
    optimizer's state tensors (measured after the step, so lazily created state
    such as Adam's moments is included).  Parameters come from ``model``, else
    from ``optimizer``'s param groups.  It ignores temporaries freed during
    forward and the allocator's overhead, so it is a lower bound, but it grows
    with the batch size the way the real peak does, which is what the fit needs.

    >>> step_memory_bytes(try_step, 64, model=model, optimizer=opt)
    """
    params: list[torch.Tensor] = []
    if model is not None:
        params = list(model.parameters())
    elif optimizer is not None:
        params = [p for g in optimizer.param_groups for p in g["params"]]
    param_ptrs = {p.untyped_storage().data_ptr() for p in params}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        try:
            storage = t.untyped_storage()
            ptr = storage.data_ptr()
            if ptr not in param_ptrs:
                seen[ptr] = max(seen.get(ptr, 0), storage.nbytes())
        except (RuntimeError, NotImplementedError):  # tensors without storage (sparse, nested, ...)
            seen[id(t)] = _tensor_bytes(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        try_step(batch_size)

    total = sum(seen.values())
    unique = {p.untyped_storage().data_ptr(): p for p in params}.values()
    total += sum(_tensor_bytes(p) for p in unique)
    total += sum(_tensor_bytes(p) for p in unique if p.requires_grad)  # gradients
    if optimizer is not None:
        for state in optimizer.state.values():
            for v in state.values():
                if torch.is_tensor(v):
                    total += _tensor_bytes(v)
    return int(total)


def available_memory_bytes() -> int:
    """Memory this process may still use: MemAvailable (/proc/meminfo), psutil or sysconf,
    lowered to the cgroup limit's headroom when there is one (a SLURM job, a container)."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            import psutil

            avail = int(psutil.virtual_memory().available)
        except ImportError:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    headroom = _cgroup_headroom()
    return min(avail, headroom) if headroom is not None else avail


def _cgroup_headroom() -> int | None:
    """limit - usage of this process's memory cgroup (v2, then v1); None when unlimited/unknown."""
    pairs = [("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
             ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")]
    for limit_path, usage_path in pairs:
        try:
            limit = Path(limit_path).read_text().strip()
            usage = int(Path(usage_path).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or int(limit) >= 1 << 60:  # v1 writes a huge number for "unlimited"
            return None
        return max(0, int(limit) - usage)
    return None
