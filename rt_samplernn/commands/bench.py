"""`rt-samplernn bench BUNDLE`: real-time factor and per-graph call times of the engine, optionally against
the PyTorch eager reference generator on the checkpoint, measured in the same run."""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction, formatter: type) -> None:
    from rt_samplernn.commands import _checks as check

    p = sub.add_parser(
        "bench",
        help="measure the engine's real-time factor",
        formatter_class=formatter,
        description="Real-time factor (generated seconds per wall second, median of repeats) and microseconds "
        "per graph call (p50, p99); with --against, the PyTorch eager reference generator too.",
        epilog="examples:\n  rt-samplernn bench my-bundle\n  rt-samplernn bench my-bundle --voices 4\n"
        "  rt-samplernn bench my-bundle --against runs/a/best.pt",
    )
    p.add_argument("bundle", metavar="BUNDLE", help="bundle directory (rt-samplernn export)")
    p.add_argument("--seconds", type=check.seconds, default=10.0, metavar="S", help="audio generated per repeat")
    p.add_argument("--voices", type=check.voices, default=1, metavar="N", help="voices generated together")
    p.add_argument("--provider", choices=("auto", "cpu", "cuda"), default="cpu", help="onnxruntime provider")
    p.add_argument("--threads", type=check.threads, default=1, metavar="K", help="intra-op threads (and torch threads)")
    p.add_argument(
        "--repeats", type=check.int_in(1, 1000), default=5, metavar="R", help="timed repeats (median reported)"
    )
    p.add_argument("--against", metavar="CKPT", help="also time the PyTorch eager reference on this checkpoint")
    p.add_argument(
        "--against-seconds",
        type=check.seconds,
        default=1.0,
        metavar="S",
        help="audio per repeat for the (slow) reference generator",
    )
    p.add_argument(
        "--no-capacity",
        action="store_true",
        help="skip the closing answer: how many voices this machine plays live (takes ~30 s)",
    )
    p.set_defaults(func=run)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class _Timed:
    """Stands in for an InferenceSession and records the wall time of each run()."""

    def __init__(self, session: Any, times: list[float]):
        self.session, self.times = session, times

    def run(self, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        out = self.session.run(*args, **kwargs)
        self.times.append(time.perf_counter() - t)
        return out

    def run_with_iobinding(self, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        out = self.session.run_with_iobinding(*args, **kwargs)
        self.times.append(time.perf_counter() - t)
        return out

    def io_binding(self) -> Any:
        return self.session.io_binding()


def bench_engine(
    bundle: str | Path, seconds: float, voices: int, provider: str, threads: int, repeats: int
) -> dict[str, Any]:
    """{'rtf': median generated seconds per wall second (per voice), 'rtfs': all, 'graphs': {file: (p50, p99, calls/s)}}."""
    from rt_samplernn.live.engine import Engine

    engine = Engine(bundle, voices=voices, seed=0, provider=provider, threads=threads)
    n = int(seconds * engine.sample_rate)
    engine.generate(min(n, engine.sample_rate))  # warm up: allocations, caches
    rtfs, cpu_rtfs = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        engine.generate(n)
        rtfs.append(seconds / (time.perf_counter() - t))
        cpu_rtfs.append(seconds / max(time.process_time() - c, 1e-9))
    # One more pass with each session.run timed (kept apart, so the timing wrapper does not touch the RTF).
    times: dict[str, list[float]] = {g.path.name: [] for g in (*engine.bundle.frame_graphs, engine.bundle.sample)}
    undo = engine.wrap_sessions(lambda session, name: _Timed(session, times[name]))
    engine.generate(n)
    undo()
    order = [g.path.name for g in reversed(engine.bundle.frame_graphs)] + [engine.bundle.sample.path.name]
    graphs = {
        name: (_percentile(times[name], 0.5) * 1e6, _percentile(times[name], 0.99) * 1e6, len(times[name]) / seconds)
        for name in order
        if times[name]
    }  # coarse to fine, sample
    return dict(
        rtf=statistics.median(rtfs),
        rtfs=rtfs,
        cpu_rtf=statistics.median(cpu_rtfs),
        graphs=graphs,
        provider=engine.provider,
        config=engine.config,
        weights=engine.bundle.manifest.get("weights", "fp32"),
    )


def bench_reference(checkpoint: str | Path, seconds: float, voices: int, threads: int, repeats: int) -> dict[str, Any]:
    """The PyTorch eager reference generator: one torch call per tier step, inference mode, `threads` threads."""
    import torch
    from torch.nn.utils import parametrize

    from rt_samplernn.checkpoint import load_checkpoint
    from rt_samplernn.generate import generate_levels

    torch.set_num_threads(threads)
    model, cfg, _ = load_checkpoint(checkpoint)
    n = int(seconds * cfg.sample_rate)
    rtfs, cpu_rtfs = [], []
    with parametrize.cached():
        generate_levels(model, min(n, 256), [1.0] * voices, seed=0)
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            generate_levels(model, n, [1.0] * voices, seed=0)
            rtfs.append(seconds / (time.perf_counter() - t))
            cpu_rtfs.append(seconds / max(time.process_time() - c, 1e-9))
    return dict(rtf=statistics.median(rtfs), rtfs=rtfs, cpu_rtf=statistics.median(cpu_rtfs))


def _rtf_workers(bundle: Any, voices: int, workers: int, threads: int, seconds: float) -> float:
    """Per-voice real-time factor of `voices` split over `workers` engines, each on its own Python thread
    (onnxruntime releases the GIL while a graph runs), each with `threads` intra-op threads."""
    import threading

    from rt_samplernn.live.engine import Engine

    split = [voices // workers + (1 if i < voices % workers else 0) for i in range(workers)]
    engines = [Engine(bundle, voices=v, seed=i, provider="cpu", threads=threads) for i, v in enumerate(split) if v]
    n = int(seconds * engines[0].sample_rate)
    for e in engines:
        e.generate(n // 4)  # warm up
    walls = [0.0] * len(engines)

    def work(i: int) -> None:
        t = time.perf_counter()
        engines[i].generate(n)
        walls[i] = time.perf_counter() - t

    jobs = [threading.Thread(target=work, args=(i,)) for i in range(len(engines))]
    for j in jobs:
        j.start()
    for j in jobs:
        j.join()
    return seconds / max(walls)


def voice_capacity(
    bundle: Any, workers: int, threads: int, margin: float = 1.5, seconds: float = 0.5, max_voices: int = 64
) -> tuple[int, float]:
    """The most voices that run at `margin` x real time or better (each), and the RTF measured there.

    Doubles the voice count until it falls short, then bisects; each point is one short run.
    """
    good, good_rtf, bad = 0, 0.0, None
    n = max(1, workers)
    while n <= max_voices:
        rtf = _rtf_workers(bundle, n, workers, threads, seconds)
        if rtf < margin:
            bad = n
            break
        good, good_rtf = n, rtf
        n *= 2
    while bad is not None and bad - good > 1:
        mid = (good + bad) // 2
        rtf = _rtf_workers(bundle, mid, workers, threads, seconds)
        if rtf >= margin:
            good, good_rtf = mid, rtf
        else:
            bad = mid
    return good, good_rtf


def capacity_lines(bundle: Any, margin: float = 1.5) -> list[str]:
    """The musician's answer: voices played live with a margin, on one core and on two (best of two ways)."""
    one, one_rtf = voice_capacity(bundle, 1, 1, margin)
    intra, intra_rtf = voice_capacity(bundle, 1, 2, margin)
    split, split_rtf = voice_capacity(bundle, 2, 1, margin)
    best = "two worker engines, one thread each" if split >= intra else "one engine, --threads 2"
    two, two_rtf = max((split, split_rtf), (intra, intra_rtf))
    return [
        "",
        f"voices this machine plays live with a {margin}x margin (each voice at >= {margin}x real time):",
        f"  on one thread: {one}" + (f"  ({one_rtf:.2f}x each)" if one else "  (not even one: use a smaller model)"),
        f"  on two threads: {two}  ({two_rtf:.2f}x each; {best}; the other way: {min(split, intra)})",
    ]


def format_table(
    bundle: str, result: dict[str, Any], voices: int, threads: int, reference: dict[str, Any] | None = None
) -> list[str]:
    cfg = result["config"]
    lines = [
        f"bundle {bundle}: {cfg.n_tiers} tiers, frame sizes {list(cfg.frame_sizes)}, dim {cfg.dim}, "
        f"sample_dim {cfg.sample_dim}, {cfg.rnn_layers}x{cfg.rnn_type}, {cfg.sample_rate} Hz, "
        f"weights {result['weights']}",
        f"machine: {platform.machine()} {platform.processor() or ''} ({_cpu_name()}), "
        f"provider {result['provider']}, {threads} thread(s), {voices} voice(s)",
        "",
        f"{'':<36} {'real-time factor':>16} {'per CPU second':>15}",
        f"{'engine (onnxruntime), each voice':<36} {result['rtf']:>15.2f}x {result['cpu_rtf']:>14.2f}x   "
        f"(repeats: {', '.join(f'{r:.2f}' for r in result['rtfs'])})",
    ]
    if reference is not None:
        lines.append(
            f"{'PyTorch eager reference, each voice':<36} {reference['rtf']:>15.3f}x "
            f"{reference['cpu_rtf']:>14.3f}x   (repeats: {', '.join(f'{r:.3f}' for r in reference['rtfs'])})"
        )
        lines.append(
            f"{'engine / reference':<36} {result['rtf'] / reference['rtf']:>15.1f}x "
            f"{result['cpu_rtf'] / reference['cpu_rtf']:>14.1f}x"
        )
    lines.append(
        "(real-time factor: generated s per wall s, median; per CPU second: per s of this process's CPU "
        "time, which other load on a shared machine disturbs less)"
    )
    lines += ["", f"{'graph':<18} {'calls/s of audio':>16} {'p50 us':>9} {'p99 us':>9} {'us/sample (p50)':>16}"]
    for name, (p50, p99, rate) in result["graphs"].items():
        lines.append(f"{name:<18} {rate:>16.0f} {p50:>9.0f} {p99:>9.0f} {p50 * rate / cfg.sample_rate:>16.1f}")
    return lines


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run(args: argparse.Namespace) -> int:
    result = bench_engine(args.bundle, args.seconds, args.voices, args.provider, args.threads, args.repeats)
    reference = None
    if args.against:
        reference = bench_reference(
            args.against, args.against_seconds, args.voices, args.threads, max(1, min(args.repeats, 3))
        )
    for line in format_table(args.bundle, result, args.voices, args.threads, reference):
        print(line)
    if not args.no_capacity and args.provider != "cuda":
        for line in capacity_lines(args.bundle):
            print(line, flush=True)
    return 0
