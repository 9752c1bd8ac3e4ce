"""Supervised window classifier: GATv2 encoder -> jumping knowledge -> mean+max pooling -> MLP.

Shapes (B graphs, N nodes, E edges, L layers, H hidden)::

    forward(x (N, F) float32, edge_index (2, E) int64, batch (N,) int64, node_id (N,) int64,
            edge_attr (E, 2) float32 | None)          -> logits (B, 2)   [class 0 benign, 1 attack]
    forward(..., return_hidden=True)                 -> (logits, {"hidden": [L x (N, H)],
                                                                  "graph": (B, 2 * L * H)})

Jumping knowledge: mode ``"cat"``.  Each layer sees a different radius of the
transition graph (1 hop: an ID's own timing and payload; more hops: what it
is sent between), and attacks show at different radii (a DoS flood in the
1-hop counts, a spoofed ID in its payload and neighbours), so the head gets
every layer's state side by side instead of an element-wise max that mixes
them.  Node width after JK is ``L * H``; the graph embedding is the mean and
the max over each graph's nodes, concatenated: ``D = 2 * L * H``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import JumpingKnowledge, global_max_pool, global_mean_pool

from canguard.graphs.features import NUM_NODE_FEATURES
from canguard.models.encoder import GATEncoder


class GATClassifier(nn.Module):
    """Graph-level benign/attack classifier (teacher: 64/5/8/16, student: 32/3/4/8)."""

    def __init__(self, num_ids: int, in_dim: int = NUM_NODE_FEATURES, edge_dim: int = 2, hidden: int = 64,
                 layers: int = 5, heads: int = 8, id_dim: int = 16, dropout: float = 0.1,
                 norm: str = "layer", act: str = "elu", share_weights: bool = False,
                 num_classes: int = 2):
        super().__init__()
        self.hidden, self.layers = hidden, layers
        self.encoder = GATEncoder(num_ids, in_dim, edge_dim, hidden, layers, heads, id_dim, dropout,
                                  norm, act, share_weights)
        self.jk = JumpingKnowledge("cat")
        self.graph_dim = 2 * layers * hidden
        self.head = nn.Sequential(
            nn.Linear(self.graph_dim, hidden), nn.ELU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def embed(self, x: Tensor, edge_index: Tensor, batch: Tensor, node_id: Tensor,
              edge_attr: Tensor | None = None, num_graphs: int | None = None) -> tuple[list[Tensor], Tensor]:
        """Per-layer node states ``[L x (N, H)]`` and the graph embedding ``(B, 2 * L * H)``."""
        hidden = self.encoder(x, edge_index, node_id, edge_attr)
        h = self.jk(hidden)
        graph = torch.cat([global_mean_pool(h, batch, num_graphs), global_max_pool(h, batch, num_graphs)], -1)
        return hidden, graph

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor, node_id: Tensor,
                edge_attr: Tensor | None = None, return_hidden: bool = False,
                num_graphs: int | None = None):
        """Logits (B, 2); with ``return_hidden`` also ``{"hidden": [L x (N, H)], "graph": (B, D)}``.

        ``num_graphs`` (optional, e.g. ``batch.num_graphs``) saves a device sync in pooling.
        """
        hidden, graph = self.embed(x, edge_index, batch, node_id, edge_attr, num_graphs)
        logits = self.head(graph)
        if return_hidden:
            return logits, {"hidden": hidden, "graph": graph}
        return logits
