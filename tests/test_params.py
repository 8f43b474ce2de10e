"""Live parameters: the declarations, ranges and curves, lock-free cells with versions, per-block smoothing,
and LiveControl applying them to a real engine (tiny bundle) and a real, unstarted player."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from rt_samplernn.errors import UserError
from rt_samplernn.live.control import LiveControl, Notices
from rt_samplernn.live.devices import NO_DEVICE
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.params import PARAMETERS, FloatSpec, Parameters
from rt_samplernn.live.player import Player
from tests.stream_helpers import tiny_bundle


class RecordingEngine(Engine):
    """The real engine on a tiny bundle, noting the calls LiveControl makes (after they succeed)."""

    def __init__(self, bundle: Path, voices: int = 1) -> None:
        super().__init__(bundle, voices=voices, provider="cpu")
        self.calls: list[tuple[Any, ...]] = []

    def set_min_p(self, value: float, voice: int | None = None) -> None:
        super().set_min_p(value, voice)
        self.calls.append(("min_p", value, voice))

    def set_temperature(self, value: float, voice: int | None = None) -> None:
        super().set_temperature(value, voice)
        self.calls.append(("temperature", value, voice))

    def set_gain(self, gain: float) -> None:
        super().set_gain(gain)
        self.calls.append(("gain", gain))

    def prime(self, audio: Any, rate: int | None = None, seed: int | None = None, progress: Any = None) -> None:
        super().prime(audio, rate, seed, progress)
        self.calls.append(("prime", np.shape(audio), rate, float(audio[0])))  # a slot holds mono

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.calls.append(("reset", seed))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bundle(tmp_path_factory.mktemp("tiny"))


def make_player(engine: Engine) -> Player:
    """A real player on the software clock, never started: its switches and seed are what LiveControl sets."""
    return Player(engine, device=NO_DEVICE, switch_interval_s=None)


# -- ranges and curves ----------------------------------------------------------------------------------


def test_default_temperature_range_reaches_the_near_deterministic_end():
    from rt_samplernn.live.engine_knobs import MIN_TEMPERATURE

    p = Parameters()
    t = p["temperature"]
    t.set_normalized(0.0)
    assert t.target == 0.05 and t.target >= MIN_TEMPERATURE  # the engine takes it as it is
    t.set_normalized(1.0)
    assert t.target == 1.5
    assert t.target == 1.5 and t.normalized == 1.0
    t.set(1.0)
    assert t.normalized == pytest.approx(0.95 / 1.45) and t.format() == "1.00"


def test_the_bottom_of_the_temperature_knob_is_near_deterministic_on_the_demo_model():
    """Two noise seeds draw the same 4096 samples at the knob's minimum; at the default they part at once. The
    sample graph's own law: the quiet lift (live/lift.py), which draws quiet frames warmer, is left out."""
    from rt_samplernn.live.engine import Engine
    from rt_samplernn.models import DEMO_BUNDLE

    spec = Parameters()["temperature"].spec

    def agreement(temperature: float) -> float:
        a, b = (Engine(DEMO_BUNDLE, seed=seed, provider="cpu", lift=None) for seed in (1, 2))
        for e in (a, b):
            e.set_temperature(temperature)
        return float(np.mean(a.generate(4096) == b.generate(4096)))

    assert agreement(spec.from_normalized(0.0)) > 0.99
    assert agreement(spec.default) < 0.5


def test_every_declaration_makes_a_cell_and_floats_name_an_engine_method():
    from rt_samplernn.live.engine import Engine

    p = Parameters(voices=2)
    for d in PARAMETERS:
        assert p[d.name].decl is d and p[d.name].label == d.label
        if d.kind == "float":
            assert callable(getattr(Engine, d.engine))
    assert [c.label for c in p.voice_cells("temperature")] == ["Voice 1 temp", "Voice 2 temp"]


@pytest.mark.parametrize(
    "spec",
    [
        FloatSpec(0.5, 1.5, 1.0),
        FloatSpec(0.25, 4.0, 1.0, curve="log"),
        FloatSpec(0.0, 2.0, 1.0, power=2.0),
        FloatSpec(0.1, 10.0, 1.0, curve="log", power=0.5),
    ],
)
def test_curves_are_monotonic_and_invert(spec):
    us = np.linspace(0, 1, 33)
    values = [spec.from_normalized(u) for u in us]
    assert values[0] == pytest.approx(spec.minimum) and values[-1] == pytest.approx(spec.maximum)
    assert all(b > a for a, b in itertools.pairwise(values))
    for u, v in zip(us, values, strict=True):
        assert spec.to_normalized(v) == pytest.approx(u, abs=1e-9)


def test_log_curve_gives_equal_ratios_per_turn():
    spec = FloatSpec(0.25, 4.0, 1.0, curve="log")
    assert spec.from_normalized(0.5) == pytest.approx(1.0)
    assert spec.from_normalized(0.25) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "kw,word",
    [
        (dict(minimum=1.0, maximum=1.0, default=1.0), "below"),
        (dict(minimum=0.0, maximum=2.0, default=1.0, curve="log"), "minimum > 0"),
        (dict(minimum=0.5, maximum=1.5, default=1.0, curve="cubic"), "linear"),
        (dict(minimum=0.5, maximum=1.5, default=3.0), "outside"),
        (dict(minimum=0.5, maximum=1.5, default=1.0, smoothing_ms=-1), "smoothing_ms"),
        (dict(minimum=float("nan"), maximum=1.5, default=1.0), "finite"),
    ],
)
def test_bad_specs_name_the_problem(kw, word):
    with pytest.raises(UserError, match=word):
        FloatSpec(**kw)


def test_a_temperature_range_reaching_zero_is_refused():
    with pytest.raises(UserError, match="> 0"):
        Parameters(temperature=FloatSpec(0.0, 1.0, 0.5))
    p = Parameters()
    with pytest.raises(UserError, match="> 0"):
        p.set_specs({"temperature": FloatSpec(0.0, 1.0, 0.5)})


# -- cells ----------------------------------------------------------------------------------------------


def test_writes_clamp_ignore_nan_and_bump_versions():
    p = Parameters()
    t = p["temperature"]
    v0, pv0 = t.version, p.version
    t.set(7.0)
    assert t.target == 1.5 and t.version > v0 and p.version > pv0
    t.set(-3)
    assert t.target == 0.05
    v1 = t.version
    t.set(float("nan"))
    t.set_normalized(float("nan"))
    t.set("garbage")
    assert t.target == 0.05 and t.version == v1
    p["slot"].set(99)
    assert p["slot"].target == p["slot"].count - 1
    p["slot"].set_normalized(0.0)
    assert p["slot"].target == 0


def test_versions_are_unique_across_parameters():
    p = Parameters(voices=3)
    seen = set()
    for cell in p:
        seen.add(cell.version)
    p["gain"].set(0.5)
    p["temperature"].set(1.2)
    seen |= {cell.version for cell in p}
    assert len(seen) == len(p.names()) + 2 + 3  # the voice temperatures follow the master


def test_unknown_parameter_lists_the_names():
    with pytest.raises(UserError, match="temperature, min_p, gain, slot, prime, reset, watchdog"):
        Parameters()["temprature"]


def test_master_temperature_moves_every_voice_and_a_voice_moves_alone():
    p = Parameters(voices=3)
    assert p.names()[:4] == ["temperature", "temperature.1", "temperature.2", "temperature.3"]  # voices from 1
    p["temperature"].set(1.3)
    assert [c.target for c in p.voice_cells("temperature")] == [1.3, 1.3, 1.3]
    p["temperature.2"].set(0.7)
    assert [c.target for c in p.voice_cells("temperature")] == [1.3, 0.7, 1.3]
    assert p["temperature"].target == 1.3


# -- applying to an engine ------------------------------------------------------------------------------


def test_a_write_reaches_the_engine_at_the_next_block_without_smoothing(bundle):
    engine = RecordingEngine(bundle)
    p = Parameters(temperature=FloatSpec(0.5, 1.5, 1.0, smoothing_ms=0))
    with LiveControl(p, engine, start=False) as control:
        control.tick(256)
        assert engine.calls == []  # nothing changed: nothing sent
        p["temperature"].set_normalized(0.75)
        control.tick(256)
        assert engine.calls == [("temperature", 1.25, None)]
        assert p["temperature"].value == 1.25
        control.tick(256)
        assert len(engine.calls) == 1


def test_smoothing_ramps_a_jump_over_the_blocks_it_should_take(bundle):
    engine = RecordingEngine(bundle)
    # full range (0.5..1.5) in 40 ms; a block of 256 at 16 kHz is 16 ms -> 0.4 per block
    p = Parameters(temperature=FloatSpec(0.5, 1.5, 1.0, smoothing_ms=40.0))
    control = LiveControl(p, engine, start=False)
    p["temperature"].set(0.5)
    temps = []
    for _ in range(5):
        control.tick(256)
        temps.append(engine.temperatures[0])
    assert temps == pytest.approx([0.6, 0.5, 0.5, 0.5, 0.5])
    p["temperature"].set(1.5)
    temps = []
    for _ in range(4):
        control.tick(256)
        temps.append(engine.temperatures[0])
    assert temps == pytest.approx([0.9, 1.3, 1.5, 1.5])
    steps = np.diff([0.5] + temps)
    assert np.all(steps <= 0.4 + 1e-9)  # no block moves more than the slew limit: no click


def test_gain_ramps_and_per_voice_temperatures_go_to_their_voice(bundle):
    engine = RecordingEngine(bundle, voices=2)
    p = Parameters(voices=2, gain=FloatSpec(0.0, 2.0, 1.0, power=2.0, smoothing_ms=0))
    control = LiveControl(p, engine, start=False)
    p["temperature.2"].set(0.8)  # voice 2 is the engine's voice index 1
    p["gain"].set_normalized(0.5)
    control.tick(256)
    assert ("temperature", pytest.approx(0.8), 1) in engine.calls
    assert not any(c[0] == "temperature" and c[2] == 0 for c in engine.calls)
    assert engine.gain == pytest.approx(0.5)  # u**2 * 2
    assert list(engine.temperatures) == pytest.approx([1.0, 0.8])


def test_control_starts_from_the_engine_settings(bundle):
    engine = RecordingEngine(bundle, voices=2)
    engine.set_temperature(0.8, voice=0)
    engine.set_temperature(1.2, voice=1)
    engine.set_gain(0.5)
    engine.calls.clear()
    p = Parameters(voices=2)
    control = LiveControl(p, engine, start=False)
    assert p["temperature.1"].target == pytest.approx(0.8)
    assert p["temperature.2"].target == pytest.approx(1.2)
    assert p["gain"].target == 0.5
    control.tick(256)
    assert engine.calls == []


def test_a_reopened_model_takes_the_performers_settings_to_the_engine(bundle):
    old = Parameters(voices=2, temperature=FloatSpec(0.2, 1.5, 1.0, smoothing_ms=0))
    old["temperature.2"].set(0.4)
    old["gain"].set(0.5)
    old["watchdog"].set(False)
    new = Parameters(voices=2)
    new.take_settings(old)
    engine = RecordingEngine(bundle, voices=2)
    LiveControl(new, engine, adopt_engine=False, start=False)
    assert new["temperature"].spec.minimum == 0.2 and new["watchdog"].target is False
    assert list(engine.temperatures) == pytest.approx([1.0, 0.4]) and engine.gain == 0.5


def test_engine_errors_become_a_notice_not_a_crash(bundle):
    class Grumpy(RecordingEngine):
        def set_gain(self, gain):
            raise RuntimeError("no")

    engine = Grumpy(bundle)
    p = Parameters()
    control = LiveControl(p, engine, start=False)
    v = control.message_version
    p["gain"].set(0.3)
    control.tick(256)  # the producer thread only notes it; the helper thread says it
    assert control.blocks == 1 and control.message_version == v
    control.run_pending()
    assert control.message_version != v and "RuntimeError" in control.message


def test_watchdog_switch_reaches_the_player(bundle):
    engine = RecordingEngine(bundle)
    player = make_player(engine)
    p = Parameters()
    control = LiveControl(p, engine, player, start=False)
    assert p["watchdog"].target is True
    p["watchdog"].set(False)
    control.tick(256)
    assert player.watchdog.enabled is False
    p["watchdog"].set_normalized(1.0)
    control.tick(256)
    assert player.watchdog.enabled is True


# -- slots, prime, reset ---------------------------------------------------------------------------------


def write_tone(path, rate=22050, seconds=0.25, first=0.25):
    t = np.arange(int(rate * seconds)) / rate
    audio = 0.5 * np.sin(2 * math.pi * 220 * t)
    audio[0] = first
    soundfile.write(str(path), audio.astype(np.float32), rate, subtype="FLOAT")
    return path


def test_prime_from_the_selected_slot_coalesces_and_reset_runs(tmp_path, bundle):
    engine = RecordingEngine(bundle)
    p = Parameters(slot_count=4)
    p.load_slot(0, write_tone(tmp_path / "a.wav", first=0.125))
    p.load_slot(1, write_tone(tmp_path / "b.wav", 44100, first=0.375))
    assert p.slots[1].sample_rate == 44100 and p.slots[1].name == "b.wav"
    control = LiveControl(p, engine, start=False)
    for i in range(50):  # a flood of pad hits: only the latest counts
        p.select_and_prime(i % 2)
    p.select_and_prime(1)
    control.run_pending()
    assert engine.calls == [("prime", (11025,), 44100, 0.375)]
    assert control.primes == 1
    control.run_pending()
    assert control.primes == 1
    p["reset"].fire()
    p["reset"].fire()
    control.run_pending()
    assert engine.calls[-1] == ("reset", None) and control.resets == 1


def test_after_a_pad_primes_the_players_watchdog_reprimes_from_that_slot(tmp_path, bundle):
    engine = RecordingEngine(bundle)
    player = make_player(engine)
    p = Parameters()
    p.load_slot(2, write_tone(tmp_path / "c.wav", 8000))
    control = LiveControl(p, engine, player, start=False)
    assert player.reprimer.seed is None
    p.select_and_prime(2)
    control.run_pending()
    seed = player.reprimer.seed
    assert seed is not None and seed[1] == 8000 and np.array_equal(seed[0], p.slots[2].audio)


def test_prime_from_an_empty_slot_is_a_notice(tmp_path, bundle):
    engine = RecordingEngine(bundle)
    p = Parameters(slot_count=4)
    control = LiveControl(p, engine, start=False)
    p.select_and_prime(3)
    control.run_pending()
    assert engine.calls == [] and "seed slot 4 is empty" in control.message  # slots shown from 1


def test_a_flood_of_empty_pads_logs_a_few_lines_not_one_per_hit(caplog, bundle):
    p = Parameters(slot_count=8)
    control = LiveControl(p, RecordingEngine(bundle), start=False, quiet_s=0.2)
    with caplog.at_level("WARNING", logger="rt_samplernn.live.control"):
        for i in range(55):
            p.select_and_prime(i % 8)
            control.run_pending()
        wait_until(lambda: (control.run_pending(), control.notices.suppressed == 0)[1], timeout_s=2.0)
    lines = [r.getMessage() for r in caplog.records]
    assert 1 <= len(lines) <= 3, lines
    assert "is empty" in lines[0] and "more notices" in lines[-1], lines
    assert control.notices.logged == len(lines)


def test_notices_are_all_logged_when_they_come_slowly():
    n = Notices(quiet_s=0.0)
    for i in range(5):
        n.say(f"notice {i}")
    assert n.logged == 5 and n.message == "notice 4"


def test_a_cc_that_toggles_the_watchdog_says_so(bundle):
    p = Parameters()
    engine = RecordingEngine(bundle)
    control = LiveControl(p, engine, make_player(engine), start=False)
    control.run_pending()
    v = control.message_version
    assert v == 0  # nothing to say at start
    p["watchdog"].set_normalized(0.0)
    control.run_pending()
    assert control.message == "watchdog off" and control.message_version != v
    p["watchdog"].set_normalized(1.0)
    control.run_pending()
    assert control.message == "watchdog on"


def test_helper_thread_primes_without_being_asked_twice(tmp_path, bundle):
    engine = RecordingEngine(bundle)
    p = Parameters()
    p.load_slot(0, write_tone(tmp_path / "a.wav"))
    with LiveControl(p, engine, poll_ms=1.0) as control:
        p.select_and_prime(0)
        wait_until(lambda: control.primes == 1)
    assert [c[0] for c in engine.calls] == ["prime"]


def test_a_seed_slot_holds_only_the_last_30_seconds_of_a_long_file():
    from rt_samplernn.live.params import SEED_SLOT_SECONDS
    from tests.audio_fixtures import drascula_track

    path = drascula_track(29)  # 32.1 s of 44.1 kHz stereo
    whole, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    p = Parameters(slot_count=2)
    slot = p.load_slot(0, path)
    assert slot.sample_rate == rate and slot.file_seconds == pytest.approx(len(whole) / rate)
    assert slot.seconds == SEED_SLOT_SECONDS == 30.0
    assert np.array_equal(slot.audio, whole.mean(axis=1)[-30 * rate :])  # the end of the file, mixed to mono
    short = p.load_slot(1, drascula_track(28))  # 7.4 s: kept whole
    assert short.seconds == short.file_seconds


def test_load_slot_errors_name_the_file(tmp_path):
    p = Parameters(slot_count=2)
    with pytest.raises(UserError, match="missing.wav"):
        p.load_slot(0, tmp_path / "missing.wav")
    with pytest.raises(UserError, match="seed slot 6: out of range; slots: 1..2"):
        p.load_slot(5, tmp_path / "missing.wav")


def wait_until(predicate, timeout_s=10.0):
    import time

    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def test_a_player_set_later_gets_the_watchdog_switch_at_the_next_block(bundle):
    p = Parameters()
    control = LiveControl(p, RecordingEngine(bundle), start=False)
    p["watchdog"].set(False)
    control.tick(256)
    player = make_player(control.engine)
    control.player = player
    assert player.watchdog.enabled is True
    control.tick(256)
    assert player.watchdog.enabled is False
