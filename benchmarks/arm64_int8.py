"""int8 on ARM64 under qemu-aarch64: each MatMulInteger form against exact integer arithmetic, and a bundle's
frame graphs (plain and batch) against its selfcheck.npz, on onnxruntime's aarch64 kernels.

Needs an aarch64 Python and aarch64 wheels (no aarch64 torch: export the bundle natively first):

    apt-get download python3.11-minimal:arm64 libpython3.11-minimal:arm64 libpython3.11-stdlib:arm64 libc6:arm64 \
        libstdc++6:arm64 libgcc-s1:arm64 zlib1g:arm64 libexpat1:arm64 libffi8:arm64   # after dpkg --add-architecture arm64
    for d in *.deb; do dpkg -x $d root; done
    pip download --only-binary=:all: --platform manylinux_2_28_aarch64 --python-version 3.11 -d wheels \
        onnxruntime==1.19.2 numpy onnx; for w in wheels/*.whl; do python3 -m zipfile -e $w site/; done
    PYTHONPATH=site:. qemu-aarch64 -L root root/usr/bin/python3.11 benchmarks/arm64_int8.py BUNDLE

onnxruntime 1.32 segfaults at import under Debian 12's qemu-aarch64 7.2; 1.19.2 runs but has no 8-bit
MatMulNBits (the plain int8 graphs), so only the MatMulInteger forms and the batch graphs are checked there.
"""

import json
import sys

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

from rt_samplernn.export.int8 import exact_row_scaled, row_scaled_nodes
from rt_samplernn.live.bundle import load_bundle
from rt_samplernn.live.selfcheck import check_outputs, read_references, split_reference
from rt_samplernn.live.stepper import session_options

rng = np.random.default_rng(0)
w = (rng.standard_normal((512, 1536)) / 512**0.5).astype(np.float32)
x = np.tanh(2 * rng.standard_normal((4, 512))).astype(np.float32)
errors = {}
for form in ("u8s7", "u8s8", "u8u8"):
    model = helper.make_model(
        helper.make_graph(
            [],
            "mm",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["M", 512])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["M", 1536])],
        ),
        opset_imports=[helper.make_opsetid("", 18)],
        ir_version=8,
    )
    model.graph.node.extend(row_scaled_nodes("x", w, "W", None, "y", "mm", model, set(), form))
    y = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    exact = exact_row_scaled(model, x)
    errors[form] = float(np.abs(y - exact).max() / np.abs(exact).max())
b = load_bundle(sys.argv[1])
assert b.selfcheck is not None, "a bundle exported with its self-check"
refs = read_references(b.selfcheck)
frames: dict[str, object] = {}
for g in b.frame_graphs:
    for path in [p for p in (g.path, g.batch_path) if p is not None]:
        try:
            s = ort.InferenceSession(str(path), session_options(1), providers=["CPUExecutionProvider"])
        except Exception as e:
            frames[path.name] = str(e)[-90:]
            continue
        feed, expected = split_reference(refs[g.name], g.input_names())
        check = check_outputs(s, path.name, feed, expected, True, "ref")
        frames[path.name] = [check.error, check.ok]
print(json.dumps({"ort": ort.__version__, "errors": errors, "frame graphs vs the exporter's fp32": frames}))
