"""The measure of "sounds like this music" (rt_samplernn.measure): it ranks white noise, a sine, silence and real
recorded music as they sound, passes a recording against its own other half, judges each voice of a file on
its own, and `rt-samplernn measure` prints it (or one line for bad input). The watchdog's block flatness and
the music measures' flatness are one definition."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

from rt_samplernn import block_features, measure, two_sample
from rt_samplernn.cli import main
from tests.audio_fixtures import drascula_track, write_excerpt

RATE = 8000
SECONDS = 10.0


@pytest.fixture(scope="module")
def signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(int(SECONDS * RATE)) / RATE
    return {
        "noise": (0.3 * rng.uniform(-1, 1, len(t))).astype(np.float32),
        "sine": (0.1 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32),
        "silence": np.zeros(len(t), np.float32),
    }


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> np.ndarray:
    """80 s of a rhythmic Drascula track (track 24), mono at RATE, as a model hears it."""
    from rt_samplernn.audio import load_for_model

    path = write_excerpt(drascula_track(24), tmp_path_factory.mktemp("music") / "t24.wav", 10.0, 80.0, RATE)
    return load_for_model(path, RATE)


def halves(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A recording's even and odd windows: two halves of the same music."""
    w = int(measure.WINDOW_S * RATE)
    windows = x[: len(x) // w * w].reshape(-1, w)
    return windows[0::2].ravel(), windows[1::2].ravel()


def medians(x: np.ndarray) -> dict[str, float]:
    (voice,) = measure.measure_voices(x, RATE)
    return {name: measure.median(voice.measure(name)) for name in measure.MEASURES}


def test_noise_sine_silence_and_music_rank_as_they_sound(signals, recording):
    noise, sine, music = medians(signals["noise"]), medians(signals["sine"]), medians(recording)
    assert noise["flatness"] == pytest.approx(0.56, abs=0.03)
    assert noise["flatness"] > 10 * music["flatness"] > 10 * sine["flatness"]
    assert sine["pitch_salience"] > 0.95 > music["pitch_salience"] > 0.3 > noise["pitch_salience"]
    assert sine["rhythmicity"] < 0.05 and sine["spectral_dynamics"] < 0.05  # a held note: no beat, no movement
    assert music["rhythmicity"] > 0.35 > noise["rhythmicity"]
    assert music["spectral_dynamics"] > 2 * noise["spectral_dynamics"]
    assert sine["loudness_db"] == pytest.approx(-23.0, abs=0.2)  # 0.1 peak: RMS 0.0707


def test_silence_is_all_silent_windows_and_has_no_timbre(signals):
    (voice,) = measure.measure_voices(signals["silence"], RATE)
    assert voice.silent_share() == 1.0 and len(voice) == SECONDS / measure.WINDOW_S
    assert np.isnan(voice.values[:, 1:]).all()  # nothing to judge: flatness, pitch, rhythm, dynamics


def test_a_recording_passes_against_its_own_other_half(recording):
    first, second = halves(recording)
    (c,) = measure.measure_against(first, RATE, measure.Windows.join(measure.measure_voices(second, RATE), RATE))
    assert c.auc < 0.75, c.auc
    for name in ("loudness_db", "flatness", "rhythmicity"):
        assert c.rows[name].inside >= 0.6, (name, c.rows[name])
    assert c.silent_share == 0.0


def test_noise_and_a_sine_fail_against_music_in_words(signals, recording):
    music = measure.Windows.join(measure.measure_voices(recording, RATE), RATE)
    noise, sine, silence = measure.measure_against(
        np.stack([signals["noise"], signals["sine"], signals["silence"]]), RATE, music
    )
    assert noise.auc > 0.95 and noise.verdict == "noise-like"
    assert sine.auc > 0.95 and sine.rows["rhythmicity"].inside == 0.0
    assert silence.verdict == "silent" and silence.floor()["sounding"] is False
    assert [c.voice for c in (noise, sine, silence)] == ["audio voice 1", "audio voice 2", "audio voice 3"]


def test_a_held_note_as_loud_as_the_music_is_pitched_without_a_beat(recording):
    music = measure.Windows.join(measure.measure_voices(recording, RATE), RATE)
    level_db = measure.median(music.measure("loudness_db"))
    t = np.arange(int(SECONDS * RATE)) / RATE
    note = np.sqrt(2) * 10 ** (level_db / 20) * np.sin(2 * np.pi * 220.0 * t)
    (c,) = measure.measure_against(note, RATE, music)
    assert c.rows["loudness_db"].inside == 1.0 and c.verdict == "pitched, no beat yet"


def test_classifier_auc_tells_apart_what_differs_and_is_seeded():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 8)), rng.normal(size=(60, 8))
    shifted = b + np.r_[1.5, np.zeros(7)]
    assert two_sample.classifier_auc(a, shifted) > 0.8
    assert 0.25 < two_sample.classifier_auc(a, b) < 0.75
    assert two_sample.classifier_auc(a, b, seed=3) == two_sample.classifier_auc(a, b, seed=3)
    assert np.isnan(two_sample.classifier_auc(a[:1], b))


def test_music_is_resampled_normalised_capped_and_split_by_file(tmp_path, recording):
    """Music files at 16 kHz are heard at 8 kHz and peak-normalised (a copy 20 dB down measures the same);
    max_minutes spreads the windows evenly over the files; the music-vs-music halves alternate files."""
    import soxr

    first, second = (soxr.resample(x, RATE, 16000) for x in halves(recording))
    for name, x in (("a.wav", first), ("b.wav", second), ("c.wav", 0.1 * second)):
        soundfile.write(str(tmp_path / name), x, 16000, subtype="FLOAT")
    music = measure.music_windows([tmp_path], RATE)
    assert music.sample_rate == RATE and music.names == ["a.wav", "b.wav", "c.wav"]
    loud_b, loud_c = (music.select(music.group == g).measure("loudness_db") for g in (1, 2))
    np.testing.assert_allclose(loud_b, loud_c, atol=0.01)
    capped = measure.music_windows([tmp_path], RATE, max_minutes=9 * measure.WINDOW_S / 60)
    assert len(capped) == 9 and np.bincount(capped.group).tolist() == [3, 3, 3]
    one, two = measure.music_halves(music)
    assert set(one.group) == {0, 2} and set(two.group) == {1}


def test_each_channel_of_a_file_is_a_voice(tmp_path, signals, recording):
    path = tmp_path / "two.wav"
    soundfile.write(str(path), np.stack([signals["noise"], recording[: len(signals["noise"])]], axis=1), RATE)
    noise, music = measure.measure_file_voices(path)
    assert noise.names == ["two.wav channel 1"] and music.names == ["two.wav channel 2"]
    assert measure.median(noise.measure("flatness")) > 0.5 > 0.1 > measure.median(music.measure("flatness"))
    capped = measure.measure_file_voices(path, max_minutes=2 * measure.WINDOW_S / 60)[0]
    assert len(capped) == 2


def test_watchdog_blocks_and_music_windows_measure_one_flatness(signals):
    """One definition: a window's flatness is the mean of the watchdog's block flatness over its blocks."""
    analyser = block_features.BlockAnalyser(RATE)
    for x in (signals["noise"], signals["sine"]):
        (voice,) = measure.measure_voices(x, RATE)
        window = x[: int(measure.WINDOW_S * RATE)]
        watchdog = float(np.mean(analyser.features(analyser.blocks(window))[1]))
        assert voice.measure("flatness")[0] == pytest.approx(watchdog, rel=1e-9)


def test_measure_command_prints_a_table_per_voice_and_json(tmp_path, signals, recording, capsys):
    gen = tmp_path / "gen.wav"
    soundfile.write(str(gen), np.stack([signals["noise"], signals["sine"]], axis=1), RATE)
    soundfile.write(str(tmp_path / "music.wav"), recording, RATE)
    assert main(["measure", str(gen), "--against", str(tmp_path / "music.wav")]) == 0
    out = capsys.readouterr().out
    assert "gen.wav channel 1" in out and "gen.wav channel 2" in out and "noise-like" in out
    assert "rhythmicity" in out and "AUC generated vs music" in out
    assert main(["measure", str(gen), "--against", str(tmp_path / "music.wav"), "--json"]) == 0
    voices = json.loads(capsys.readouterr().out)
    assert [v["voice"] for v in voices] == ["gen.wav channel 1", "gen.wav channel 2"]
    assert voices[0]["measures"]["flatness"]["generated_median"] > 0.5 and voices[1]["verdict"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["missing.wav", "--against", "MUSIC"], ["missing.wav", "no such file"]),
        (["GEN", "--against", "missing"], ["missing", "no such file"]),
        (["SHORT", "--against", "MUSIC"], ["short.wav", "shorter than one 2-s window"]),
        (["GEN", "--against", "SHORT"], ["no music of 2 s or more"]),
        (["GEN", "--against", "EMPTY"], ["no audio files"]),
        (["TEXT", "--against", "MUSIC"], ["notes.wav", "cannot read audio"]),
        (["GEN", "--against", "MUSIC", "--max-minutes", "0"], ["--max-minutes", "'0'"]),
        (["GEN"], ["--against"]),
    ],
)
def test_measure_command_rejects_bad_input_in_one_line(tmp_path, signals, capsys, args, words):
    soundfile.write(str(tmp_path / "gen.wav"), signals["noise"], RATE)
    soundfile.write(str(tmp_path / "music.wav"), signals["sine"], RATE)
    soundfile.write(str(tmp_path / "short.wav"), signals["sine"][:RATE], RATE)
    (tmp_path / "notes.wav").write_text("not audio")
    (tmp_path / "empty").mkdir()
    names = {"GEN": "gen.wav", "MUSIC": "music.wav", "SHORT": "short.wav", "TEXT": "notes.wav", "EMPTY": "empty"}
    names |= {"missing.wav": "missing.wav", "missing": "missing"}
    argv = ["measure"] + [str(tmp_path / names[a]) if a in names else a for a in args]
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("reading ")]
    assert rc != 0 and len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])
