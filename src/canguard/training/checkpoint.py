"""Checkpoints: tensors in a ``.ckpt`` file, JSON metadata beside it that names their hash.

    save_checkpoint("best.ckpt", {"model": model.state_dict()}, metadata)
    state, meta = load_checkpoint("best.ckpt")     # verified, then torch.load(weights_only=True)

Only tensors and plain containers go into the ``.ckpt`` (loading never runs
code); everything else (epoch, metrics, model family and sizes, config, data
fingerprint, Python/numpy RNG states) goes into ``<name>.json``.

A checkpoint is committed in two steps, each a temporary file renamed into
place (:func:`canguard.atomic.atomic_output`): first the tensors, then the
metadata, which records the tensors' SHA-256 and size.  The metadata is the
commit: a ``.ckpt`` whose ``.json`` does not name its exact bytes (a write
interrupted between the two files, a disk that filled up, a flipped or
truncated file) is refused by :func:`load_checkpoint` with one line naming the
file and what is wrong, never loaded.

Training keeps a :class:`CheckpointSeries` (``last-step000040.ckpt`` ...): a
new checkpoint never overwrites the one before it, and resuming takes the
newest one that verifies, with a warning for each it had to pass over.
"""

from __future__ import annotations

import io
import json
import logging
import random
import re
from pathlib import Path

import numpy as np
import torch

from canguard.atomic import atomic_output, write_text

log = logging.getLogger(__name__)

HASH_KEY = "tensors_sha256"
SIZE_KEY = "tensors_bytes"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be trusted: missing, changed, truncated or not written whole."""


def metadata_path(ckpt: str | Path) -> Path:
    return Path(ckpt).with_suffix(".json")


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def save_checkpoint(path: str | Path, state: dict, metadata: dict) -> dict:
    """Write ``state`` (state dicts and tensors only), then ``metadata`` naming its hash; returns the metadata.

    The tensors are serialised in memory first, so a failed write raises an
    ``OSError`` that names the file (not torch's ``basic_ios::clear``).
    """
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    metadata = dict(metadata) | {HASH_KEY: _sha256(data), SIZE_KEY: len(data)}
    with atomic_output(path) as tmp:  # a failed write raises OSError naming the file
        tmp.write_bytes(data)
    write_text(metadata_path(path), json.dumps(metadata, indent=2, default=float) + "\n")
    return metadata


def read_metadata(path: str | Path) -> dict:
    """The metadata of checkpoint ``path``; CheckpointError if it is missing or unreadable."""
    meta_file = metadata_path(path)
    try:
        meta = json.loads(meta_file.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no metadata file {meta_file.name} beside it: the checkpoint was not "
                              "written whole") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{meta_file}: not valid JSON ({e}): the file was changed or truncated") from None
    if HASH_KEY not in meta:
        raise CheckpointError(f"{meta_file}: names no {HASH_KEY}: written by an older canguard or by hand; "
                              "retrain (snakemake --forcerun train)")
    return meta


def verified_bytes(path: str | Path) -> tuple[bytes, dict]:
    """(tensor bytes, metadata) of a checkpoint whose bytes are the ones its metadata names."""
    path = Path(path)
    meta = read_metadata(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing (its metadata {metadata_path(path).name} is there)") from None
    if len(data) != meta[SIZE_KEY]:
        raise CheckpointError(f"{path}: {len(data)} bytes, expected {meta[SIZE_KEY]}: the file was truncated "
                              "or not written whole")
    digest = _sha256(data)
    if digest != meta[HASH_KEY]:
        raise CheckpointError(f"{path}: content hash mismatch (expected {meta[HASH_KEY][:16]}..., got "
                              f"{digest[:16]}...): the file was changed or not written whole")
    return data, meta


def copy_checkpoint(src: str | Path, dst: str | Path) -> dict:
    """Copy a verified checkpoint (tensors first, metadata last); returns its metadata."""
    data, meta = verified_bytes(src)
    with atomic_output(dst) as tmp:
        tmp.write_bytes(data)
    write_text(metadata_path(dst), json.dumps(meta, indent=2, default=float) + "\n")
    return meta


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[dict, dict]:
    """(state, metadata) of a verified checkpoint; CheckpointError naming the file otherwise."""
    data, meta = verified_bytes(path)
    try:
        state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as e:  # a hostile or foreign pickle whose hash was also forged: weights_only refuses it
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a tensors-only checkpoint, refused ({first})") from None
    return state, meta


class CheckpointSeries:
    """Numbered checkpoints ``<prefix>-step<N>.ckpt`` in a folder; the newest that verifies is the current one.

    ``save`` writes a new pair and then removes all but the newest ``keep``
    (so one good checkpoint survives any failure of the next write); ``latest``
    walks back from the newest, warning about each that does not verify.
    """

    def __init__(self, folder: str | Path, prefix: str = "last", keep: int = 2):
        self.folder, self.prefix, self.keep = Path(folder), prefix, max(1, keep)
        self.pattern = re.compile(rf"^{re.escape(prefix)}-step(\d+)\.ckpt$")

    def path(self, step: int) -> Path:
        return self.folder / f"{self.prefix}-step{step:06d}.ckpt"

    def steps(self) -> list[int]:
        """Steps of the ``.ckpt`` files present, newest first."""
        if not self.folder.is_dir():
            return []
        found = (self.pattern.match(p.name) for p in self.folder.iterdir())
        return sorted((int(m.group(1)) for m in found if m), reverse=True)

    def save(self, step: int, state: dict, metadata: dict) -> Path:
        path = self.path(step)
        save_checkpoint(path, state, metadata)
        for old in self.steps()[self.keep:]:
            self.remove(old)
        return path

    def remove(self, step: int) -> None:
        path = self.path(step)
        path.unlink(missing_ok=True)
        metadata_path(path).unlink(missing_ok=True)

    def latest(self, map_location: str | torch.device = "cpu") -> tuple[Path, dict, dict] | None:
        """(path, state, metadata) of the newest checkpoint that verifies, or None."""
        for step in self.steps():
            path = self.path(step)
            try:
                state, meta = load_checkpoint(path, map_location)
            except CheckpointError as e:
                log.warning("%s; falling back to the checkpoint before it", e)
                continue
            return path, state, meta
        return None

    def clear(self) -> None:
        for step in self.steps():
            self.remove(step)
        for stray in self.folder.glob(f".{self.prefix}-step*.tmp") if self.folder.is_dir() else ():
            stray.unlink(missing_ok=True)


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
