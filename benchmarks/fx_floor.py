"""Issue 27's sound floors for the effects and the tempo: the limiter against a blow-up, and a beat from a loop.

    python benchmarks/fx_floor.py                       # the shipped demo, 60 s per case
    python benchmarks/fx_floor.py --seconds 20 --bundle my-bundle

Limiter: the demo at temperature 1.5 (hot, hiss-prone) with +12 dB of gain before the master's limiter, through
the worker's path (rt_samplernn.commands.fx_options.render_block: voice chains, mix, gain, master chain, clip):
the peak after the limiter at ceilings -1 and -0.3 dBFS against the ceiling, the NaN count, the gain reduction;
the same without a limiter for contrast (then only the final clip holds the peak at 0 dBFS).

Tempo: the demo as `generate --bpm 120 --loop-beats 1` makes it (a TempoLocked producer, live/tempo.py: the
state of the first beat recalled every beat, its strongest onset on the beat), against the same loop recalled on
the beat itself (`--loop-align start`) and the same seed without a loop: onset rhythmicity
(rt_samplernn.measure, per 2-s window, median) beside the training music's median, and where the onsets fall:
the median distance in ms of the onset envelope's peaks from the 120-BPM grid (the floor: within 10 ms), and
their jitter around their common phase (a loop repeats its beat's onsets at one phase, wherever that falls).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from rt_samplernn import measure
from rt_samplernn.commands.fx_options import render_block
from rt_samplernn.live.devices import mix_matrix
from rt_samplernn.live.effects import Rack
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.music import start_from_music, start_settings
from rt_samplernn.live.tempo import Loop, Tempo, TempoLocked
from rt_samplernn.models import DEMO_BUNDLE

DRASCULA = Path("/usr/share/scummvm/drascula/audio")
TRAIN_TRACKS = (1, 2, 3, 4, 5, 8, 12, 15, 16, 17, 18, 19, 21, 22, 23, 24, 27)  # recipes/demo.sh's
BLOCK = 256  # samples per worker block, as play asks


def started(bundle: Path, seed: int, temperature: float | None = None) -> Engine:
    """One voice as play starts it (usable defaults, primed from the clip), optionally at another temperature."""
    engine = Engine(bundle, seed=seed)
    knobs = start_settings(engine.bundle, temperature)
    engine.set_temperature(knobs["temperature"])
    if engine.has_min_p:
        engine.set_min_p(knobs["min_p"])
    start_from_music(engine)
    return engine


def limiter_rows(bundle: Path, seconds: float, seed: int) -> list[str]:
    rows = [f"{'limiter':>10} {'peak dBFS':>10} {'over ceiling':>13} {'NaN':>5} {'max reduction dB':>17}"]
    for ceiling in (-1.0, -0.3, None):
        engine = started(bundle, seed, temperature=1.5)
        rack = Rack(engine.sample_rate, 1, ceiling)
        rack.chain("master").add("gain", {"gain_db": 12.0})
        mix = mix_matrix(1, 2)
        peak, nans, reduction, over = 0.0, 0, 0.0, 0
        for _ in range(int(seconds * engine.sample_rate) // BLOCK):
            out = render_block(engine.generate(BLOCK), rack, mix)
            nans += int(np.isnan(out).sum())
            block_peak = float(np.abs(np.nan_to_num(out)).max())
            peak = max(peak, block_peak)
            if ceiling is not None and block_peak > 10 ** (ceiling / 20) + 1e-6:
                over += 1
            reduction = max(reduction, rack.stats().gain_reduction_db)
        label = "off" if ceiling is None else f"{ceiling:g} dBFS"
        peak_db = 20 * math.log10(max(peak, 1e-12))
        rows.append(f"{label:>10} {peak_db:>10.2f} {over:>8} blocks {nans:>5} {reduction:>17.1f}")
    return rows


def onset_phase_ms(audio: np.ndarray, rate: int, bpm: float) -> tuple[float, float]:
    """Where the onset envelope's strongest peaks (one per beat's worth) fall against the beat grid (beats at 0,
    60/bpm, ...): the median distance to the nearest beat in ms, and the jitter, the median distance in ms of
    each peak's phase from the peaks' common (circular mean) phase: 0 when every beat repeats the same onset."""
    analyser = measure.WindowAnalyser(rate)
    onset = analyser.onset_envelope(analyser.log_mel(audio))
    beat_s = 60.0 / bpm
    peaks = [i for i in range(1, len(onset) - 1) if onset[i] >= onset[i - 1] and onset[i] >= onset[i + 1]]
    strongest = sorted(peaks, key=lambda i: -onset[i])[: max(1, int(len(audio) / rate / beat_s))]
    times = analyser.onset_time_s(np.array(strongest))
    offsets = np.abs(((times + beat_s / 2) % beat_s) - beat_s / 2)
    angles = 2 * np.pi * times / beat_s
    common = np.angle(np.mean(np.exp(1j * angles)))
    jitter = np.abs(np.angle(np.exp(1j * (angles - common)))) / (2 * np.pi) * beat_s
    return float(np.median(offsets) * 1000.0), float(np.median(jitter) * 1000.0)


def tempo_rows(bundle: Path, seconds: float, seed: int, bpm: float, music: measure.Windows) -> list[str]:
    music_rhythm = measure.median(music.measure("rhythmicity"))
    rows = [
        f"{'case':>34} {'rhythmicity':>12} {'of music':>9} {'onsets from grid ms':>20} {'onset jitter ms':>16}",
        f"{'training music':>34} {music_rhythm:>12.2f} {'100%':>9} {'':>20} {'':>16}",
    ]
    cases = (
        ("no loop", None, "onset"),
        ("--loop-beats 1 --loop-align start", 1, "start"),
        ("--loop-beats 1", 1, "onset"),
    )
    for label, loop_beats, align in cases:
        engine = started(bundle, seed)
        loop = None if loop_beats is None else Loop(loop_beats, 0.0, seed, align=align)
        producer = TempoLocked(engine, Tempo(bpm), loop)
        n = int(seconds * engine.sample_rate)
        audio = np.concatenate([producer.generate(BLOCK)[0] for _ in range(n // BLOCK)])
        (windows,) = measure.measure_voices(audio[None, :], engine.sample_rate)
        rhythm = measure.median(windows.measure("rhythmicity"))
        offset, jitter = onset_phase_ms(audio, engine.sample_rate, bpm)
        rows.append(f"{label:>34} {rhythm:>12.2f} {rhythm / music_rhythm:>9.0%} {offset:>20.1f} {jitter:>16.1f}")
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", type=Path, default=DEMO_BUNDLE)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bpm", type=float, default=120.0)
    args = p.parse_args()
    engine = Engine(args.bundle)
    music = measure.music_windows([DRASCULA / f"track{n}.ogg" for n in TRAIN_TRACKS], engine.sample_rate, 20.0)
    print(f"bundle {args.bundle}, seed {args.seed}, {args.seconds:g} s per case")
    print("\nthe limiter: T 1.5, +12 dB before it")
    print("\n".join(limiter_rows(args.bundle, args.seconds, args.seed)))
    print(f"\ntempo: {args.bpm:g} BPM")
    print("\n".join(tempo_rows(args.bundle, args.seconds, args.seed, args.bpm, music)))


if __name__ == "__main__":
    main()
