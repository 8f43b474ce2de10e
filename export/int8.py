"""int8 weights for the step graphs: constant-weight MatMul/Gemm nodes -> onnxruntime's MatMulNBits (8 bits)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

INT8_BLOCK = 32  # the smallest quantization block (one fp32 scale each); K must be a multiple of it
INT8_BLOCKS = (256, 128, 64, 32)  # the block is the largest of these that divides K: fewer scales, faster kernel
ROW_SCALED_MIN_WEIGHTS = 512 * 1024  # per-row MatMulInteger from this size (the live preset's frame-tier gates
# and upsamplings; the sample tier's 256x256 stay MatMulNBits)


def _block_size(k: int, blocks: tuple[int, ...] = INT8_BLOCKS) -> int:
    return next(b for b in blocks if k % b == 0)


def _quantize_int8(weight: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """(K, N) fp32 -> MatMulNBits layout: uint8 (N, K/block, block) with zero point 128, fp32 scales (N*K/block)."""
    k, n = weight.shape
    blocks = weight.T.reshape(n, k // block, block).astype(np.float64)
    scale = np.abs(blocks).max(axis=2) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(blocks / scale[..., None]), -127, 127).astype(np.int32) + 128
    return q.astype(np.uint8), scale.astype(np.float32).reshape(-1)


def nbits_node(
    x: str,
    weight_kn: np.ndarray,
    wname: str,
    bias: str | None,
    out: str,
    name: str,
    model: onnx.ModelProto,
    done: set[str],
    blocks: tuple[int, ...] = INT8_BLOCKS,
) -> onnx.NodeProto:
    """An int8 MatMulNBits computing x @ weight_kn (+ bias); the weight is quantized and stored once per name."""
    qname, sname = f"{wname}_int8", f"{wname}_scales"
    block = _block_size(weight_kn.shape[0], blocks)
    if wname not in done:
        q, scales = _quantize_int8(weight_kn, block)
        model.graph.initializer.extend([numpy_helper.from_array(q, qname), numpy_helper.from_array(scales, sname)])
        done.add(wname)
    inputs = [x, qname, sname] + (["", "", bias] if bias else [])
    return helper.make_node(
        "MatMulNBits",
        inputs,
        [out],
        name=f"{name}_int8",
        domain="com.microsoft",
        K=weight_kn.shape[0],
        N=weight_kn.shape[1],
        bits=8,
        block_size=block,
        accuracy_level=4,  # int8 compute: the fast path (accuracy_level 0 is ~20x slower here)
    )


def row_scaled_nodes(
    x: str,
    weight_kn: np.ndarray,
    wname: str,
    bias: str | None,
    out: str,
    name: str,
    model: onnx.ModelProto,
    done: set[str],
) -> list[onnx.NodeProto]:
    """x @ weight_kn (+ bias) as standard ONNX MatMulInteger with one activation scale per row (per voice).

    Row r of x is scaled by m_r = max|x_r| into [-1, 1] and quantized to uint8 around 128 (scale 1/127); the
    weight is int8 with one scale per column c_n. y = (q - 128) @ Wq * m_r * c_n / 127 (+ bias). Each row's
    result depends on that row only, so voices stay independent; unlike MatMulNBits, the integer kernel
    reads the weights once for the whole batch.
    """
    qname, sname = f"{wname}_s8", f"{wname}_colscale"
    if wname not in done:
        col = np.abs(weight_kn.astype(np.float64)).max(axis=0) / 127.0
        col[col == 0] = 1.0
        q = np.clip(np.round(weight_kn / col), -127, 127).astype(np.int8)
        model.graph.initializer.extend(
            [numpy_helper.from_array(q, qname), numpy_helper.from_array((col / 127.0).astype(np.float32), sname)]
        )
        done.add(wname)
    if "rowq_axes" not in done:
        model.graph.initializer.extend(
            [
                numpy_helper.from_array(np.array([-1], np.int64), "rowq_axes"),
                numpy_helper.from_array(np.array(1e-30, np.float32), "rowq_tiny"),
                numpy_helper.from_array(np.array(1 / 127, np.float32), "rowq_step"),
                numpy_helper.from_array(np.array(128, np.uint8), "rowq_zero"),
            ]
        )
        done.add("rowq_axes")
    p = f"{name}_rowq_"
    n = helper.make_node
    # Mul by the row scale, then by the column scale: onnxruntime's MatMulIntegerToFloat fusion must not see
    # one (rows x columns) scale tensor, which it would misread as a per-tensor scale.
    return [
        n("Abs", [x], [f"{p}abs"]),
        n("ReduceMax", [f"{p}abs", "rowq_axes"], [f"{p}max0"], keepdims=1),
        n("Max", [f"{p}max0", "rowq_tiny"], [f"{p}max"]),  # an all-zero row stays zero
        n("Div", [x, f"{p}max"], [f"{p}unit"]),
        n("QuantizeLinear", [f"{p}unit", "rowq_step", "rowq_zero"], [f"{p}q"]),
        n("MatMulInteger", [f"{p}q", qname, "rowq_zero"], [f"{p}acc"]),
        n("Cast", [f"{p}acc"], [f"{p}accf"], to=onnx.TensorProto.FLOAT),
        n("Mul", [f"{p}accf", f"{p}max"], [f"{p}rows"]),
        n("Mul", [f"{p}rows", sname], [out if bias is None else f"{p}cols"]),
        *([n("Add", [f"{p}cols", bias], [out])] if bias is not None else []),
    ]


def quantize_graph(
    model: onnx.ModelProto, row_scaled_min_weights: int | None = None, blocks: tuple[int, ...] = INT8_BLOCKS
) -> int:
    """Replace every MatMul and Gemm whose weight is a constant 2-D initializer with K a
    multiple of 32 by an int8 MatMulNBits (onnxruntime contrib op); returns how many. In place.

    A Gemm's constant 1-D bias becomes MatMulNBits' bias input; any other C is added by an Add node.
    row_scaled_min_weights: matrices of at least this many weights become per-row scaled MatMulInteger
    instead (`row_scaled_nodes`); None: none do. blocks: MatMulNBits block sizes, the largest dividing K
    is used ((32,): the first releases' exports).
    """
    inits = {i.name: i for i in model.graph.initializer}
    nodes: list[onnx.NodeProto] = []
    count = 0
    used: set[str] = set()
    for node in model.graph.node:
        weight = inits.get(node.input[1]) if node.op_type in ("MatMul", "Gemm") and len(node.input) >= 2 else None
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        gemm_ok = node.op_type == "MatMul" or (
            not attrs.get("transA") and attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0
        )
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
        args = (
            node.input[0],
            array,
            weight.name,
            c if const_bias else None,
            out,
            node.name or node.output[0],
            model,
            used,
        )
        if row_scaled_min_weights is not None and array.size >= row_scaled_min_weights:
            nodes.extend(row_scaled_nodes(*args))
        else:
            nodes.append(nbits_node(*args, blocks))
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
    count = quantize_graph(model, blocks=(INT8_BLOCK,))
    onnx.save(model, str(path))
    return count
