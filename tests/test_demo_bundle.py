"""The demo bundle ships inside the package and is what play and generate use when no model is given."""

import json
import os
import subprocess
import sys

import numpy as np
import soundfile

from rt_samplernn.live.bundle import load_bundle
from rt_samplernn.live.engine import Engine
from rt_samplernn.models import DEMO_BUNDLE


def test_demo_bundle_is_shipped_with_its_model_card():
    bundle = load_bundle(DEMO_BUNDLE)  # checks the format version and every graph's sha256
    assert bundle.config.frame_sizes == (16, 64) and bundle.config.dim == 512 and bundle.config.sample_dim == 256
    card = (DEMO_BUNDLE / "MODEL_CARD.md").read_text()
    figures = json.loads((DEMO_BUNDLE / "measurements.json").read_text())
    assert f"{figures['val_nll_bits_per_sample']:.3f}" in card and "drascula-music" in card
    assert figures["not_silence"] and figures["not_white_noise"]
    size_mb = sum(f.stat().st_size for f in DEMO_BUNDLE.iterdir()) / 1e6
    assert size_mb < 25, size_mb


def test_demo_generates_music_like_audio_deterministically():
    a = Engine(DEMO_BUNDLE, seed=3).generate(8000)
    b = Engine(DEMO_BUNDLE, seed=3).generate(8000)
    np.testing.assert_array_equal(a, b)
    assert 0.005 < float(np.sqrt(np.mean(a**2))) < 0.9


def test_generate_uses_the_demo_when_no_model_is_given(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rt_samplernn", "generate", "--seconds", "0.25", "--out",
                           str(tmp_path / "demo.wav")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    audio, rate = soundfile.read(tmp_path / "demo.wav")
    assert rate == 16000 and len(audio) == 4000
