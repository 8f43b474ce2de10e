"""The model card's measures (rt_samplernn.measure) tell noise from notes, and the card and the watchdog
(rt_samplernn.audio_stats) share one definition of spectral flatness."""

import numpy as np
import pytest

from rt_samplernn import measure
from rt_samplernn.audio_stats import BlockAnalyser

RATE = 16000


@pytest.fixture
def noise():
    return np.random.default_rng(0).uniform(-1, 1, 5 * RATE).astype(np.float32)


@pytest.fixture
def note():
    t = np.arange(5 * RATE) / RATE
    return (0.5 * np.sin(2 * np.pi * 220.0 * t) + 0.2 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


def test_flatness_is_high_for_noise_and_near_zero_for_a_note(noise, note):
    assert measure.spectral_flatness(noise) == pytest.approx(0.56, abs=0.03)
    assert measure.spectral_flatness(note) < 0.01


def test_pitch_salience_is_high_for_a_note_and_low_for_noise(noise, note):
    assert measure.pitch_salience(note, RATE) > 0.9
    assert measure.pitch_salience(noise, RATE) < 0.2


def test_card_and_watchdog_measure_the_same_flatness(note, noise):
    """One definition: the card's flatness of a window is the mean of the watchdog's per-block flatness."""
    analyser = BlockAnalyser(RATE, block_frames=measure.FFT)
    for x in (note, noise):
        blocks = x[: len(x) // measure.FFT * measure.FFT].reshape(-1, measure.FFT)
        watchdog = float(np.mean(analyser.features(blocks)[1]))
        assert measure.spectral_flatness(x) == pytest.approx(watchdog, rel=1e-4)
