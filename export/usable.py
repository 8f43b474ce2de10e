"""The usable range of a bundle: the temperatures and tail cuts at which it stays musical (torch-free).

`measure_usable` runs the exported bundle once, one voice per setting of a small grid (temperatures x
cuts), each voice primed from its own stretch of the bundle's clip (as `play` starts) or from the initial
state without one, for `seconds`; then judges each voice's one-second windows against the training music's
`audio_stats`; rt_samplernn.judge decides, with its thresholds (`judge.THRESHOLDS.for_music(stats)`): a
setting is usable when at most 5% of its windows are silent (under -40 dBFS), its flatness stays under the
watchdog's hiss threshold, and at least half of its windows lie inside the music's 1st-99th percentile
ranges of level and flatness. The usable range spans the
settings that pass; the default is the passing setting with the most windows inside (nearest temperature 1
on a tie). When none passes, the best setting is the default and the ranges are that one point (the knobs
then keep their declared travel).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rt_samplernn import judge as judges
from rt_samplernn.block_features import window_features
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.music import Usable, bundle_clip, voice_clips

TEMPERATURES = (0.9, 1.0, 1.1, 1.25, 1.4)  # SampleRNN's musical range is narrow: 1.0 must be on the grid
CUTS = (0.0, 0.03, 0.1)
GENERATE_BLOCK = 16000


@dataclass(frozen=True)
class Verdict:
    """One setting's judgement over its windows."""

    temperature: float
    min_p: float
    silent_share: float
    flatness: float  # mean over the audible windows
    inside_share: float  # windows inside the music's level and flatness ranges
    usable: bool

    def to_manifest(self) -> dict[str, Any]:
        return {k: round(float(v), 4) if not isinstance(v, bool) else v for k, v in self.__dict__.items()}


def judge(audio: np.ndarray, sample_rate: int, stats: Mapping[str, Any], temperature: float, min_p: float) -> Verdict:
    """A voice's audio against the training music's audio_stats, judged by rt_samplernn.judge."""
    thresholds = judges.THRESHOLDS.for_music(stats)
    feats = window_features(audio, sample_rate)
    level, flat = feats["rms_db"], feats["flatness"]
    silent = level < thresholds.silent_db
    loud_flat = flat[~silent]
    mean_flat = float(loud_flat.mean()) if len(loud_flat) else 0.0
    lo_db, hi_db = float(stats["rms_db"]["p1"]), float(stats["rms_db"]["p99"])
    lo_f, hi_f = float(stats["flatness"]["p1"]), float(stats["flatness"]["p99"])
    inside = (level >= lo_db) & (level <= hi_db) & (flat >= lo_f) & (flat <= hi_f)
    silent_share = float(silent.mean()) if len(level) else 1.0
    inside_share = float(inside.mean()) if len(level) else 0.0
    figures = judges.Figures(len(level), silent_share, flatness=mean_flat, inside_share=inside_share)
    ok = judges.verdict(figures, thresholds).passed
    return Verdict(temperature, min_p, silent_share, mean_flat, inside_share, ok)


def measure_usable(
    bundle: str | Path,
    stats: Mapping[str, Any],
    seconds: float = 20.0,
    temperatures: Sequence[float] = TEMPERATURES,
    cuts: Sequence[float] = CUTS,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> Usable:
    """Generate `seconds` at every (temperature, cut) of the grid, one voice each, and return the usable range."""
    settings = [(float(t), float(c)) for t in temperatures for c in cuts]
    engine = Engine(bundle, voices=len(settings), seed=seed, provider="cpu")
    if not engine.has_min_p:
        settings = [(t, 0.0) for t in temperatures]
        engine = Engine(bundle, voices=len(settings), seed=seed, provider="cpu")
    for v, (t, c) in enumerate(settings):
        engine.set_temperature(t, voice=v)
        engine.set_min_p(c, voice=v)
    clip = bundle_clip(engine.bundle)
    if clip is not None:
        engine.prime_voices(voice_clips(clip, engine.voices), seed=seed)
    total = max(1, int(round(seconds * engine.sample_rate)))
    parts = []
    for start in range(0, total, GENERATE_BLOCK):
        parts.append(engine.generate(min(GENERATE_BLOCK, total - start), apply_gain=False))
        if progress is not None:
            progress(min(1.0, (start + GENERATE_BLOCK) / total))
    audio = np.concatenate(parts, axis=1)
    verdicts = [judge(audio[v], engine.sample_rate, stats, t, c) for v, (t, c) in enumerate(settings)]
    passed = [v for v in verdicts if v.usable]
    best = max(passed or verdicts, key=lambda v: (v.inside_share, -v.silent_share, -abs(v.temperature - 1.0)))
    pool = passed or [best]
    return Usable(
        temperature=(min(v.temperature for v in pool), max(v.temperature for v in pool)),
        min_p=(min(v.min_p for v in pool), max(v.min_p for v in pool)),
        defaults={"temperature": best.temperature, "min_p": best.min_p},
        seconds=float(seconds),
        tried=tuple(v.to_manifest() for v in verdicts),
    )
