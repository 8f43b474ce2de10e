"""The watchdog on clips built from real recorded music (Drascula's soundtrack): music raises nothing; a
drone (low-passed, looped), a short loop, hiss (noise over music), silence and a blow-up each raise their
event; thresholds from training audio; re-priming. (The muted stream is in tests/test_stream_jack.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

from rt_samplernn.block_features import MANIFEST_KEY, audio_stats, window_features
from rt_samplernn.live.bundle import update_manifest
from rt_samplernn.live.watchdog import (
    DRONE,
    HISS,
    NOISE,
    SILENCE,
    Reprimer,
    Watchdog,
    WatchdogConfig,
)
from tests.audio_fixtures import drascula_track
from tests.stream_helpers import Collapsing

RATE = 16000
_CLIPS: dict[tuple[int, float, float], np.ndarray] = {}


def music(track: int, start_s: float, seconds: float) -> np.ndarray:
    """A mono 16 kHz excerpt of a Drascula track, as the model hears audio (peak-normalised)."""
    key = (track, start_s, seconds)
    if key not in _CLIPS:
        import soundfile

        path = drascula_track(track)
        info = soundfile.info(str(path))
        data, rate = soundfile.read(
            str(path),
            start=int(start_s * info.samplerate),
            frames=int(seconds * info.samplerate),
            dtype="float32",
            always_2d=True,
        )
        from rt_samplernn.audio import to_model_audio

        _CLIPS[key] = to_model_audio(data, rate, RATE)
    return _CLIPS[key].copy()


def low_pass(x: np.ndarray, hz: float) -> np.ndarray:
    """A brick-wall low-pass (FFT): what is left of a recording below ``hz``."""
    spec = np.fft.rfft(x)
    spec[np.fft.rfftfreq(len(x), 1.0 / RATE) > hz] = 0.0
    return np.fft.irfft(spec, len(x)).astype(np.float32)


def feed(wd: Watchdog, audio: np.ndarray, chunk: int = 256) -> list:
    """Feed (voices, n) audio chunk by chunk like the streaming worker does; the events found."""
    audio = np.atleast_2d(audio)
    events = []
    for i in range(0, audio.shape[1], chunk):
        e = wd.process(audio[:, i : i + chunk])
        if e is not None:
            events.append(e)
    return events


def kinds(events: list) -> list[str]:
    return [e.kind for e in events]


@pytest.mark.parametrize("track", [2, 5, 14, 22])
def test_recorded_music_raises_no_event(track):
    """Tracks with a cymbal-heavy passage (5), sustained bass (14, 22) and quiet passages (2)."""
    clip = music(track, 20.0, 30.0)
    wd = Watchdog(RATE, 1)
    assert feed(wd, clip) == [] and wd.events == 0


def test_a_drone_is_heard():
    """A recording low-passed to its bass (the demo's collapse: 45-54 Hz, 88% of the energy under 100 Hz)."""
    bass = np.tile(low_pass(music(14, 20.0, 2.0), 70.0), 5)  # 2 s of its bass line, over and over
    bass *= 0.3 / np.abs(bass).max()
    assert window_features(bass, RATE)["low_share"].mean() > 0.9
    wd = Watchdog(RATE, 1)
    events = feed(wd, np.concatenate([music(2, 20.0, 3.0), bass]))
    assert kinds(events) == [DRONE] and wd.drone_events == 1
    assert events[0].low_share > wd.config.drone_low_share and events[0].at_seconds > 5.0


def test_a_short_loop_is_heard():
    """Half a second of real music played over and over (no bass drone: only the repetition gives it away)."""
    loop = np.tile(music(5, 30.0, 0.5), 16)
    wd = Watchdog(RATE, 1)
    events = feed(wd, np.concatenate([music(5, 40.0, 3.0), loop]))
    assert kinds(events) == [DRONE]
    assert events[0].similarity >= wd.config.loop_similarity and events[0].low_share < 0.5


def test_hiss_over_music_is_heard_at_any_level():
    """White noise mixed over music, as the demo sounds at temperature 1.3 (flatness 0.26-0.31)."""
    rng = np.random.default_rng(0)
    clip = music(2, 20.0, 10.0)
    for level in (0.03, 0.07):  # quiet hiss and hiss as loud as the demo's (-23 dBFS; louder is a blow-up)
        hiss = 0.3 * clip + level * rng.standard_normal(len(clip)).astype(np.float32)
        wd = Watchdog(RATE, 1)
        events = feed(wd, hiss)
        assert kinds(events) == [HISS], level
        assert events[0].flatness > wd.config.hiss_flatness


def test_silence_and_a_stuck_level_are_collapses():
    cfg = WatchdogConfig(silence_ms=1000)
    fade = music(2, 20.0, 2.0) * 1e-4  # the recording 80 dB down
    events = feed(Watchdog(RATE, 1, cfg), np.concatenate([music(2, 30.0, 2.0), fade]))
    assert kinds(events) == [SILENCE] and events[0].rms_db < cfg.silence_db
    wd = Watchdog(RATE, 1, cfg)  # a constant level sounds like silence too: once per window while it lasts
    assert kinds(feed(wd, np.full(RATE * 5 // 2, 0.4, np.float32))) == [SILENCE, SILENCE]
    assert wd.silence_events == 2 and wd.events == 2


def test_a_blow_up_is_noise_and_a_crash_in_music_is_not():
    rng = np.random.default_rng(1)
    wd = Watchdog(RATE, 1)
    blow_up = 0.5 * rng.standard_normal(3 * RATE).astype(np.float32)
    events = feed(wd, np.concatenate([music(5, 20.0, 3.0), blow_up]))
    assert kinds(events) == [NOISE] and wd.noise_events == 1  # before the slower hiss check
    crash = music(5, 20.0, 6.0)
    crash[RATE : RATE + RATE // 4] += 0.8 * rng.standard_normal(RATE // 4).astype(np.float32)
    assert feed(Watchdog(RATE, 1), crash) == []


def test_one_bad_voice_is_found_among_good_ones():
    wd = Watchdog(RATE, 3, WatchdogConfig(silence_ms=1000))
    audio = np.stack([music(2, 20.0, 2.0), np.zeros(2 * RATE, np.float32), music(5, 20.0, 2.0)])
    events = feed(wd, audio)
    assert events and events[0].voice == 1


def test_thresholds_are_configurable_and_switching_off_forgets():
    quiet = music(2, 20.0, 2.0) * 10 ** (-45 / 20)  # the recording 45 dB down: about -63 dBFS
    assert feed(Watchdog(RATE, 1, WatchdogConfig(silence_ms=1000)), quiet)
    assert feed(Watchdog(RATE, 1, WatchdogConfig(silence_ms=1000, silence_db=-80)), quiet) == []
    wd = Watchdog(RATE, 1, WatchdogConfig(silence_ms=1000))
    wd.enabled = False
    assert feed(wd, np.zeros(3 * RATE, np.float32)) == []
    wd.enabled = True
    assert feed(wd, np.zeros(RATE // 2, np.float32)) == []  # needs a full window after switching on
    with pytest.raises(ValueError):
        WatchdogConfig(silence_ms=0)


def test_thresholds_come_from_the_training_audio_in_the_bundle(tmp_path):
    import soundfile

    for n, track in enumerate((2, 14)):
        soundfile.write(str(tmp_path / f"{n}.wav"), music(track, 20.0, 12.0), RATE)
    stats = audio_stats([tmp_path], RATE)
    assert stats["windows"] == 22 and stats["sample_rate"] == RATE  # 11 windows of 16 blocks a file
    assert 0 < stats["flatness"]["p50"] < stats["flatness"]["p99"] < 0.2
    assert stats["low_share"]["p99"] > stats["low_share"]["p1"]
    cfg = WatchdogConfig.from_audio_stats(stats)
    assert cfg.hiss_flatness == pytest.approx(min(max(2.8 * stats["flatness"]["p99"], 0.15), 0.4))
    assert WatchdogConfig.from_audio_stats(None) == WatchdogConfig()
    assert WatchdogConfig.from_audio_stats({"flatness": "odd"}) == WatchdogConfig()  # foreign entry: defaults

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "model.json").write_text(json.dumps({"format": "rt-samplernn-bundle", "version": 1}))
    update_manifest(bundle, MANIFEST_KEY, stats)
    manifest = json.loads((bundle / "model.json").read_text())
    assert manifest["audio_stats"] == stats and manifest["version"] == 1
    assert [p.name for p in bundle.iterdir()] == ["model.json"]  # no temporary file left behind

    import shutil

    from rt_samplernn.live.devices import NO_DEVICE
    from rt_samplernn.live.engine import Engine
    from rt_samplernn.live.player import Player
    from tests.stream_helpers import tiny_bundle

    real = shutil.copytree(tiny_bundle(tmp_path / "tiny"), tmp_path / "real")
    assert Player(Engine(real, provider="cpu"), device=NO_DEVICE).watchdog.config == WatchdogConfig()  # defaults
    update_manifest(real, MANIFEST_KEY, stats)
    assert Player(Engine(real, provider="cpu"), device=NO_DEVICE).watchdog.config == cfg  # what the player reads


def test_reprimer_primes_from_the_seed_with_a_fresh_noise_seed_each_time():
    producer = Collapsing(RATE, 1)
    clip = music(2, 20.0, 1.0)
    rp = Reprimer(producer, seed=(clip, RATE), reset_seed_base=5)
    assert rp.request(wait=True) and rp.request(wait=True)
    assert [p[0] for p in producer.primes] == [len(clip)] * 2
    seeds = [p[1] for p in producer.primes]
    assert len(set(seeds)) == 2  # never the same noise twice: that would replay the collapse
    assert rp.recoveries == 2 and producer.resets == []


def test_reprimer_resets_without_a_seed_and_counts_failures():
    producer = Collapsing(RATE, 1)
    rp = Reprimer(producer)
    rp.request(wait=True)
    rp.request(wait=True)
    assert len(producer.resets) == 2 and len(set(producer.resets)) == 2

    class Broken(Collapsing):
        def reset(self, seed=None):
            raise RuntimeError("engine is gone")

    rp = Reprimer(Broken(RATE, 1))
    rp.request(wait=True)
    assert rp.failures == 1 and "engine is gone" in rp.last_error and rp.recoveries == 0


def test_export_audio_stats_writes_the_training_audio_into_the_bundle(tmp_path):
    """`rt-samplernn export CKPT --audio-stats FILES`: the bundle loads, carries the entry, and the player's
    watchdog takes its thresholds from it."""
    torch = pytest.importorskip("torch")
    import subprocess
    import sys

    import soundfile

    from rt_samplernn.checkpoint import save_checkpoint
    from rt_samplernn.config import ModelConfig
    from rt_samplernn.live.bundle import load_bundle
    from rt_samplernn.model import SampleRNN

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "a.pt", SampleRNN(ModelConfig(frame_sizes=(16,), dim=16, sample_dim=16, emb_size=8)))
    soundfile.write(str(tmp_path / "music.wav"), music(22, 20.0, 5.0), RATE)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rt_samplernn",
            "export",
            str(tmp_path / "a.pt"),
            "-o",
            str(tmp_path / "b"),
            "--audio-stats",
            str(tmp_path / "music.wav"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "audio_stats: 4 one-second windows" in proc.stdout
    bundle = load_bundle(tmp_path / "b")
    assert bundle.manifest["audio_stats"]["windows"] == 4
    from rt_samplernn.live.devices import NO_DEVICE
    from rt_samplernn.live.engine import Engine
    from rt_samplernn.live.player import Player

    expected = WatchdogConfig.from_audio_stats(bundle.manifest["audio_stats"])
    assert Player(Engine(bundle, provider="cpu"), device=NO_DEVICE).watchdog.config == expected
