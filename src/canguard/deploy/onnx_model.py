"""A trained model as an ONNX graph that scores window graphs, and the two scorers of a detector.

Inputs and output of the exported graph (B windows, N nodes, E edges, all dynamic)::

    x           (N, F)  float32  normalised node features
    edge_index  (2, E)  int64    source, destination node (indices into the batch's nodes)
    batch       (N,)    int64    window of each node, 0..B-1
    node_id     (N,)    int64    vocabulary index of each node's CAN ID (0 = unknown)
    edge_attr   (E, 2)  float32  normalised edge features
    graph_ones  (B,)    float32  ones: their number is B
    -> score    (B,)    float32  larger = more attack-like (the GAT's attack log-odds, the VGAE's
                                 reconstruction error, the rule baseline's score): what the evaluation
                                 scores

``graph_ones`` exists because the exporter can only trace a graph count that is a
tensor's size: ``int(batch.max()) + 1``, what PyG's pooling computes by itself, is a
data-dependent value that ``torch.export`` cannot follow.

Measured with torch 2.13 / PyG 2.8 / onnxruntime 1.32 (see the README's "Deploying a
detector"): ``torch.onnx.export(dynamo=True)`` traces the GATv2 student (PyG's scatter
softmax and pooling) and the VGAE with dynamic N, E and B; the legacy TorchScript
exporter fails on PyG's scatter-max path or bakes in the graph count of the example.
"""

from __future__ import annotations

import io
import logging
import warnings

import numpy as np
import torch
from torch import Tensor, nn

log = logging.getLogger(__name__)

INPUTS = ("x", "edge_index", "batch", "node_id", "edge_attr", "graph_ones")
OUTPUT = "score"
OPSET = 18


class WindowScore(nn.Module):
    """The score a detector thresholds, ``(B,)``, from a batch of window graphs (see the module docstring)."""

    def __init__(self, model: nn.Module, family: str):
        super().__init__()
        if family not in ("gat", "vgae", "rules"):
            raise ValueError(f"no window score for family {family!r} (gat, vgae, rules)")
        self.model, self.family = model.eval(), family

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor, node_id: Tensor, edge_attr: Tensor,
                graph_ones: Tensor) -> Tensor:
        num_graphs = graph_ones.size(0)
        if self.family == "gat":
            logits = self.model(x, edge_index, batch, node_id, edge_attr, num_graphs=num_graphs).float()
            return logits[:, 1] - logits[:, 0]
        return self.model.anomaly_score(x, edge_index, batch, node_id, edge_attr, num_graphs=num_graphs).float()


def export_onnx(model: nn.Module, family: str, example: dict[str, np.ndarray]) -> bytes:
    """The ONNX bytes of ``model``'s window score, traced on ``example`` (:func:`batch_inputs`), every
    dimension dynamic; weights inside the file (no external data)."""
    module = WindowScore(model, family).eval()
    args = tuple(torch.from_numpy(example[name]) for name in INPUTS)
    dims = {"x": {0: "nodes"}, "edge_index": {1: "edges"}, "batch": {0: "nodes"}, "node_id": {0: "nodes"},
            "edge_attr": {0: "edges"}, "graph_ones": {0: "windows"}}
    quiet = [logging.getLogger(name) for name in ("torch.onnx", "onnx_ir", "onnxscript", "torch._dynamo")]
    levels = [q.level for q in quiet]
    for q in quiet:  # the exporter's notes on its own internals (skipped torchvision ops, merged constants)
        q.setLevel(logging.ERROR)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(module, args, dynamo=True, input_names=list(INPUTS), output_names=[OUTPUT],
                                    dynamic_shapes={k: {d: torch.export.Dim.AUTO for d in v} for k, v in dims.items()},
                                    opset_version=OPSET, external_data=False, verbose=False)
    for q, level in zip(quiet, levels):
        q.setLevel(level)
    buffer = io.BytesIO()
    program.save(buffer, external_data=False)
    return buffer.getvalue()


class OnnxScorer:
    """Scores with onnxruntime (CPU, ``threads`` intra-op threads): the exported detector's own path."""

    backend = "onnxruntime"

    def __init__(self, model: bytes | str, threads: int = 1):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        missing = set(self.inputs) - set(INPUTS)
        if missing:
            raise ValueError(f"the ONNX model has inputs {sorted(missing)} this canguard does not provide "
                             f"(expected a subset of {list(INPUTS)})")

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        if len(inputs["graph_ones"]) == 0:
            return np.zeros(0, np.float64)
        out = self.session.run([OUTPUT], {name: inputs[name] for name in self.inputs})[0]
        return out.astype(np.float64)


class TorchScorer:
    """Scores with the PyTorch model of a checkpoint: what the workflow's evaluation runs."""

    backend = "torch"

    def __init__(self, model: nn.Module, family: str, threads: int | None = None):
        if threads:
            torch.set_num_threads(threads)
        self.module = WindowScore(model, family).eval()

    @torch.inference_mode()
    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        if len(inputs["graph_ones"]) == 0:
            return np.zeros(0, np.float64)
        args = [torch.from_numpy(inputs[name]) for name in INPUTS]
        return self.module(*args).numpy().astype(np.float64)


def batch_inputs(graphs, prep) -> dict[str, np.ndarray]:
    """The scorer inputs of window graphs (:class:`canguard.graphs.builder.WindowGraphs`, unnormalised)
    under a detector's preprocessing: what a shard holds for them, batched as ``batch_from_shard`` does."""
    n_nodes = np.diff(graphs.node_ptr)
    n_edges = np.diff(graphs.edge_ptr)
    shift = np.repeat(graphs.node_ptr[:-1], n_edges)
    return {
        "x": np.ascontiguousarray(prep.normalize_nodes(graphs.x), np.float32),
        "edge_index": np.ascontiguousarray(graphs.edge_index + shift[None, :], np.int64),
        "batch": np.repeat(np.arange(graphs.num_graphs, dtype=np.int64), n_nodes),
        "node_id": prep.node_ids(graphs.node_can_id),
        "edge_attr": np.ascontiguousarray(prep.normalize_edges(graphs.edge_attr), np.float32),
        "graph_ones": np.ones(graphs.num_graphs, np.float32),
    }
