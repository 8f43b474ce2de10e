"""The quiet lift (rt_samplernn/live/lift.py): a quiet voice samples warmer and uncut, a loud one exactly as
its knobs say; the demo no longer settles into silence at a low temperature; the lift adds no state."""

import numpy as np
import pytest

from rt_samplernn.block_features import window_features
from rt_samplernn.errors import UserError
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.lift import LiftedKnobs, QuietLift
from rt_samplernn.live.music import Usable
from rt_samplernn.models import DEMO_BUNDLE
from rt_samplernn.quantize import dequantize_table


def test_a_quiet_frame_is_lifted_and_a_loud_one_keeps_its_knobs():
    lifted = LiftedKnobs(QuietLift(1.2, below_dbfs=-30.0), dequantize_table("mu-law", 256), voices=3, frame_size=16)
    prev = np.full((3, 16), 128, np.int64)  # voice 0: the zero level
    prev[1, 5] = 250  # voice 1: one loud sample in the frame
    prev[2] = 128 + np.arange(16) % 3  # voice 2: a whisper, far under -30 dBFS
    temps, cuts = np.array([0.8, 0.8, 1.3], np.float32), np.array([0.05, 0.05, 0.05], np.float32)
    temps_out, cuts_out = np.zeros(3, np.float32), np.zeros(3, np.float32)
    lifted.apply(prev, temps, cuts, temps_out, cuts_out)
    np.testing.assert_array_equal(temps_out, np.array([1.2, 0.8, 1.3], np.float32))  # a warmer knob stays warmer
    np.testing.assert_array_equal(cuts_out, np.array([0.0, 0.05, 0.0], np.float32))


def cold_levels_db(lift: QuietLift | None, seed: int) -> np.ndarray:
    """One-second levels of two demo voices from the all-zero state at a low temperature and a tail cut."""
    engine = Engine(DEMO_BUNDLE, voices=2, seed=seed, lift=lift)
    engine.set_temperature(0.9)
    engine.set_min_p(0.06)
    audio = engine.generate(4 * engine.sample_rate, apply_gain=False)
    return np.concatenate([window_features(voice, engine.sample_rate)["rms_db"] for voice in audio])


def test_the_lift_keeps_a_cold_demo_from_settling_into_silence():
    """Without the lift the demo at T 0.9, cut 0.06 stays under -60 dBFS from silence; with it, it sounds."""
    without = np.concatenate([cold_levels_db(None, seed) for seed in (0, 1)])
    with_lift = np.concatenate([cold_levels_db(QuietLift(1.1), seed) for seed in (0, 1)])
    assert np.median(without) < -60, without
    assert np.median(with_lift) > -45, with_lift


def test_a_lifted_engine_restores_sample_exact():
    engine = Engine(DEMO_BUNDLE, voices=2, seed=4, lift=QuietLift(1.1))
    engine.set_temperature(0.9)
    engine.generate(3000)
    state = engine.snapshot()
    first = engine.generate(4000)
    engine.restore(state)
    np.testing.assert_array_equal(engine.generate(4000), first)


def test_the_usable_range_carries_its_lift_and_rejects_a_bad_one():
    usable = Usable((1.1, 1.3), (0.0, 0.06), {"temperature": 1.2, "min_p": 0.03}, 20.0, lift=QuietLift(1.05))
    entry = usable.to_manifest()
    assert entry["lift"] == {"temperature": 1.05, "below_dbfs": -30.0}
    assert Usable.from_manifest(entry, "model.json").lift == QuietLift(1.05)
    assert Usable.from_manifest({k: v for k, v in entry.items() if k != "lift"}, "model.json").lift is None
    with pytest.raises(UserError, match="model.json: 'usable.lift' is malformed"):
        Usable.from_manifest({**entry, "lift": {"temp": 1}}, "model.json")
    with pytest.raises(UserError, match="positive temperature"):
        Usable.from_manifest({**entry, "lift": {"temperature": -1}}, "model.json")
