"""int8 weights for the step graphs: constant-weight MatMul/Gemm nodes -> onnxruntime's MatMulNBits (8 bits)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

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
