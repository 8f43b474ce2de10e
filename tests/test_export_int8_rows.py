"""int8 frame graphs' `batch` variants (per-voice activation scales, MatMulInteger): parity, the engine's pick by
voice count, and voices that stay independent."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import onnx
import pytest

from rt_samplernn.errors import UserError
from rt_samplernn.export.onnx_export import BATCH_MIN_VOICES, export_bundle
from rt_samplernn.export.verify import verify_bundle
from rt_samplernn.live.bundle import load_bundle
from rt_samplernn.live.engine import Engine
from tests.bundle_helpers import tiny_model
from tests.test_export_parity import VARIANTS

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _ops(path) -> list[str]:
    return [n.op_type for n in onnx.load(str(path)).graph.node]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_batch_variants_export_and_verify(tmp_path, variant):
    """Every frame-tier matrix row-scaled (threshold 0): each frame graph gets a `batch` file, within the int8
    tolerance of the checkpoint (verify runs both), 2 and 3 tiers, GRU and LSTM; the one-voice graphs and the
    sample graph keep MatMulNBits."""
    model = tiny_model(0, **VARIANTS[variant])
    export_bundle(model, tmp_path / "b", int8=True, row_scaled_min_weights=0)
    manifest = json.loads((tmp_path / "b" / "model.json").read_text())
    for g in manifest["graphs"][:-1]:
        assert g["batch"]["min_voices"] == BATCH_MIN_VOICES and len(g["batch"]["sha256"]) == 64
        assert "MatMulInteger" in _ops(tmp_path / "b" / g["batch"]["file"])
        assert "MatMulInteger" not in _ops(tmp_path / "b" / g["file"])
    assert "batch" not in manifest["graphs"][-1] and "MatMulInteger" not in _ops(tmp_path / "b" / "sample.onnx")
    lines: list[str] = []
    report = verify_bundle(model, tmp_path / "b", seconds=2.0, n_generate=300, seed=3, log=lines.append)
    assert report.int8 and report.ok, "\n".join(lines)
    assert any("frame.batch.onnx cond_out" in line for line in lines), "\n".join(lines)


def _loaded_batch_graphs(engine: Engine) -> list[bool]:
    """Per frame session of the engine: did it load a batch variant (its doc string says so)?"""
    sessions: list[Any] = []

    def keep(session: object, name: str) -> object:
        sessions.append(session)
        return session

    engine.wrap_sessions(keep)()
    return ["batch variant" in s.get_modelmeta().description for s in sessions[:-1]]


@pytest.mark.parametrize("provider", ["cpu", "auto"])
def test_cpu_engine_runs_the_batch_graphs_from_min_voices_on(tmp_path, provider):
    """`auto` on a machine without a usable GPU ends on the CPU, and picks as `cpu` does."""
    export_bundle(tiny_model(1), tmp_path / "b", int8=True, row_scaled_min_weights=0)
    bundle = load_bundle(tmp_path / "b")
    for voices in (1, BATCH_MIN_VOICES - 1, BATCH_MIN_VOICES):
        engine = Engine(bundle, voices=voices, provider=provider)
        if engine.provider != "cpu":
            pytest.skip("a GPU is in use: the engine runs the plain files there")
        batch = voices >= BATCH_MIN_VOICES
        assert all(g.path_for(voices).name.endswith(".batch.onnx") == batch for g in bundle.frame_graphs)
        assert _loaded_batch_graphs(engine) == [batch] * len(bundle.frame_graphs)
        assert engine.generate(100).shape == (voices, 100)


def test_a_missing_or_altered_batch_graph_is_refused(tmp_path):
    export_bundle(tiny_model(1), tmp_path / "b", int8=True, row_scaled_min_weights=0)
    with open(tmp_path / "b" / "frame.batch.onnx", "ab") as f:
        f.write(b"x")
    with pytest.raises(UserError, match="frame.batch.onnx: checksum mismatch"):
        load_bundle(tmp_path / "b")
    (tmp_path / "b" / "frame.batch.onnx").unlink()
    with pytest.raises(UserError, match="frame.batch.onnx: graph file missing"):
        load_bundle(tmp_path / "b")


def test_default_threshold_makes_no_batch_graphs_for_small_models(tmp_path):
    """The tiny model's matrices are under ROW_SCALED_MIN_WEIGHTS: one graph per tier, as before."""
    export_bundle(tiny_model(1), tmp_path / "b", int8=True)
    assert sorted(p.name for p in (tmp_path / "b").glob("*.onnx")) == ["big_frame.onnx", "frame.onnx", "sample.onnx"]


@pytest.mark.parametrize("variant", ["3tier-gru-mulaw", "3tier-lstm-linear-skip-2layers-h0-wn"])
def test_one_voices_frame_output_does_not_depend_on_another_voice(tmp_path, variant):
    """Batch graphs, a loud voice beside a quiet one: the quiet voice's conditioning and state are bit for bit
    what they are beside a silent neighbour (one activation scale for the batch would change them)."""
    export_bundle(tiny_model(2, **VARIANTS[variant]), tmp_path / "b", int8=True, row_scaled_min_weights=0)
    engine = Engine(tmp_path / "b", voices=BATCH_MIN_VOICES, provider="cpu")  # runs the batch graphs
    rng = np.random.default_rng(0)
    for k, g in enumerate(engine.bundle.frame_graphs):
        frames = rng.integers(0, engine.q_levels, (2, 1, g.frame_size))
        top = k == len(engine.bundle.frame_graphs) - 1
        cond = None if top else rng.standard_normal((2, 1, engine.config.dim)).astype(np.float32)
        states = [
            rng.standard_normal((engine.config.rnn_layers, 2, engine.config.dim)).astype(np.float32) * 0.1
            for _ in g.states
        ]
        outs = {}
        for loud in (0.0, 50.0):
            c = None if cond is None else cond.copy()
            s = [x.copy() for x in states]
            if c is not None:
                c[1] *= loud
            for x in s:
                x[:, 1] *= loud
            f = frames.copy()
            f[1] = engine.q_levels - 1 if loud else 0
            cond_out, new = engine.run_frame(k, f, c, s)
            outs[loud] = (cond_out[0], [x[:, 0] for x in new])
        assert np.array_equal(outs[0.0][0], outs[50.0][0]), g.path.name
        assert all(np.array_equal(a, b) for a, b in zip(outs[0.0][1], outs[50.0][1], strict=True)), g.path.name
