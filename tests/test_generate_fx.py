"""`generate` with effects, the limiter and a tempo loop equals the player's worker blocks with the same seed."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from rt_samplernn.cli import main
from rt_samplernn.live.effects import Rack
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.player import Player
from rt_samplernn.live.sinks import WavSink
from rt_samplernn.live.tempo import Loop, Tempo, TempoLocked
from rt_samplernn.models import DEMO_BUNDLE

SECONDS = 0.5


def test_generate_with_a_chain_equals_the_workers_blocks(tmp_path):
    rendered = tmp_path / "render.wav"
    flags = ["--fx", "reverb:room_size=0.8,wet_level=0.5", "--fx", "delay:delay_seconds=0.05,feedback=0.5"]
    flags += ["--limiter", "-1", "--bpm", "240", "--loop-beats", "2", "--loop-variation", "0.5"]
    args = ["generate", str(DEMO_BUNDLE), "--seconds", str(SECONDS), "--seed", "5", "--cold"]
    assert main([*args, "--temperature", "1.0", "--min-p", "0", *flags, "--out", str(rendered)]) == 0

    engine = Engine(DEMO_BUNDLE, voices=1, seed=5)
    engine.set_temperature(1.0)
    engine.set_min_p(0.0)
    rack = Rack(engine.sample_rate, 1, limiter_ceiling_db=-1.0)
    rack.master.add("reverb", {"room_size": 0.8, "wet_level": 0.5})
    rack.master.add("delay", {"delay_seconds": 0.05, "feedback": 0.5})
    locked = TempoLocked(engine, Tempo(240.0), Loop(2, 0.5, seed=5))
    played = tmp_path / "played.wav"
    player = Player(locked, device="none", seconds=SECONDS, watchdog=False, sinks=[WavSink(played)], effects=rack)
    with player:
        assert player.wait(timeout_s=60.0)
    assert player.error is None

    a, rate_a = soundfile.read(rendered, dtype="float32")
    b, rate_b = soundfile.read(played, dtype="float32")
    assert rate_a == rate_b == engine.sample_rate
    assert a.shape == b.shape == (round(SECONDS * engine.sample_rate),)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a).max() <= 10 ** (-1 / 20) + 1 / 32768  # the limiter's ceiling, less the file's rounding
    assert locked.loop is not None and locked.loop.recalls + locked.loop.skipped > 0


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--fx", "flanger"], "effects: reverb"),
        (["--fx", "reverb:room_size"], "PARAM=NUMBER"),
        (["--fx", "voice3=reverb"], "chains: voice1, master"),
        (["--loop-beats", "4"], "needs a tempo"),
        (["--bpm", "1000"], "20..400 BPM"),
        (["--limiter", "loud"], "ceiling in dBFS"),
    ],
)
def test_bad_effect_flags_are_one_line_and_write_nothing(tmp_path, capsys, flags, said):
    out = tmp_path / "x.wav"
    assert main(["generate", "--seconds", "0.1", *flags, "--out", str(out)]) != 0
    err = capsys.readouterr().err.strip()
    assert said in err and "\n" not in err
    assert not out.exists()


def test_play_and_generate_have_the_limiter_on_by_default_and_a_render_equals_a_performance(tmp_path):
    ceiling = 10 ** (-1 / 20) + 1 / 32768  # -1 dBFS, less the file's rounding
    peaks = {}
    for flags in ([], ["--limiter", "off"]):  # the demo hot and +6 dB: over the ceiling without the limiter
        out = tmp_path / f"play{len(flags)}.wav"
        args = ["play", str(DEMO_BUNDLE), "--device", "none", "--seconds", "1", "--record", str(out), "-q"]
        assert main([*args, "--gain", "2", "--temperature", "1.2", *flags]) == 0
        peaks[bool(flags)] = float(np.abs(soundfile.read(out, dtype="float32")[0]).max())
    assert peaks[False] <= ceiling < peaks[True]

    rendered = tmp_path / "render.wav"
    args = ["generate", str(DEMO_BUNDLE), "--seconds", str(SECONDS), "--seed", "5", "--cold"]
    assert main([*args, "--temperature", "1.0", "--min-p", "0", "--out", str(rendered)]) == 0
    engine = Engine(DEMO_BUNDLE, voices=1, seed=5)
    engine.set_temperature(1.0)
    engine.set_min_p(0.0)
    played = tmp_path / "played.wav"
    rack = Rack(engine.sample_rate, 1, limiter_ceiling_db=-1.0)  # what play's default flags build
    player = Player(engine, device="none", seconds=SECONDS, watchdog=False, sinks=[WavSink(played)], effects=rack)
    with player:
        assert player.wait(timeout_s=60.0)
    np.testing.assert_array_equal(
        soundfile.read(rendered, dtype="float32")[0], soundfile.read(played, dtype="float32")[0]
    )
