"""The sizes of the four models (GAT / VGAE x teacher / student), without importing torch: the
workflow reads them when it builds its DAG.  The table and its reasons: :mod:`canguard.models.factory`."""

DEFAULT_SIZES: dict[str, dict[str, dict]] = {
    "gat": {
        "teacher": {"hidden": 64, "layers": 5, "heads": 8, "id_dim": 0, "dropout": 0.1},
        "student": {"hidden": 32, "layers": 3, "heads": 4, "id_dim": 0, "dropout": 0.1,
                    "share_weights": True},
    },
    "vgae": {
        "teacher": {"hidden": 64, "latent": 32, "layers": 4, "encoder_heads": 8, "decoder_heads": 4,
                    "id_dim": 0, "dropout": 0.1},
        "student": {"hidden": 32, "latent": 16, "layers": 2, "encoder_heads": 4, "decoder_heads": 2,
                    "id_dim": 0, "dropout": 0.1, "share_weights": True},
    },
}
# CAN-ID embedding widths where a model is given one (teacher, student)
ID_EMBEDDING_DIMS = {"teacher": 16, "student": 8}
