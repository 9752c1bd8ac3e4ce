"""Fast checks of the graph models, their losses and the distillers (CPU, a few seconds)."""

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Batch, Data

from canguard.graphs.features import NUM_NODE_FEATURES
from canguard.models.factory import ID_EMBEDDING_DIMS, build_model, count_parameters
from canguard.models.losses import (
    GATDistiller,
    VGAEDistiller,
    class_weights,
    distillation_kl,
    focal_loss,
    gat_distillation_loss,
    layer_map,
)
from canguard.models.vgae import VGAEOutput, within_graph_negatives

NUM_IDS = 12


def ids(role: str, **sizes) -> dict:
    """Sizes with the role's CAN-ID embedding (the default models have none): these tests cover it."""
    return {"id_dim": ID_EMBEDDING_DIMS[role], **sizes}


def random_batch(num_graphs: int = 5, seed: int = 0) -> Batch:
    """Random directed window graphs with self-loops, NUM_NODE_FEATURES node / 2 edge features, mixed labels."""
    g = torch.Generator().manual_seed(seed)
    graphs = []
    for i in range(num_graphs):
        n = int(torch.randint(2, 9, (1,), generator=g))
        e = int(torch.randint(n, 3 * n, (1,), generator=g))
        ei = torch.randint(0, n, (2, e), generator=g)
        ei = torch.unique(torch.cat([ei, torch.arange(n).repeat(2, 1)[:, :1]], 1), dim=1)
        graphs.append(Data(x=torch.randn(n, NUM_NODE_FEATURES, generator=g), edge_index=ei,
                           edge_attr=torch.randn(ei.size(1), 2, generator=g),
                           node_id=torch.randint(0, NUM_IDS, (n,), generator=g), y=torch.tensor([i % 2])))
    batch = Batch.from_data_list(graphs)
    batch.node_id[0] = 0  # at least one unknown-ID node
    return batch


def inputs(b: Batch) -> tuple:
    return b.x, b.edge_index, b.batch, b.node_id, b.edge_attr


@pytest.fixture(scope="module")
def batch() -> Batch:
    return random_batch()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# ---------------------------------------------------------------- shapes

@pytest.mark.parametrize("role", ["teacher", "student"])
def test_gat_shapes(batch, role):
    m = build_model("gat", role, NUM_IDS, ids(role))
    logits = m(*inputs(batch))
    assert logits.shape == (batch.num_graphs, 2) and logits.dtype == torch.float32
    logits2, aux = m(*inputs(batch), return_hidden=True)
    assert logits2.shape == (batch.num_graphs, 2)
    assert len(aux["hidden"]) == m.layers
    assert all(h.shape == (batch.num_nodes, m.hidden) for h in aux["hidden"])
    assert aux["graph"].shape == (batch.num_graphs, m.graph_dim) == (batch.num_graphs, 2 * m.layers * m.hidden)
    assert m(batch.x, batch.edge_index, batch.batch, batch.node_id).shape == (batch.num_graphs, 2)  # no edge_attr


@pytest.mark.parametrize("role", ["teacher", "student"])
def test_vgae_shapes(batch, role):
    m = build_model("vgae", role, NUM_IDS, ids(role))
    out = m(*inputs(batch))
    assert isinstance(out, VGAEOutput)
    n = batch.num_nodes
    for t in (out.mu, out.logvar, out.z):
        assert t.shape == (n, m.latent)
    assert out.x_hat.shape == (n, NUM_NODE_FEATURES) and out.id_logits.shape == (n, NUM_IDS)
    total, parts = m.loss(out, batch.x, batch.edge_index, batch.node_id, batch.batch, kl_weight=0.1)
    assert total.dim() == 0 and torch.isfinite(total)
    assert set(parts) == {"feature", "id", "edge", "kl", "total"} and all(isinstance(v, float) for v in parts.values())


def test_vgae_sampling_only_in_training(batch):
    m = build_model("vgae", "teacher", NUM_IDS, ids("teacher")).eval()
    out = m(*inputs(batch))
    assert torch.equal(out.z, out.mu)
    m.train()
    out = m(*inputs(batch))
    assert not torch.equal(out.z, out.mu)


def test_hidden_must_divide_heads():
    with pytest.raises(ValueError):
        build_model("gat", "teacher", NUM_IDS, ids("teacher", hidden=60, heads=8))


# ---------------------------------------------------------------- unknown-ID token

@pytest.mark.parametrize("family", ["gat", "vgae"])
def test_unknown_id_row_is_trainable(batch, family):
    m = build_model(family, "student", NUM_IDS, ids("student"))
    out = m(*inputs(batch))
    if family == "gat":
        loss = F.cross_entropy(out, batch.y)
    else:
        loss = m.loss(out, batch.x, batch.edge_index, batch.node_id, batch.batch)[0]
    loss.backward()
    grad = m.encoder.id_embedding.weight.grad
    assert grad is not None and grad[0].abs().sum() > 0


# ---------------------------------------------------------------- sizes

def test_students_are_small():
    ratios = {}
    for family in ("gat", "vgae"):
        for num_ids in (NUM_IDS, 51, 80, 200):
            t = count_parameters(build_model(family, "teacher", num_ids))
            s = count_parameters(build_model(family, "student", num_ids))
            ratios[family, num_ids] = s / t
            print(f"{family} num_ids={num_ids}: teacher {t:,}  student {s:,}  ({s / t:.1%})")
            assert s <= 0.15 * t, (family, num_ids, s, t)


# ---------------------------------------------------------------- VGAE scoring

def test_anomaly_score_deterministic(batch):
    m = build_model("vgae", "teacher", NUM_IDS, ids("teacher"))
    m.train()  # scoring must use the eval path whatever the mode
    a = m.anomaly_score(*inputs(batch))
    b = m.anomaly_score(*inputs(batch))
    assert a.shape == (batch.num_graphs,) and torch.isfinite(a).all() and (a > 0).all()
    assert torch.equal(a, b)
    assert m.training  # mode restored
    parts = m.anomaly_parts(*inputs(batch))
    assert torch.allclose(parts["feature"] + parts["id"] + parts["edge"], a)


# ---------------------------------------------------------------- learning

def _fit(model, step, n=25, lr=5e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(n):
        opt.zero_grad()
        loss = step()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def test_gat_loss_falls(batch):
    m = build_model("gat", "student", NUM_IDS, ids("student", dropout=0.0))
    losses = _fit(m, lambda: F.cross_entropy(m(*inputs(batch)), batch.y))
    assert losses[-1] < 0.5 * losses[0], losses


def test_vgae_loss_falls(batch):
    m = build_model("vgae", "student", NUM_IDS, ids("student", dropout=0.0))

    def step():
        out = m(*inputs(batch))
        return m.loss(out, batch.x, batch.edge_index, batch.node_id, batch.batch, kl_weight=0.01)[0]

    losses = _fit(m, step, n=40)
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5, losses


# ---------------------------------------------------------------- distillation

def test_layer_map():
    assert layer_map(3, 5) == [0, 2, 4]
    assert layer_map(2, 4) == [0, 3]
    assert layer_map(1, 5) == [4]
    assert layer_map(5, 5) == [0, 1, 2, 3, 4]


def test_gat_distillation_zero_for_identical_models(batch):
    teacher = build_model("gat", "teacher", NUM_IDS, ids("teacher")).eval()
    student = build_model("gat", "teacher", NUM_IDS, ids("teacher")).eval()
    student.load_state_dict(teacher.state_dict())
    dist = GATDistiller.from_models(student, teacher, identity_init=True)
    s_out, s_aux = student(*inputs(batch), return_hidden=True)
    t_out, t_aux = teacher(*inputs(batch), return_hidden=True)
    loss, parts = dist(s_out, s_aux, t_out, t_aux, batch.y, T=4.0, alpha=0.7, beta=0.5)
    assert parts["kd"] == 0.0 and parts["hidden"] == 0.0 and parts["graph"] == 0.0
    assert torch.allclose(loss, 0.3 * F.cross_entropy(s_out, batch.y))


def test_gat_distillation_gradients(batch):
    teacher = build_model("gat", "teacher", NUM_IDS, ids("teacher")).eval()
    student = build_model("gat", "student", NUM_IDS, ids("student"))
    dist = GATDistiller.from_models(student, teacher)
    s_out, s_aux = student(*inputs(batch), return_hidden=True)
    t_out, t_aux = teacher(*inputs(batch), return_hidden=True)  # no no_grad: the distiller must detach
    loss, parts = dist(s_out, s_aux, t_out, t_aux, batch.y)
    assert parts["kd"] > 0 and parts["hidden"] > 0 and parts["graph"] > 0
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in dist.parameters())
    assert student.encoder.id_embedding.weight.grad.abs().sum() > 0
    assert student.head[-1].weight.grad.abs().sum() > 0


def test_identity_init_needs_equal_dims():
    with pytest.raises(ValueError):
        GATDistiller(32, 64, 3, 5, 192, 640, identity_init=True)


def test_vgae_distillation(batch):
    teacher = build_model("vgae", "teacher", NUM_IDS, ids("teacher")).eval()
    twin = build_model("vgae", "teacher", NUM_IDS, ids("teacher")).eval()
    twin.load_state_dict(teacher.state_dict())
    dist = VGAEDistiller.from_models(twin, teacher, identity_init=True)
    s, t = twin(*inputs(batch)), teacher(*inputs(batch))
    own = twin.loss(s, batch.x, batch.edge_index, batch.node_id, batch.batch)[0]
    loss, parts = dist(s, t, own, alpha=1.0, beta=1.0, T=2.0)
    assert parts["latent"] == 0.0 and parts["recon_feature"] == 0.0 and parts["recon_id"] == 0.0
    assert torch.equal(loss, own)

    student = build_model("vgae", "student", NUM_IDS, ids("student"))
    dist = VGAEDistiller.from_models(student, teacher)
    s = student(*inputs(batch))
    own = student.loss(s, batch.x, batch.edge_index, batch.node_id, batch.batch)[0]
    loss, parts = dist(s, t, own)
    assert parts["latent"] > 0 and parts["recon_feature"] > 0 and parts["recon_id"] > 0
    assert loss > own
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert dist.latent_proj.weight.grad.abs().sum() > 0
    assert student.to_mu.weight.grad.abs().sum() > 0


def test_models_without_id_embedding_ignore_the_id(batch):
    """id_dim 0: no embedding, no ID decoder; the node IDs change nothing."""
    other = batch.node_id.flip(0)
    gat = build_model("gat", "student", NUM_IDS, {"id_dim": 0}).eval()
    assert gat.encoder.id_embedding is None
    args = inputs(batch)
    assert torch.equal(gat(*args), gat(args[0], args[1], args[2], other, args[4]))
    vgae = build_model("vgae", "student", NUM_IDS, {"id_dim": 0}).eval()
    out = vgae(*args)
    assert out.id_logits.shape == (batch.num_nodes, 0) and vgae.to_id is None
    loss, parts = vgae.loss(out, batch.x, batch.edge_index, batch.node_id, batch.batch)
    assert parts["id"] == 0.0 and torch.isfinite(loss)
    score = vgae.anomaly_score(*args)
    assert torch.equal(score, vgae.anomaly_score(args[0], args[1], args[2], other, args[4]))


def test_vgae_distillation_honours_temperature_alpha_and_beta(batch):
    teacher = build_model("vgae", "teacher", NUM_IDS, ids("teacher")).eval()
    student = build_model("vgae", "student", NUM_IDS, ids("student"))
    dist = VGAEDistiller.from_models(student, teacher)
    s, t = student(*inputs(batch)), teacher(*inputs(batch))
    own = student.loss(s, batch.x, batch.edge_index, batch.node_id, batch.batch)[0]
    none, parts = dist(s, t, own, alpha=0.0, beta=0.0, T=1.0)
    assert torch.equal(none, own)
    strong, strong_parts = dist(s, t, own, alpha=1.0, beta=5.0, T=10.0)
    assert float(strong) == pytest.approx(float(own) + 5.0 * strong_parts["latent"]
                                          + strong_parts["recon_feature"] + strong_parts["recon_id"], rel=1e-5)
    assert strong_parts["recon_id"] != parts["recon_id"]  # T softens the teacher's ID distribution


def test_gat_distillation_uses_the_given_hard_loss(batch):
    teacher = build_model("gat", "teacher", NUM_IDS, ids("teacher")).eval()
    student = build_model("gat", "student", NUM_IDS, ids("student"))
    dist = GATDistiller.from_models(student, teacher)
    s_out, s_aux = student(*inputs(batch), return_hidden=True)
    t_out, t_aux = teacher(*inputs(batch), return_hidden=True)
    _, ce = dist(s_out, s_aux, t_out, t_aux, batch.y)
    _, focal = dist(s_out, s_aux, t_out, t_aux, batch.y, hard_loss=lambda lg, y: focal_loss(lg, y, gamma=2.0))
    assert focal["ce"] == pytest.approx(float(focal_loss(s_out, batch.y, gamma=2.0)), rel=1e-6)
    assert focal["ce"] < ce["ce"]  # focal down-weights what is already right


# ---------------------------------------------------------------- plain losses

def test_focal_equals_ce_at_gamma_zero():
    logits, y = torch.randn(16, 2), torch.randint(0, 2, (16,))
    w = torch.tensor([0.3, 2.5])
    assert torch.allclose(focal_loss(logits, y, gamma=0.0), F.cross_entropy(logits, y))
    assert torch.allclose(focal_loss(logits, y, gamma=0.0, weight=w), F.cross_entropy(logits, y, weight=w))
    assert focal_loss(logits, y, gamma=2.0) < F.cross_entropy(logits, y)


def test_class_weights():
    w = class_weights([300, 100])
    assert w.dtype == torch.float32
    assert torch.allclose(w, torch.tensor([400 / 600, 400 / 200]))
    assert torch.isclose((w * torch.tensor([300.0, 100.0])).sum(), torch.tensor(400.0))
    assert torch.isfinite(class_weights([10, 0])).all()


def test_kd_term_scaled_by_T_squared():
    s, t, y = torch.randn(8, 2), torch.randn(8, 2), torch.randint(0, 2, (8,))
    for T in (1.0, 2.0, 4.0):
        p_t = F.softmax(t / T, -1)
        kl = (p_t * (p_t.log() - F.log_softmax(s / T, -1))).sum(-1).mean()
        assert torch.allclose(distillation_kl(s, t, T), T * T * kl)
        assert torch.allclose(gat_distillation_loss(s, t, y, T=T, alpha=1.0), T * T * kl)
    ce = F.cross_entropy(s, y)
    assert torch.allclose(gat_distillation_loss(s, t, y, T=4.0, alpha=0.0), ce)
    assert torch.allclose(gat_distillation_loss(s, t, y, T=4.0, alpha=0.7),
                          0.7 * distillation_kl(s, t, 4.0) + 0.3 * ce)
    assert distillation_kl(s, s.clone(), 4.0) == 0.0


def test_within_graph_negatives(batch):
    neg = within_graph_negatives(batch.edge_index, batch.batch, ratio=2.0)
    assert neg.dim() == 2 and neg.size(0) == 2 and 0 < neg.size(1) <= 2 * batch.num_edges
    assert torch.equal(batch.batch[neg[0]], batch.batch[neg[1]])  # never across graphs
    pos = set(map(tuple, batch.edge_index.t().tolist()))
    assert not pos & set(map(tuple, neg.t().tolist()))              # never an observed edge
    empty = torch.zeros((2, 0), dtype=torch.long)
    assert within_graph_negatives(empty, batch.batch).shape == (2, 0)


def test_vgae_pyg_negatives(batch):
    m = build_model("vgae", "student", NUM_IDS, ids("student", negatives="pyg"))
    out = m(*inputs(batch))
    total, _ = m.loss(out, batch.x, batch.edge_index, batch.node_id, batch.batch)
    assert torch.isfinite(total)
