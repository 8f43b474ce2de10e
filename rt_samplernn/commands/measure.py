"""`rt-samplernn measure`: does generated audio sound like this music? Each voice's measures against the music's."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rt_samplernn.measure import Comparison

EPILOG = """\
examples:
  rt-samplernn generate --seconds 60 --out take.wav
  rt-samplernn measure take.wav --against /usr/share/scummvm/drascula/audio
  rt-samplernn generate --count 4 --channels --seconds 60 --out four.wav
  rt-samplernn measure four.wav --against music/ --json > four.json     # one entry per voice (channel)
  rt-samplernn measure takes/ --against music/a.flac music/b.flac --max-minutes 5

Measures per window of 2 s (rt_samplernn/measure.py): loudness (dBFS of the AC power), spectral flatness
(white noise about 0.56, notes near 0), pitch salience (a held note near 1, noise near 0), rhythmicity (the
onset envelope's autocorrelation peak at 0.2-1 s periods), spectral dynamics (how much each mel band moves),
and the share of silent one-second windows (under -40 dBFS). The music is read as the model hears it:
mono, resampled to the generated audio's rate, peak-normalised. AUC: a classifier's cross-validated
chance of telling a generated window from a music window (0.5: it cannot; 1.0: always), beside the same
for two halves of the music (alternate files, or the two halves in time of a single file).
"""

LABELS = {
    "loudness_db": "loudness (dBFS)",
    "flatness": "spectral flatness",
    "pitch_salience": "pitch salience",
    "rhythmicity": "rhythmicity",
    "spectral_dynamics": "spectral dynamics",
}


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    from rt_samplernn.commands import _checks as check

    p = sub.add_parser(
        "measure",
        help="measure how much generated audio sounds like a set of music",
        description="Measure generated audio against music: for each voice (each channel of each file), each "
        "measure's median, the music's median and 5th-95th percentile range, the share of the voice's windows "
        "inside that range, and the classifier AUC.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("generated", nargs="+", metavar="GENERATED", help="generated audio files or folders")
    p.add_argument(
        "--against",
        nargs="+",
        required=True,
        metavar="MUSIC",
        help="the music to compare with (files or folders, searched recursively), e.g. the training audio",
    )
    p.add_argument(
        "--max-minutes",
        type=check.float_in(0.0, 10_000.0),
        default=20.0,
        help="analyse at most this many minutes of each voice and of the music, windows spread evenly",
    )
    p.add_argument("--seed", type=check.seed, default=0, help="seed of the classifier's folds")
    p.add_argument("--json", action="store_true", help="print one JSON document (a list, one entry per voice)")
    p.set_defaults(func=run)


def _fmt(value: float, name: str = "") -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:.1f}" if name == "loudness_db" else f"{value:.3f}"


def _pct(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.0%}"


def table(c: Comparison) -> str:
    """One voice's comparison as a text table."""
    lines = [
        f"{c.voice}: {c.windows} windows of 2 s against {c.music_windows} of the music: {c.verdict}",
        f"  {'measure':<20} {'generated':>10} {'music':>10} {'music 5-95%':>18} {'inside':>7}",
    ]
    for name, r in c.rows.items():
        span = f"{_fmt(r.music_range[0], name)} .. {_fmt(r.music_range[1], name)}"
        lines.append(
            f"  {LABELS[name]:<20} {_fmt(r.generated_median, name):>10} {_fmt(r.music_median, name):>10} "
            f"{span:>18} {_pct(r.inside):>7}"
        )
    lines.append(f"  {'silent 1-s windows':<20} {_pct(c.silent_share):>10} {_pct(c.music_silent_share):>10}")
    lines.append(f"  AUC generated vs music {_fmt(c.auc)}  (music vs music {_fmt(c.auc_music)})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from rt_samplernn.measure import measure_files

    def note(name: str) -> None:
        if not args.json:
            print(f"reading {name}", file=sys.stderr)

    comparisons = measure_files(args.generated, args.against, args.max_minutes, args.seed, on_file=note)
    if args.json:
        print(json.dumps([c.to_dict() for c in comparisons], indent=1))
    else:
        print("\n\n".join(table(c) for c in comparisons))
    return 0
