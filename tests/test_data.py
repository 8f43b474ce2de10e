"""Data: folders read recursively, unreadable files skipped with a warning, silence dropped, clear errors."""

import numpy as np
import pytest
import soundfile

from rt_samplernn.audio import find_audio_files
from rt_samplernn.config import ModelConfig, TrainConfig
from rt_samplernn.data import (
    batch_order,
    build_dataset,
    chunk_length,
    mostly_silent,
    segments,
    validation_chunks,
)
from rt_samplernn.errors import UserError

CFG = ModelConfig(frame_sizes=(4, 16), dim=16, sample_dim=8, emb_size=4)
TRAIN = TrainConfig(batch_size=2, seq_len=256, chunk_seconds=0.5, seed=0)


def test_folders_are_read_recursively_in_any_format(music_dir, tmp_path):
    root = tmp_path / "lib"
    (root / "deep" / "er").mkdir(parents=True)
    (root / "deep" / "er" / "a.wav").write_bytes((music_dir / "train" / "a.wav").read_bytes())
    stereo_44k = np.random.default_rng(0).uniform(-0.5, 0.5, (44100, 2)).astype(np.float32)
    soundfile.write(root / "b.flac", stereo_44k, 44100)
    (root / "broken.wav").write_bytes(b"RIFF....not really")
    (root / "notes.txt").write_text("not audio")
    files = find_audio_files([root])
    assert sorted(f.name for f in files) == ["a.wav", "b.flac", "broken.wav"]
    data = build_dataset([root], CFG, TRAIN, quiet=True)
    assert data.train.shape[1] == chunk_length(CFG, TRAIN) == 16 + 31 * 256
    assert data.train.dtype == np.uint8 and data.train.max() < 256  # schedule.level_dtype: 256 levels fit a byte


def test_the_data_check_counts_a_tiny_set_and_warns(music_dir):
    data = build_dataset([music_dir / "train"], CFG, TRAIN, quiet=True)
    report = data.report
    assert report.files == 2 and report.skipped == []
    assert report.seconds_found == pytest.approx(6.0, abs=0.1)  # two 3 s excerpts
    assert report.rates == {16000: 2} and report.channels == {1: 2}
    chunk_s = chunk_length(CFG, TRAIN) / 16000
    assert report.seconds_kept == pytest.approx((len(data.train) + len(data.val)) * chunk_s)
    assert 0 < report.seconds_held_out < report.seconds_kept <= report.seconds_found
    assert len(report.warnings()) == 1 and "minutes of audio kept (under 30)" in report.warnings()[0]
    assert report.notices() == []  # two excerpts of one soundtrack: no loudness notice


def test_the_data_check_names_a_junk_file_and_why(tmp_path, music_dir):
    (tmp_path / "broken.wav").write_bytes(b"RIFF....not really")
    stereo_44k = np.random.default_rng(0).uniform(-0.5, 0.5, (44100, 2)).astype(np.float32)
    soundfile.write(tmp_path / "noise.flac", stereo_44k, 44100)
    report = build_dataset([tmp_path, music_dir / "train"], CFG, TRAIN, quiet=True).report
    assert report.files == 4
    assert [(p.name, why.split(" (")[0]) for p, why in report.skipped] == [("broken.wav", "cannot read audio")]
    assert report.rates == {16000: 2, 44100: 1} and report.channels == {1: 2, 2: 1}
    assert report.seconds_found == pytest.approx(7.0, abs=0.1)


def test_the_data_check_notices_very_different_loudness(tmp_path, music_dir):
    music, rate = soundfile.read(music_dir / "train" / "a.wav", dtype="float32")
    quiet = music / np.abs(music).max() * 0.05
    quiet[100] = 1.0  # one click: after peak normalization the music stays 26 dB down
    soundfile.write(tmp_path / "quiet.wav", quiet, rate)
    report = build_dataset([tmp_path, music_dir / "train"], CFG, TRAIN, quiet=True).report
    (notice,) = report.notices()
    assert "loudness spans" in notice and "quiet.wav" in notice


def test_dry_run_prints_the_check_and_trains_nothing(music_dir, tmp_path, capsys):
    from rt_samplernn.cli import main

    out = tmp_path / "run"
    args = ["train", str(music_dir / "train"), "--out", str(out), "--chunk-seconds", "0.5", "--batch-size", "2"]
    assert main([*args, "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "data: 2 files, 0.1 minutes found" in err and "warning: only" in err and "nothing trained" in err
    assert not out.exists()


def test_no_usable_audio_is_a_clear_error(tmp_path):
    soundfile.write(tmp_path / "silence.wav", np.zeros(16000, np.float32), 16000)
    with pytest.raises(UserError, match="no usable audio"):
        build_dataset([tmp_path], CFG, TRAIN)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no audio files found"):
        build_dataset([tmp_path / "empty"], CFG, TRAIN)
    with pytest.raises(UserError, match="nothing: no such file or folder"):
        find_audio_files([tmp_path / "nothing"])


def test_silence_detection():
    rng = np.random.default_rng(0)
    loud = rng.uniform(-0.5, 0.5, 16384).astype(np.float32)
    assert not mostly_silent(loud, 0.01, 0.8)
    quiet = loud.copy()
    quiet[: int(16384 * 0.9)] = 0
    assert mostly_silent(quiet, 0.01, 0.8)


def test_batches_are_seeded_and_segments_overlap_by_the_top_frame():
    a = batch_order(10, 3, seed=1, epoch=0)
    assert a.shape == (3, 3) and np.array_equal(a, batch_order(10, 3, seed=1, epoch=0))
    assert not np.array_equal(a, batch_order(10, 3, seed=1, epoch=1))
    ranks = [batch_order(12, 2, 0, 0, world=2, rank=r) for r in (0, 1)]
    assert len(set(ranks[0].ravel()) & set(ranks[1].ravel())) == 0
    batch = np.arange(16 + 3 * 8)[None]
    segs = list(segments(batch, 16, 8))
    assert len(segs) == 3 and segs[1][0, 0] == 8 and segs[1].shape == (1, 24)


def test_validation_is_a_fixed_set_spread_over_all_the_held_out_audio():
    val = np.arange(100, dtype=np.int16)[:, None] * np.ones((1, 4), np.int16)  # chunk i holds i
    picked = validation_chunks(val, 5)[:, 0]
    assert picked.tolist() == [0, 25, 50, 74, 99]  # first to last file, not the first five chunks
    assert np.array_equal(validation_chunks(val, 5), validation_chunks(val, 5))
    assert len(validation_chunks(val, 0)) == len(validation_chunks(val, 500)) == 100


def test_the_data_check_counts_held_out_files_as_found(music_dir):
    report = build_dataset([music_dir / "train"], CFG, TRAIN, [music_dir / "val"], quiet=True).report
    assert report.files == 3 and report.rates == {16000: 3}
    assert report.seconds_found == pytest.approx(8.0, abs=0.1)  # 3 + 3 s to train on, 2 s held out
    assert report.seconds_held_out <= report.seconds_kept <= report.seconds_found
