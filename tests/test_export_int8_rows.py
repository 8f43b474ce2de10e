"""int8 frame tiers with per-voice activation scales (MatMulInteger): parity, and voices that stay independent."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from rt_samplernn.export.onnx_export import export_bundle
from rt_samplernn.export.verify import verify_bundle

from rt_samplernn.live.engine import Engine
from tests.bundle_helpers import tiny_model
from tests.test_export_parity import VARIANTS

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _ops(path) -> list[str]:
    return [n.op_type for n in onnx.load(str(path)).graph.node]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_row_scaled_int8_export_verifies(tmp_path, variant):
    """Every frame-tier matrix row-scaled (threshold 0): within the int8 tolerance of the checkpoint, 2 and 3
    tiers, GRU and LSTM; the sample tier keeps MatMulNBits."""
    model = tiny_model(0, **VARIANTS[variant])
    export_bundle(model, tmp_path / "b", int8=True, row_scaled_min_weights=0)
    assert "MatMulInteger" in _ops(tmp_path / "b" / "frame.onnx")
    assert "MatMulInteger" not in _ops(tmp_path / "b" / "sample.onnx")
    lines: list[str] = []
    report = verify_bundle(model, tmp_path / "b", seconds=2.0, n_generate=300, seed=3, log=lines.append)
    assert report.int8 and report.ok, "\n".join(lines)


def test_default_threshold_row_scales_only_big_matrices(tmp_path):
    """The tiny model's matrices are under ROW_SCALED_MIN_WEIGHTS: its int8 export is all MatMulNBits."""
    export_bundle(tiny_model(1), tmp_path / "b", int8=True)
    assert not any("MatMulInteger" in _ops(p) for p in (tmp_path / "b").glob("*.onnx"))


@pytest.mark.parametrize("variant", ["3tier-gru-mulaw", "3tier-lstm-linear-skip-2layers-h0-wn"])
def test_one_voices_frame_output_does_not_depend_on_another_voice(tmp_path, variant):
    """A loud voice beside a quiet one: the quiet voice's conditioning and state are bit for bit what they are
    beside a silent neighbour (one activation scale for the batch would change them)."""
    export_bundle(tiny_model(2, **VARIANTS[variant]), tmp_path / "b", int8=True, row_scaled_min_weights=0)
    engine = Engine(tmp_path / "b", voices=2, provider="cpu")
    rng = np.random.default_rng(0)
    for k, g in enumerate(engine.bundle.frame_graphs):
        frames = rng.integers(0, engine.q_levels, (2, 1, g.frame_size))
        top = k == len(engine.bundle.frame_graphs) - 1
        cond = None if top else rng.standard_normal((2, 1, engine.config.dim)).astype(np.float32)
        states = [rng.standard_normal((engine.config.rnn_layers, 2, engine.config.dim)).astype(np.float32) * 0.1
                  for _ in g.states]
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
        assert all(np.array_equal(a, b) for a, b in zip(outs[0.0][1], outs[50.0][1])), g.path.name

