"""How much of a seed clip matters: prime with the last L seconds of a clip instead of all of it (issue 13).

    python benchmarks/seed_length.py                          # the demo bundle, drascula-music track 3
    python benchmarks/seed_length.py --bundle my-bundle --clip intro.wav --full 30

For each L, prints how far the primed RNN states are from those after the full clip (relative L2 over all
tiers) and how many of the next samples the engine draws identically (same noise seed) before the two
diverge. Where both reach "same" the older audio no longer changes anything: the useful seed length.
Every tail ends at the clip's loudest sample, so peak normalization does not differ between them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rt_samplernn.audio import load_for_model
from rt_samplernn.live.engine import Engine
from rt_samplernn.models import DEMO_BUNDLE

CLIP = "/usr/share/scummvm/drascula/audio/track3.ogg"


def primed(engine: Engine, clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(all primed states flattened, the next samples' levels) after priming on clip."""
    engine.prime(clip, engine.sample_rate, seed=0)
    states = np.concatenate([s.ravel() for tier in engine.snapshot().states for s in tier])
    return states, engine.generate_levels(engine.sample_rate)[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", default=str(DEMO_BUNDLE))
    p.add_argument("--clip", default=CLIP)
    p.add_argument("--full", type=float, default=30.0, help="seconds of the clip primed in full")
    p.add_argument("--lengths", type=float, nargs="+", default=[0.25, 0.5, 1, 2, 4, 8, 16])
    args = p.parse_args(argv)
    engine = Engine(args.bundle)
    rate = engine.sample_rate
    audio = load_for_model(args.clip, rate)
    # The clip ends just after the track's loudest sample: every tail then holds that peak, so priming's
    # peak normalization scales all of them alike and only the length differs.
    n_full = int(args.full * rate)
    end = n_full + int(np.argmax(np.abs(audio[n_full:]))) + 1
    full = audio[end - n_full : end]
    ref_states, ref_levels = primed(engine, full)
    print(f"bundle {args.bundle}; clip {args.clip}, {len(full) / rate:.1f} s primed in full")
    print(f"{'last L s':>9} {'state distance':>15} {'identical samples (of 1 s)':>27}")
    for length in args.lengths:
        states, levels = primed(engine, full[-int(length * rate) :])
        distance = np.linalg.norm(states - ref_states) / np.linalg.norm(ref_states)
        differ = np.flatnonzero(levels != ref_levels)
        same = len(levels) if differ.size == 0 else int(differ[0])
        print(f"{length:>9g} {distance:>15.2e} {same:>27}")
    other = audio[: int(args.full * rate)]  # for scale: another part of the track, the same length
    states, _ = primed(engine, other)
    distance = np.linalg.norm(states - ref_states) / np.linalg.norm(ref_states)
    print(f"{'other':>9} {distance:>15.2e}   (the track's first {args.full:g} s instead: a different seed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
