"""Checkpoints: state dicts in a ``.ckpt`` file plus JSON metadata beside it.

    save_checkpoint("best.ckpt", {"model": model.state_dict(), "optimizer": ...}, metadata)
    state, meta = load_checkpoint("best.ckpt")     # torch.load(weights_only=True)

Only tensors and plain containers go into the ``.ckpt`` (loading never runs
code); everything else (epoch, metrics, model family and sizes, config, data
fingerprint, Python/numpy RNG states) goes into ``<name>.json``.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import torch


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def metadata_path(ckpt: str | Path) -> Path:
    return Path(ckpt).with_suffix(".json")


def save_checkpoint(path: str | Path, state: dict, metadata: dict) -> None:
    """Write ``state`` (state dicts and tensors only) and ``metadata`` (JSON) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(metadata_path(path), lambda p: p.write_text(json.dumps(metadata, indent=2, default=float) + "\n"))
    _atomic_write(path, lambda p: torch.save(state, p))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[dict, dict]:
    state = torch.load(path, map_location=map_location, weights_only=True)
    meta_file = metadata_path(path)
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    return state, meta


def rng_state() -> tuple[dict, dict]:
    """(tensors for the .ckpt, JSON-able states for the metadata) of every RNG in use."""
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    py = random.getstate()
    plain = {"python": [py[0], list(py[1]), py[2]], "numpy": np.random.get_state(legacy=False)}
    plain["numpy"]["state"] = {k: np.asarray(v).tolist() for k, v in plain["numpy"]["state"].items()}
    return tensors, plain


def set_rng_state(tensors: dict, plain: dict) -> None:
    torch.set_rng_state(tensors["torch"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(tensors["cuda"]))
    if "python" in plain:
        version, internal, gauss = plain["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in plain:
        state = dict(plain["numpy"])
        state["state"] = {k: np.asarray(v, dtype=np.uint32) if k == "key" else v for k, v in state["state"].items()}
        np.random.set_state(state)
