"""The version-1 bundle writer (the first release's format), kept so the formats can be benched side by side
and the loader's version-1 path tested: frame graphs exported by torch.onnx (GRU/LSTM ops, T frames a
call), a sample graph that is an ONNX Loop over the frame. `export_bundle(..., version=1)` calls it; reading
version 1 is rt_samplernn/live/bundle.py's. docs/bundle.md describes both versions.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from torch import Tensor, nn

from rt_samplernn.export.common import IR_VERSION, OPSET
from rt_samplernn.export.common import const as _const
from rt_samplernn.export.int8 import quantize_frame_graph
from rt_samplernn.export.onnx_export import sample_model, sample_table, sample_weights
from rt_samplernn.model import FrameTier, SampleTier


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


def write_v1_frame_graph(tier: FrameTier, has_cond: bool, path: Path, int8: bool) -> None:
    """A version-1 frame graph: torch.onnx's export of FrameTier.forward (GRU/LSTM ops, T frames a call); with
    int8, its MatMuls quantized."""
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
            _FrameStep(tier, has_cond),
            tuple(args),
            buf,  # type: ignore[arg-type]  # torch annotates paths only; the TorchScript exporter takes files too
            input_names=names,
            output_names=out_names,
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    model = onnx.load_from_string(buf.getvalue())
    model.ir_version = min(model.ir_version, IR_VERSION)
    model.doc_string = f"rt-samplernn frame tier, frame size {tier.frame_size}"
    onnx.save(model, str(path))
    if int8:
        quantize_frame_graph(path)


def logits_nodes(window: str, cond: str, gemms: list[tuple[str, str]], has_hidden: bool, p: str) -> tuple[list, str]:
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


def build_v1_sample_graph(sample: SampleTier) -> onnx.ModelProto:
    """Bundle version 1: prev (B, F0) int64, cond (B, F0, S') float, noise (B, F0, Q) float, temperature (B,)
    -> samples (B, F0), an ONNX Loop over the frame. Kept so the previous format can be benched side by side.
    """
    f0, q = sample.frame_size, sample.embedding.num_embeddings
    s_dim = sample_table(sample).shape[1]
    inits, gemms, kind = sample_weights(sample)
    inits += [
        _const("slice_start", np.array([1], dtype=np.int64)),
        _const("slice_end", np.array([f0], dtype=np.int64)),
        _const("slice_axes", np.array([1], dtype=np.int64)),
        _const("temp_axes", np.array([1, 2], dtype=np.int64)),
        _const("n_steps", np.array(f0, dtype=np.int64)),
    ]
    step_nodes, logits = logits_nodes("window", "cond_i", gemms, kind == "mlp", "")
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
        *step_nodes,
        *draw,
    ]
    body_graph = helper.make_graph(
        body,
        "sample_step",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("keep_in", TensorProto.BOOL, []),
            window_in,
        ],
        [helper.make_tensor_value_info("keep_out", TensorProto.BOOL, []), window_out],
    )
    outer.append(helper.make_node("Loop", ["n_steps", "", "prev"], ["samples"], body=body_graph))
    return sample_model(outer, inits, f0, s_dim, q, "Loop over the frame")
