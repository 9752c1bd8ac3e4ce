"""Graph models for CAN intrusion detection: a supervised GATv2 classifier, a VGAE
anomaly detector, their teacher/student sizes and the distillation losses.  One module each;
this package imports none of them (the workflow reads :mod:`canguard.models.sizes` without torch).

    from canguard.models.factory import build_model
    teacher = build_model("gat", "teacher", num_ids=manifest["vocabulary_size"])
    logits = teacher(b.x, b.edge_index, b.batch, b.node_id, b.edge_attr)      # (B, 2)
"""
