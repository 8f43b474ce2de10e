"""The usable range of a bundle: the temperatures and tail cuts at which it stays musical (torch-free).

`measure_usable` runs the exported bundle, one voice per setting of a grid (temperatures x cuts), each voice
primed from its own stretch of the bundle's clip (as `play` starts) or from the initial state without one,
for `seconds`; then judges each voice's one-second windows against the training music's `audio_stats`;
rt_samplernn.judge decides, with its thresholds (`judge.THRESHOLDS.for_music(stats)`): a setting is usable
when at most 5% of its windows are silent (under -40 dBFS), its flatness stays under the watchdog's hiss
threshold, and at least half of its windows lie inside the music's 1st-99th percentile ranges of level and
flatness.

It scans twice. The first pass plays the knobs as they are and finds the quiet lift (live/lift.py): the
hottest temperature at which the uncut model never fell silent, for frames under the music's 5th percentile of
level (the demo: 1.4 under -25.8 dBFS; at the lowest passing temperature, 1.05, under -30 dBFS, 5 of 8 voices
stayed quiet in more than 5% of a minute's seconds; at 1.4 under -30 none did, but the takes were too quiet
for the music's loudness range, under -25 they are inside it). The second pass
plays every setting with that lift, as the engine will, and its verdicts make the range: the tail cut whose
passing temperatures form the longest unbroken run of the grid (the most windows inside on a tie) gives the
temperature travel, its best setting the default (nearest temperature 1 on a tie), and the cuts that pass
at the default temperature, unbroken around it, the tail cut's travel. When none passes, the best setting
is the default and the ranges are that one point (the knobs then keep their declared travel).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rt_samplernn import judge as judges
from rt_samplernn.block_features import window_features
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.lift import BELOW_DBFS, QuietLift
from rt_samplernn.live.music import Usable, bundle_clip, voice_clips

# SampleRNN's musical range is narrow (1.0 must be on the grid): steps of 0.05 find its edges
TEMPERATURES = tuple(round(0.8 + 0.05 * i, 2) for i in range(13))  # 0.8 ... 1.4
CUTS = (0.0, 0.03, 0.06)
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
    lifted: bool = False  # judged with the quiet lift on

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
    """Scan the grid without the lift, choose the lift, scan it again with the lift; return the usable range."""
    settings = [(float(t), float(c)) for t in temperatures for c in cuts]
    plain = scan(bundle, stats, settings, seconds, seed, None, _part(progress, 0.0, 0.5))
    lift = choose_lift(plain, stats)
    if lift is None:
        return usable_range(plain, seconds, None)
    lifted = scan(bundle, stats, settings, seconds, seed, lift, _part(progress, 0.5, 1.0))
    if not any(v.usable for v in lifted):
        return usable_range(plain, seconds, None, record=lifted)
    return usable_range(lifted, seconds, lift, record=plain)


def scan(
    bundle: str | Path,
    stats: Mapping[str, Any],
    settings: Sequence[tuple[float, float]],
    seconds: float,
    seed: int,
    lift: QuietLift | None,
    progress: Callable[[float], None] | None = None,
) -> list[Verdict]:
    """Generate `seconds` at every (temperature, cut), one voice each, with the given lift; each one's verdict."""
    engine = Engine(bundle, voices=len(settings), seed=seed, provider="cpu", lift=lift)
    if not engine.has_min_p:
        settings = sorted({(t, 0.0) for t, _ in settings})
        engine = Engine(bundle, voices=len(settings), seed=seed, provider="cpu", lift=lift)
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
    lifted = lift is not None
    return [
        replace(judge(audio[v], engine.sample_rate, stats, t, c), lifted=lifted) for v, (t, c) in enumerate(settings)
    ]


def choose_lift(verdicts: Sequence[Verdict], stats: Mapping[str, Any] | None = None) -> QuietLift | None:
    """The lift: the hottest temperature of the grid at which the uncut model never fell silent (None when it
    always did), for frames whose peak is under the music's 5th percentile of one-second level (``stats``:
    audio_stats; else live/lift.BELOW_DBFS). Hot is what gets a quiet voice out fastest; the lift draws only
    quiet frames, where there is no music yet for the heat to hiss over, and the second pass judges every
    setting with it."""
    sounding = sorted(v.temperature for v in verdicts if v.min_p == 0.0 and v.silent_share == 0.0)
    if not sounding:
        return None
    try:
        below = float(stats["rms_db"]["p5"]) if stats else BELOW_DBFS
    except (KeyError, TypeError, ValueError):
        below = BELOW_DBFS
    return QuietLift(sounding[-1], below_dbfs=below)


def usable_range(
    verdicts: Sequence[Verdict], seconds: float, lift: QuietLift | None, record: Sequence[Verdict] = ()
) -> Usable:
    """The range the verdicts allow (the module's docstring says how); ``record``: other verdicts kept in `tried`."""
    run = max(
        (_longest_run(verdicts, cut) for cut in sorted({v.min_p for v in verdicts})),
        key=lambda r: (len(r), sum(v.inside_share for v in r) / max(1, len(r))),
    )
    best = _best(run or list(verdicts))  # no run: nothing passed, the best of all is the one point
    if run:
        at_best = sorted((v for v in verdicts if v.temperature == best.temperature), key=lambda v: v.min_p)
        temps, cuts = [v.temperature for v in run], [v.min_p for v in _unbroken(at_best, best)]
    else:
        temps, cuts = [best.temperature], [best.min_p]
    return Usable(
        temperature=(min(temps), max(temps)),
        min_p=(min(cuts), max(cuts)),
        defaults={"temperature": best.temperature, "min_p": best.min_p},
        seconds=float(seconds),
        tried=tuple(v.to_manifest() for v in (*record, *verdicts)),
        lift=lift,
    )


def _best(verdicts: Sequence[Verdict]) -> Verdict:
    return max(verdicts, key=lambda v: (v.inside_share, -v.silent_share, -abs(v.temperature - 1.0)))


def _longest_run(verdicts: Sequence[Verdict], cut: float) -> list[Verdict]:
    """The longest unbroken run of passing temperatures at one cut, in the grid's order."""
    row = sorted((v for v in verdicts if v.min_p == cut), key=lambda v: v.temperature)
    longest: list[Verdict] = []
    current: list[Verdict] = []
    for v in row:
        current = [*current, v] if v.usable else []
        if len(current) > len(longest):
            longest = current
    return longest


def _unbroken(row: Sequence[Verdict], around: Verdict) -> list[Verdict]:
    """The passing verdicts of a sorted row that reach ``around`` without a failing one between."""
    i = row.index(around)
    lo = hi = i
    while lo > 0 and row[lo - 1].usable:
        lo -= 1
    while hi + 1 < len(row) and row[hi + 1].usable:
        hi += 1
    return list(row[lo : hi + 1])


def _part(progress: Callable[[float], None] | None, lo: float, hi: float) -> Callable[[float], None] | None:
    """A progress callback for one pass: its 0..1 mapped onto lo..hi of the whole."""
    if progress is None:
        return None
    return lambda f: progress(lo + (hi - lo) * f)
