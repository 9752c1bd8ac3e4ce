"""Reading graph shards: lazily, as PyG ``Data`` per window or as whole ``Batch``-es.

    shards = GraphShards("results/shards/synthetic/train")
    len(shards), shards.manifest["class_balance"]
    data = shards[0]                                   # one window graph (torch_geometric Data)
    for batch in shards.batches(256, shuffle=True, generator=g):   # fast path for training
        out = model(batch.x, batch.edge_index, batch.batch, ...)

``batches`` gathers whole mini-batches from a shard with index arithmetic, with no
Python loop per graph, and visits shards in random order, one or two in memory at a time.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from canguard.atomic import file_sha256
from canguard.graphs.features import INTRINSIC_FEATURES, NUM_NODE_FEATURES
from canguard.graphs.preprocessing import UNKNOWN_ID

# the columns of the features relative to a vehicle profile (has_profile last)
RELATIVE_COLUMNS = slice(len(INTRINSIC_FEATURES), NUM_NODE_FEATURES)


RERUN = "rerun `snakemake --forcerun shards`"


class ShardError(RuntimeError):
    """A shard or manifest that cannot be trusted: missing, changed, truncated or not tensors only."""


@lru_cache(maxsize=4)
def load_shard(path: str, sha256: str, size: int) -> dict[str, torch.Tensor]:
    """A shard's tensors, after checking its bytes against the manifest's ``sha256`` and ``size``.

    Safe to load (``weights_only=True``) and memory-mapped; a mismatch raises
    :class:`ShardError` with one line naming the file.
    """
    try:
        actual = os.path.getsize(path)
    except FileNotFoundError:
        raise ShardError(f"{path}: missing (its manifest lists it); {RERUN}") from None
    if actual != size:
        raise ShardError(f"{path}: {actual} bytes, expected {size}: the file was changed or truncated; {RERUN}")
    digest = file_sha256(path)
    if digest != sha256:
        raise ShardError(f"{path}: content hash mismatch (expected {sha256[:16]}..., got {digest[:16]}...): "
                         f"the file was changed or truncated; {RERUN}")
    try:
        return torch.load(path, weights_only=True, mmap=True)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ShardError(f"{path}: not a tensors-only shard, refused ({first}); {RERUN}") from None


def read_manifest(folder: Path) -> dict:
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ShardError(f"{path}: missing; {RERUN}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ShardError(f"{path}: not valid JSON ({e}): the file was changed or truncated; {RERUN}") from None
    unhashed = [s.get("file") for s in manifest.get("shards", []) if "sha256" not in s]
    if unhashed:
        raise ShardError(f"{path}: no content hash for {unhashed[0]}: written by an older canguard; {RERUN}")
    return manifest


def _ranges(starts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Concatenation of arange(s, s + c) for each (s, c), vectorised."""
    total = int(counts.sum())
    if total == 0:
        return torch.zeros(0, dtype=torch.long)
    first = torch.repeat_interleave(starts - (torch.cumsum(counts, 0) - counts), counts)
    return first + torch.arange(total)


def batch_from_shard(shard: dict[str, torch.Tensor], index: torch.Tensor) -> Batch:
    """The graphs ``index`` of a shard as one PyG Batch (x, node_id, edge_index, edge_attr, y, batch, ptr)."""
    index = torch.as_tensor(index, dtype=torch.long)
    node_ptr, edge_ptr = shard["node_ptr"], shard["edge_ptr"]
    n_nodes = node_ptr[index + 1] - node_ptr[index]
    n_edges = edge_ptr[index + 1] - edge_ptr[index]
    nodes = _ranges(node_ptr[index], n_nodes)
    edges = _ranges(edge_ptr[index], n_edges)
    ptr = torch.zeros(len(index) + 1, dtype=torch.long)
    torch.cumsum(n_nodes, 0, out=ptr[1:])
    shift = torch.repeat_interleave(ptr[:-1], n_edges)
    return Batch(
        x=shard["x"][nodes], node_id=shard["node_id"][nodes],
        edge_index=shard["edge_index"][:, edges] + shift, edge_attr=shard["edge_attr"][edges],
        y=shard["y"][index], attack_frac=shard["attack_frac"][index], attack_type=shard["attack_type"][index],
        recording=shard["recording"][index], window=shard["window"][index],
        batch=torch.repeat_interleave(torch.arange(len(index)), n_nodes), ptr=ptr,
    )


class GraphShards(torch.utils.data.Dataset):
    """All shards of one dataset part (train, val or a test scenario)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        counts = [s["graphs"] for s in self.manifest["shards"]]
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def shard(self, i: int) -> dict[str, torch.Tensor]:
        entry = self.manifest["shards"][i]
        return load_shard(str(self.folder / entry["file"]), entry["sha256"], entry["bytes"])

    def __getitem__(self, i: int) -> Data:
        if not 0 <= i < len(self):
            raise IndexError(i)
        s = int(np.searchsorted(self.offsets, i, side="right") - 1)
        b = batch_from_shard(self.shard(s), torch.tensor([i - self.offsets[s]]))
        return Data(x=b.x, node_id=b.node_id, edge_index=b.edge_index, edge_attr=b.edge_attr, y=b.y,
                    attack_frac=b.attack_frac, attack_type=b.attack_type, recording=b.recording, window=b.window)

    def batches(self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None,
                drop_last: bool = False, label: int | None = None, shards: list[int] | None = None,
                rank: int = 0, world_size: int = 1):
        """Mini-batches; with ``shuffle``, shards in random order and graphs shuffled within each shard.

        ``label`` keeps only the windows of that label (the VGAE trains on benign ones);
        ``shards`` restricts to those shard indices (one subset per data-loading worker).
        With ``world_size`` > 1, ``batch_size`` is the global batch and each yield is process
        ``rank``'s share of it (every ``world_size``-th graph from ``rank``): the processes see
        disjoint graphs whose union is the single-process batch, and all make the same number of
        steps (a global batch with fewer graphs than processes is skipped by all of them).
        """
        order = list(range(len(self.offsets) - 1)) if shards is None else list(shards)
        if shuffle:
            order = [order[i] for i in torch.randperm(len(order), generator=generator).tolist()]
        for s in order:
            shard = self.shard(s)
            keep = torch.arange(len(shard["y"])) if label is None else torch.nonzero(shard["y"] == label).flatten()
            perm = keep[torch.randperm(len(keep), generator=generator)] if shuffle else keep
            n = len(perm)
            for lo in range(0, n, batch_size):
                idx = perm[lo: lo + batch_size]
                if drop_last and len(idx) < batch_size:
                    continue
                if world_size > 1:
                    if len(idx) < world_size:
                        continue
                    idx = idx[rank::world_size]
                yield batch_from_shard(shard, idx)


class ShardBatches(torch.utils.data.IterableDataset):
    """The batches of one epoch as an IterableDataset, so a DataLoader can prefetch them in workers.

    Seeded per epoch (``seed``, ``epoch``): the order of an epoch does not depend
    on how many epochs ran before, so a resumed run sees the same data as an
    uninterrupted one.  Workers split the shards between them.  In data-parallel
    training every process draws the same global batches (``batch_size`` is the
    global batch) and keeps its ``rank``'s share (:meth:`GraphShards.batches`).
    """

    def __init__(self, shards: GraphShards, batch_size: int, shuffle: bool, seed: int = 0,
                 label: int | None = None, drop_last: bool = False, rank: int = 0, world_size: int = 1):
        self.shards, self.batch_size, self.shuffle = shards, batch_size, shuffle
        self.seed, self.label, self.drop_last = seed, label, drop_last
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        n = len(self.shards.offsets) - 1
        mine = list(range(n)) if info is None else list(range(info.id, n, info.num_workers))
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        yield from self.shards.batches(self.batch_size, self.shuffle, generator, self.drop_last, self.label, mine,
                                       self.rank, self.world_size)


class UnknownIdDropout:
    """Replace each node's ID by the unknown-ID token with probability ``p`` (training only).

    Without it the unknown token's embedding is never trained, and a vehicle
    absent from training (all IDs unknown) looks like nothing the model knows.
    """

    def __init__(self, p: float, generator: torch.Generator | None = None):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"unknown-ID rate must be in [0, 1), got {p}")
        self.p = p
        self.generator = generator

    def __call__(self, batch: Batch) -> Batch:
        if self.p > 0:
            # drawn on the CPU generator (reproducible on any device), then moved to the batch
            drop = (torch.rand(batch.node_id.shape, generator=self.generator) < self.p).to(batch.node_id.device)
            batch.node_id = torch.where(drop, torch.full_like(batch.node_id, UNKNOWN_ID), batch.node_id)
        return batch


def drop_profile(x: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
    """``x`` with the relative features of ``nodes`` (bool (N,)) set as if no profile were known.

    On normalised features that is 0 everywhere (a missing relative feature is
    normalised to 0) and ``has_profile`` = 0: exactly what a window of a vehicle
    without profile looks like.
    """
    x = x.clone()
    x[nodes, RELATIVE_COLUMNS] = 0.0
    return x


class ProfileDropout:
    """Drop the profile of each window with probability ``p`` (training only).

    One model then serves both protocols: with a profile (a known or enrolled
    vehicle) and without (zero-shot on a vehicle never seen), where it can rely only
    on what a window shows by itself.
    """

    def __init__(self, p: float, generator: torch.Generator | None = None):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"profile dropout must be in [0, 1), got {p}")
        self.p = p
        self.generator = generator

    def __call__(self, batch: Batch) -> Batch:
        if self.p > 0:
            drop = torch.rand(batch.num_graphs, generator=self.generator) < self.p
            batch.x = drop_profile(batch.x, drop.to(batch.x.device)[batch.batch])
        return batch
