"""The first release's engine against today's on the same checkpoint, in the same run (issue 11's ratio floor).

    python benchmarks/engine_rtf.py --first-release                      # seeded random `live` model
    python benchmarks/engine_rtf.py --first-release --checkpoint runs/a/last.pt --voices 1 4 --rounds 3

The first release is the code as of FIRST_RELEASE (the last commit of 2026-11-23). Its package is taken out
of this checkout's git history (`git archive`) into a temporary directory; a child process that imports it
(PYTHONPATH) exports the checkpoint with the first release's exporter (int8, its default-speed format) and
times the first release's engine on that bundle. Today's exporter writes the version-2 int8 bundle of the
same checkpoint, and a child process times today's engine on it with the same harness. The two alternate,
round after round; each child reports wall-clock and CPU-time real-time factors of every repeat.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

FIRST_RELEASE = "75517dd2f6d953fbde17252c1949425644153337"  # 2026-11-23 22:00 UTC, the first release's last commit
REPO = Path(__file__).resolve().parents[1]

# Runs in a child: times Engine(bundle).generate the same way for both releases (the first release's engine
# lives in rt_samplernn.engine, today's in rt_samplernn.live.engine; same constructor and generate()).
_TIMER = """
import json, sys, time
try:
    from rt_samplernn.live.engine import Engine
except ImportError:
    from rt_samplernn.engine import Engine
import rt_samplernn
bundle, voices, seconds, repeats = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
engine = Engine(bundle, voices=voices, seed=0, provider="cpu", threads=int(sys.argv[5]))
n = int(seconds * engine.sample_rate)
engine.generate(min(n, engine.sample_rate))
rtfs, cpu = [], []
for _ in range(repeats):
    t, c = time.perf_counter(), time.process_time()
    engine.generate(n)
    rtfs.append(seconds / (time.perf_counter() - t))
    cpu.append(seconds / max(time.process_time() - c, 1e-9))
print(json.dumps(dict(rtfs=rtfs, cpu=cpu, package=rt_samplernn.__file__)))
"""

_EXPORT = """
import sys
from collections.abc import Sequence
from pathlib import Path
from rt_samplernn.checkpoint import load_checkpoint
from rt_samplernn.export.onnx_export import export_bundle
model = load_checkpoint(Path(sys.argv[1]))[0]
export_bundle(model, sys.argv[2], int8=True)
"""


def first_release_package(dest: Path, commit: str = FIRST_RELEASE) -> Path:
    """Unpack the first release's `rt_samplernn` (with `export/` as rt_samplernn.export, as its pyproject
    installed it) under dest; returns dest, to put on PYTHONPATH."""
    try:
        tar = subprocess.run(
            ["git", "-C", str(REPO), "archive", commit, "rt_samplernn", "export"], check=True, capture_output=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"--first-release needs a git checkout of rt-samplernn with commit {commit[:7]} ({e})") from e
    with tarfile.open(fileobj=BytesIO(tar)) as t:
        t.extractall(dest, filter="data")
    (dest / "export").rename(dest / "rt_samplernn" / "export")
    return dest


def _child(code: str, args: list[str], pythonpath: Path | None) -> str:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=tempfile.gettempdir(),
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"child process failed:\n{done.stderr[-2000:]}")
    return done.stdout


def compare(
    checkpoint: Path,
    tmp: Path,
    voices: list[int],
    seconds: float,
    repeats: int,
    rounds: int,
    threads: int,
    export_today,
    extra: Sequence[Path] = (),
) -> list[tuple[str, int, list[float], list[float]]]:
    """[(label, voices, wall RTFs, CPU RTFs)] for the first release and today (and today's engine on the
    `extra` bundle directories), alternating round by round."""
    first_pkg = first_release_package(tmp / "first-release")
    bundles = {
        "first release, its int8 export": (tmp / "first-int8", first_pkg),
        "today, version 2 int8": (tmp / "today-int8", None),
    }
    _child(_EXPORT, [str(checkpoint), str(bundles["first release, its int8 export"][0])], first_pkg)
    export_today(checkpoint, bundles["today, version 2 int8"][0])
    bundles.update({f"today, {Path(b).name}": (Path(b), None) for b in extra})
    rows = []
    for v in voices:
        wall: dict[str, list[float]] = {k: [] for k in bundles}
        cpu: dict[str, list[float]] = {k: [] for k in bundles}
        for _ in range(rounds):
            for label, (bundle, pkg) in bundles.items():
                out = json.loads(_child(_TIMER, [str(bundle), str(v), str(seconds), str(repeats), str(threads)], pkg))
                expected = first_pkg if pkg else None
                if expected is not None and not out["package"].startswith(str(expected)):
                    raise SystemExit(f"the first release's child imported {out['package']}, not {expected}")
                wall[label] += out["rtfs"]
                cpu[label] += out["cpu"]
                print(f"  {label} x{v}: {statistics.median(out['rtfs']):.2f}x", file=sys.stderr, flush=True)
        rows += [(label, v, wall[label], cpu[label]) for label in bundles]
    return rows


def print_table(rows: list[tuple[str, int, list[float], list[float]]]) -> None:
    print(
        "RTF = generated s per wall s, per voice (median of all repeats, min-max); CPU = per s of the child's CPU time"
    )
    print(
        f"{'engine, bundle':<32} {'voices':>6} {'RTF':>7} {'(min-max)':>11} {'CPU RTF':>8} {'ratio':>7} {'CPU ratio':>9}"
    )
    base: dict[int, tuple[float, float]] = {}
    for label, v, wall, cpu in rows:
        med, cmed = statistics.median(wall), statistics.median(cpu)
        base.setdefault(v, (med, cmed))
        print(
            f"{label:<32} {v:>6} {med:>6.2f}x {f'{min(wall):.2f}-{max(wall):.2f}':>11} {cmed:>7.2f}x "
            f"{med / base[v][0]:>6.2f}x {cmed / base[v][1]:>8.2f}x"
        )
