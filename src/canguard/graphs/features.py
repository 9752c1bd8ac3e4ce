"""The feature specification of window graphs: names, order and meaning of every column.

Node features (one row per distinct CAN ID in a window), in this order::

    count                 messages of this ID in the window
    byte{j}_mean/std/min/max   statistics of payload byte j (0..7) over this ID's messages
                          that carry byte j (dlc > j), scaled to [0, 1]; 0 where none does
    byte{j}_present       share of this ID's messages that carry byte j (dlc > j)
    dlc_mean              mean DLC of this ID's messages
    iat_mean, iat_std     log1p of the inter-arrival time in ms between consecutive messages
                          of this ID inside the window (0 for a single message)
    first_pos, last_pos   position of the ID's first and last message, as a share of W - 1

Edge features (one row per distinct transition src -> dst between consecutive
messages, self-loops included)::

    count                 how often the transition occurs in the window
    gap_mean              log1p of the mean time in ms between the two messages

Then the features relative to the profile of the window's vehicle, in the order of
:data:`canguard.graphs.relative.RELATIVE_FEATURES` (novel, rate_ratio, count_z,
iat_min_ratio, gap_before, dlc_unseen, value_unseen, out_of_range, delta_unseen,
change_surprise, overdue, has_profile): NaN where a window has no profile.

The CAN ID itself is not a feature column: each node carries ``node_can_id``
(raw) and, after the vocabulary is applied, ``node_id`` (index into the ID
embedding; 0 is the unknown-ID token).
"""

from __future__ import annotations

from canguard.graphs.relative import RELATIVE_FEATURES

BYTE_STATS = ("mean", "std", "min", "max", "present")

INTRINSIC_FEATURES: list[str] = (
    ["count"]
    + [f"byte{j}_{s}" for s in BYTE_STATS for j in range(8)]
    + ["dlc_mean", "iat_mean", "iat_std", "first_pos", "last_pos"]
)
NODE_FEATURES: list[str] = INTRINSIC_FEATURES + RELATIVE_FEATURES
# 0/1 flags: kept as they are by the normalisation
UNSCALED_FEATURES: list[str] = ["novel", "has_profile"]
EDGE_FEATURES: list[str] = ["count", "gap_mean"]

NUM_NODE_FEATURES = len(NODE_FEATURES)
NUM_EDGE_FEATURES = len(EDGE_FEATURES)


def feature_spec() -> dict:
    """The specification stored with every shard manifest."""
    return {
        "node_features": NODE_FEATURES,
        "intrinsic_features": INTRINSIC_FEATURES,
        "relative_features": RELATIVE_FEATURES,
        "unscaled_features": UNSCALED_FEATURES,
        "edge_features": EDGE_FEATURES,
        "node_id": "index into the CAN-ID vocabulary; 0 = unknown ID",
        "time_unit": "log1p(milliseconds)",
        "byte_scale": "byte / 255",
    }
