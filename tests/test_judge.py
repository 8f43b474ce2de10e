"""The one judge of "sounds musical" (rt_samplernn.judge): one threshold moves every caller that uses it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rt_samplernn import judge
from rt_samplernn.judge import THRESHOLDS, Figures, Row, verdict


def rows(inside: float = 1.0, rhythm: float = 0.4) -> dict[str, Row]:
    names = ("loudness_db", "flatness", "pitch_salience", "rhythmicity", "spectral_dynamics")
    out = {n: Row(n, 0.5, 0.5, (0.0, 1.0), inside) for n in names}
    out["rhythmicity"] = Row("rhythmicity", rhythm, 0.4, (0.0, 1.0), inside)
    return out


def test_a_comparison_has_the_floor_checks_in_their_order_and_the_words() -> None:
    v = verdict(Figures(10, 0.0, rows=rows(), auc=0.7))
    assert list(v.checks) == [
        "sounding",
        "rhythmicity",
        "spectral_dynamics",
        "auc",
        "loudness_inside",
        "flatness_inside",
    ]
    assert v.passed and v.words == "inside the music's ranges"
    assert verdict(Figures(10, 0.0, rows=rows(rhythm=0.1), auc=0.7)).words == "pitched, no beat yet"
    assert verdict(Figures(10, 0.6, rows=rows(), auc=0.7)).words == "silent"
    assert verdict(Figures(0, float("nan"), rows=rows(), auc=0.7)).words == "too short to judge"


def test_the_scan_and_the_floor_share_the_silent_share_threshold() -> None:
    scan = Figures(20, 0.1, flatness=0.01, inside_share=0.9)
    floor = Figures(20, 0.1, rows=rows(), auc=0.7)
    assert not verdict(scan).passed and not verdict(floor).passed
    lenient = replace(THRESHOLDS, max_silent_share=0.2)
    assert verdict(scan, lenient).passed and verdict(floor, lenient).passed


def test_the_hiss_threshold_follows_the_music_for_the_watchdog_and_the_scan() -> None:
    from rt_samplernn.live.watchdog import WatchdogConfig

    stats = {"flatness": {"p99": 0.1}, "low_share": {"p99": 0.7}, "rms_db": {"p1": -30.0}}
    music = THRESHOLDS.for_music(stats)
    assert music.hiss_flatness == WatchdogConfig.from_audio_stats(stats).hiss_flatness == pytest.approx(0.28)
    assert music.drone_low_share == WatchdogConfig.from_audio_stats(stats).drone_low_share
    assert not verdict(Figures(20, 0.0, flatness=0.3, inside_share=1.0), music).passed
    assert verdict(Figures(20, 0.0, flatness=0.25, inside_share=1.0), music).passed


def test_silent_share_counts_one_second_windows() -> None:
    rate = 16000
    tone = 0.5 * np.sin(2 * np.pi * 220 * np.arange(2 * rate) / rate).astype(np.float32)
    audio = np.concatenate([tone, np.zeros(4 * rate, np.float32)])  # windows of 16 blocks of 1024: 5 whole
    assert judge.silent_share(audio, rate) == 0.6
    assert judge.silent_share(np.zeros(100, np.float32), rate) == 1.0
