"""One weight matrix, one graph: fp32 Gemm against the int8 forms the exporter can write, for 1, 2 and 4 voices.

    python benchmarks/int8_kernels.py                         # 256x256, 512x1536, 512x4096
    python benchmarks/int8_kernels.py --shapes 512x4096 --calls 2000

Forms: fp32 Gemm; MatMulNBits (onnxruntime contrib, int8, accuracy_level 4) with 32-weight blocks (the
first version-2 exports) and with the block the exporter now picks (export/int8._block_size); per-row scaled
MatMulInteger (export/int8.row_scaled_nodes, what int8 bundles use for big frame-tier matrices); and
DynamicQuantizeLinear + MatMulInteger, one activation scale for the whole batch (for comparison only: it
makes one voice depend on another). Prints p50 us per call, the relative error against fp32 and whether
row 1's output stays bit-identical when row 0 (another voice) gets 3x louder.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from rt_samplernn.export.int8 import INT8_BLOCK, nbits_node, row_scaled_nodes
from rt_samplernn.live.stepper import session_options

FORMS = ("fp32", "nbits-32", "nbits", "rows", "batch-scale")


def build(form: str, w: np.ndarray, b: np.ndarray) -> onnx.ModelProto:
    k, n = w.shape
    model = helper.make_model(
        helper.make_graph(
            [],
            "one_matmul",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["M", k])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["M", n])],
            [numpy_helper.from_array(b, "b")],
        ),
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)],
        ir_version=8,
    )
    node = helper.make_node
    if form == "fp32":
        model.graph.initializer.append(numpy_helper.from_array(w, "W"))
        nodes = [node("Gemm", ["x", "W", "b"], ["y"])]
    elif form.startswith("nbits"):
        blocks = (INT8_BLOCK,) if form == "nbits-32" else None
        nodes = [nbits_node("x", w, "W", "b", "y", "mm", model, set(), *([blocks] if blocks else []))]
    elif form == "rows":
        nodes = row_scaled_nodes("x", w, "W", "b", "y", "mm", model, set())
    else:  # batch-scale
        col = np.abs(w).max(axis=0) / 127.0
        model.graph.initializer.extend(
            [
                numpy_helper.from_array(np.round(w / col).astype(np.int8), "Wq"),
                numpy_helper.from_array(col.astype(np.float32), "col"),
            ]
        )
        nodes = [
            node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"]),
            node("MatMulInteger", ["q", "Wq", "z"], ["acc"]),
            node("Cast", ["acc"], ["accf"], to=TensorProto.FLOAT),
            node("Mul", ["s", "col"], ["sc"]),
            node("Mul", ["accf", "sc"], ["yb"]),
            node("Add", ["yb", "b"], ["y"]),
        ]
    model.graph.node.extend(nodes)
    return model


def measure(form: str, k: int, n: int, voices: int, calls: int) -> tuple[float, float, bool | None]:
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
    b = (rng.standard_normal(n) * 0.1).astype(np.float32)
    session = ort.InferenceSession(
        build(form, w, b).SerializeToString(), session_options(1), providers=["CPUExecutionProvider"]
    )
    x = rng.standard_normal((voices, k)).astype(np.float32)
    y = session.run(None, {"x": x})[0]
    ref = x @ w + b
    error = float(np.abs(y - ref).max() / np.abs(ref).max())
    independent = None
    if voices > 1:
        louder = x.copy()
        louder[0] *= 3
        independent = bool(np.array_equal(session.run(None, {"x": louder})[0][1:], y[1:]))
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        session.run(None, {"x": x})
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6, error, independent


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", nargs="+", default=["256x256", "512x1536", "512x4096"], help="KxN weight shapes")
    p.add_argument("--voices", nargs="+", type=int, default=[1, 2, 4])
    p.add_argument("--calls", type=int, default=1000, help="timed calls per cell (p50 reported)")
    args = p.parse_args()
    print(
        "p50 us per call (one thread); err: max |int8 - fp32| / max |fp32|; indep: row 1 unchanged when row 0 changes"
    )
    print(f"{'matrix':<10} {'form':<12} " + " ".join(f"{f'{v} voice(s)':>12}" for v in args.voices) + "     err  indep")
    for shape in args.shapes:
        k, n = (int(s) for s in shape.split("x"))
        for form in FORMS:
            cells = [measure(form, k, n, v, args.calls) for v in args.voices]
            indep = [c[2] for c in cells if c[2] is not None]
            print(
                f"{shape:<10} {form:<12} "
                + " ".join(f"{c[0]:>12.1f}" for c in cells)
                + f"  {cells[0][1]:.4f}  {all(indep) if indep else '-'}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
