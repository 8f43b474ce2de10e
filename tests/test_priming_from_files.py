"""Priming reads a seed clip in blocks (audio.FileClip, schedule.PrimingHistory): exactly what the whole clip
gives (docs/bundle.md's recipe), while holding one block, never the clip."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest
import soundfile
import soxr
import torch

from rt_samplernn import audio
from rt_samplernn.audio import ArrayClip, FileClip
from rt_samplernn.config import ModelConfig
from rt_samplernn.errors import UserError
from rt_samplernn.export.onnx_export import export_bundle
from rt_samplernn.generate import generate_levels
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.watchdog import Reprimer
from rt_samplernn.quantize import quantize, zero_level
from rt_samplernn.schedule import (
    PrimingHistory,
    prime_levels,
    prime_windows,
    seed_level_blocks,
    windows_of,
)
from tests.audio_fixtures import drascula_track
from tests.bundle_helpers import TINY, bundle_of_version, tiny_model, v1_bundle

SMALL_BLOCK = 997  # file frames per block: a 7.4 s clip crosses ~330 block (and resampler chunk) boundaries


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(audio, "BLOCK_FRAMES", SMALL_BLOCK)


def whole_clip_levels(cfg: ModelConfig, path) -> np.ndarray:
    """docs/bundle.md's recipe on the whole clip at once (the first release's one-shot path): the reference."""
    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    x = data.mean(axis=1)
    if rate != cfg.sample_rate:
        x = soxr.resample(x, rate, cfg.sample_rate, quality="HQ").astype(np.float32)
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    x = np.clip(x * (0.95 / float(np.max(np.abs(x)))), -1.0, 1.0).astype(np.float32)
    levels = quantize(x, cfg.q_type, cfg.q_levels)
    return np.concatenate([np.full((-len(levels)) % cfg.top_frame_size, zero_level(cfg.q_levels)), levels])


@pytest.mark.parametrize(
    "sample_rate, q_type, q_levels",
    [
        (16000, "mu-law", 256),
        (22050, "a-law", 256),
        (44100, "mu-law", 256),
        (48000, "mu-law", 256),
        (16000, "linear", 65536),
    ],
)
def test_seed_file_read_in_small_blocks_gives_the_levels_of_the_whole_clip(small_blocks, sample_rate, q_type, q_levels):
    cfg = ModelConfig(**{**TINY, "sample_rate": sample_rate, "q_type": q_type, "q_levels": q_levels})
    path = drascula_track(28)  # 7.4 s, 44.1 kHz stereo: down-, up- and not resampled
    blocks = list(seed_level_blocks(cfg, FileClip(path)))
    assert blocks[0].dtype == (np.uint8 if q_levels == 256 else np.uint16)  # small integers, per block
    assert max(len(b) for b in blocks) <= SMALL_BLOCK * 3 + cfg.top_frame_size  # one block at a time
    expected = whole_clip_levels(cfg, path)
    assert np.array_equal(np.concatenate(blocks), expected)
    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    assert np.array_equal(prime_levels(cfg, data, rate), expected)  # an array in memory: the same blocks


def test_windows_built_from_chunks_equal_the_windows_of_the_whole_history():
    rng = np.random.default_rng(0)
    for total_frames in (0, 1, 3, 4, 5, 11):  # around the 3-top-frame window step below
        history = rng.integers(0, 256, 16 * (1 + total_frames))
        cuts = np.sort(rng.integers(0, len(history), 7))
        chunks = np.split(history, cuts)  # uneven chunks, empty ones included
        ours = [w.copy() for w in windows_of(chunks, 16, chunk_top_frames=3)]
        whole = [history[a:b] for a, b in prime_windows(len(history), 16, chunk_top_frames=3)]
        assert len(ours) == len(whole) and all(np.array_equal(a, b) for a, b in zip(ours, whole, strict=True))


@pytest.mark.parametrize("version", [1, 2])
def test_priming_from_a_file_in_blocks_equals_priming_from_the_whole_clip(tmp_path, small_blocks, version):
    model, _ = bundle_of_version(version, tmp_path / "b")
    path = drascula_track(28)  # 44.1 kHz -> the model's 16 kHz
    whole = PrimingHistory.from_levels(model.cfg, whole_clip_levels(model.cfg, path))
    from_file = PrimingHistory.from_clip(model.cfg, FileClip(path))
    assert from_file.samples == whole.samples
    blocks, one = Engine(tmp_path / "b", voices=2, seed=4), Engine(tmp_path / "b", voices=2, seed=4)
    seen: list[float] = []
    blocks.prime(FileClip(path), progress=seen.append)
    one.prime(whole)
    ours, expected = blocks.generate_levels(400), one.generate_levels(400)
    for tier_a, tier_b in zip(blocks._applied.states, one._applied.states, strict=True):
        for a, b in zip(tier_a, tier_b, strict=True):
            assert a.dtype == np.float32 and np.array_equal(a, b)  # bit for bit
    assert np.array_equal(ours, expected)
    assert len(seen) > 10 and seen == sorted(seen) and seen[-1] == 1.0  # progress for long clips


def test_reference_generator_primes_from_a_file_in_blocks_as_from_the_whole_clip(small_blocks):
    model = tiny_model(5)
    path = drascula_track(28)
    with torch.inference_mode():
        torch.set_num_threads(1)
        ours = generate_levels(
            model, 300, [1.0, 0.7], seed=5, seed_levels=PrimingHistory.from_clip(model.cfg, FileClip(path))
        )
        whole = generate_levels(model, 300, [1.0, 0.7], seed=5, seed_levels=whole_clip_levels(model.cfg, path))
    assert np.array_equal(ours, whole)


def test_preparing_a_long_file_for_priming_holds_blocks_not_the_clip():
    path = drascula_track(2)  # 198 s of 44.1 kHz stereo: 70 MB as float32, 37 MB as one channel
    cfg = ModelConfig(**TINY)
    tracemalloc.start()
    try:
        history = PrimingHistory.from_clip(cfg, FileClip(path))
        windows = sum(1 for _ in history.windows())
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert windows == len(list(prime_windows(history.samples, cfg.top_frame_size)))
    assert peak_bytes < 8 * 2**20  # a few blocks of 65,536 frames; the clip at 16 kHz alone is 12.7 MB


def test_ctrl_c_during_a_prime_leaves_the_engine_as_it_was(tmp_path):
    model = tiny_model(3)
    export_bundle(model, tmp_path / "b")
    engine, untouched = Engine(tmp_path / "b", seed=1), Engine(tmp_path / "b", seed=1)

    def interrupt(done: float) -> None:
        if done > 0.3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.prime(FileClip(drascula_track(28)), progress=interrupt)
    assert np.array_equal(engine.generate_levels(200), untouched.generate_levels(200))
    engine.prime(np.sin(np.arange(4000) / 7.0), 16000)  # the lock was let go: the next prime runs


def test_ctrl_c_while_generate_primes_a_long_seed_file_stops_with_one_line(tmp_path):
    model = tiny_model(3)
    export_bundle(model, tmp_path / "b")
    err_path, out = tmp_path / "stderr.txt", tmp_path / "out.wav"
    args = [
        "generate",
        str(tmp_path / "b"),
        "--seed-audio",
        str(drascula_track(2)),
        "--seconds",
        "1",
        "--out",
        str(out),
    ]
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "rt_samplernn", *args], stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 120
            while "priming" not in err_path.read_text(errors="replace"):  # the bar of a 198 s seed
                assert proc.poll() is None and time.monotonic() < deadline, err_path.read_text()[-2000:]
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = err_path.read_text(errors="replace")
    assert code == 130 and "rt-samplernn generate: interrupted" in text and "Traceback" not in text, text[-2000:]
    assert not out.exists() and not list(tmp_path.glob(".*.part"))


def test_the_watchdog_reprimes_from_a_file_clip(tmp_path):
    v1_bundle("gru", tmp_path / "b")
    clip = FileClip(drascula_track(28))
    engine, expected = Engine(tmp_path / "b", seed=1), Engine(tmp_path / "b", seed=1)
    reprimer = Reprimer(engine, seed=(clip, clip.rate), reset_seed_base=2)
    assert reprimer.request(wait=True) and reprimer.failures == 0, reprimer.last_error
    expected.prime(clip, seed=2 * 1_000_003 + 1)
    assert np.array_equal(engine.generate_levels(200), expected.generate_levels(200))


def test_a_seed_file_rewritten_between_the_two_passes_is_refused(tmp_path):
    path = tmp_path / "seed.wav"
    soundfile.write(str(path), np.sin(np.arange(16000) / 5.0).astype(np.float32), 16000)
    history = PrimingHistory.from_clip(ModelConfig(**TINY), FileClip(path))  # first pass: peak and length
    soundfile.write(str(path), np.sin(np.arange(24000) / 5.0).astype(np.float32), 16000)
    with pytest.raises(UserError, match="seed.wav: changed while it was being read"):
        list(history.windows())


def test_seed_clip_errors_name_the_file_and_the_rate(tmp_path):
    (tmp_path / "notes.txt").write_text("not audio")
    with pytest.raises(UserError, match="notes.txt: cannot read audio"):
        FileClip(tmp_path / "notes.txt")
    with pytest.raises(UserError, match="gone.wav: no such file"):
        FileClip(tmp_path / "gone.wav")
    with pytest.raises(UserError, match="44100 Hz, not 16000 Hz"):
        audio.as_clip(FileClip(drascula_track(28)), 16000)
    with pytest.raises(UserError, match=r"got shape \(2, 2, 2\)"):
        ArrayClip(np.zeros((2, 2, 2)), 16000)
