"""One weight matrix, one graph: fp32 Gemm against the int8 forms the exporter can write, for 1, 2 and 4 voices.

    python benchmarks/int8_kernels.py                         # 256x256, 512x1536, 512x4096
    python benchmarks/int8_kernels.py --shapes 512x4096 --calls 2000

Forms: fp32 Gemm; MatMulNBits (onnxruntime contrib, int8, accuracy_level 4) with 32-weight blocks (the
first version-2 exports) and with the block the exporter now picks (export/int8._block_size); per-row scaled
MatMulInteger (export/int8.row_scaled_nodes, what int8 bundles use for big frame-tier matrices) in each of
its forms (activations x weights: u8 x s7, the one written now; u8 x s8, the bundles before 2026-12-07; s8 x s8;
u8 x u8); and DynamicQuantizeLinear + MatMulInteger, one activation scale for the whole batch (for comparison
only: it makes one voice depend on another). Prints p50 us per call, the relative error against fp32, the
relative error of the integer kernel against exact integer arithmetic on the same quantized values (0 where
the kernel is exact; the u8 x s8 pair saturation of AVX2 without VNNI shows here), and whether row 1's output
stays bit-identical when row 0 (another voice) gets 3x louder.

Another CPU's kernel path, on any x86 machine (Debian's qemu-user; timings under emulation mean nothing):

    python benchmarks/int8_kernels.py --cpu Haswell --calls 3 --shapes 512x1536   # AVX2, no AVX-512, no VNNI
    python benchmarks/int8_kernels.py --cpu Nehalem --calls 3 --shapes 512x1536   # SSE4.2 only
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from rt_samplernn.export.int8 import INT8_BLOCK, ROW_FORMS, exact_row_scaled, nbits_node, row_scaled_nodes
from rt_samplernn.live.stepper import session_options

FORMS = ("fp32", "nbits-32", "nbits", *(f"rows-{f}" for f in ROW_FORMS), "batch-scale")


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
    elif form.startswith("rows-"):
        nodes = row_scaled_nodes("x", w, "W", "b", "y", "mm", model, set(), form.removeprefix("rows-"))
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


def integer_error(model: onnx.ModelProto, x: np.ndarray, y: np.ndarray) -> float | None:
    """max |y - exact| / max |exact| for a rows-* graph (export/int8.exact_row_scaled); None for the others."""
    if not any(n.op_type == "MatMulInteger" for n in model.graph.node) or "rowq_step" not in {
        i.name for i in model.graph.initializer
    }:
        return None
    exact = exact_row_scaled(model, x)
    return float(np.abs(y - exact).max() / np.abs(exact).max())


def measure(form: str, k: int, n: int, voices: int, calls: int) -> tuple[float, float, float | None, bool | None]:
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
    b = (rng.standard_normal(n) * 0.1).astype(np.float32)
    model = build(form, w, b)
    session = ort.InferenceSession(model.SerializeToString(), session_options(1), providers=["CPUExecutionProvider"])
    # Frame-tier inputs are GRU states and embeddings: bounded, often near their limits, so many activations
    # quantize near 0 or 255 (what makes the AVX2 pair sums saturate).
    x = np.tanh(2 * rng.standard_normal((voices, k))).astype(np.float32)
    y = session.run(None, {"x": x})[0]
    ref = x @ w + b
    error = float(np.abs(y - ref).max() / np.abs(ref).max())
    int_error = integer_error(model, x, y)
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
    return statistics.median(times) * 1e6, error, int_error, independent


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", nargs="+", default=["256x256", "512x1536", "512x4096"], help="KxN weight shapes")
    p.add_argument("--voices", nargs="+", type=int, default=[1, 2, 4])
    p.add_argument("--calls", type=int, default=1000, help="timed calls per cell (p50 reported)")
    p.add_argument("--forms", nargs="+", default=list(FORMS), choices=FORMS, help="which forms to run")
    p.add_argument(
        "--cpu",
        metavar="MODEL",
        help="run under `qemu-x86_64 -cpu MODEL` (Haswell: AVX2 without AVX-512; Nehalem: SSE only); needs qemu-user",
    )
    args = p.parse_args()
    if args.cpu:
        argv = [a for i, a in enumerate(sys.argv[1:]) if a != "--cpu" and sys.argv[i] != "--cpu"]
        cmd = ["qemu-x86_64", "-cpu", args.cpu, sys.executable, __file__, *argv]
        env = {**os.environ, "RT_SAMPLERNN_EMULATED_CPU": args.cpu}
        return subprocess.run(cmd, env=env, stderr=subprocess.DEVNULL).returncode
    emulated = os.environ.get("RT_SAMPLERNN_EMULATED_CPU")
    print(
        f"kernel path: {'qemu -cpu ' + emulated if emulated else 'this CPU'}"
        + (" (timings mean nothing)" if emulated else "")
    )
    print(
        "p50 us per call (one thread); err: max |int8 - fp32| / max |fp32|; int err: the integer kernel against exact"
        " arithmetic on the same quantized values; indep: row 1 unchanged when row 0 changes"
    )
    header = " ".join(f"{f'{v} voice(s)':>12}" for v in args.voices)
    print(f"{'matrix':<10} {'form':<12} {header}     err  int err  indep")
    for shape in args.shapes:
        k, n = (int(s) for s in shape.split("x"))
        for form in args.forms:
            cells = [measure(form, k, n, v, args.calls) for v in args.voices]
            indep = [c[3] for c in cells if c[3] is not None]
            int_err = max((c[2] for c in cells if c[2] is not None), default=None)
            print(
                f"{shape:<10} {form:<12} "
                + " ".join(f"{c[0]:>12.1f}" for c in cells)
                + f"  {cells[0][1]:.4f}  {'-' if int_err is None else f'{int_err:.5f}':>7}  {all(indep) if indep else '-'}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
