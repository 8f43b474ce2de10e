"""The watchdog: silence and noise detection over a sliding window, and re-priming (no audio device)."""

from __future__ import annotations

import numpy as np
import pytest

from rt_samplernn.live.watchdog import (
    NOISE,
    SILENCE,
    Reprimer,
    Watchdog,
    WatchdogConfig,
)
from tests.stream_helpers import Collapsing

RATE = 16000


def music_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Notes with harmonics, attack/decay envelopes and a little breath noise: what a model should make."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    out = np.zeros(n, np.float32)
    note = RATE // 4
    for start in range(0, n, note):
        f = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        t = np.arange(min(note, n - start)) / RATE
        env = np.exp(-t * 6.0) * np.minimum(1.0, t * 200)
        tone = sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, 6))
        out[start:start + len(t)] = 0.3 * env * tone
    return out + 0.003 * rng.standard_normal(n).astype(np.float32)


def feed(wd: Watchdog, audio: np.ndarray, chunk: int = 256) -> list:
    """Feed (voices, n) audio chunk by chunk like the streaming worker does; the events found."""
    audio = np.atleast_2d(audio)
    events = []
    for i in range(0, audio.shape[1], chunk):
        e = wd.process(audio[:, i:i + chunk])
        if e is not None:
            events.append(e)
    return events


def test_music_raises_no_event():
    wd = Watchdog(RATE, 2)
    audio = np.stack([music_like(12, seed=1), music_like(12, seed=2)])
    assert feed(wd, audio) == []
    assert wd.events == 0


def test_silence_and_a_stuck_level_are_collapses():
    cfg = WatchdogConfig(silence_ms=1000)
    wd = Watchdog(RATE, 1, cfg)
    events = feed(wd, np.concatenate([music_like(2), np.zeros(RATE * 3 // 2, np.float32)]))
    assert [e.kind for e in events] == [SILENCE]
    assert events[0].rms_db < cfg.silence_db
    wd2 = Watchdog(RATE, 1, cfg)
    events = feed(wd2, np.full(RATE * 5 // 2, 0.4, np.float32))  # a DC level sounds like silence too
    assert [e.kind for e in events] == [SILENCE, SILENCE]  # once per window while it lasts
    assert wd2.silence_events == 2 and wd2.events == 2


def test_loud_noise_is_a_blow_up_and_quiet_noise_is_not():
    rng = np.random.default_rng(0)
    cfg = WatchdogConfig(noise_ms=1000)
    wd = Watchdog(RATE, 1, cfg)
    events = feed(wd, np.concatenate([music_like(2), 0.5 * rng.standard_normal(RATE * 3 // 2).astype(np.float32)]))
    assert [e.kind for e in events] == [NOISE]
    assert events[0].flatness > cfg.noise_flatness and events[0].zcr > cfg.noise_zcr
    assert wd.noise_events == 1
    drums = music_like(3)  # a loud noise burst (a crash) in music is not a blow-up
    drums[RATE:RATE + RATE // 8] += 0.8 * rng.standard_normal(RATE // 8).astype(np.float32)
    assert feed(Watchdog(RATE, 1, cfg), drums) == []
    quiet = Watchdog(RATE, 1, cfg)  # breath-level noise is below noise_db and above silence_db: fine
    assert feed(quiet, 0.01 * rng.standard_normal(RATE * 2).astype(np.float32)) == []


def test_one_bad_voice_is_found_among_good_ones():
    wd = Watchdog(RATE, 3, WatchdogConfig(silence_ms=1000))
    audio = np.stack([music_like(2, 1), np.zeros(2 * RATE, np.float32), music_like(2, 3)])
    events = feed(wd, audio)
    assert events and events[0].voice == 1


def test_thresholds_are_configurable_and_switching_off_forgets():
    quiet = 0.001 * np.sin(np.arange(2 * RATE) * 0.1).astype(np.float32)  # about -63 dBFS
    assert feed(Watchdog(RATE, 1, WatchdogConfig(silence_ms=1000)), quiet)
    assert feed(Watchdog(RATE, 1, WatchdogConfig(silence_ms=1000, silence_db=-70)), quiet) == []
    wd = Watchdog(RATE, 1, WatchdogConfig(silence_ms=1000))
    wd.enabled = False
    assert feed(wd, np.zeros(3 * RATE, np.float32)) == []
    wd.enabled = True
    assert feed(wd, np.zeros(RATE // 2, np.float32)) == []  # needs a full window after switching on
    with pytest.raises(ValueError):
        WatchdogConfig(silence_ms=0)


def test_reprimer_primes_from_the_seed_with_a_fresh_noise_seed_each_time():
    producer = Collapsing(RATE, 1)
    clip = music_like(1)
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

    class Plain:  # a producer without prime/reset: nothing to do
        sample_rate, voices = RATE, 1

    assert not Reprimer(Plain()).request()
