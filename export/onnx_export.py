"""PyTorch SampleRNN -> a bundle of ONNX step graphs plus a versioned model.json manifest.

One graph per tier (docs/bundle.md): each frame tier is `FrameTier.forward` exported by torch.onnx with a
dynamic number of frames T (T=1 when live, the whole seed clip when priming) and its RNN state as explicit
inputs and outputs. The sample graph is built from the sample tier's weights: an ONNX Loop over the F0
samples of one frame, Gumbel-max sampling inside the loop (noise and temperature are inputs, so it is
seedable), the embedding and input conv folded into one [F0*Q, S] gather table, 2-D shapes so MatMul+Add
fuse to Gemm. The first linear layer after the conv is folded too: into the gather table and into the
finest frame tier's upsampling, whose output is therefore the sample MLP's first pre-activation
(`cond_out` of frame.onnx), not the PyTorch tier's raw output. `export.verify` proves both folds.
"""

from __future__ import annotations

import copy
import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import Tensor, nn

from rt_samplernn import __version__
from rt_samplernn.config import to_dict
from rt_samplernn.live.bundle import (
    FORMAT,
    MANIFEST,
    VERSION,
    frame_graph_name,
    sha256_file,
)
from rt_samplernn.model import FrameTier, SampleRNN, SampleTier
from rt_samplernn.quantize import zero_level

OPSET = 17
IR_VERSION = 8  # readable by onnxruntime >= 1.10 and most other hosts


# ----------------------------------------------------------------------------------------------------------
# Folding the sample tier's first linear layer
# ----------------------------------------------------------------------------------------------------------


def _first_layer(sample: SampleTier) -> nn.Module:
    """The linear layer right after the input conv + cond (no nonlinearity between them): foldable."""
    return sample.hidden[0] if len(sample.hidden) else sample.output


@torch.no_grad()
def sample_table(sample: SampleTier) -> np.ndarray:
    """[F0*Q, S'] float32: row j*Q + level = first_layer.W @ (conv.W[:, :, j] @ embedding[level]).

    Summing rows j*Q + window[j] over j gives the first layer's pre-activation minus cond and bias.
    """
    emb = sample.embedding.weight.double()  # (Q, E)
    conv = sample.input_conv.weight.double()  # (S, E, F0)
    first = _first_layer(sample).weight.double()  # (S', S)
    per_pos = torch.einsum("qe,sej->jqs", emb, conv)  # (F0, Q, S)
    folded = per_pos @ first.T  # (F0, Q, S')
    return folded.reshape(-1, folded.shape[-1]).float().numpy()


@torch.no_grad()
def fold_upsample(tier: FrameTier, sample: SampleTier) -> FrameTier:
    """A copy of the finest frame tier whose upsampling already applies the sample MLP's first layer."""
    first = _first_layer(sample)
    w1, b1 = first.weight.double(), first.bias.double()  # (S', S), (S',)
    up_w = tier.upsample.weight.double().reshape(tier.ratio, tier.out_dim, -1)  # (ratio, S, D)
    up_b = tier.upsample.bias.double().reshape(tier.ratio, tier.out_dim)
    new_w = torch.einsum("ps,rsd->rpd", w1, up_w).reshape(-1, up_w.shape[-1])
    new_b = (up_b @ w1.T + b1).reshape(-1)
    folded = copy.deepcopy(tier)
    layer = nn.Linear(new_w.shape[1], new_w.shape[0])
    layer.weight.copy_(new_w.float())
    layer.bias.copy_(new_b.float())
    folded.upsample = layer
    folded.out_dim = w1.shape[0]
    return folded.eval()


# ----------------------------------------------------------------------------------------------------------
# Frame tiers: torch.onnx export of FrameTier.forward with explicit state
# ----------------------------------------------------------------------------------------------------------


class _FrameStep(nn.Module):
    """forward(frames, [cond], h, [c]) -> (cond_out, h_out, [c_out]) over FrameTier.forward."""

    def __init__(self, tier: FrameTier, has_cond: bool):
        super().__init__()
        self.tier = tier
        self.has_cond = has_cond

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        frames, rest = inputs[0], list(inputs[1:])
        cond = rest.pop(0) if self.has_cond else None
        out, state = self.tier(frames, cond, tuple(rest))
        return (out, *state)


def frame_io(tier: FrameTier, has_cond: bool, out_dim: int, below: str) -> tuple[list[dict], list[dict], list[dict]]:
    """Manifest entries (inputs, outputs, states) for one frame graph."""
    L, D, F = tier.layers, tier.dim, tier.frame_size
    inputs = [dict(name="frames", dtype="int64", shape=["voices", "frames", F],
                   meaning=f"T frames of {F} previous int levels each, oldest first")]
    if has_cond:
        inputs.append(dict(name="cond", dtype="float32", shape=["voices", "frames", D],
                           meaning="conditioning from the tier above, one vector per frame"))
    state_names = ["h", "c"] if tier.is_lstm else ["h"]
    states = []
    for s in state_names:
        inputs.append(dict(name=s, dtype="float32", shape=[L, "voices", D],
                           meaning=f"RNN {'hidden' if s == 'h' else 'cell'} state (layers, voices, dim)"))
    outputs = [dict(name="cond_out", dtype="float32", shape=["voices", "positions", out_dim],
                    meaning=f"conditioning for the {below}: {tier.ratio} vectors per input frame "
                            f"(positions = frames * {tier.ratio})")]
    for i, s in enumerate(state_names):
        outputs.append(dict(name=f"{s}_out", dtype="float32", shape=[L, "voices", D], meaning=f"new {s}"))
        h0 = tier.h0[i].detach().float()
        initial: Any = "zeros" if not torch.any(h0) else h0.numpy().tolist()
        states.append(dict(input=s, output=f"{s}_out", shape=[L, "voices", D], initial=initial))
    return inputs, outputs, states


def export_frame_graph(tier: FrameTier, has_cond: bool, path: Path) -> None:
    tier = tier.eval()
    batch, steps = 2, 3
    args: list[Tensor] = [torch.randint(0, tier.q_levels, (batch, steps, tier.frame_size))]
    names = ["frames"]
    axes: dict[str, dict[int, str]] = {"frames": {0: "voices", 1: "frames"}}
    if has_cond:
        args.append(torch.randn(batch, steps, tier.dim))
        names.append("cond")
        axes["cond"] = {0: "voices", 1: "frames"}
    state_names = ["h", "c"] if tier.is_lstm else ["h"]
    for s in state_names:
        args.append(torch.randn(tier.layers, batch, tier.dim))
        names.append(s)
        axes[s] = {1: "voices"}
    out_names = ["cond_out"] + [f"{s}_out" for s in state_names]
    axes["cond_out"] = {0: "voices", 1: "positions"}
    for s in state_names:
        axes[f"{s}_out"] = {1: "voices"}
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _FrameStep(tier, has_cond), tuple(args), buf, input_names=names, output_names=out_names,
            dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )
    model = onnx.load_from_string(buf.getvalue())
    model.ir_version = min(model.ir_version, IR_VERSION)
    model.doc_string = f"rt-samplernn frame tier, frame size {tier.frame_size}"
    onnx.save(model, str(path))


# ----------------------------------------------------------------------------------------------------------
# The sample graph: Loop over one frame with in-graph Gumbel-max sampling
# ----------------------------------------------------------------------------------------------------------


def _const(name: str, array: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(np.ascontiguousarray(array), name)


def _sample_weights(sample: SampleTier) -> tuple[list[TensorProto], list[tuple[str, str]], str]:
    """Initializers shared by the sample graph and the logits check graph.

    Returns (initializers, [(W, b) of the Gemm layers after the folded first layer], output layer kind).
    """
    f0, q = sample.frame_size, sample.embedding.num_embeddings
    inits = [
        _const("table", sample_table(sample)),
        _const("offsets", (np.arange(f0, dtype=np.int64) * q)[None, :]),
        _const("sum_axes", np.array([1], dtype=np.int64)),
    ]
    gemms: list[tuple[str, str]] = []
    layers = list(sample.hidden[1:]) + ([sample.output] if len(sample.hidden) else [])
    for i, layer in enumerate(layers):
        inits.append(_const(f"W{i}", layer.weight.detach().float().numpy()))
        inits.append(_const(f"b{i}", layer.bias.detach().float().numpy()))
        gemms.append((f"W{i}", f"b{i}"))
    return inits, gemms, "mlp" if len(sample.hidden) else "direct"


def _logits_nodes(window: str, cond: str, gemms: list[tuple[str, str]], has_hidden: bool, p: str) -> tuple[list, str]:
    """Nodes: window (B, F0) int64 levels, cond (B, S') -> logits (B, Q). p prefixes the value names."""
    nodes = [
        helper.make_node("Add", [window, "offsets"], [f"{p}idx"]),
        helper.make_node("Gather", ["table", f"{p}idx"], [f"{p}rows"]),  # (B, F0, S')
        helper.make_node("ReduceSum", [f"{p}rows", "sum_axes"], [f"{p}conv"], keepdims=0),
        helper.make_node("Add", [f"{p}conv", cond], [f"{p}pre0"]),
    ]
    x = f"{p}pre0"
    if not has_hidden:
        return nodes, x
    nodes.append(helper.make_node("Relu", [x], [f"{p}act0"]))
    x = f"{p}act0"
    for i, (w, b) in enumerate(gemms):
        last = i == len(gemms) - 1
        y = f"{p}logits" if last else f"{p}pre{i + 1}"
        nodes.append(helper.make_node("Gemm", [x, w, b], [y], transB=1))
        if not last:
            nodes.append(helper.make_node("Relu", [y], [f"{p}act{i + 1}"]))
            y = f"{p}act{i + 1}"
        x = y
    return nodes, x


def build_sample_graph(sample: SampleTier, loop_op: str = "Loop") -> onnx.ModelProto:
    """prev (B, F0) int64, cond (B, F0, S') float, noise (B, F0, Q) float, temperature (B,) -> samples (B, F0).

    loop_op "Loop" (the default) or "Scan": the same body, Scan slicing cond and noise per step itself.
    """
    f0, q = sample.frame_size, sample.embedding.num_embeddings
    s_dim = sample_table(sample).shape[1]
    inits, gemms, kind = _sample_weights(sample)
    inits += [
        _const("slice_start", np.array([1], dtype=np.int64)),
        _const("slice_end", np.array([f0], dtype=np.int64)),
        _const("slice_axes", np.array([1], dtype=np.int64)),
        _const("temp_axes", np.array([1, 2], dtype=np.int64)),
        _const("n_steps", np.array(f0, dtype=np.int64)),
    ]
    logits_nodes, logits = _logits_nodes("window", "cond_i", gemms, kind == "mlp", "")
    draw = [
        # Gumbel-max: argmax(logits / T + g) == argmax(logits + T * g) for T > 0 (equal bit for bit at T = 2^k)
        helper.make_node("Add", [logits, "noise_i"], ["perturbed"]),
        helper.make_node("ArgMax", ["perturbed"], ["drawn"], axis=1, keepdims=1),  # (B, 1) int64
        helper.make_node("Slice", ["window", "slice_start", "slice_end", "slice_axes"], ["older"]),
        helper.make_node("Concat", ["older", "drawn"], ["window_out"], axis=1),
    ]
    window_in = helper.make_tensor_value_info("window", TensorProto.INT64, ["voices", f0])
    window_out = helper.make_tensor_value_info("window_out", TensorProto.INT64, ["voices", f0])
    outer = [
        helper.make_node("Unsqueeze", ["temperature", "temp_axes"], ["temp3"]),
        helper.make_node("Mul", ["noise", "temp3"], ["scaled_noise"]),
    ]
    # After F0 steps the sliding window holds exactly the F0 samples drawn: it is the output.
    if loop_op == "Loop":
        body = [
            helper.make_node("Identity", ["keep_in"], ["keep_out"]),
            helper.make_node("Gather", ["cond", "i"], ["cond_i"], axis=1),  # (B, S')
            helper.make_node("Gather", ["scaled_noise", "i"], ["noise_i"], axis=1),  # (B, Q)
            *logits_nodes, *draw,
        ]
        body_graph = helper.make_graph(
            body, "sample_step",
            [helper.make_tensor_value_info("i", TensorProto.INT64, []),
             helper.make_tensor_value_info("keep_in", TensorProto.BOOL, []), window_in],
            [helper.make_tensor_value_info("keep_out", TensorProto.BOOL, []), window_out],
        )
        outer.append(helper.make_node("Loop", ["n_steps", "", "prev"], ["samples"], body=body_graph))
    elif loop_op == "Scan":
        body_graph = helper.make_graph(
            [*logits_nodes, *draw], "sample_step",
            [window_in, helper.make_tensor_value_info("cond_i", TensorProto.FLOAT, ["voices", s_dim]),
             helper.make_tensor_value_info("noise_i", TensorProto.FLOAT, ["voices", q])],
            [window_out],
        )
        outer.append(helper.make_node("Scan", ["prev", "cond", "scaled_noise"], ["samples"], body=body_graph,
                                      num_scan_inputs=2, scan_input_axes=[1, 1]))
    else:
        raise ValueError(f"loop_op must be Loop or Scan, not {loop_op!r}")
    graph = helper.make_graph(
        outer, "sample",
        [helper.make_tensor_value_info("prev", TensorProto.INT64, ["voices", f0]),
         helper.make_tensor_value_info("cond", TensorProto.FLOAT, ["voices", f0, s_dim]),
         helper.make_tensor_value_info("noise", TensorProto.FLOAT, ["voices", f0, q]),
         helper.make_tensor_value_info("temperature", TensorProto.FLOAT, ["voices"])],
        [helper.make_tensor_value_info("samples", TensorProto.INT64, ["voices", f0])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    model.doc_string = f"rt-samplernn sample tier: one frame of samples per call ({loop_op} over the frame)"
    onnx.checker.check_model(model)
    return model


def sample_io(f0: int, s_dim: int, q: int) -> tuple[list[dict], list[dict]]:
    inputs = [
        dict(name="prev", dtype="int64", shape=["voices", f0], meaning=f"the last {f0} int levels, oldest first"),
        dict(name="cond", dtype="float32", shape=["voices", f0, s_dim],
             meaning="cond_out of frame.onnx: one vector per sample of this frame"),
        dict(name="noise", dtype="float32", shape=["voices", f0, q],
             meaning="Gumbel(0, 1) noise, one row per sample (see docs/bundle.md for the seeded stream)"),
        dict(name="temperature", dtype="float32", shape=["voices"], meaning="sampling temperature per voice, > 0"),
    ]
    outputs = [dict(name="samples", dtype="int64", shape=["voices", f0], meaning=f"{f0} new int levels, oldest first")]
    return inputs, outputs


# ----------------------------------------------------------------------------------------------------------
# Optional int8 weights for the frame graphs' MatMuls (onnxruntime's com.microsoft.MatMulNBits)
# ----------------------------------------------------------------------------------------------------------

INT8_BLOCK = 32  # weights per quantization block (one fp32 scale each)


def _quantize_int8(weight: np.ndarray, block: int = INT8_BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """(K, N) fp32 -> MatMulNBits layout: uint8 (N, K/block, block) with zero point 128, fp32 scales (N*K/block)."""
    k, n = weight.shape
    blocks = weight.T.reshape(n, k // block, block).astype(np.float64)
    scale = np.abs(blocks).max(axis=2) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(blocks / scale[..., None]), -127, 127).astype(np.int32) + 128
    return q.astype(np.uint8), scale.astype(np.float32).reshape(-1)


def quantize_frame_graph(path: Path) -> int:
    """Replace every MatMul with a constant 2-D weight (K a multiple of 32) by an int8 MatMulNBits; returns how many.

    The weights shrink 4x, which is what the frame tiers need on a CPU: at one voice they are bound by
    reading their weights (the GRU op keeps fp32 weights). The bundle no longer matches the checkpoint
    to 1e-4 (about 1% relative error in the conditioning), and it needs onnxruntime's contrib ops.
    """
    model = onnx.load(str(path))
    inits = {i.name: i for i in model.graph.initializer}
    nodes = list(model.graph.node)
    count = 0
    for idx, node in enumerate(nodes):
        weight = inits.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if weight is None or len(weight.dims) != 2 or weight.dims[0] % INT8_BLOCK:
            continue
        array = numpy_helper.to_array(weight)
        q, scales = _quantize_int8(array)
        qname, sname = f"{weight.name}_int8", f"{weight.name}_scales"
        model.graph.initializer.extend([numpy_helper.from_array(q, qname), numpy_helper.from_array(scales, sname)])
        nodes[idx] = helper.make_node(
            "MatMulNBits", [node.input[0], qname, sname], list(node.output), name=f"{node.name}_int8",
            domain="com.microsoft", K=array.shape[0], N=array.shape[1], bits=8, block_size=INT8_BLOCK,
            accuracy_level=4,  # int8 compute: the fast path (accuracy_level 0 is ~20x slower here)
        )
        model.graph.initializer.remove(weight)
        count += 1
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    if count and not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(path))
    return count


# ----------------------------------------------------------------------------------------------------------
# The bundle
# ----------------------------------------------------------------------------------------------------------


def export_bundle(model: SampleRNN, out_dir: str | Path, source: str | None = None, int8: bool = False) -> Path:
    """Write model.json and one graph per tier into out_dir (created); returns the manifest path.

    int8: store the frame graphs' MatMul weights (upsampling, input projections) as int8 (faster on a
    CPU, ~1% off the checkpoint; the default fp32 bundle is the one that verifies to 1e-4).
    """
    model = model.eval()
    cfg = model.cfg
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_frame = len(cfg.frame_sizes)
    graphs: list[dict[str, Any]] = []
    s_dim = 0
    for k in reversed(range(n_frame)):
        tier = model.frame_tiers[k]
        name = frame_graph_name(k)
        has_cond = k < n_frame - 1
        if k == 0:
            tier = fold_upsample(tier, model.sample_tier)
            s_dim = tier.out_dim
            below = "sample graph (sample MLP's first layer folded in)"
        else:
            below = f"{frame_graph_name(k - 1)} graph"
        path = out_dir / f"{name}.onnx"
        export_frame_graph(tier, has_cond, path)
        if int8:
            quantize_frame_graph(path)
        inputs, outputs, states = frame_io(tier, has_cond, tier.out_dim, below)
        graphs.append(dict(name=name, file=path.name, kind="frame", tier=k, frame_size=tier.frame_size,
                           ratio=tier.ratio, inputs=inputs, outputs=outputs, states=states))
    path = out_dir / "sample.onnx"
    onnx.save(build_sample_graph(model.sample_tier), str(path))
    inputs, outputs = sample_io(cfg.frame_sizes[0], s_dim, cfg.q_levels)
    graphs.append(dict(name="sample", file=path.name, kind="sample", frame_size=cfg.frame_sizes[0],
                       inputs=inputs, outputs=outputs, states=[]))
    for g in graphs:
        g["sha256"] = sha256_file(out_dir / g["file"])
    manifest = dict(
        format=FORMAT,
        version=VERSION,
        exporter=dict(name="rt-samplernn", version=__version__, torch=torch.__version__.split("+")[0],
                      onnx_opset=OPSET),
        source=source,
        config=to_dict(cfg),
        sample_rate=cfg.sample_rate,
        quantization=dict(type=cfg.q_type, levels=cfg.q_levels, zero_level=zero_level(cfg.q_levels)),
        frame_sizes=list(cfg.frame_sizes),
        weights="int8-frame-matmuls" if int8 else "fp32",
        graphs=graphs,
    )
    manifest_path = out_dir / MANIFEST
    tmp = manifest_path.with_name(f".{MANIFEST}.part")
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    tmp.replace(manifest_path)
    return manifest_path
