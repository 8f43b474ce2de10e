"""Lying headers and non-finite numbers in files: refused with one line naming the file, never used silently.

Class 1: an audio file whose header claims a rate outside 1-384 kHz is skipped in training (a warning naming
it) and refused for priming. Class 2: NaN weights, optimizer state or carried states in a checkpoint, NaN
percentiles in a bundle's audio_stats, held-out audio that gives nothing to score.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from rt_samplernn.cli import main
from rt_samplernn.config import ModelConfig, TrainConfig
from rt_samplernn.data import build_dataset
from rt_samplernn.errors import UserError
from rt_samplernn.live.bundle import load_bundle
from tests.bundle_helpers import tiny_bundle
from tests.cli_helpers import one_error_line
from tests.test_checkpoint import SMALL

CFG = ModelConfig(frame_sizes=(4, 16), dim=16, sample_dim=8, emb_size=4)
TRAIN = TrainConfig(batch_size=2, seq_len=256, chunk_seconds=0.5, seed=0)


def lying_wav(path: Path, claimed_rate: int, seconds: float = 2.0) -> Path:
    """A real 16 kHz WAV whose header then claims claimed_rate (the fmt chunk's rate and byte rate edited)."""
    tone = (0.3 * np.sin(np.arange(int(16000 * seconds)) * 0.07)).astype(np.float32)
    soundfile.write(str(path), tone, 16000, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    fmt = raw.index(b"fmt ") + 8
    raw[fmt + 4 : fmt + 12] = struct.pack("<II", claimed_rate, claimed_rate * 2)
    path.write_bytes(bytes(raw))
    assert soundfile.info(str(path)).samplerate == claimed_rate
    return path


# -- class 1: audio headers that lie ------------------------------------------------------------------------


def test_training_skips_a_file_whose_header_claims_a_tiny_rate(music_dir, tmp_path, capsys):
    folder = tmp_path / "music"
    folder.mkdir()
    for f in (music_dir / "train").iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    lying_wav(folder / "liar.wav", claimed_rate=7)  # resampled whole to 16 kHz it would be 2,286x longer
    data = build_dataset([folder], CFG, TRAIN, quiet=True)
    clean = build_dataset([music_dir / "train"], CFG, TRAIN, quiet=True)
    assert data.train.shape == clean.train.shape  # the liar added nothing
    skipped = dict(data.report.skipped)  # the data check names it (train prints it before the first step)
    assert skipped[folder / "liar.wav"].startswith("its header claims 7 Hz; audio files from 1000 to 384000")


@pytest.mark.parametrize("rate", [7, 999, 384_001, 2_000_000_000])
def test_priming_from_a_lying_header_is_one_line(tmp_path, capsys, rate):
    seed = lying_wav(tmp_path / "seed.wav", claimed_rate=rate)
    line = one_error_line(["generate", "--seed-audio", seed, "--seconds", "0.1", "--out", tmp_path / "a.wav"], capsys)
    assert line.endswith(
        f"{seed}: its header claims {rate} Hz; audio files from 1000 to 384000 Hz are read "
        "(the file is damaged or not what its header says)"
    )
    assert not (tmp_path / "a.wav").exists()


def test_rates_at_the_limits_are_read(tmp_path):
    from rt_samplernn.audio import FileClip, read_audio

    for rate in (1000, 384_000):
        path = lying_wav(tmp_path / f"r{rate}.wav", claimed_rate=rate)
        assert FileClip(path).rate == rate and read_audio(path)[1] == rate


# -- class 2: non-finite numbers in files -------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(music_dir, tmp_path_factory):
    """A real 5-step run: last.pt with all the training state."""
    out = tmp_path_factory.mktemp("run")
    assert main(["train", str(music_dir / "train"), "--out", str(out), "--max-steps", "5", "--quiet", *SMALL]) == 0
    return out


def nan_copy(run: Path, tmp_path: Path, change) -> Path:
    data = torch.load(run / "last.pt", weights_only=True)
    change(data)
    path = tmp_path / "nan.pt"
    torch.save(data, path)
    return path


def _nan_weight(d):
    name = sorted(d["model"])[0]
    d["model"][name][...] = float("nan")


def test_nan_weights_are_refused_by_generate_export_and_resume(run, tmp_path, capsys):
    ckpt = nan_copy(run, tmp_path, _nan_weight)
    name = sorted(torch.load(ckpt, weights_only=True)["model"])[0]
    for args in (
        ["generate", ckpt, "--seconds", "0.1", "--out", tmp_path / "a.wav"],
        ["export", ckpt, "-o", tmp_path / "b", "--verify"],
        ["train", run, "--out", tmp_path / "r", "--resume", ckpt],  # refused before any data is read
    ):
        line = one_error_line(args, capsys)
        assert f"{ckpt}: weight {name} holds NaN or infinite values" in line, line
    assert not (tmp_path / "a.wav").exists() and not (tmp_path / "b").exists() and not (tmp_path / "r").exists()


def test_infinite_optimizer_state_is_refused_at_resume(run, music_dir, tmp_path, capsys):
    def inf_state(d):
        first = min(d["optimizer"]["state"])
        d["optimizer"]["state"][first]["exp_avg_sq"][...] = float("inf")

    ckpt = nan_copy(run, tmp_path, inf_state)
    line = one_error_line(["train", music_dir / "train", "--out", tmp_path / "r", "--resume", ckpt], capsys)
    assert "optimizer state exp_avg_sq/" in line and "holds NaN or infinite values" in line


def test_nan_percentiles_in_audio_stats_are_refused_not_a_silent_watchdog(tmp_path):
    _, bundle = tiny_bundle(tmp_path / "b")
    manifest = json.loads((bundle / "model.json").read_text())
    stats = {"sample_rate": 16000, "window_s": 1.0, "windows": 3, "block_frames": 1024, "low_hz": 100.0}
    stats |= {k: {"p1": 0.1, "p5": 0.1, "p50": 0.2, "p95": 0.3, "p99": 0.3} for k in ("rms_db", "low_share")}
    stats["flatness"] = {"p1": 0.01, "p5": 0.02, "p50": 0.03, "p95": 0.05, "p99": float("nan")}
    manifest["audio_stats"] = stats
    (bundle / "model.json").write_text(json.dumps(manifest))  # json writes NaN as the bare word NaN
    with pytest.raises(UserError, match=r"model\.json: audio_stats\.flatness\.p99 is nan; the watchdog"):
        load_bundle(bundle)


def test_silent_held_out_audio_falls_back_to_a_training_share_and_says_so(music_dir, tmp_path, capsys):
    held_out = tmp_path / "held-out"
    held_out.mkdir()
    soundfile.write(str(held_out / "silence.wav"), np.zeros(32000, np.float32), 16000)
    data = build_dataset([music_dir / "train"], CFG, TRAIN, [held_out], quiet=True)
    assert len(data.val) >= 1  # something real to score: never `val nan`
    said = " ".join(data.report.warnings())  # the data check's warnings (train prints them)
    assert "gives no chunk to score" in said and "holding out 10% of the training chunks instead" in said


def test_no_held_out_share_says_how_best_is_chosen(music_dir, capsys):
    data = build_dataset([music_dir / "train"], CFG, TrainConfig(**{**TRAIN.__dict__, "val_fraction": 0.0}))
    assert len(data.val) == 0
    assert "no held-out audio" in " ".join(data.report.warnings())
