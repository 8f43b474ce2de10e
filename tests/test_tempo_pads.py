"""Pads on the beat (--quantize): a seed prime and a bookmark recall from a pad land on the next beat's first
sample (or bar's), a loop then repeats from what the pad brought; the tempo and the loop's variation are knobs."""

from __future__ import annotations

import numpy as np
import pytest

from rt_samplernn.live.control import LiveControl
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.params import Parameters
from rt_samplernn.live.tempo import BEATS_PER_BAR, Loop, Tempo, TempoLocked
from rt_samplernn.models import DEMO_BUNDLE
from tests.midi_helpers import tone

BEAT = 4000  # samples a beat: beats fall inside blocks of 256, not on their seams
BLOCK = 256


def engine() -> Engine:
    e = Engine(DEMO_BUNDLE, voices=1, seed=3)
    e.set_temperature(1.0)
    return e


def locked_rig(quantize: str, loop: Loop | None = None) -> tuple[Engine, TempoLocked, Parameters, LiveControl]:
    """An engine behind a tempo, its parameters and control loop, wired as the rig wires them."""
    e = engine()
    locked = TempoLocked(e, Tempo(60.0 * e.sample_rate / BEAT), loop, quantize=quantize)
    params = Parameters()
    params.add_cells(locked.cells(), kept=False)
    control = LiveControl(params, e, start=False)
    control.quantizer = locked.launch if locked.launch_beats else None
    return e, locked, params, control


def blocks(locked: TempoLocked, control: LiveControl, count: int) -> np.ndarray:
    """The player's worker: the control loop's tick, then the producer, per block."""
    out = []
    for _ in range(count):
        control.tick(BLOCK)
        out.append(locked.generate(BLOCK, apply_gain=False))
    return np.concatenate(out, axis=1)[0]


@pytest.mark.parametrize("quantize", ["beat", "bar"])
def test_a_prime_pressed_mid_beat_lands_on_the_next_beats_first_sample(quantize, tmp_path):
    e, locked, params, control = locked_rig(quantize, Loop(beats=1))
    params.load_slot(0, tone(tmp_path / "seed.wav", rate=16000, seconds=1.0))
    before = blocks(locked, control, 10)  # 2560 samples: beat 0 behind, beat 1 at 4000
    params.select_and_prime(0)  # the pad, mid-beat
    control.run_pending()  # the helper thread primes; the start waits for the beat
    lands = BEAT if quantize == "beat" else BEAT * BEATS_PER_BAR
    audio = np.concatenate([before, blocks(locked, control, (lands + 2 * BEAT) // BLOCK - 9)])

    reference = engine()
    reference.prime(params.slots[0].audio, params.slots[0].sample_rate)
    primed = reference.generate(BEAT)[0]
    np.testing.assert_array_equal(audio[lands : lands + BEAT], primed)  # from the beat's first sample
    assert not np.array_equal(audio[lands - BEAT : lands], primed)  # not a sample earlier
    np.testing.assert_array_equal(audio[lands + BEAT : lands + 2 * BEAT], primed)  # the loop repeats the prime
    assert control.primes == 1 and locked.loop is not None and locked.loop.first_beat == lands // BEAT


def test_a_pad_recall_waits_for_the_beat_and_with_quantize_off_comes_at_the_next_block():
    for quantize, lands in (("beat", BEAT), ("off", 10 * BLOCK)):
        e, locked, params, control = locked_rig(quantize)
        blocks(locked, control, 2)
        params.pad("bookmark_save", 0)
        after_save = blocks(locked, control, 8)  # samples 512..2559 follow the bookmark
        params.pad("bookmark_recall", 0)  # a pad, before the block at sample 2560 (mid-beat)
        audio = np.concatenate([np.zeros(10 * BLOCK, np.float32), blocks(locked, control, 12)])  # to 5632
        np.testing.assert_array_equal(audio[lands : lands + 1024], after_save[:1024], err_msg=quantize)
        if quantize == "beat":
            assert not np.array_equal(audio[lands - 256 : lands], after_save[:256])  # the old music until the beat
        assert control.recalls == 1


def test_the_tempo_and_the_loop_variation_are_knobs_applied_at_the_next_block():
    e, locked, params, control = locked_rig("beat", Loop(beats=1, seed=9))
    assert [c.name for c in params.added()] == ["tempo.bpm", "loop.variation"]
    params["tempo.bpm"].set(240.0)  # OSC /tempo/bpm, a MIDI control, the window
    params["loop.variation"].set(1.0)  # every due recall skipped: the voice drifts on
    blocks(locked, control, 1)
    assert locked.grid.bpm == 240.0 and locked.loop is not None and locked.loop.variation == 1.0
    blocks(locked, control, 40)
    assert locked.loop.recalls == 0 and locked.loop.skipped >= 2
    params["loop.variation"].set(0.0)
    blocks(locked, control, 40)
    assert locked.loop.recalls >= 2


def test_quantize_without_a_tempo_is_one_line(capsys):
    from rt_samplernn.cli import main

    assert main(["play", str(DEMO_BUNDLE), "--device", "none", "--seconds", "0.1", "--quantize", "bar"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("--quantize bar needs a tempo: add --bpm (e.g. --bpm 120) or --midi-clock PORT")
