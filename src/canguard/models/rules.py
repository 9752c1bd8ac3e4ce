"""The rule baseline: no learning, only the vehicle's profile.

A window scores the share of its messages whose ID the vehicle was never seen
sending, plus the largest excess of one ID's count over its usual count per
window, in standard deviations, divided by 100::

    score = sum_n novel_n * count_n / W + max(0, max_n count_z_n) / 100

It catches what changes the ID mix (DoS, fuzzing, a flooded or injected ID) and
nothing that only payloads or timing betray (replay, masquerade, a malfunction
that keeps the rate).  Every learnt model is judged against it.  Without a
profile (zero-shot on an unknown vehicle) it has nothing to compare with: every
window then scores alike.

    forward(x (N, F) normalised node features, edge_index (2, E), batch (N,), ...) -> (B,) scores
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from canguard.graphs.features import NODE_FEATURES


class ProfileRule(nn.Module):
    """Holds only the normalisation of the two features it reads (to undo it) and W."""

    def __init__(self, node_mean, node_std, window_size: int):
        super().__init__()
        cols = [NODE_FEATURES.index(name) for name in ("count", "novel", "count_z")]
        self.register_buffer("cols", torch.tensor(cols))
        self.register_buffer("mean", torch.as_tensor(node_mean, dtype=torch.float32)[cols])
        self.register_buffer("std", torch.as_tensor(node_std, dtype=torch.float32)[cols])
        self.window_size = int(window_size)

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor, node_id: Tensor | None = None,
                edge_attr: Tensor | None = None, num_graphs: int | None = None) -> Tensor:
        raw = x[:, self.cols] * self.std + self.mean
        count, novel, z = raw[:, 0], raw[:, 1], raw[:, 2]
        b = int(batch.max()) + 1 if num_graphs is None else num_graphs
        novel_share = scatter(count * novel, batch, 0, b, reduce="sum") / self.window_size
        known_z = torch.where(novel > 0.5, torch.zeros_like(z), z)
        excess = scatter(known_z, batch, 0, b, reduce="max").clamp(min=0)
        return novel_share + excess / 100.0

    def anomaly_score(self, *args, **kwargs) -> Tensor:
        return self(*args, **kwargs)
