"""int8 on every x86 kernel path (tests/cpu_paths.py: natively and under qemu's Haswell and Nehalem): the
batch graphs' u8 x s7 MatMulInteger is exact where the old u8 x s8 saturates, and the engine checks its graphs
at load, playing a bundle's plain graphs where its batch graphs compute wrong (issue 28)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rt_samplernn.errors import UserError
from rt_samplernn.export.onnx_export import export_bundle
from rt_samplernn.live.bundle import load_bundle, sha256_file
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.selfcheck import CHECK_FILE
from tests.bundle_helpers import tiny_model
from tests.cpu_paths import CPU_PATHS, run_on

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.slow]

# On the CPU under test: each form's integer error against exact arithmetic (one 512 x 1536 matmul, 4 voices of
# GRU-like activations), and what an engine of 3 voices loads from each bundle given.
ON_CPU = """
import json, sys
import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from rt_samplernn.export.int8 import ROW_FORMS, exact_row_scaled, row_scaled_nodes
from rt_samplernn.live.engine import Engine

rng = np.random.default_rng(0)
w = (rng.standard_normal((512, 1536)) / 512 ** 0.5).astype(np.float32)
x = np.tanh(2 * rng.standard_normal((4, 512))).astype(np.float32)
errors = {}
for form in ("u8s7", "u8s8"):
    model = helper.make_model(
        helper.make_graph([], "mm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["M", 512])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["M", 1536])]),
        opset_imports=[helper.make_opsetid("", 18)], ir_version=8)
    model.graph.node.extend(row_scaled_nodes("x", w, "W", None, "y", "mm", model, set(), form))
    y = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    exact = exact_row_scaled(model, x)
    errors[form] = float(np.abs(y - exact).max() / np.abs(exact).max())
engines = {}
for bundle in sys.argv[1:]:
    e = Engine(bundle, voices=3)
    engines[bundle] = {"files": [p.name for p in e.graph_files], "notices": e.notices}
print(json.dumps({"errors": errors, "engines": engines}))
"""


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """A bundle of today's export and one as exported before 2026-12-07 (u8 x s8 batch graphs, no self-check),
    every frame matrix row-scaled so the tiny model has batch graphs."""
    root = tmp_path_factory.mktemp("cpu")
    model = tiny_model(1)
    export_bundle(model, root / "new", int8=True, row_scaled_min_weights=0)
    export_bundle(model, root / "old", int8=True, row_scaled_min_weights=0, row_form="u8s8", selfcheck=False)
    return root / "new", root / "old"


@pytest.mark.parametrize("cpu", CPU_PATHS)
def test_batch_graphs_are_exact_and_checked_on_every_kernel_path(cpu, bundles):
    new, old = bundles
    got = run_on(cpu, ON_CPU, str(new), *([str(old)] if cpu == "Haswell" else []))
    assert got["errors"]["u8s7"] < 1e-5, got["errors"]
    engine = got["engines"][str(new)]
    assert engine == {"files": ["frame.batch.onnx", "big_frame.batch.onnx", "sample.onnx"], "notices": []}
    if cpu == "Haswell":
        # The old formulation fails here, so the check can fail: AVX2 without VNNI saturates u8 x s8 pairs...
        assert got["errors"]["u8s8"] > 1e-2, got["errors"]
        # ... and an engine given such a bundle says so and plays the plain graphs, which are right.
        engine = got["engines"][str(old)]
        assert engine["files"] == ["frame.onnx", "big_frame.onnx", "sample.onnx"]
        assert [n.split(" ")[0] for n in engine["notices"]] == ["frame.batch.onnx", "big_frame.batch.onnx"]
        assert all("computes wrong on this CPU" in n for n in engine["notices"])


def _alter_reference(bundle, member: str) -> None:
    """Change one reference output of selfcheck.npz and its checksum, as a CPU computing wrong would look."""
    path = bundle / CHECK_FILE
    with np.load(path) as npz:
        members = {k: npz[k] for k in npz.files}
    members[member] = members[member] + 1.0
    np.savez_compressed(path, **members)
    manifest = json.loads((bundle / "model.json").read_text())
    manifest["selfcheck"]["sha256"] = sha256_file(path)
    (bundle / "model.json").write_text(json.dumps(manifest))


def test_a_plain_graph_that_computes_wrong_is_refused_naming_it(tmp_path):
    export_bundle(tiny_model(2), tmp_path / "b", int8=True)
    Engine(tmp_path / "b", voices=1)  # right as exported
    _alter_reference(tmp_path / "b", "frame/cond_out")
    with pytest.raises(UserError, match=r"frame\.onnx: computes wrong on this CPU .*--fp32"):
        Engine(tmp_path / "b", voices=1)


def test_a_batch_graph_that_fails_its_reference_is_replaced_by_its_sibling(tmp_path):
    """Against the exporter's reference: a batch file that computes something else (here another model's, its
    checksum made to match) is replaced by the plain graph, which passes, with a notice naming both."""
    export_bundle(tiny_model(2), tmp_path / "b", int8=True, row_scaled_min_weights=0)
    export_bundle(tiny_model(3), tmp_path / "other", int8=True, row_scaled_min_weights=0)
    (tmp_path / "b" / "frame.batch.onnx").write_bytes((tmp_path / "other" / "frame.batch.onnx").read_bytes())
    manifest = json.loads((tmp_path / "b" / "model.json").read_text())
    manifest["graphs"][-2]["batch"]["sha256"] = sha256_file(tmp_path / "b" / "frame.batch.onnx")
    (tmp_path / "b" / "model.json").write_text(json.dumps(manifest))
    engine = Engine(load_bundle(tmp_path / "b"), voices=3)
    assert [p.name for p in engine.graph_files] == ["frame.onnx", "big_frame.batch.onnx", "sample.onnx"]
    assert len(engine.notices) == 1 and engine.notices[0].startswith("frame.batch.onnx computes wrong on this CPU")
    assert "the exporter's reference" in engine.notices[0]


def test_verify_leaves_out_a_batch_graph_that_computes_wrong_and_passes_the_rest(tmp_path):
    """`export --verify` judges what this CPU computes: a wrong batch file is left out (named, with why),
    the bundle without it passes and loads, its engines running the plain graphs."""
    from rt_samplernn.export.onnx_export import drop_batch_graphs
    from rt_samplernn.export.verify import verify_bundle

    model = tiny_model(2)
    export_bundle(model, tmp_path / "b", int8=True, row_scaled_min_weights=0)
    export_bundle(tiny_model(3), tmp_path / "other", int8=True, row_scaled_min_weights=0)
    (tmp_path / "b" / "frame.batch.onnx").write_bytes((tmp_path / "other" / "frame.batch.onnx").read_bytes())
    manifest = json.loads((tmp_path / "b" / "model.json").read_text())
    manifest["graphs"][-2]["batch"]["sha256"] = sha256_file(tmp_path / "b" / "frame.batch.onnx")
    (tmp_path / "b" / "model.json").write_text(json.dumps(manifest))
    lines: list[str] = []
    report = verify_bundle(model, tmp_path / "b", seconds=2.0, n_generate=200, log=lines.append)
    assert report.ok, "\n".join(lines)
    assert report.batch_files == ["frame.batch.onnx"]
    assert any(line.startswith("left out: frame.batch.onnx") for line in lines)
    drop_batch_graphs(tmp_path / "b", report.batch_files)
    assert not (tmp_path / "b" / "frame.batch.onnx").exists()
    engine = Engine(tmp_path / "b", voices=3)
    assert [p.name for p in engine.graph_files] == ["frame.onnx", "big_frame.batch.onnx", "sample.onnx"]
    assert engine.notices == []
