"""Bundle versions: version 2 (step graphs with explicit cells, unrolled sample graph) and version 1 (the
first release's, read from the bundles committed in tests/fixtures/v1: this exporter writes version 2 only)
compute the same model, and the engine plays both."""

from __future__ import annotations

import numpy as np
import pytest

from rt_samplernn.export.onnx_export import export_bundle
from rt_samplernn.export.verify import verify_bundle
from rt_samplernn.live.bundle import load_bundle
from rt_samplernn.live.engine import Engine
from rt_samplernn.models import DEMO_BUNDLE
from tests.audio_fixtures import drascula_track
from tests.bundle_helpers import tiny_model, v1_bundle, v1_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("rnn", ["gru", "lstm"])
def test_versions_1_and_2_draw_the_same_samples(tmp_path, rnn):
    model = v1_model(rnn)  # 2 layers, learned h0: a 3-tier GRU, a 2-tier LSTM
    v1_bundle(rnn, tmp_path / "v1")
    export_bundle(model, tmp_path / "v2")
    assert (load_bundle(tmp_path / "v1").version, load_bundle(tmp_path / "v2").version) == (1, 2)
    clip = np.sin(np.arange(3000) / 7.0).astype(np.float32)
    out = []
    for version in ("v1", "v2"):
        engine = Engine(tmp_path / version, voices=2, seed=9)
        engine.set_temperature(0.5, voice=1)
        engine.prime(clip, 16000)
        out.append(engine.generate_levels(700))
    np.testing.assert_array_equal(out[0], out[1])


def test_a_version_1_int8_bundle_still_loads_primes_and_plays(tmp_path):
    """The first release's format (the demo shipped until 2026-12-01 was one): loads, primes, plays."""
    v1_bundle("int8", tmp_path / "v1")
    bundle = load_bundle(tmp_path / "v1")
    assert bundle.version == 1 and bundle.manifest["weights"] == "int8-frame-matmuls"
    engine = Engine(bundle, voices=2, seed=1)
    engine.set_temperature(0.1)  # the untrained model's logits are near-flat: at T 1 the noise alone decides
    first = engine.generate(1600)
    engine.prime(np.sin(np.arange(8000) / 5.0).astype(np.float32), 16000)
    primed = engine.generate(1600)
    assert first.shape == primed.shape == (2, 1600)
    assert np.all(np.isfinite(primed)) and np.ptp(first) > 0.01 and not np.array_equal(first, primed)


def test_the_shipped_demo_is_version_2_int8():
    bundle = load_bundle(DEMO_BUNDLE)
    assert bundle.version == 2 and bundle.manifest["weights"] == "int8"


def test_int8_bundle_nll_on_real_audio_is_within_tolerance(tmp_path):
    """The int8 export's teacher-forced NLL on recorded music, next to the checkpoint's: the measure is real
    (fp32 matches to ~0, int8 differs but by at most 0.02 bits per sample)."""
    from rt_samplernn.audio import load_for_model

    model = tiny_model(5, dim=64, sample_dim=64, emb_size=32)
    audio = load_for_model(drascula_track(3), 16000)[16000 * 20 : 16000 * 23]
    reports = {}
    for name, int8 in (("fp32", False), ("int8", True)):  # int8: with batch frame graphs (every matrix row-scaled)
        export_bundle(model, tmp_path / name, int8=int8, row_scaled_min_weights=0)
        lines: list[str] = []
        reports[name] = verify_bundle(model, tmp_path / name, seconds=3.0, audio=audio, n_generate=0, log=lines.append)
        assert reports[name].ok, "\n".join(lines)
        assert any("held-out NLL" in line for line in lines)
    ckpt, fp32 = reports["fp32"].nll
    _, int8 = reports["int8"].nll
    assert 4.0 < ckpt < 8.5  # an untrained model on music: a few bits per sample, not nonsense
    assert abs(fp32 - ckpt) < 1e-4
    assert int8 != fp32 and abs(int8 - ckpt) <= 0.02
    _, int8_batch = reports["int8"].nll_batch
    assert int8_batch not in (fp32, int8) and abs(int8_batch - ckpt) <= 0.02
