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


def test_unreadable_file_warning_names_it(tmp_path, music_dir, capsys):
    (tmp_path / "broken.wav").write_bytes(b"RIFF....not really")
    build_dataset([tmp_path / "broken.wav", music_dir / "train"], CFG, TRAIN)
    err = capsys.readouterr().err
    assert "warning: skipping" in err and "broken.wav" in err


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
