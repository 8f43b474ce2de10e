"""One judge of "sounds musical": every threshold once (`Thresholds`), one `verdict` (torch-free, NumPy).

The callers measure in their own ways and hand the judge what they measured (`Figures`); the judge alone
decides, with the thresholds below:

* `rt_samplernn.measure` sets a voice's 2-s windows against the music's (`rt-samplernn measure`, the
  training previews, the model card recipes/demo_card.py, benchmarks/sound_floor.py): per measure the
  voice's median, the music's 5th-95th percentile range and the share of the voice's windows inside it
  (`Row`), and the classifier's AUC;
* export's usable-range scan (export/usable.py) sets one-second block-feature windows against the training
  music's ``audio_stats``: the mean flatness of the audible windows against the hiss threshold, the share of
  windows inside the music's 1st-99th percentiles of level and flatness;
* benchmarks/silent_voices.py counts silent windows only (`silent_share`).

The hiss and drone thresholds follow the training music (`Thresholds.for_music`): the live watchdog
(rt_samplernn.live.watchdog) hears hiss and drones with them, and the usable scan refuses a setting whose
flatness reaches the watchdog's hiss threshold.

`Verdict.words` says what is off first ("too short to judge", "silent", "noise-like", "too quiet",
"too loud", "no pitch yet", "pitched, no beat yet", "a beat, but static", "outside the music's loudness or
flatness range", else "inside the music's ranges"); `Verdict.checks` holds each criterion the figures allow
(the issue's floor for a comparison: sounding, rhythmicity, spectral_dynamics, auc, loudness_inside,
flatness_inside; for the scan: sounding, hiss, inside), and `Verdict.passed` says whether all hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rt_samplernn.block_features import window_features


@dataclass(frozen=True)
class Thresholds:
    """Every threshold of "sounds musical". Levels in dBFS (AC RMS), shares of windows in 0..1."""

    silent_db: float = -40.0  # a one-second window under this is silent
    max_silent_share: float = 0.05  # a voice sounds when at most this share of its 1-s windows is silent
    mostly_silent_share: float = 0.5  # ... and its verdict is "silent" from this share on
    rhythm_ratio: float = 0.75  # rhythmicity median at least this share of the music's
    dynamics_ratio: float = 0.90  # spectral dynamics median at least this share of the music's
    max_auc: float = 0.95  # the classifier may tell the voice from the music at most this well
    inside_share: float = 0.80  # 2-s windows inside the music's 5th-95th percentile of loudness and of flatness
    usable_inside_share: float = 0.5  # the scan: 1-s windows inside the 1st-99th percentiles of level and flatness
    # hiss: mean flatness above this (the demo at temperature 1.3: 0.27-0.31; Drascula under 0.22 over 8 s)
    hiss_flatness: float = 0.24
    hiss_per_music_flatness: float = 2.8  # from audio_stats: this times the music's 99th percentile of flatness
    hiss_bounds: tuple[float, float] = (0.15, 0.4)
    # drone: share of the energy below 100 Hz above this (the demo's 45-54 Hz drone: 0.86-0.89)
    drone_low_share: float = 0.82
    drone_over_music_low_share: float = 0.08  # from audio_stats: this above the music's 99th percentile
    drone_bounds: tuple[float, float] = (0.6, 0.95)

    def for_music(self, stats: Mapping[str, Any] | None) -> Thresholds:
        """These thresholds with hiss and drone set from the training music's ``audio_stats`` (0.09 of flatness
        at the Drascula soundtrack's 99th percentile: hiss 0.24; 0.74 of low share: drone 0.82); unchanged
        without stats or with an older or foreign entry."""
        if not stats:
            return self
        try:
            flat99 = float(stats["flatness"]["p99"])
            low99 = float(stats["low_share"]["p99"])
        except (KeyError, TypeError, ValueError):
            return self
        return replace(self, hiss_flatness=self.hiss_for(flat99), drone_low_share=self.drone_for(low99))

    def hiss_for(self, music_flatness_p99: float) -> float:
        """The hiss threshold for music whose flattest 1% of seconds reach this flatness."""
        lo, hi = self.hiss_bounds
        return min(max(self.hiss_per_music_flatness * music_flatness_p99, lo), hi)

    def drone_for(self, music_low_share_p99: float) -> float:
        """The drone threshold for music whose 99th percentile of low-band share is this."""
        lo, hi = self.drone_bounds
        return min(max(music_low_share_p99 + self.drone_over_music_low_share, lo), hi)


THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Row:
    """One measure of one voice against the music."""

    name: str
    generated_median: float
    music_median: float
    music_range: tuple[float, float]  # 5th-95th percentile
    inside: float  # share of the voice's windows inside music_range (NaN counts as outside)


@dataclass(frozen=True)
class Figures:
    """What one voice's measurer found; None: not measured (its criteria are left out of the verdict)."""

    windows: int  # windows measured (0: too short to judge)
    silent_share: float  # share of its one-second windows under Thresholds.silent_db
    rows: Mapping[str, Row] | None = None  # the music measures against the music (rt_samplernn.measure)
    auc: float | None = None  # the classifier's, voice against music
    flatness: float | None = None  # mean flatness of its audible one-second windows (the scan's)
    inside_share: float | None = None  # 1-s windows inside the music's 1st-99th percentiles of level and flatness


@dataclass(frozen=True)
class Verdict:
    """The judgement: in words, and criterion by criterion."""

    words: str
    checks: dict[str, bool]

    @property
    def passed(self) -> bool:
        return all(self.checks.values())


def _words(f: Figures, t: Thresholds) -> str:
    if f.windows == 0:
        return "too short to judge"
    if f.silent_share >= t.mostly_silent_share:
        return "silent"
    if f.flatness is not None and not f.flatness < t.hiss_flatness:
        return "noise-like"
    r = f.rows
    if r is not None:

        def off(name: str, low: bool) -> bool:
            row = r[name]
            value, bound = row.generated_median, row.music_range[0 if low else 1]
            return not np.isfinite(value) or (value < bound if low else value > bound)

        if off("flatness", low=False):
            return "noise-like"
        if off("loudness_db", low=True):
            return "too quiet"
        if off("loudness_db", low=False):
            return "too loud"
        if off("pitch_salience", low=True):
            return "no pitch yet"
        if not r["rhythmicity"].generated_median >= t.rhythm_ratio * r["rhythmicity"].music_median:
            return "pitched, no beat yet"
        if not r["spectral_dynamics"].generated_median >= t.dynamics_ratio * r["spectral_dynamics"].music_median:
            return "a beat, but static"
        if r["flatness"].inside < t.inside_share or r["loudness_db"].inside < t.inside_share:
            return "outside the music's loudness or flatness range"
    if f.inside_share is not None and f.inside_share < t.usable_inside_share:
        return "outside the music's loudness or flatness range"
    return "inside the music's ranges"


def verdict(f: Figures, t: Thresholds = THRESHOLDS) -> Verdict:
    """The one judgement of a voice's figures (module docstring); `t`: THRESHOLDS, or `for_music` of them."""
    checks = {"sounding": f.silent_share <= t.max_silent_share}
    if f.flatness is not None:
        checks["hiss"] = f.flatness < t.hiss_flatness
    if f.inside_share is not None:
        checks["inside"] = f.inside_share >= t.usable_inside_share
    if f.rows is not None:
        r = f.rows
        checks["rhythmicity"] = r["rhythmicity"].generated_median >= t.rhythm_ratio * r["rhythmicity"].music_median
        checks["spectral_dynamics"] = (
            r["spectral_dynamics"].generated_median >= t.dynamics_ratio * r["spectral_dynamics"].music_median
        )
    if f.auc is not None:
        checks["auc"] = f.auc <= t.max_auc
    if f.rows is not None:
        checks["loudness_inside"] = f.rows["loudness_db"].inside >= t.inside_share
        checks["flatness_inside"] = f.rows["flatness"].inside >= t.inside_share
    return Verdict(_words(f, t), checks)


def silent_share(audio: np.ndarray, sample_rate: int, t: Thresholds = THRESHOLDS) -> float:
    """Share of mono audio's one-second windows (block features, rt_samplernn.block_features) under
    t.silent_db; 1.0 when it holds no whole window."""
    level = window_features(audio, sample_rate)["rms_db"]
    return float(np.mean(level < t.silent_db)) if len(level) else 1.0
