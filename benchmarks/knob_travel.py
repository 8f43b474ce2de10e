"""The temperature knob's default travel (issue 25): is every point of it musical?

    python benchmarks/knob_travel.py                          # the shipped demo, 5 settings x 60 s
    python benchmarks/knob_travel.py my-bundle --seconds 20 --settings 3
    python benchmarks/knob_travel.py --git c2ba5ef            # the demo as it was at a commit, beside today's

The knob travels over the bundle's usable range (model.json `usable`, what `play` and the window give the
dial), else over its declared range. Five settings spread evenly over that travel (both ends included), the
tail cut at the bundle's default, one voice each, every voice primed from its own stretch of the bundle's clip
as `play` starts it, --seconds each; each judged by the usable-range scan's verdict (export/usable.judge: the
share of silent one-second windows, flatness against the watchdog's hiss threshold, the share of windows
inside the music's ranges) against the bundle's audio_stats. Prints one row per setting.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from rt_samplernn import judge as judges
from rt_samplernn.export.usable import judge
from rt_samplernn.live.bundle import load_bundle
from rt_samplernn.live.declarations import DECLARATIONS
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.music import bundle_clip, bundle_usable, start_settings, voice_clips
from rt_samplernn.live.watchdog import WatchdogConfig
from rt_samplernn.models import DEMO_BUNDLE


def travel(bundle_dir: Path, settings: int, seconds: float, seed: int) -> list[str]:
    bundle = load_bundle(bundle_dir)
    stats = bundle.manifest.get("audio_stats")
    if stats is None:
        raise SystemExit(f"{bundle_dir}: no audio_stats to judge against (export --audio-stats)")
    usable = bundle_usable(bundle)
    spec = DECLARATIONS["temperature"].spec
    assert spec is not None
    low, high = (
        usable.temperature
        if usable is not None and usable.temperature[0] < usable.temperature[1]
        else (spec.minimum, spec.maximum)
    )
    cut = start_settings(bundle)["min_p"] if "min_p" in start_settings(bundle) else 0.0
    temps = np.linspace(low, high, settings)
    engine = Engine(bundle, voices=settings, seed=seed, provider="cpu")
    for v, t in enumerate(temps):
        engine.set_temperature(float(t), voice=v)
        if engine.has_min_p:
            engine.set_min_p(cut, voice=v)
    clip = bundle_clip(bundle)
    if clip is not None:
        engine.prime_voices(voice_clips(clip, settings), seed=seed)
    n = int(seconds * engine.sample_rate)
    audio = np.concatenate([engine.generate(min(16000, n - i), apply_gain=False) for i in range(0, n, 16000)], axis=1)
    hiss = WatchdogConfig.from_audio_stats(stats).hiss_flatness
    where = "usable range" if usable is not None and usable.temperature[0] < usable.temperature[1] else "declared range"
    lines = [
        f"{bundle_dir}: knob travel T {low:g}-{high:g} ({where}), tail cut {cut:g}, {seconds:g} s per setting, seed {seed}",
        f"{'temperature':>12} {'silent':>7} {'flatness':>9} {'hiss at':>8} {'inside':>7}  verdict",
    ]
    for v, t in enumerate(temps):
        r = judge(audio[v], engine.sample_rate, stats, float(t), cut if engine.has_min_p else 0.0)
        said = (
            "musical"
            if r.usable
            else (
                "silent"
                if r.silent_share > judges.THRESHOLDS.max_silent_share
                else "hiss-like"
                if r.flatness >= hiss
                else "outside the music"
            )
        )
        lines.append(
            f"{t:>12.3f} {r.silent_share:>7.0%} {r.flatness:>9.3f} {hiss:>8.3f} {r.inside_share:>7.0%}  {said}"
        )
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", nargs="?", default=str(DEMO_BUNDLE), help="bundle folder (default: the shipped demo)")
    p.add_argument("--git", action="append", default=[], metavar="REV", help="also the demo as it was at REV")
    p.add_argument("--settings", type=int, default=5, help="settings across the travel (default 5)")
    p.add_argument("--seconds", type=float, default=60.0, help="seconds per setting (default 60)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    bundles = [Path(args.bundle)]
    with tempfile.TemporaryDirectory() as tmp:
        for rev in args.git:
            out = Path(tmp) / rev
            out.mkdir()
            names = subprocess.run(
                ["git", "ls-tree", "--name-only", f"{rev}:rt_samplernn/models/demo"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            for name in names:
                data = subprocess.run(
                    ["git", "show", f"{rev}:rt_samplernn/models/demo/{name}"], capture_output=True, check=True
                ).stdout
                (out / name).write_bytes(data)
            bundles.append(out)
        for b in bundles:
            for line in travel(b, args.settings, args.seconds, args.seed):
                print(line, flush=True)
            print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
