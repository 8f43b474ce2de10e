"""int8 weights for the step graphs: constant-weight MatMul/Gemm nodes -> onnxruntime's MatMulNBits (8 bits)."""

from __future__ import annotations

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


ROW_FORMS = ("u8s7", "u8s8", "s8s8", "u8u8")  # activations x weights of row_scaled_nodes; the first is written
ROW_FORM = "u8s7"
# Why u8 x s7 (benchmarks/int8_kernels.py, RESULTS "int8 on every kernel path"): onnxruntime's AVX2 and AVX-512BW
# kernels without VNNI add pairs of u8 x s8 products in int16 with saturation (2 x 255 x 127 > 32767), so 8-bit
# weights (the `u8s8` of bundles before 2026-12-07) compute wrong on those CPUs; with 7-bit weights a pair is at
# most 2 x 255 x 63 = 32130 and every kernel path (SSE, AVX2, AVX-512, VNNI, ARM64) is exact, at u8 x s8 speed.
_ROW_FORM_LEVELS = {"u8s7": (127, 63), "u8s8": (127, 127), "s8s8": (127, 127), "u8u8": (127, 127)}


def row_scaled_nodes(
    x: str,
    weight_kn: np.ndarray,
    wname: str,
    bias: str | None,
    out: str,
    name: str,
    model: onnx.ModelProto,
    done: set[str],
    form: str = ROW_FORM,
) -> list[onnx.NodeProto]:
    """x @ weight_kn (+ bias) as standard ONNX MatMulInteger with one activation scale per row (per voice).

    Row r of x is scaled by m_r = max|x_r| into [-1, 1] and quantized to 8 bits (scale 1/127: uint8 around 128,
    or int8 around 0 for `s8s8`); the weight is quantized per column c_n to w_levels steps each side of zero
    (63 for `u8s7`, else 127), as int8 (uint8 around 128 for `u8u8`). y = (q - zq) @ (Wq - zw) * m_r * c_n / 127
    (+ bias). Each row's result depends on that row only, so voices stay independent; unlike MatMulNBits, the
    integer kernel reads the weights once for the whole batch. form: one of ROW_FORMS (ROW_FORM above says why).
    """
    x_levels, w_levels = _ROW_FORM_LEVELS[form]
    x_signed, w_unsigned = form == "s8s8", form == "u8u8"
    qname, sname = f"{wname}_{form}", f"{wname}_colscale"
    if wname not in done:
        col = np.abs(weight_kn.astype(np.float64)).max(axis=0) / w_levels
        col[col == 0] = 1.0
        q = np.clip(np.round(weight_kn / col), -w_levels, w_levels).astype(np.int16)
        wq = (q + 128).astype(np.uint8) if w_unsigned else q.astype(np.int8)
        model.graph.initializer.extend(
            [numpy_helper.from_array(wq, qname), numpy_helper.from_array((col / x_levels).astype(np.float32), sname)]
        )
        done.add(wname)
    zero = "rowq_zero_s8" if x_signed else "rowq_zero"
    if "rowq_axes" not in done:
        model.graph.initializer.extend(
            [
                numpy_helper.from_array(np.array([-1], np.int64), "rowq_axes"),
                numpy_helper.from_array(np.array(1e-30, np.float32), "rowq_tiny"),
                numpy_helper.from_array(np.array(1 / x_levels, np.float32), "rowq_step"),
            ]
        )
        done.add("rowq_axes")
    if zero not in done:
        zero_value = np.array(0, np.int8) if x_signed else np.array(128, np.uint8)
        model.graph.initializer.append(numpy_helper.from_array(zero_value, zero))
        done.add(zero)
    w_zero = ["rowq_zero"] if w_unsigned else []
    p = f"{name}_rowq_"
    n = helper.make_node
    # Mul by the row scale, then by the column scale: onnxruntime's MatMulIntegerToFloat fusion must not see
    # one (rows x columns) scale tensor, which it would misread as a per-tensor scale.
    return [
        n("Abs", [x], [f"{p}abs"]),
        n("ReduceMax", [f"{p}abs", "rowq_axes"], [f"{p}max0"], keepdims=1),
        n("Max", [f"{p}max0", "rowq_tiny"], [f"{p}max"]),  # an all-zero row stays zero
        n("Div", [x, f"{p}max"], [f"{p}unit"]),
        n("QuantizeLinear", [f"{p}unit", "rowq_step", zero], [f"{p}q"]),
        n("MatMulInteger", [f"{p}q", qname, zero, *w_zero], [f"{p}acc"]),
        n("Cast", [f"{p}acc"], [f"{p}accf"], to=onnx.TensorProto.FLOAT),
        n("Mul", [f"{p}accf", f"{p}max"], [f"{p}rows"]),
        n("Mul", [f"{p}rows", sname], [out if bias is None else f"{p}cols"]),
        *([n("Add", [f"{p}cols", bias], [out])] if bias is not None else []),
    ]


def quantize_graph(
    model: onnx.ModelProto,
    row_scaled_min_weights: int | None = None,
    blocks: tuple[int, ...] = INT8_BLOCKS,
    row_form: str = ROW_FORM,
) -> int:
    """Replace every MatMul and Gemm whose weight is a constant 2-D initializer with K a
    multiple of 32 by an int8 MatMulNBits (onnxruntime contrib op); returns how many. In place.

    A Gemm's constant 1-D bias becomes MatMulNBits' bias input; any other C is added by an Add node.
    row_scaled_min_weights: matrices of at least this many weights become per-row scaled MatMulInteger
    instead (`row_scaled_nodes`); None: none do. blocks: MatMulNBits block sizes, the largest dividing K
    is used ((32,): the first releases' exports). row_form: the row-scaled matrices' form (ROW_FORMS).
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
            nodes.extend(row_scaled_nodes(*args, form=row_form))
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


def exact_row_scaled(model: onnx.ModelProto, x: np.ndarray, weight: str = "W") -> np.ndarray:
    """What a graph of one `row_scaled_nodes` matmul (weight named `weight`) computes for x with exact integer
    arithmetic (int64) on its own quantized values: the reference a CPU's MatMulInteger kernel must equal. The
    activations are quantized in float32 as the graph's Div and QuantizeLinear do (round half to even)."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    (wq,) = (v for k, v in inits.items() if k.startswith(f"{weight}_") and v.ndim == 2)
    w_zero = 128 if wq.dtype == np.uint8 else 0
    x_signed = "rowq_zero_s8" in inits
    x_zero = 0 if x_signed else 128
    peak = np.maximum(np.abs(x).max(axis=-1, keepdims=True), np.float32(1e-30)).astype(np.float32)
    unit = (x / peak).astype(np.float32) / inits["rowq_step"]
    xq = np.clip(np.round(unit) + x_zero, -128 if x_signed else 0, 127 if x_signed else 255).astype(np.int64)
    acc = (xq - x_zero) @ (wq.astype(np.int64) - w_zero)
    bias = inits.get("b", np.zeros(acc.shape[-1], np.float32)).astype(np.float64)
    return acc * peak.astype(np.float64) * inits[f"{weight}_colscale"].astype(np.float64) + bias
