"""Building the four models (GAT / VGAE x teacher / student) from one table of sizes.

``DEFAULT_SIZES[family][role]`` holds the constructor keywords (besides
``num_ids``); ``sizes`` overrides any of them.  The students share the source
and target weights of every GATv2 layer (``share_weights=True``, the GATv2
paper's weight-shared variant): with half the width and fewer layers alone the
fixed costs (input projection, ID embedding) keep a student near 17-19 % of
its teacher; sharing brings both students to about 12-14 % (vocabulary <= 200).

==========  ========  ======  ======  ================  =============
family      role      hidden  layers  heads (enc/dec)   other
==========  ========  ======  ======  ================  =============
gat         teacher   64      5       8
gat         student   32      3       4                 share_weights
vgae        teacher   64      4       8 / 4             latent 32
vgae        student   32      2       4 / 2             latent 16, share_weights
==========  ========  ======  ======  ================  =============

All use dropout 0.1, LayerNorm and ELU; the VGAE decoder has as many layers as its encoder.
No model has a CAN-ID embedding by default (``id_dim`` 0): it sees what an ID does and how that
compares with its vehicle's profile, not which ID it is, which is what transfers to a vehicle it
was never trained on.  ``ID_EMBEDDING_DIMS`` are the embedding widths used where one is asked
for (workflow config ``models.id_embedding``).
"""

from __future__ import annotations

import copy
from pathlib import Path

from torch import nn

from canguard.models.gat import GATClassifier
from canguard.models.sizes import DEFAULT_SIZES, ID_EMBEDDING_DIMS  # noqa: F401 (re-exported)
from canguard.models.vgae import VGAE
from canguard.training.checkpoint import load_checkpoint

_CLASSES = {"gat": GATClassifier, "vgae": VGAE}


def model_sizes(family: str, role: str, sizes: dict | None = None) -> dict:
    """The keywords ``build_model`` uses: defaults for (family, role) updated with ``sizes``."""
    if family not in DEFAULT_SIZES:
        raise ValueError(f"family must be one of {sorted(DEFAULT_SIZES)}, got {family!r}")
    if role not in DEFAULT_SIZES[family]:
        raise ValueError(f"role must be 'teacher' or 'student', got {role!r}")
    return {**copy.deepcopy(DEFAULT_SIZES[family][role]), **(sizes or {})}


def build_model(family: str, role: str, num_ids: int, sizes: dict | None = None) -> nn.Module:
    """A fresh ``GATClassifier`` (family "gat") or ``VGAE`` ("vgae") of the role's default sizes.

    ``num_ids`` is the manifest's ``vocabulary_size`` (index 0 = unknown ID);
    ``sizes`` overrides constructor keywords, e.g. ``{"hidden": 48}``.
    """
    return _CLASSES[family](num_ids=num_ids, **model_sizes(family, role, sizes))


def load_model(ckpt: str | Path, map_location="cpu") -> tuple[nn.Module, dict]:
    """A trained model from ``best.ckpt`` (weights only, never code) and its metadata, in eval mode.

    Here and not beside the training loop, so that what only scores a model (scoring, efficiency,
    export, ``canguard detect``) never imports Lightning.
    """
    state, meta = load_checkpoint(ckpt, map_location)
    task = meta["task"]
    model = build_model(task["family"], task["role"], task["num_ids"], task["sizes"])
    model.load_state_dict(state["model"])
    return model.eval(), meta


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters; shared tensors counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
