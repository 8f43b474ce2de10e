"""The engine: determinism, chunking, priming parity with PyTorch, live parameters, threads, no torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
import torch

from rt_samplernn.errors import UserError
from rt_samplernn.generate import (
    generate_levels,
    prime_levels,
    primed_states,
    start_history,
)
from rt_samplernn.live.engine import Engine
from rt_samplernn.quantize import dequantize
from tests.bundle_helpers import tiny_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    torch.set_num_threads(1)
    return tiny_bundle(tmp_path_factory.mktemp("engine") / "b", rnn_type="lstm", rnn_layers=2, learn_h0=True)


def clip(seconds: float = 0.3, rate: int = 22050) -> np.ndarray:
    """A stereo clip at another rate than the model's: priming must resample and downmix."""
    t = np.arange(int(seconds * rate)) / rate
    left = 0.6 * np.sin(2 * np.pi * 220 * t) * np.exp(-3 * t)
    return np.stack([left, 0.5 * left + 0.1 * np.sin(2 * np.pi * 330 * t)], axis=1).astype(np.float32)


def test_same_seed_same_samples(bundle):
    _, path = bundle
    a = Engine(path, voices=2, seed=7).generate(1000)
    b = Engine(path, voices=2, seed=7).generate(1000)
    c = Engine(path, voices=2, seed=8).generate(1000)
    assert a.shape == (2, 1000) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.all(np.abs(a) <= 1.0)


def test_chunking_does_not_change_samples(bundle):
    _, path = bundle
    whole = Engine(path, seed=1).generate_levels(600)
    engine = Engine(path, seed=1)
    parts = [engine.generate_levels(n) for n in (1, 7, 16, 33, 100, 443)]
    assert np.array_equal(np.concatenate(parts, axis=1), whole)


def test_reset_restarts(bundle):
    _, path = bundle
    engine = Engine(path, seed=4)
    first = engine.generate_levels(300)
    engine.generate_levels(123)
    engine.reset()
    assert np.array_equal(engine.generate_levels(300), first)
    engine.reset(seed=5)
    assert np.array_equal(engine.generate_levels(300), Engine(path, seed=5).generate_levels(300))


def test_matches_reference_generator_with_temperatures(bundle):
    model, path = bundle
    engine = Engine(path, voices=3, seed=11)
    engine.set_temperature(0.5, voice=1)
    engine.set_temperature(0.25, voice=2)
    assert np.array_equal(engine.temperatures, np.array([1.0, 0.5, 0.25], np.float32))
    ours = engine.generate_levels(800)
    assert np.array_equal(ours, generate_levels(model, 800, [1.0, 0.5, 0.25], seed=11))


def test_priming_reaches_the_pytorch_state_and_samples(bundle):
    model, path = bundle
    audio, rate = clip(), 22050
    engine = Engine(path, voices=2, seed=2)
    engine.generate(100)  # priming replaces whatever came before
    engine.prime(audio, rate)
    levels = prime_levels(model.cfg, audio, rate)
    ours = engine.generate_levels(500)
    # The states the engine swapped in are the PyTorch model's after reading the same clip.
    history = torch.from_numpy(start_history(model.cfg, 2, levels).copy())
    with torch.inference_mode():
        ref_states = primed_states(model, history)
    swapped = engine._applied.states
    for k in range(len(ref_states)):
        for ours_s, ref_s in zip(swapped[k], ref_states[k], strict=True):
            assert np.max(np.abs(ours_s - ref_s.numpy())) < 1e-4
    assert np.array_equal(ours, generate_levels(model, 500, [1.0, 1.0], seed=2, seed_levels=levels))


def test_gain_and_parameter_checks(bundle):
    _, path = bundle
    engine = Engine(path, seed=3)
    loud = engine.generate(200)
    engine.reset()
    engine.set_gain(0.5)
    assert engine.gain == 0.5
    assert np.allclose(engine.generate(200), loud * 0.5)
    engine.reset()
    levels = engine.generate_levels(50)
    assert np.all((levels >= 0) & (levels < engine.config.q_levels))
    assert np.array_equal(
        Engine(path, seed=3).generate(50),
        dequantize(Engine(path, seed=3).generate_levels(50), engine.config.q_type, engine.config.q_levels),
    )
    for bad in (
        lambda: engine.set_temperature(0),
        lambda: engine.set_temperature(1.0, voice=3),
        lambda: engine.set_gain(-1),
        lambda: Engine(path, voices=0),
        lambda: Engine(path, provider="tpu"),
    ):
        with pytest.raises(UserError):
            bad()


def test_prime_from_another_thread_swaps_in_at_a_call_boundary(bundle):
    _, path = bundle
    audio = clip()
    expected = Engine(path, seed=6)
    expected.prime(audio, 22050)
    want = expected.generate_levels(400)
    engine = Engine(path, seed=6)
    engine.generate_levels(50)
    worker = threading.Thread(target=engine.prime, args=(audio, 22050))
    worker.start()
    while worker.is_alive():
        engine.generate_levels(64)  # the producer keeps going while priming runs
    worker.join()
    assert np.array_equal(engine.generate_levels(400), want)


def test_runs_where_torch_cannot_be_imported(bundle):
    _, path = bundle
    script = textwrap.dedent(f"""
        import sys
        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked in this test")
                return None
        sys.meta_path.insert(0, NoTorch())
        from rt_samplernn.live.engine import Engine
        engine = Engine({str(path)!r}, voices=2, seed=1)
        engine.prime([0.1, -0.2, 0.3] * 500, 8000)
        audio = engine.generate(1000)
        assert audio.shape == (2, 1000), audio.shape
        assert not [m for m in sys.modules if m == "torch" or m.startswith("torch.")]
        print("ok", float(abs(audio).max()))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok")
