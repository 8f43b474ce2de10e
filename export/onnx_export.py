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
    SUPPORTED_VERSIONS,
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


def frame_io(tier: FrameTier, has_cond: bool, out_dim: int, below: str,
             steps: str | int = "frames") -> tuple[list[dict], list[dict], list[dict]]:
    """Manifest entries (inputs, outputs, states) for one frame graph; steps: "frames" (version 1) or 1."""
    L, D, F = tier.layers, tier.dim, tier.frame_size
    inputs = [dict(name="frames", dtype="int64", shape=["voices", steps, F],
                   meaning=f"{'T frames' if steps == 'frames' else 'one frame'} of {F} previous int levels each, "
                           "oldest first")]
    if has_cond:
        inputs.append(dict(name="cond", dtype="float32", shape=["voices", steps, D],
                           meaning="conditioning from the tier above, one vector per frame"))
    state_names = ["h", "c"] if tier.is_lstm else ["h"]
    states = []
    for s in state_names:
        inputs.append(dict(name=s, dtype="float32", shape=[L, "voices", D],
                           meaning=f"RNN {'hidden' if s == 'h' else 'cell'} state (layers, voices, dim)"))
    outputs = [dict(name="cond_out", dtype="float32", shape=["voices", "positions" if steps == "frames" else tier.ratio,
                                                              out_dim],
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
# Bundle version 2 frame graphs: one frame per call, the RNN cells as explicit MatMuls (int8-ready)
# ----------------------------------------------------------------------------------------------------------


@torch.no_grad()
def _cell_weights(tier: FrameTier) -> dict[str, np.ndarray]:
    """The tier's weights folded for one step, in float64 -> float32, as (K, N) matrices.

    Layer 0's input projection absorbs the frame rescaling and `expand`: gates_in = frames @ Wf + cond @ Wc + b;
    skip projections and the upsampling fold into one matrix over the concatenated layer outputs.
    """
    q = tier.q_levels
    w: dict[str, np.ndarray] = {}
    expand_w, expand_b = tier.expand.weight.double(), tier.expand.bias.double()  # (D, F), (D,)
    for i, rnn in enumerate(tier.rnns):
        w_ih, w_hh = rnn.weight_ih_l0.double(), rnn.weight_hh_l0.double()  # (G*D, in), (G*D, D)
        b_ih, b_hh = rnn.bias_ih_l0.double(), rnn.bias_hh_l0.double()
        if i == 0:  # x = expand(frames * 4/Q - 2) + cond
            w[f"l{i}_wf"] = (w_ih @ expand_w * (4.0 / q)).T
            w[f"l{i}_wc"] = w_ih.T
            b_in = w_ih @ (expand_b - 2.0 * expand_w.sum(dim=1)) + b_ih
        else:
            w[f"l{i}_wc"] = w_ih.T
            b_in = b_ih
        w[f"l{i}_wh"] = w_hh.T
        if tier.is_lstm:  # gates are summed before any nonlinearity: one bias
            w[f"l{i}_bi"], w[f"l{i}_bh"] = b_in + b_hh, torch.zeros_like(b_hh)
        else:
            w[f"l{i}_bi"], w[f"l{i}_bh"] = b_in, b_hh
    up_w, up_b = tier.upsample.weight.double(), tier.upsample.bias.double()  # (ratio*out, D)
    if tier.skips is not None:
        w["up_w"] = torch.cat([(up_w @ s.weight.double()).T for s in tier.skips])  # (L*D, ratio*out)
        w["up_b"] = up_w @ sum(s.bias.double() for s in tier.skips) + up_b
    else:
        w["up_w"], w["up_b"] = up_w.T, up_b
    return {k: v.float().numpy() for k, v in w.items()}


def build_cell_frame_graph(tier: FrameTier, has_cond: bool) -> onnx.ModelProto:
    """frames (B, 1, F) int64, [cond (B, 1, D)], h (L, B, D), [c (L, B, D)] -> cond_out (B, ratio, out), h_out, [c_out].

    The same inputs and outputs as version 1 with T = 1; GRU/LSTM as MatMuls with fused gates (PyTorch's
    gate order and equations), so `quantize_graph` turns every weight into int8.
    """
    weights = _cell_weights(tier)
    d, layers, f = tier.dim, tier.layers, tier.frame_size
    inits = [_const(k, v) for k, v in weights.items()]
    inits += [_const("axis0", np.array([0], dtype=np.int64)), _const("axis1", np.array([1], dtype=np.int64)),
              _const("up_shape", np.array([0, tier.ratio, tier.out_dim], dtype=np.int64))]
    n = helper.make_node
    nodes = [n("Squeeze", ["frames", "axis1"], ["frames2"]), n("Cast", ["frames2"], ["xf"], to=TensorProto.FLOAT)]
    states = ["h", "c"] if tier.is_lstm else ["h"]
    for s in states:
        nodes.append(n("Split", [s], [f"{s}{i}_3d" for i in range(layers)], axis=0, num_outputs=layers)
                     if layers > 1 else n("Identity", [s], [f"{s}0_3d"]))
        for i in range(layers):
            nodes.append(n("Squeeze", [f"{s}{i}_3d", "axis0"], [f"{s}{i}"]))
    if has_cond:
        nodes.append(n("Squeeze", ["cond", "axis1"], ["cond2"]))
    outs: list[str] = []
    x = None
    for i in range(layers):
        p = f"l{i}_"
        if i == 0:
            if has_cond:
                nodes += [n("MatMul", ["xf", f"{p}wf"], [f"{p}gf"]),
                          n("Gemm", ["cond2", f"{p}wc", f"{p}bi"], [f"{p}gc"]),
                          n("Add", [f"{p}gf", f"{p}gc"], [f"{p}gi"])]
            else:
                nodes.append(n("Gemm", ["xf", f"{p}wf", f"{p}bi"], [f"{p}gi"]))
        else:
            nodes.append(n("Gemm", [x, f"{p}wc", f"{p}bi"], [f"{p}gi"]))
        h = f"h{i}"
        nodes.append(n("Gemm", [h, f"{p}wh", f"{p}bh"], [f"{p}gh"]))
        if tier.is_lstm:
            c = f"c{i}"
            nodes += [
                n("Add", [f"{p}gi", f"{p}gh"], [f"{p}g"]),
                n("Split", [f"{p}g", f"{p}lstm_split"], [f"{p}if", f"{p}gg", f"{p}go"], axis=1),
                n("Sigmoid", [f"{p}if"], [f"{p}sif"]),
                n("Split", [f"{p}sif"], [f"{p}si", f"{p}sf"], axis=1, num_outputs=2),
                n("Tanh", [f"{p}gg"], [f"{p}tg"]),
                n("Sigmoid", [f"{p}go"], [f"{p}so"]),
                n("Mul", [f"{p}sf", c], [f"{p}fc"]),
                n("Mul", [f"{p}si", f"{p}tg"], [f"{p}ig"]),
                n("Add", [f"{p}fc", f"{p}ig"], [f"{p}c_new"]),
                n("Tanh", [f"{p}c_new"], [f"{p}tc"]),
                n("Mul", [f"{p}so", f"{p}tc"], [f"{p}h_new"]),
            ]
            inits.append(_const(f"{p}lstm_split", np.array([2 * d, d, d], dtype=np.int64)))
        else:  # r, z = sigmoid(gi + gh)[:2D]; n = tanh(gi_n + r * gh_n); h' = n + z * (h - n)
            nodes += [
                n("Split", [f"{p}gi", f"{p}gru_split"], [f"{p}gi_rz", f"{p}gi_n"], axis=1),
                n("Split", [f"{p}gh", f"{p}gru_split"], [f"{p}gh_rz", f"{p}gh_n"], axis=1),
                n("Add", [f"{p}gi_rz", f"{p}gh_rz"], [f"{p}rz_pre"]),
                n("Sigmoid", [f"{p}rz_pre"], [f"{p}rz"]),
                n("Split", [f"{p}rz"], [f"{p}r", f"{p}z"], axis=1, num_outputs=2),
                n("Mul", [f"{p}r", f"{p}gh_n"], [f"{p}rgh"]),
                n("Add", [f"{p}gi_n", f"{p}rgh"], [f"{p}n_pre"]),
                n("Tanh", [f"{p}n_pre"], [f"{p}n"]),
                n("Sub", [h, f"{p}n"], [f"{p}hn"]),
                n("Mul", [f"{p}z", f"{p}hn"], [f"{p}zhn"]),
                n("Add", [f"{p}n", f"{p}zhn"], [f"{p}h_new"]),
            ]
            inits.append(_const(f"{p}gru_split", np.array([2 * d, d], dtype=np.int64)))
        x = f"{p}h_new"
        outs.append(x)
    top = outs[-1]
    if tier.skips is not None and layers > 1:
        nodes.append(n("Concat", outs, ["skip_in"], axis=1))
        top = "skip_in"
    nodes += [n("Gemm", [top, "up_w", "up_b"], ["up"]), n("Reshape", ["up", "up_shape"], ["cond_out"])]
    for s in states:
        src = [f"l{i}_{s}_new" for i in range(layers)]
        if layers == 1:
            nodes.append(n("Unsqueeze", [src[0], "axis0"], [f"{s}_out"]))
        else:
            nodes += [n("Unsqueeze", [v, "axis0"], [f"{v}_u"]) for v in src]
            nodes.append(n("Concat", [f"{v}_u" for v in src], [f"{s}_out"], axis=0))
    io_in = [helper.make_tensor_value_info("frames", TensorProto.INT64, ["voices", 1, f])]
    if has_cond:
        io_in.append(helper.make_tensor_value_info("cond", TensorProto.FLOAT, ["voices", 1, d]))
    io_out = [helper.make_tensor_value_info("cond_out", TensorProto.FLOAT, ["voices", tier.ratio, tier.out_dim])]
    for s in states:
        io_in.append(helper.make_tensor_value_info(s, TensorProto.FLOAT, [layers, "voices", d]))
        io_out.append(helper.make_tensor_value_info(f"{s}_out", TensorProto.FLOAT, [layers, "voices", d]))
    read = {i for node in nodes for i in node.input}
    graph = helper.make_graph(nodes, "frame_step", io_in, io_out, [i for i in inits if i.name in read])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=IR_VERSION)
    cell = "LSTM" if tier.is_lstm else "GRU"
    model.doc_string = f"rt-samplernn frame tier, frame size {f}, one frame per call (explicit {cell} cell)"
    onnx.checker.check_model(model)
    return model


# ----------------------------------------------------------------------------------------------------------
# The sample graph: Loop over one frame with in-graph Gumbel-max sampling
# ----------------------------------------------------------------------------------------------------------


def _const(name: str, array: np.ndarray) -> TensorProto:
    array = np.asarray(array)
    return numpy_helper.from_array(array if array.flags.c_contiguous else np.ascontiguousarray(array), name)


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


def build_sample_graph(sample: SampleTier) -> onnx.ModelProto:
    """Bundle version 1: prev (B, F0) int64, cond (B, F0, S') float, noise (B, F0, Q) float, temperature (B,)
    -> samples (B, F0), an ONNX Loop over the frame. Kept so the previous format can be benched side by side.
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
    return _sample_model(outer, inits, f0, s_dim, q, "Loop over the frame")


def _sample_model(nodes: list, inits: list, f0: int, s_dim: int, q: int, how: str) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "sample",
        [helper.make_tensor_value_info("prev", TensorProto.INT64, ["voices", f0]),
         helper.make_tensor_value_info("cond", TensorProto.FLOAT, ["voices", f0, s_dim]),
         helper.make_tensor_value_info("noise", TensorProto.FLOAT, ["voices", f0, q]),
         helper.make_tensor_value_info("temperature", TensorProto.FLOAT, ["voices"])],
        [helper.make_tensor_value_info("samples", TensorProto.INT64, ["voices", f0])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    model.doc_string = f"rt-samplernn sample tier: one frame of samples per call ({how})"
    onnx.checker.check_model(model)
    return model


def build_unrolled_sample_graph(sample: SampleTier) -> onnx.ModelProto:
    """Bundle version 2: the same inputs and output as version 1, the frame unrolled into plain nodes.

    Once per frame: `acc[:, j]`, step j's first-layer pre-activation as far as it is known (conditioning plus
    the table rows of the previous frame's samples in its window), one Gather + ReduceSum; and noise *
    temperature + the output bias. Step j: ReLU MLP on acc[:, j], ArgMax, then the drawn sample's table rows
    for every later step of the frame (a Gather of F0 rows, zero rows for the steps before) added to acc.
    About ten nodes per sample, no Loop, no window copies.
    """
    f0, q = sample.frame_size, sample.embedding.num_embeddings
    table = sample_table(sample)
    s_dim = table.shape[1]
    zero_row = f0 * q
    inits, gemms, kind = _sample_weights(sample)
    inits[0] = _const("table", np.concatenate([table, np.zeros((q, s_dim), np.float32)]))  # + Q zero rows
    j, p = np.meshgrid(np.arange(f0), np.arange(f0), indexing="ij")
    valid = (j + p < f0).astype(np.int64)  # step j, window position p reads prev[j + p] while j + p < F0
    inits += [
        _const("prev_pick", np.minimum(j + p, f0 - 1).astype(np.int64)),
        _const("prev_valid", valid),
        _const("prev_offsets", np.where(valid == 1, p * q, zero_row).astype(np.int64)),
        _const("axis2", np.array([2], dtype=np.int64)),
        _const("temp_axes", np.array([1, 2], dtype=np.int64)),
    ]
    n = helper.make_node
    nodes = [
        n("Gather", ["prev", "prev_pick"], ["prev_seen"], axis=1),  # (B, F0 steps, F0 positions)
        n("Mul", ["prev_seen", "prev_valid"], ["prev_masked"]),
        n("Add", ["prev_masked", "prev_offsets"], ["prev_idx"]),
        n("Gather", ["table", "prev_idx"], ["prev_rows"]),  # (B, F0, F0, S')
        n("ReduceSum", ["prev_rows", "axis2"], ["prev_sum"], keepdims=0),
        n("Add", ["prev_sum", "cond"], ["acc0"]),  # (B, F0, S')
        n("Unsqueeze", ["temperature", "temp_axes"], ["temp3"]),
        n("Mul", ["noise", "temp3"], ["scaled_noise"]),
    ]
    last_w, last_b = gemms[-1] if gemms else (None, None)
    if gemms:  # the last Gemm adds bias + noise in one go
        nodes.append(n("Add", ["scaled_noise", last_b], ["bias_noise"]))
    drawn: list[str] = []
    for step in range(f0):
        s = f"s{step}_"
        inits.append(_const(f"{s}i", np.array(step, dtype=np.int64)))
        nodes.append(n("Gather", [f"acc{step}", f"{s}i"], [f"{s}pre0"], axis=1))  # (B, S')
        if kind == "mlp":
            nodes.append(n("Relu", [f"{s}pre0"], [f"{s}act0"]))
            x = f"{s}act0"
            for i, (w, b) in enumerate(gemms[:-1]):
                nodes.append(n("Gemm", [x, w, b], [f"{s}pre{i + 1}"], transB=1))
                nodes.append(n("Relu", [f"{s}pre{i + 1}"], [f"{s}act{i + 1}"]))
                x = f"{s}act{i + 1}"
            nodes.append(n("Gather", ["bias_noise", f"{s}i"], [f"{s}bn"], axis=1))
            nodes.append(n("Gemm", [x, last_w, f"{s}bn"], [f"{s}perturbed"], transB=1))
        else:
            nodes.append(n("Gather", ["scaled_noise", f"{s}i"], [f"{s}noise"], axis=1))
            nodes.append(n("Add", [f"{s}pre0", f"{s}noise"], [f"{s}perturbed"]))
        nodes.append(n("ArgMax", [f"{s}perturbed"], [f"{s}d"], axis=1, keepdims=1))  # (B, 1)
        drawn.append(f"{s}d")
        if step < f0 - 1:  # sample `step` sits at window position F0 - j + step of each later step j
            later = np.arange(f0)
            offsets = np.where(later > step, (f0 - later + step) * q, zero_row).astype(np.int64)  # + d: a zero row
            inits.append(_const(f"{s}offsets", offsets[None, :]))
            nodes += [
                n("Add", [f"{s}d", f"{s}offsets"], [f"{s}idx"]),  # (B, F0)
                n("Gather", ["table", f"{s}idx"], [f"{s}rows"]),  # (B, F0, S')
                n("Add", [f"acc{step}", f"{s}rows"], [f"acc{step + 1}"]),
            ]
    nodes.append(n("Concat", drawn, ["samples"], axis=1))
    return _sample_model(nodes, inits, f0, s_dim, q, "the frame unrolled")


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


def _nbits_node(x: str, weight_kn: np.ndarray, wname: str, bias: str | None, out: str, name: str,
                model: onnx.ModelProto, done: set[str]) -> onnx.NodeProto:
    """An int8 MatMulNBits computing x @ weight_kn (+ bias); the weight is quantized and stored once per name."""
    qname, sname = f"{wname}_int8", f"{wname}_scales"
    if wname not in done:
        q, scales = _quantize_int8(weight_kn)
        model.graph.initializer.extend([numpy_helper.from_array(q, qname), numpy_helper.from_array(scales, sname)])
        done.add(wname)
    inputs = [x, qname, sname] + (["", "", bias] if bias else [])
    return helper.make_node(
        "MatMulNBits", inputs, [out], name=f"{name}_int8", domain="com.microsoft",
        K=weight_kn.shape[0], N=weight_kn.shape[1], bits=8, block_size=INT8_BLOCK,
        accuracy_level=4,  # int8 compute: the fast path (accuracy_level 0 is ~20x slower here)
    )


def quantize_graph(model: onnx.ModelProto) -> int:
    """Replace every MatMul and Gemm whose weight is a constant 2-D initializer with K a
    multiple of 32 by an int8 MatMulNBits (onnxruntime contrib op); returns how many. In place.

    A Gemm's constant 1-D bias becomes MatMulNBits' bias input; any other C is added by an Add node.
    """
    inits = {i.name: i for i in model.graph.initializer}
    nodes: list[onnx.NodeProto] = []
    count = 0
    used: set[str] = set()
    for node in model.graph.node:
        weight = inits.get(node.input[1]) if node.op_type in ("MatMul", "Gemm") and len(node.input) >= 2 else None
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        gemm_ok = node.op_type == "MatMul" or (not attrs.get("transA") and attrs.get("alpha", 1.0) == 1.0
                                               and attrs.get("beta", 1.0) == 1.0)
        if weight is None or not gemm_ok or len(weight.dims) != 2:
            nodes.append(node)
            continue
        array = numpy_helper.to_array(weight)
        array = array.T if attrs.get("transB") else array  # (K, N)
        if array.shape[0] % INT8_BLOCK:
            nodes.append(node)
            continue
        c = node.input[2] if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2] else None
        const_bias = c is not None and c in inits and len(inits[c].dims) == 1
        out = node.output[0] if c is None or const_bias else f"{node.output[0]}_nobias"
        nodes.append(_nbits_node(node.input[0], array, weight.name, c if const_bias else None, out,
                                 node.name or node.output[0], model, used))
        if c is not None and not const_bias:
            nodes.append(helper.make_node("Add", [out, c], [node.output[0]]))
        count += 1
    still = {i for n in nodes for i in n.input}
    for name in used - still:
        model.graph.initializer.remove(inits[name])
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    if count and not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return count


def quantize_frame_graph(path: Path) -> int:
    """Bundle version 1's int8: every constant-weight MatMul of a frame graph file as MatMulNBits (the GRU/LSTM
    op keeps fp32 weights). About 1% relative error in the conditioning; needs onnxruntime's contrib ops."""
    model = onnx.load(str(path))
    count = quantize_graph(model)
    onnx.save(model, str(path))
    return count


# ----------------------------------------------------------------------------------------------------------
# The bundle
# ----------------------------------------------------------------------------------------------------------


def export_bundle(model: SampleRNN, out_dir: str | Path, source: str | None = None, int8: bool = False,
                  version: int = VERSION) -> Path:
    """Write model.json and one graph per tier into out_dir (created); returns the manifest path.

    version 2 (the default): one-frame step graphs with explicit RNN cells and an unrolled sample graph;
    int8 stores every weight matrix of all three graphs as int8 (MatMulNBits). version 1 (the first
    release's format, kept to bench side by side): GRU/LSTM ops, a Loop sample graph, int8 only in the frame
    graphs' MatMuls. The fp32 export of either verifies to 1e-4.
    """
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"bundle version must be one of {SUPPORTED_VERSIONS}, not {version}")
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
        if version == 1:
            export_frame_graph(tier, has_cond, path)
            if int8:
                quantize_frame_graph(path)
        else:
            graph = build_cell_frame_graph(tier, has_cond)
            if int8:
                quantize_graph(graph)
            onnx.save(graph, str(path))
        inputs, outputs, states = frame_io(tier, has_cond, tier.out_dim, below, steps="frames" if version == 1 else 1)
        graphs.append(dict(name=name, file=path.name, kind="frame", tier=k, frame_size=tier.frame_size,
                           ratio=tier.ratio, inputs=inputs, outputs=outputs, states=states))
    path = out_dir / "sample.onnx"
    if version == 1:
        sample_graph = build_sample_graph(model.sample_tier)
    else:
        sample_graph = build_unrolled_sample_graph(model.sample_tier)
        if int8:
            quantize_graph(sample_graph)
    onnx.save(sample_graph, str(path))
    inputs, outputs = sample_io(cfg.frame_sizes[0], s_dim, cfg.q_levels)
    graphs.append(dict(name="sample", file=path.name, kind="sample", frame_size=cfg.frame_sizes[0],
                       inputs=inputs, outputs=outputs, states=[]))
    for g in graphs:
        g["sha256"] = sha256_file(out_dir / g["file"])
    weights = "fp32" if not int8 else "int8-frame-matmuls" if version == 1 else "int8"
    manifest = dict(
        format=FORMAT,
        version=version,
        exporter=dict(name="rt-samplernn", version=__version__, torch=torch.__version__.split("+")[0],
                      onnx_opset=OPSET),
        source=source,
        config=to_dict(cfg),
        sample_rate=cfg.sample_rate,
        quantization=dict(type=cfg.q_type, levels=cfg.q_levels, zero_level=zero_level(cfg.q_levels)),
        frame_sizes=list(cfg.frame_sizes),
        weights=weights,
        graphs=graphs,
    )
    manifest_path = out_dir / MANIFEST
    tmp = manifest_path.with_name(f".{MANIFEST}.part")
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    tmp.replace(manifest_path)
    return manifest_path
