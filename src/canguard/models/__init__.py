"""Graph models for CAN intrusion detection: a supervised GATv2 classifier, a VGAE
anomaly detector, their teacher/student sizes and the distillation losses.

    from canguard.models import build_model, GATDistiller
    teacher = build_model("gat", "teacher", num_ids=manifest["vocabulary_size"])
    logits = teacher(b.x, b.edge_index, b.batch, b.node_id, b.edge_attr)      # (B, 2)
"""

from canguard.models.encoder import GATBlock, GATEncoder, GATStack, with_self_loops
from canguard.models.factory import (
    DEFAULT_SIZES,
    build_model,
    count_parameters,
    model_sizes,
)
from canguard.models.gat import GATClassifier
from canguard.models.losses import (
    GATDistiller,
    VGAEDistiller,
    class_weights,
    distillation_kl,
    focal_loss,
    gat_distillation_loss,
    layer_map,
)
from canguard.models.vgae import (
    VGAE,
    VGAEOutput,
    edge_logits,
    kl_per_node,
    within_graph_negatives,
)

__all__ = [
    "DEFAULT_SIZES", "GATBlock", "GATClassifier", "GATDistiller", "GATEncoder", "GATStack", "VGAE",
    "VGAEDistiller", "VGAEOutput", "build_model", "class_weights", "count_parameters",
    "distillation_kl", "edge_logits", "focal_loss", "gat_distillation_loss", "kl_per_node",
    "layer_map", "model_sizes", "with_self_loops", "within_graph_negatives",
]
