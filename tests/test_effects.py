"""Effect chains (rt_samplernn/live/effects.py): tails across blocks, bypass, faults removed, the limiter, VST3."""

from __future__ import annotations

import numpy as np
import pytest

from rt_samplernn.errors import UserError
from rt_samplernn.live.effects import EFFECTS, Chain, Rack, installed_vst3, load_vst3

RATE = 16000
BLOCK = 256


def blocks(audio: np.ndarray, n: int = BLOCK):
    for start in range(0, audio.shape[-1], n):
        yield audio[..., start : start + n]


def noise(seconds: float, seed: int = 0, channels: int = 1, level: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (level * rng.uniform(-1, 1, (channels, round(seconds * RATE)))).astype(np.float32)


def test_reverb_tail_continues_across_blocks_without_a_click():
    chain = Chain("master", RATE)
    chain.add("reverb", {"room_size": 0.9, "wet_level": 1.0, "dry_level": 0.0})
    x = np.zeros((1, 40 * BLOCK), np.float32)
    x[:, : 2 * BLOCK] = noise(2 * BLOCK / RATE)  # a burst, then silence: what follows is tail only
    y = np.concatenate([chain.process(b.copy()) for b in blocks(x)], axis=1)
    assert y.shape == x.shape
    tail = y[0, 4 * BLOCK :]
    assert np.abs(tail[-BLOCK:]).max() > 1e-3  # still ringing 36 blocks after the burst ended
    steps = np.abs(np.diff(y[0]))
    seams = np.arange(BLOCK, y.shape[1], BLOCK) - 1  # the step from each block's last sample to the next's first
    inside = np.delete(steps, seams)
    for seam in seams[4:]:
        local = inside[max(0, seam - BLOCK) : seam + BLOCK]
        assert steps[seam] <= local.max(), f"a click at the seam before sample {seam + 1}"
    # and it is the same sound as one pass over the whole signal: nothing is reset at a block boundary
    whole = Chain("master", RATE)
    whole.add("reverb", {"room_size": 0.9, "wet_level": 1.0, "dry_level": 0.0})
    np.testing.assert_allclose(whole.process(x.copy()), y, atol=1e-6)


def test_bypass_and_an_empty_rack_are_bit_exact():
    mix = noise(0.1, channels=2).T.copy()
    audio = noise(0.1, seed=1, channels=3)
    rack = Rack(RATE, voices=3)  # no effects, no limiter
    assert rack.process_master(mix) is mix
    assert rack.process_voices(audio) is audio
    rack.master.add("delay")
    rack.chain("voice2").add("distortion")
    rack.master.bypass = True
    rack.chain("voice2").bypass = True
    for _ in range(3):
        assert rack.process_master(mix) is mix
        assert rack.process_voices(audio) is audio
    rack.chain("voice2").bypass = False
    out = rack.process_voices(audio)
    assert np.array_equal(out[[0, 2]], audio[[0, 2]]) and not np.array_equal(out[1], audio[1])


class Raises:
    """A plugin that fails in process (a double: no real plugin here crashes on demand)."""

    parameters: dict = {}

    def process(self, audio, sample_rate, reset=True):
        raise RuntimeError("plugin crashed")


class Shortens:
    """A plugin that, once settled, returns a block one frame short (a double, for the length check)."""

    parameters: dict = {}

    def __init__(self):
        self.calls = 0

    def process(self, audio, sample_rate, reset=True):
        self.calls += 1
        return audio if self.calls < 3 else audio[:, :-1]


@pytest.mark.parametrize("fault", ["raises", "nan", "length"])
def test_a_faulty_effect_is_removed_and_the_stream_goes_on(fault):
    notices: list[str] = []
    chain = Chain("master", RATE, on_notice=notices.append)
    chain.add("lowpass", {"cutoff_frequency_hz": 2000.0})
    if fault == "raises":
        chain.add_plugin(Raises(), "crashy")
    elif fault == "length":
        chain.add_plugin(Shortens(), "shorty")
    else:
        chain.add("gain", {"gain_db": 24.0})
        gain = [c for c in chain.cells() if c.name == "fx.master.gain.gain_db"][0]
        chain.slots[-1].plugin.gain_db = 1000.0  # a real overflow: float32 infinity out of pedalboard's Gain
        gain.value = gain.target = 1000.0  # (the knob would clamp it; the plugin is set behind its back)
    chain.add("reverb")
    x = noise(20 * BLOCK / RATE)
    out = [chain.process(b.copy()) for b in blocks(x)]
    assert all(o.shape == (1, BLOCK) and np.isfinite(o).all() for o in out)
    assert chain.effect_names() == ["lowpass", "reverb"]
    assert len(notices) == 1 and "removed from the chain" in notices[0] and "\n" not in notices[0]
    assert chain.removed == tuple(notices)
    # what remains is exactly a chain that never had it, from the block after the fault on
    clean = Chain("master", RATE)
    clean.add("lowpass", {"cutoff_frequency_hz": 2000.0})
    clean.add("reverb")
    ref = [clean.process(b.copy()) for b in blocks(x)]
    first_clean = 3 if fault == "length" else 1
    for a, b in list(zip(out, ref))[first_clean:]:
        np.testing.assert_array_equal(a, b)


def test_limiter_holds_its_ceiling_on_a_full_scale_burst():
    rack = Rack(RATE, voices=1, limiter_ceiling_db=-1.0)
    ceiling = np.float32(10 ** (-1.0 / 20))
    quiet = noise(0.5, level=0.1)
    burst = np.sign(noise(0.5, seed=2)).astype(np.float32)  # +-1: full scale, every sample
    x = np.concatenate([quiet, burst, 2.0 * burst, quiet], axis=1)  # and +6 dB over full scale
    peaks, reductions = [], []
    for b in blocks(x):
        y = rack.process_master(np.ascontiguousarray(b.T))
        assert y.shape == (b.shape[1], 1)
        peaks.append(float(np.abs(y).max()))
        reductions.append(rack.stats().gain_reduction_db)
    assert max(peaks) <= ceiling
    assert max(reductions) >= 6.0  # the meter saw the +6 dB burst brought under -1 dBFS
    assert reductions[0] == 0.0  # nothing over the ceiling, nothing reduced
    stats = rack.stats()
    assert stats.latency_frames == round(0.005 * RATE)  # the 5 ms lookahead, reported
    assert stats.cost_ms > 0.0 and stats.removed == ()
    assert rack.limiter is not None and rack.limiter.peak_reduction_db >= 6.0


def test_effect_parameters_are_declared_cells_that_reach_the_plugin():
    rack = Rack(RATE, voices=2, limiter_ceiling_db=-1.0)
    rack.master.add("reverb")
    rack.chain("voice1").add("lowpass")
    names = {c.name for c in rack.cells()}
    assert {"fx.master.reverb.room_size", "fx.voice1.lowpass.cutoff_frequency_hz"} <= names
    assert "fx.master.brickwall.ceiling_db" in names
    cutoff = next(c for c in rack.cells() if c.name == "fx.voice1.lowpass.cutoff_frequency_hz")
    assert cutoff.decl.osc_address == "/fx/voice1/lowpass/cutoff_frequency_hz"
    assert cutoff.spec.maximum <= 0.45 * RATE  # under Nyquist at the model's rate
    room = next(c for c in rack.cells() if c.name == "fx.master.reverb.room_size")
    room.set_normalized(1.0)  # as MIDI or OSC would, from any thread
    for _ in range(10):  # the ramp (30 ms for the full range) is over within a few blocks
        rack.process_master(np.zeros((BLOCK, 2), np.float32))
    assert rack.master.slots[0].plugin.room_size == pytest.approx(1.0)


def test_unknown_effects_and_values_are_one_line_errors(tmp_path):
    chain = Chain("master", RATE)
    with pytest.raises(UserError, match="effects: reverb, delay"):
        chain.add("flanger")
    with pytest.raises(UserError, match="parameters: damping"):
        chain.add("reverb", {"size": 1.0})
    with pytest.raises(UserError, match=r"fx.master.reverb.room_size = 2: outside 0..1"):
        chain.add("reverb", {"room_size": 2.0})
    bogus = tmp_path / "Broken.vst3"
    bogus.write_bytes(b"not a plugin")
    with pytest.raises(UserError, match="did not load") as e:
        load_vst3(bogus)
    assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="no such plugin"):
        load_vst3(tmp_path / "missing.vst3")
    assert set(EFFECTS) >= {"reverb", "delay", "chorus", "phaser", "compressor", "highpass", "lowpass"}


def test_an_installed_vst3_plugin_runs_in_a_chain():
    found = installed_vst3()
    if not found:
        pytest.skip("no VST3 plugin installed in /usr/lib/vst3 or ~/.vst3")
    chain = Chain("master", RATE)
    slot = chain.add_plugin(load_vst3(found[0]), found[0].stem)
    out = [chain.process(b.copy()) for b in blocks(noise(0.2, channels=2))]
    assert chain.effect_names() == [slot.name] and all(o.shape == (2, BLOCK) for o in out)
