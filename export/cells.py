"""Bundle version 2 frame graphs: one frame per call, the GRU/LSTM written out as MatMuls (int8-ready)."""

from __future__ import annotations

from typing import cast

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

from rt_samplernn.export.common import IR_VERSION
from rt_samplernn.export.common import const as _const
from rt_samplernn.model import FrameTier


@torch.no_grad()
def _cell_weights(tier: FrameTier) -> dict[str, np.ndarray]:
    """The tier's weights folded for one step, in float64 -> float32, as (K, N) matrices.

    Layer 0's input projection absorbs the frame rescaling and `expand`: gates_in = frames @ Wf + cond @ Wc + b;
    skip projections and the upsampling fold into one matrix over the concatenated layer outputs.
    """
    q = tier.q_levels
    w: dict[str, torch.Tensor] = {}
    expand_w, expand_b = tier.expand.weight.double(), tier.expand.bias.double()  # (D, F), (D,)
    for i, rnn in enumerate(tier.rnns):
        # (G*D, in), (G*D, D), (G*D,), (G*D,); torch types these generated names as Tensor | Module
        w_ih, w_hh, b_ih, b_hh = (
            cast(torch.Tensor, getattr(rnn, f"{name}_l0")).double()
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
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
    inits += [
        _const("axis0", np.array([0], dtype=np.int64)),
        _const("axis1", np.array([1], dtype=np.int64)),
        _const("up_shape", np.array([0, tier.ratio, tier.out_dim], dtype=np.int64)),
    ]
    n = helper.make_node
    nodes = [n("Squeeze", ["frames", "axis1"], ["frames2"]), n("Cast", ["frames2"], ["xf"], to=TensorProto.FLOAT)]
    states = ["h", "c"] if tier.is_lstm else ["h"]
    for s in states:
        nodes.append(
            n("Split", [s], [f"{s}{i}_3d" for i in range(layers)], axis=0, num_outputs=layers)
            if layers > 1
            else n("Identity", [s], [f"{s}0_3d"])
        )
        for i in range(layers):
            nodes.append(n("Squeeze", [f"{s}{i}_3d", "axis0"], [f"{s}{i}"]))
    if has_cond:
        nodes.append(n("Squeeze", ["cond", "axis1"], ["cond2"]))
    outs: list[str] = []
    x = "xf"  # the previous layer's output: layer 0 reads the frames (and cond) instead
    for i in range(layers):
        p = f"l{i}_"
        if i == 0:
            if has_cond:
                nodes += [
                    n("MatMul", ["xf", f"{p}wf"], [f"{p}gf"]),
                    n("Gemm", ["cond2", f"{p}wc", f"{p}bi"], [f"{p}gc"]),
                    n("Add", [f"{p}gf", f"{p}gc"], [f"{p}gi"]),
                ]
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
