"""Variational graph auto-encoder for unsupervised (benign-only) anomaly scoring.

Shapes (B graphs, N nodes, E edges, H hidden, Z latent, V = num_ids)::

    forward(x (N, F) float32, edge_index (2, E) int64, batch (N,) int64, node_id (N,) int64,
            edge_attr (E, 2) float32 | None) -> VGAEOutput(
        mu (N, Z), logvar (N, Z), z (N, Z), x_hat (N, F), id_logits (N, V); V = 0 without ID embedding)

    loss(out, x, edge_index, node_id, batch, kl_weight) -> (total 0-dim tensor, {name: float})
    anomaly_score(x, edge_index, batch, node_id, edge_attr) -> (B,) float32, no grad, deterministic

Architecture: :class:`GATEncoder` (``layers`` blocks, ``encoder_heads``) -> linear
heads to ``mu`` and ``logvar`` per node -> ``z = mu + eps * exp(logvar / 2)`` in
training mode, ``z = mu`` in eval mode.  Three decoders read ``z``:

* features: a :class:`GATStack` over ``z`` on the same graph (``decoder_layers``
  blocks, default ``layers``: a mirror of the encoder; ``decoder_heads``) then a
  linear layer to ``in_dim``;
* CAN ID (only with an ID embedding, ``id_dim > 0``): logits over the vocabulary (0 = unknown-ID token), tied to the
  encoder's ID embedding: ``id_logits = Linear(Z, id_dim)(z) @ E.T + b`` with
  ``E`` the (V, id_dim) embedding (weight tying keeps the vocabulary-sized
  parameters to one table, so a compact student stays compact);
* edges: inner product ``sigmoid(z_i . z_j)``; training contrasts the observed
  edges with about as many negatives drawn within each graph.  Default sampler:
  :func:`within_graph_negatives`, vectorised (one uniform node pair in the same
  graph per positive edge, pairs that are edges dropped).  ``negatives="pyg"``
  uses ``torch_geometric.utils.batched_negative_sampling`` instead, which loops
  over graphs in Python: measured on an H100 with 256 hcrl_sa windows it takes
  ~0.22 s per batch, 15x a whole GAT training step.

Loss = MSE(x_hat, x) + CE(id_logits, node_id) + [BCE(pos, 1) + BCE(neg, 0)]
+ kl_weight * KL(q(z|G) || N(0, I)), where MSE is, per node, the mean squared
error over the window-intrinsic features plus the mean over the features
relative to the vehicle profile (each group weighs alike: 12 relative features
would otherwise drown in 46 intrinsic ones), averaged over nodes; CE the mean
over nodes, each BCE the mean over its edges and KL the sum over latent
dimensions averaged over nodes.  The anomaly score uses the same node error.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import batched_negative_sampling, scatter

from canguard.graphs.features import INTRINSIC_FEATURES, NUM_NODE_FEATURES
from canguard.models.encoder import GATEncoder, GATStack


class VGAEOutput(NamedTuple):
    """Per-node outputs of :class:`VGAE` (N nodes, Z latent, V vocabulary)."""

    mu: Tensor         # (N, Z)
    logvar: Tensor     # (N, Z)
    z: Tensor          # (N, Z)  sample in training mode, = mu in eval mode
    x_hat: Tensor      # (N, in_dim)
    id_logits: Tensor  # (N, V)


def edge_logits(z: Tensor, edge_index: Tensor) -> Tensor:
    """Inner-product decoder logits ``z_src . z_dst``: (E,)."""
    return (z[edge_index[0]] * z[edge_index[1]]).sum(-1)


def within_graph_negatives(edge_index: Tensor, batch: Tensor, ratio: float = 1.0,
                           generator: torch.Generator | None = None) -> Tensor:
    """Random non-edges inside each graph, vectorised: (2, E_neg) with E_neg <= ratio * E.

    Draw k (of ``round(ratio * E)``) takes the graph of edge ``k mod E``, so each
    graph gets negatives in proportion to its edges, and samples a uniform
    (src, dst) pair of that graph's nodes (self-pairs allowed: a missing
    self-loop is a real non-transition); pairs that are observed edges are
    dropped.  Nodes of one graph must be contiguous (as in any PyG Batch).
    """
    num_nodes, num_edges = batch.numel(), edge_index.size(1)
    n = round(ratio * num_edges)
    if n == 0:
        return edge_index.new_zeros((2, 0))
    counts = torch.bincount(batch)
    start = torch.cumsum(counts, 0) - counts
    pick = torch.arange(n, device=batch.device) % num_edges
    g = batch[edge_index[0, pick]]
    size, first = counts[g], start[g]
    rand = torch.rand((2, n), device=batch.device, generator=generator)
    pairs = first + (rand * size).long().clamp_max(size - 1)
    keys = pairs[0] * num_nodes + pairs[1]
    observed = edge_index[0] * num_nodes + edge_index[1]
    return pairs[:, ~torch.isin(keys, observed)]


def kl_per_node(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over latent dims: (N,)."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)


class VGAE(nn.Module):
    """Graph VGAE (teacher: 64 hidden / 32 latent / 4 layers / 8+4 heads; student: 32/16/2/4+2)."""

    def __init__(self, num_ids: int, in_dim: int = NUM_NODE_FEATURES, edge_dim: int = 2, hidden: int = 64,
                 latent: int = 32, layers: int = 4, encoder_heads: int = 8, decoder_heads: int = 4,
                 id_dim: int = 16, dropout: float = 0.1, decoder_layers: int | None = None,
                 norm: str = "layer", act: str = "elu", share_weights: bool = False,
                 logvar_clamp: float = 10.0, negatives: str = "vectorised"):
        super().__init__()
        self.hidden, self.latent, self.layers = hidden, latent, layers
        self.logvar_clamp = logvar_clamp
        if negatives not in ("vectorised", "pyg"):
            raise ValueError(f"negatives must be 'vectorised' or 'pyg', got {negatives!r}")
        self.negatives = negatives
        # the node features relative to the vehicle profile are the designed anomaly indicators: the
        # feature error weighs their group as much as the group of the window-intrinsic features
        self.groups = ((0, len(INTRINSIC_FEATURES)), (len(INTRINSIC_FEATURES), in_dim)) \
            if in_dim == NUM_NODE_FEATURES else ((0, in_dim),)
        self.encoder = GATEncoder(num_ids, in_dim, edge_dim, hidden, layers, encoder_heads, id_dim,
                                  dropout, norm, act, share_weights)
        self.to_mu = nn.Linear(hidden, latent)
        self.to_logvar = nn.Linear(hidden, latent)
        self.decoder = GATStack(latent, hidden, decoder_layers or layers, decoder_heads, edge_dim,
                                dropout, norm, act, share_weights)
        self.to_x = nn.Linear(hidden, in_dim)
        # the ID decoder exists only with an ID embedding to tie it to
        self.to_id = nn.Linear(latent, id_dim) if id_dim > 0 else None
        self.id_bias = nn.Parameter(torch.zeros(num_ids)) if id_dim > 0 else None

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor | None, node_id: Tensor,
                edge_attr: Tensor | None = None) -> VGAEOutput:
        """Encode and decode a batch; ``batch`` is unused here (kept for a uniform signature)."""
        h = self.encoder(x, edge_index, node_id, edge_attr)[-1]
        mu = self.to_mu(h)
        logvar = self.to_logvar(h).clamp(-self.logvar_clamp, self.logvar_clamp)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        x_hat = self.to_x(self.decoder(z, edge_index, edge_attr)[-1])
        if self.to_id is None:
            id_logits = z.new_zeros((z.size(0), 0))
        else:
            id_logits = F.linear(self.to_id(z), self.encoder.id_embedding.weight, self.id_bias)
        return VGAEOutput(mu, logvar, z, x_hat, id_logits)

    def node_feature_error(self, x_hat: Tensor, x: Tensor) -> Tensor:
        """(N,) squared reconstruction error of each node: the mean over each feature group, summed
        over the groups (window-intrinsic features, profile-relative features)."""
        err = (x_hat - x).pow(2)
        return sum(err[:, lo:hi].mean(-1) for lo, hi in self.groups)

    def loss(self, out: VGAEOutput, x: Tensor, edge_index: Tensor, node_id: Tensor, batch: Tensor,
             kl_weight: float = 1.0, neg_ratio: float = 1.0) -> tuple[Tensor, dict[str, float]]:
        """Training loss; negatives are random, about ``neg_ratio`` per observed edge, within each graph.

        Returns ``(total, {"feature", "id", "edge", "kl", "total"})``; the parts are Python floats.
        """
        feature = self.node_feature_error(out.x_hat, x).mean()
        ident = F.cross_entropy(out.id_logits, node_id) if out.id_logits.size(1) else feature.new_zeros(())
        pos = edge_logits(out.z, edge_index)
        edge = F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
        if self.negatives == "pyg":
            neg_index = batched_negative_sampling(edge_index, batch, num_neg_samples=neg_ratio)
        else:
            neg_index = within_graph_negatives(edge_index, batch, neg_ratio)
        if neg_index.size(1):
            neg = edge_logits(out.z, neg_index)
            edge = edge + F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg))
        kl = kl_per_node(out.mu, out.logvar).mean()
        total = feature + ident + edge + kl_weight * kl
        parts = {"feature": feature, "id": ident, "edge": edge, "kl": kl, "total": total}
        return total, {k: float(v.detach()) for k, v in parts.items()}

    @torch.no_grad()
    def anomaly_parts(self, x: Tensor, edge_index: Tensor, batch: Tensor, node_id: Tensor,
                      edge_attr: Tensor | None = None, num_graphs: int | None = None) -> dict[str, Tensor]:
        """Per-graph error terms, each (B,): ``feature`` (mean node MSE), ``id`` (mean node CE),
        ``edge`` (mean BCE of the observed edges, 0 for a graph without edges).

        Always the eval path (z = mu, no dropout) and no negative sampling, so it is
        deterministic; the module's train/eval mode is restored afterwards.  On
        CUDA, scatter-sums (attention aggregation, pooling) use atomics whose
        order varies (last-bit differences, ~1e-6), so the call runs under
        ``torch.use_deterministic_algorithms(True, warn_only=True)`` (sort-based
        scatter), the global setting restored afterwards.
        """
        was_training = self.training
        was_deterministic = torch.are_deterministic_algorithms_enabled()
        was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
        self.eval()
        if x.is_cuda and not was_deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            out = self(x, edge_index, batch, node_id, edge_attr)
            b = int(batch.max()) + 1 if num_graphs is None else num_graphs
            node_feat = self.node_feature_error(out.x_hat, x)
            node_ce = (F.cross_entropy(out.id_logits, node_id, reduction="none") if out.id_logits.size(1)
                       else torch.zeros_like(node_feat))
            edge_err = F.softplus(-edge_logits(out.z, edge_index))   # BCE(sigmoid(logit), 1)
            return {
                "feature": scatter(node_feat, batch, 0, b, reduce="mean"),
                "id": scatter(node_ce, batch, 0, b, reduce="mean"),
                "edge": scatter(edge_err, batch[edge_index[0]], 0, b, reduce="mean"),
            }
        finally:
            self.train(was_training)
            if x.is_cuda and not was_deterministic:
                torch.use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)

    def anomaly_score(self, x: Tensor, edge_index: Tensor, batch: Tensor, node_id: Tensor,
                      edge_attr: Tensor | None = None, num_graphs: int | None = None) -> Tensor:
        """Per-graph anomaly score (B,): feature error + ID cross-entropy + edge error (higher = odder)."""
        parts = self.anomaly_parts(x, edge_index, batch, node_id, edge_attr, num_graphs)
        return parts["feature"] + parts["id"] + parts["edge"]
