"""Shared building block: CAN-ID embedding + a residual stack of edge-aware GATv2 layers.

Shapes (N nodes, E edges, over a whole PyG mini-batch)::

    x          (N, in_dim)   float32   standardised node features (see canguard.graphs.features)
    node_id    (N,)          int64     vocabulary index, 0 = unknown-ID token
    edge_index (2, E)        int64     directed transitions src -> dst (self-loops included)
    edge_attr  (E, edge_dim) float32   standardised edge features (2), or None (then zeros)

    GATEncoder(...)(x, edge_index, node_id, edge_attr) -> [h_1, ..., h_L], each (N, hidden)

Each block is post-norm residual::

    h <- norm(h + dropout(act(GATv2Conv(h, edge_index, edge_attr))))

so every returned state is normalised (LayerNorm by default: independent of the
batch composition and of eval/train mode, which makes teacher/student states
comparable for distillation; ``norm="batch"`` is available).  Heads are
concatenated: ``hidden`` must be divisible by ``heads`` and each head has
``hidden // heads`` channels, so a layer's width is ``hidden`` whatever the heads.

Self-loops: GATv2Conv's own ``add_self_loops`` first *removes* the existing
self-loops, which would throw away the real ``A -> A`` transition features.  We
instead add self-loops once per forward only to nodes that lack one
(``add_remaining_self_loops``, edge features filled with the mean of the node's
incoming edges) and build the convolutions with ``add_self_loops=False``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATv2Conv
from torch_geometric.utils import add_remaining_self_loops

from canguard.graphs.features import NUM_NODE_FEATURES

_ACTIVATIONS = {"elu": nn.ELU, "gelu": nn.GELU}


def with_self_loops(edge_index: Tensor, edge_attr: Tensor | None, num_nodes: int,
                    edge_dim: int) -> tuple[Tensor, Tensor]:
    """``(edge_index (2, E'), edge_attr (E', edge_dim))`` with a self-loop on every node.

    Existing self-loops keep their features; added ones get the mean of the
    node's incoming edge features (0 for a node with no incoming edge).
    ``edge_attr=None`` is treated as all-zero features.
    """
    if edge_attr is None:
        edge_attr = edge_index.new_zeros((edge_index.size(1), edge_dim), dtype=torch.float32)
    return add_remaining_self_loops(edge_index, edge_attr, fill_value="mean", num_nodes=num_nodes)


def _norm(kind: str, dim: int) -> nn.Module:
    if kind == "layer":
        return nn.LayerNorm(dim)
    if kind == "batch":
        return nn.BatchNorm1d(dim)
    raise ValueError(f"norm must be 'layer' or 'batch', got {kind!r}")


class GATBlock(nn.Module):
    """One residual GATv2 layer: (N, hidden) -> (N, hidden)."""

    def __init__(self, hidden: int, heads: int, edge_dim: int, dropout: float = 0.1,
                 norm: str = "layer", act: str = "elu", share_weights: bool = False):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
        self.conv = GATv2Conv(hidden, hidden // heads, heads=heads, concat=True, edge_dim=edge_dim,
                              add_self_loops=False, dropout=dropout, share_weights=share_weights)
        self.norm = _norm(norm, hidden)
        self.act = _ACTIVATIONS[act]()
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        """h (N, hidden), edge_index (2, E) with self-loops, edge_attr (E, edge_dim) -> (N, hidden)."""
        return self.norm(h + self.dropout(self.act(self.conv(h, edge_index, edge_attr))))


class GATStack(nn.Module):
    """Input projection then ``layers`` residual GATv2 blocks.

    forward(h (N, in_dim), edge_index (2, E), edge_attr (E, edge_dim) | None)
        -> list of ``layers`` tensors (N, hidden), the state after each block.
    """

    def __init__(self, in_dim: int, hidden: int, layers: int, heads: int, edge_dim: int = 2,
                 dropout: float = 0.1, norm: str = "layer", act: str = "elu",
                 share_weights: bool = False):
        super().__init__()
        if layers < 1:
            raise ValueError("layers must be >= 1")
        self.edge_dim = edge_dim
        self.input = nn.Sequential(nn.Linear(in_dim, hidden), _ACTIVATIONS[act]())
        self.blocks = nn.ModuleList(
            GATBlock(hidden, heads, edge_dim, dropout, norm, act, share_weights) for _ in range(layers))

    def forward(self, h: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> list[Tensor]:
        edge_index, edge_attr = with_self_loops(edge_index, edge_attr, h.size(0), self.edge_dim)
        h = self.input(h)
        states = []
        for block in self.blocks:
            h = block(h, edge_index, edge_attr)
            states.append(h)
        return states


class GATEncoder(nn.Module):
    """CAN-ID embedding concatenated with the node features, then a :class:`GATStack`.

    The embedding has ``num_ids`` rows; row 0 is the unknown-ID token, an
    ordinary trainable row (no ``padding_idx``).  With ``id_dim=0`` there is no
    embedding: the model sees no ID identity at all (``node_id`` is ignored), only
    the node features, which is what transfers to a vehicle it never saw.

    forward(x (N, in_dim) float, edge_index (2, E) long, node_id (N,) long,
            edge_attr (E, edge_dim) float | None) -> list of ``layers`` tensors (N, hidden)
    """

    def __init__(self, num_ids: int, in_dim: int = NUM_NODE_FEATURES, edge_dim: int = 2, hidden: int = 64,
                 layers: int = 5, heads: int = 8, id_dim: int = 16, dropout: float = 0.1,
                 norm: str = "layer", act: str = "elu", share_weights: bool = False):
        super().__init__()
        self.hidden, self.layers, self.id_dim = hidden, layers, id_dim
        self.id_embedding = nn.Embedding(num_ids, id_dim) if id_dim > 0 else None
        self.stack = GATStack(in_dim + id_dim, hidden, layers, heads, edge_dim, dropout, norm, act,
                              share_weights)

    def forward(self, x: Tensor, edge_index: Tensor, node_id: Tensor,
                edge_attr: Tensor | None = None) -> list[Tensor]:
        h = x if self.id_embedding is None else torch.cat([x, self.id_embedding(node_id)], dim=-1)
        return self.stack(h, edge_index, edge_attr)
