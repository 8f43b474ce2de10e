"""`rt-samplernn bench BUNDLE`: real-time factor and per-graph call times of the engine, optionally against
the PyTorch eager reference generator on the checkpoint, measured in the same run."""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rt_samplernn.live.plan import BlockTimes, ChainFactory


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    from rt_samplernn.commands import _checks as check

    p = sub.add_parser(
        "bench",
        help="measure the engine's real-time factor",
        formatter_class=formatter,
        description="Real-time factor (generated seconds per wall second, median of repeats), microseconds "
        "per graph call (p50, p99), and the worker time per live block (p50, p99, worst) for 1 and 4 voices "
        "against the block's real-time budget; with --against, the PyTorch eager reference generator too. "
        "It closes with the voices this machine plays live, judged by the p99 block time. With effect flags "
        "(as play's), the chains' own cost per block and voice, and every block time and the voices that fit "
        "include them.",
        epilog="examples:\n  rt-samplernn bench my-bundle\n  rt-samplernn bench my-bundle --voices 4\n"
        "  rt-samplernn bench my-bundle --against runs/a/best.pt\n"
        "  rt-samplernn bench my-bundle --fx voice1=reverb --fx delay --limiter -1   # the chains' cost too",
    )
    p.add_argument("bundle", metavar="BUNDLE", help="bundle directory (rt-samplernn export)")
    p.add_argument("--seconds", type=check.seconds, default=10.0, metavar="S", help="audio generated per repeat")
    p.add_argument("--voices", type=check.voices, default=1, metavar="N", help="voices generated together")
    p.add_argument("--provider", choices=check.PROVIDERS, default="cpu", help="onnxruntime provider")
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
    from rt_samplernn.commands.fx_options import add_effect_arguments

    add_effect_arguments(
        p, limiter_default="off", limiter_help="default: off (bench times the chains it is given)", tempo=False
    )
    p.add_argument(
        "--no-capacity",
        action="store_true",
        help="skip the closing answer: how many voices this machine plays live, judged by the p99 block "
        "time (takes ~30 s)",
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


def timed_rtfs(generate: Callable[[], object], seconds: float, repeats: int) -> tuple[list[float], list[float]]:
    """Call ``generate`` (which makes ``seconds`` of audio) ``repeats`` times: its real-time factors, generated
    seconds per wall second and per second of this process's CPU time."""
    rtfs, cpu_rtfs = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        generate()
        rtfs.append(seconds / (time.perf_counter() - t))
        cpu_rtfs.append(seconds / max(time.process_time() - c, 1e-9))
    return rtfs, cpu_rtfs


def bench_engine(
    bundle: str | Path, seconds: float, voices: int, provider: str, threads: int, repeats: int
) -> dict[str, Any]:
    """{'rtf': median generated seconds per wall second (per voice), 'rtfs': all, 'graphs': {file: (p50, p99, calls/s)}}."""
    from rt_samplernn.live.engine import Engine

    engine = Engine(bundle, voices=voices, seed=0, provider=provider, threads=threads)
    n = int(seconds * engine.sample_rate)
    engine.generate(min(n, engine.sample_rate))  # warm up: allocations, caches
    rtfs, cpu_rtfs = timed_rtfs(lambda: engine.generate(n), seconds, repeats)
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
        files=[p.name for p in engine.graph_files],
        notices=engine.notices,
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
    with parametrize.cached():
        generate_levels(model, min(n, 256), [1.0] * voices, seed=0)  # warm up
        rtfs, cpu_rtfs = timed_rtfs(lambda: generate_levels(model, n, [1.0] * voices, seed=0), seconds, repeats)
    return dict(rtf=statistics.median(rtfs), rtfs=rtfs, cpu_rtf=statistics.median(cpu_rtfs))


BLOCK_VOICES = (1, 4)  # the voice counts whose block times the table always shows


def _fits(voices: int, times: BlockTimes | None) -> str:
    if times is None:
        return f"{voices}  (not even one: use a smaller model)"
    return f"{voices}  (p99 block {times.p99_ms:.1f} of {times.budget_ms:.1f} ms)"


def capacity_lines(bundle: Any, chains: ChainFactory | None = None) -> list[str]:
    """The musician's answer: voices played live, judged by the p99 block time, on one core and on two
    (``chains``: with the effect chains' cost)."""
    from rt_samplernn.live.plan import P99_MARGIN as margin
    from rt_samplernn.live.plan import voice_capacity

    one, one_times = voice_capacity(bundle, 1, 1, margin, chains=chains)
    intra, intra_times = voice_capacity(bundle, 1, 2, margin, chains=chains)
    split, split_times = voice_capacity(bundle, 2, 1, margin, chains=chains)
    if split >= intra:
        two, two_times, best = split, split_times, "two worker engines, one thread each"
    else:
        two, two_times, best = intra, intra_times, "one engine, --threads 2"
    return [
        "",
        f"voices this machine plays live (the p99 block time at most 1/{margin:g} of the block's budget):",
        f"  on one thread: {_fits(one, one_times)}",
        f"  on two threads: {_fits(two, two_times)}; {best}; the other way: {min(split, intra)}",
    ]


def block_lines(results: list[BlockTimes], threads: int, with_chains: bool = False) -> list[str]:
    """The block-time table: what decides a gap is the slow blocks, not the mean."""
    first = results[0]
    lines = [
        "",
        f"worker time per block of {first.block_frames} samples (as `play` asks; its real-time budget "
        f"{first.budget_ms:.1f} ms), {threads} thread(s){', effect chains included' if with_chains else ''}:",
        f"{'voices':>8} {'p50 ms':>8} {'p99 ms':>8} {'worst ms':>9} {'p99 / budget':>13}",
    ]
    for r in results:
        lines.append(f"{r.voices:>8} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.worst_ms:>9.2f} {r.p99_share:>12.0%}")
    return lines


def format_table(
    bundle: str, result: dict[str, Any], voices: int, threads: int, reference: dict[str, Any] | None = None
) -> list[str]:
    from rt_samplernn.live.cpu import cpu_features, cpu_name, kernel_path

    cfg = result["config"]
    lines = [
        f"bundle {bundle}: {cfg.n_tiers} tiers, frame sizes {list(cfg.frame_sizes)}, dim {cfg.dim}, "
        f"sample_dim {cfg.sample_dim}, {cfg.rnn_layers}x{cfg.rnn_type}, {cfg.sample_rate} Hz, "
        f"weights {result['weights']}",
        f"machine: {platform.machine()} {platform.processor() or ''} ({cpu_name()}), "
        f"provider {result['provider']}, {threads} thread(s), {voices} voice(s)",
        f"kernel features: {' '.join(cpu_features()) or 'unknown'} ({kernel_path()})",
        f"graphs played ({voices} voice(s), each checked against the exporter's output at load): "
        f"{', '.join(result['files'])}",
        *(f"note: {n}" for n in result["notices"]),
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


def run(args: argparse.Namespace) -> int:
    result = bench_engine(args.bundle, args.seconds, args.voices, args.provider, args.threads, args.repeats)
    reference = None
    if args.against:
        reference = bench_reference(
            args.against, args.against_seconds, args.voices, args.threads, max(1, min(args.repeats, 3))
        )
    for line in format_table(args.bundle, result, args.voices, args.threads, reference):
        print(line)
    voice_counts = sorted({*BLOCK_VOICES, args.voices})
    from rt_samplernn.live.plan import block_times

    chains = chain_factory(args)
    if chains is not None:
        for line in chain_lines(chains, result["config"].sample_rate, voice_counts):
            print(line, flush=True)
    blocks = [block_times(args.bundle, v, 1, args.threads, args.seconds, args.provider, chains) for v in voice_counts]
    for line in block_lines(blocks, args.threads, with_chains=chains is not None):
        print(line, flush=True)
    if not args.no_capacity and args.provider != "cuda":
        for line in capacity_lines(args.bundle, chains):
            print(line, flush=True)
    return 0


def chain_factory(args: argparse.Namespace) -> ChainFactory | None:
    """The effect chains the flags ask for, made afresh for each engine the timing opens (None: no flags)."""
    from rt_samplernn.commands.fx_options import build_rack

    if build_rack(args, 48000, 1) is None:  # the flags checked once, before any timing
        return None
    return lambda sample_rate, voices: build_rack(args, sample_rate, voices)


def chain_lines(chains: ChainFactory, sample_rate: int, voice_counts: list[int], blocks: int = 400) -> list[str]:
    """The chains' own cost per live block (voice chains, then the master on the stereo mix), against the
    block's budget, per voice; their latency."""
    import numpy as np

    from rt_samplernn.live.player import DEFAULT_CHUNK_FRAMES as frames

    budget_ms = frames / sample_rate * 1000.0
    lines = ["", f"effect chains alone, per block of {frames} samples (budget {budget_ms:.1f} ms):"]
    lines.append(f"{'voices':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99 / budget, per voice':>24} {'latency ms':>11}")
    rng = np.random.default_rng(0)
    for voices in voice_counts:
        rack = chains(sample_rate, voices)
        assert rack is not None
        times = []
        for _ in range(blocks):
            audio = (0.3 * rng.standard_normal((voices, frames))).astype(np.float32)
            t = time.perf_counter()
            mix = np.repeat(rack.process_voices(audio).sum(axis=0)[:, None], 2, axis=1)
            rack.process_master(mix)
            times.append(time.perf_counter() - t)
        p50, p99 = _percentile(times, 0.5) * 1e3, _percentile(times, 0.99) * 1e3
        latency = rack.stats().latency_ms
        lines.append(f"{voices:>8} {p50:>8.3f} {p99:>8.3f} {p99 / budget_ms / voices:>23.1%} {latency:>11.1f}")
    return lines
