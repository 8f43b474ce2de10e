"""Audio files holding NaN or infinite samples are named, never heard as silence (class 4 of issue 29).

A float WAV can hold NaN and inf. Every reader of audio (rt_samplernn/audio.py's `read_audio` and `FileClip`)
refuses such a file in one line naming it, how many samples are not finite and where the first is: `measure`
(which scored a file of NaN as silent at -200 dBFS), priming from a seed, a seed slot, the data check, the
audio statistics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from rt_samplernn.cli import main
from rt_samplernn.errors import UserError
from tests.cli_helpers import one_error_line

RATE = 16000


def float_wav(path: Path, seconds: float = 3.0, bad: dict[int, float] | None = None, channels: int = 1) -> Path:
    """A 220 Hz tone as a 32-bit float WAV, with the samples at the given frames set to the given values."""
    t = np.arange(int(RATE * seconds)) / RATE
    audio = np.repeat((0.4 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[:, None], channels, axis=1)
    for frame, value in (bad or {}).items():
        audio[frame, -1] = value
    soundfile.write(str(path), audio, RATE, subtype="FLOAT")
    return path


def test_measure_names_a_file_of_nan_instead_of_scoring_it_silent(tmp_path, capsys):
    nan = tmp_path / "nan.wav"
    soundfile.write(str(nan), np.full(RATE * 5, np.nan, np.float32), RATE, subtype="FLOAT")
    music = float_wav(tmp_path / "music.wav", seconds=6.0)
    line = one_error_line(["measure", nan, "--against", music, "--json"], capsys)  # --json: no progress lines
    assert line.endswith(
        f"{nan}: {RATE * 5} sample(s) are NaN or infinite, the first at 0.000 s (frame 0); the file is damaged or "
        "not audio: export or convert it again"
    ), line
    assert main(["measure", str(float_wav(tmp_path / "fine.wav", 5.0)), "--against", str(music)]) == 0


def test_measure_names_non_finite_music_too(tmp_path, capsys):
    generated = float_wav(tmp_path / "gen.wav", seconds=5.0)
    music = float_wav(tmp_path / "music.wav", seconds=6.0, bad={RATE * 4: np.inf})
    line = one_error_line(["measure", generated, "--against", music, "--json"], capsys)
    assert f"{music}: 1 sample(s) are NaN or infinite, the first at 4.000 s (frame {RATE * 4})" in line, line


@pytest.mark.parametrize("block_frames", [997, 1 << 16])
def test_both_readers_count_every_bad_sample_and_find_the_first(tmp_path, block_frames):
    from rt_samplernn.audio import FileClip, read_audio

    bad = {24_000: np.nan, 24_001: -np.inf, 40_000: np.nan}  # the last one blocks after the first
    path = float_wav(tmp_path / "three.wav", bad=bad, channels=2)
    words = f"{path}: 3 sample(s) are NaN or infinite, the first at 1.500 s (frame 24000)"
    with pytest.raises(UserError, match="NaN or infinite") as e:
        read_audio(path)
    assert str(e.value).startswith(words)
    blocks = []
    with pytest.raises(UserError, match="NaN or infinite") as e:
        for block in FileClip(path).blocks(block_frames):
            blocks.append(block)
    assert str(e.value).startswith(words) and "\n" not in str(e.value)
    assert sum(len(b) for b in blocks) <= 24_000  # nothing of a block holding one was handed on
    assert read_audio(path, max_seconds=1.0)[0].shape == (RATE, 2)  # the start alone is fine


def test_priming_a_seed_slot_and_the_data_check_name_the_file(tmp_path, capsys):
    from rt_samplernn.config import ModelConfig, TrainConfig
    from rt_samplernn.data import build_dataset
    from rt_samplernn.live.params import Parameters

    path = float_wav(tmp_path / "seed.wav", bad={100: np.nan})
    with pytest.raises(UserError, match=r"seed\.wav: 1 sample\(s\) are NaN or infinite, the first at 0\.006 s"):
        Parameters(voices=1).load_slot(0, str(path))
    folder = tmp_path / "music"
    folder.mkdir()
    float_wav(folder / "a.wav", seconds=4.0)
    path.rename(folder / "seed.wav")
    cfg = ModelConfig(frame_sizes=(4, 16), dim=16, sample_dim=8, emb_size=4)
    data = build_dataset([folder], cfg, TrainConfig(batch_size=2, seq_len=256, chunk_seconds=0.5), quiet=True)
    skipped = dict(data.report.skipped)
    assert skipped[folder / "seed.wav"].startswith("1 sample(s) are NaN or infinite"), skipped


def test_generate_from_a_seed_holding_inf_is_one_line(tmp_path, capsys):
    pytest.importorskip("torch")
    from tests.bundle_helpers import tiny_bundle

    _, bundle = tiny_bundle(tmp_path / "b")
    seed = float_wav(tmp_path / "seed.wav", bad={RATE: np.inf})
    line = one_error_line(
        ["generate", bundle, "--seed-audio", seed, "--seconds", "0.1", "--out", tmp_path / "a.wav"], capsys
    )
    assert f"{seed}: 1 sample(s) are NaN or infinite, the first at 1.000 s" in line, line
    assert not (tmp_path / "a.wav").exists()


def test_audio_statistics_refuse_a_file_holding_nan(tmp_path):
    from rt_samplernn.block_features import audio_stats

    float_wav(tmp_path / "a.wav", seconds=4.0)
    float_wav(tmp_path / "b.wav", seconds=4.0, bad={5: np.nan})
    with pytest.raises(UserError, match=r"b\.wav: 1 sample\(s\) are NaN or infinite"):
        audio_stats([tmp_path], RATE)
