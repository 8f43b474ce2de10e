"""The sound floor (issue 18): does each voice of a bundle, as `rt-samplernn play` starts it, sound like its music?

    python benchmarks/sound_floor.py                                   # the shipped demo, the issue's setting
    python benchmarks/sound_floor.py --seconds 10 --seeds 0 1          # a few minutes
    python benchmarks/sound_floor.py --git 75517dd --git 7ac1969 --seconds 10   # earlier demos side by side
    python benchmarks/sound_floor.py my-bundle --against music/ --voices 1 4

For each bundle, each voice count (1, 2, 4) and each noise seed (0-4), the engine generates --seconds of audio
(rt_samplernn.live.engine.Engine at play's default temperature and min-p, from play's start; no watchdog), and
rt_samplernn.measure sets every voice against the music (default: the Drascula tracks recipes/demo.sh trains
on, resampled to the bundle's rate): a table per bundle and voice count (how many voices meet each criterion,
and median figures), a line on the music per bundle, then one row per voice, against the issue's floor (the
checks of rt_samplernn.judge's `verdict`, its thresholds in `judge.Thresholds`):

* sounding: the share of one-second windows above -40 dBFS (floor: 95%);
* rhythmicity and spectral dynamics: the voice's median and the music's (floor: 75% and 90% of the music's);
* AUC: a classifier telling the voice's 2-s windows from the music's (floor: at most 0.95; the music's own
  halves in the bundle's line);
* loud / flat inside: the share of windows inside the music's 5th-95th percentile of loudness and flatness
  (floor: 80% each);
* floor: "pass", or the criteria missed.

The engine starts as `rt-samplernn play` starts it: the knobs at the bundle's usable defaults (else temperature
1, min-p off), every voice primed from its own stretch of the bundle's music clip when it has one
(`--cold`: the all-zero state, as play --cold and every bundle before clips); `--seed-audio FILE` primes as
`play --seed-audio FILE` does. `--git REV` adds the demo bundle as it was at a commit (rt_samplernn/models/demo, read with
`git show` into a temporary folder), e.g. 75517dd (the first release's demo) and 7ac1969. The sound figures
are deterministic (seeded); the speed line depends on the machine's load. Run through benchmarks/quiet.sh.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rt_samplernn import judge, measure
from rt_samplernn.audio import FileClip
from rt_samplernn.cli import get_parser
from rt_samplernn.commands.play import rig_from_args
from rt_samplernn.live.bundle import load_bundle
from rt_samplernn.models import DEMO_BUNDLE

DRASCULA = Path("/usr/share/scummvm/drascula/audio")
RHYTHMIC = [1, 2, 3, 4, 5, 8, 12, 15, 16, 17, 18, 19, 21, 22, 23, 24, 27]  # recipes/demo.sh's training tracks
DEMO_PATH = "rt_samplernn/models/demo"


def bundle_at(rev: str, root: Path) -> Path:
    """The demo bundle of commit `rev`, written into root/rev (files from `git show`)."""
    out = root / rev
    out.mkdir(parents=True)
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{rev}:{DEMO_PATH}"], capture_output=True, text=True, check=True
    ).stdout.split()
    for name in names:
        data = subprocess.run(["git", "show", f"{rev}:{DEMO_PATH}/{name}"], capture_output=True, check=True).stdout
        (out / name).write_bytes(data)
    return out


def play_defaults() -> argparse.Namespace:
    """`rt-samplernn play`'s defaults, so the engine here starts as play starts it."""
    return get_parser().parse_args(["play"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundles", nargs="*", type=Path, help="bundle folders (default: the shipped demo)")
    p.add_argument("--git", action="append", default=[], metavar="REV", help="also the demo bundle at commit REV")
    p.add_argument(
        "--against",
        nargs="+",
        type=Path,
        default=[DRASCULA / f"track{n}.ogg" for n in RHYTHMIC],
        help="the training music (files or folders; default: recipes/demo.sh's Drascula tracks)",
    )
    p.add_argument("--voices", nargs="+", type=int, default=[1, 2, 4])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--seconds", type=float, default=60.0, help="audio per voice and seed (the issue's: 60)")
    p.add_argument(
        "--seed-audio", type=Path, metavar="FILE", help="prime every engine from this clip first, as play --seed-audio"
    )
    p.add_argument("--music-minutes", type=float, default=20.0, help="music analysed, windows spread evenly")
    p.add_argument("--cold", action="store_true", help="start from the all-zero state, as play --cold")
    args = p.parse_args(argv)

    defaults = play_defaults()
    with tempfile.TemporaryDirectory() as tmp:
        bundles = [(str(b), b) for b in args.bundles] or ([("shipped demo", DEMO_BUNDLE)] if not args.git else [])
        bundles += [(f"demo @{rev}", bundle_at(rev, Path(tmp))) for rev in args.git]
        music_by_rate: dict[int, tuple[measure.Windows, float]] = {}
        rows, summary, notes = [], [], []
        for label, path in bundles:
            bundle = load_bundle(path)
            rate = bundle.sample_rate
            if rate not in music_by_rate:
                music = measure.music_windows(args.against, rate, args.music_minutes)
                music_by_rate[rate] = (music, measure.music_auc(music))
            music, music_auc = music_by_rate[rate]
            wall, generated_s = 0.0, 0.0
            for voices in args.voices:
                group: list[measure.Comparison] = []
                for seed in args.seeds:
                    rig = rig_from_args(defaults)  # the rig play makes (commands/play.py), started as play starts it
                    rig.voices_wanted, rig.seed, rig.cold = voices, seed, args.cold
                    rig.seed_audio = FileClip(args.seed_audio) if args.seed_audio else None
                    rig.open(bundle)
                    assert rig.engine is not None
                    start = time.perf_counter()
                    try:
                        audio = rig.engine.generate(int(args.seconds * rate), apply_gain=False)
                    finally:
                        rig.close()
                    wall += time.perf_counter() - start
                    generated_s += args.seconds * voices
                    comparisons = measure.compare_voices(measure.measure_voices(audio, rate), music)
                    group += comparisons
                    for v, c in enumerate(comparisons):
                        rows.append(f"| {label} | {voices} | {seed} | {v + 1} | " + voice_cells(c))
                        print(rows[-1], file=sys.stderr, flush=True)
                summary.append(f"| {label} | {voices} | " + group_cells(group))
            notes.append(
                f"- {label}: {rate} Hz; the music: {len(music)} windows, median rhythmicity "
                f"{fmt(measure.median(music.measure('rhythmicity')))}, spectral dynamics {fmt(measure.median(music.measure('spectral_dynamics')))}"
                f", halves AUC {fmt(music_auc, 2)}, silent {music.silent_share():.0%}; generation "
                f"{generated_s / wall:.2f}x real time (voice-seconds per second; depends on the machine's load)"
            )
    print(
        f"{args.seconds:g} s per voice, seeds {' '.join(map(str, args.seeds))}, play's defaults (the bundle's "
        "usable defaults, else temperature 1 and min-p off), "
        f"{'primed from ' + str(args.seed_audio) if args.seed_audio else 'from the all-zero state' if args.cold else 'primed from the bundle clip where there is one'}, no watchdog; "
        f"against {len(args.against)} "
        "music path(s)\n"
    )
    t = judge.THRESHOLDS
    print(
        f"| bundle | voices | voices at the floor | sounding >= {1 - t.max_silent_share:.0%} "
        f"| rhythmicity >= {t.rhythm_ratio:.0%} of music's | dynamics >= {t.dynamics_ratio:.0%} "
        f"| AUC <= {t.max_auc:g} | loud inside >= {t.inside_share:.0%} | flat inside >= {t.inside_share:.0%} "
        f"| median rhythmicity | median dynamics | median AUC |\n|{'---|' * 12}"
    )
    print("\n".join(summary))
    print()
    print("\n".join(notes))
    print()
    print(
        "| bundle | voices | seed | voice | sounding | rhythmicity (music) | dynamics (music) | AUC | loud inside "
        f"| flat inside | floor |\n|{'---|' * 11}"
    )
    print("\n".join(rows))
    return 0


def voice_cells(c: measure.Comparison) -> str:
    """One voice's row: sounding share, rhythmicity and dynamics against the music's, AUC, shares inside, floor."""
    r = c.rows
    missed = [k for k, ok in c.floor().items() if not ok]
    return (
        f"{1 - c.silent_share:.0%} | {fmt(r['rhythmicity'].generated_median)} ({fmt(r['rhythmicity'].music_median)})"
        f" | {fmt(r['spectral_dynamics'].generated_median)} ({fmt(r['spectral_dynamics'].music_median)}) | "
        f"{fmt(c.auc, 2)} | {r['loudness_db'].inside:.0%} | {r['flatness'].inside:.0%} | "
        f"{'pass' if not missed else 'miss: ' + ', '.join(missed)} |"
    )


def group_cells(group: list[measure.Comparison]) -> str:
    """Voices meeting the floor and each criterion (of all voices at one voice count), and median figures."""
    floors = [c.floor() for c in group]
    n = len(group)
    counts = " | ".join(f"{sum(f[k] for f in floors)}/{n}" for k in floors[0])  # Comparison.floor's order
    return (
        f"{sum(all(f.values()) for f in floors)}/{n} | {counts} | "
        f"{fmt(float(np.nanmedian([c.rows['rhythmicity'].generated_median for c in group])))} | "
        f"{fmt(float(np.nanmedian([c.rows['spectral_dynamics'].generated_median for c in group])))} | "
        f"{fmt(float(np.nanmedian([c.auc for c in group])), 2)} |"
    )


def fmt(value: float, digits: int = 3) -> str:
    return "-" if not np.isfinite(value) else f"{value:.{digits}f}"


if __name__ == "__main__":
    raise SystemExit(main())
