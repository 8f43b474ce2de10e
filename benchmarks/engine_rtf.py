"""Engine real-time factor on random-weight preset bundles, side by side with the PyTorch eager reference.

    python benchmarks/engine_rtf.py                       # live preset: 1 and 4 voices, vs PyTorch
    python benchmarks/engine_rtf.py --presets live prism --voices 1 4 --seconds 10 --rounds 3
    python benchmarks/engine_rtf.py --int8                # also the int8 export (export --int8)
    python benchmarks/engine_rtf.py --first-release [--checkpoint CKPT]   # the first release's engine and
                                                          # exporter beside today's (benchmarks/first_release.py)

Weights do not change the speed, so each preset gets a seeded random model, saved as a checkpoint and
exported to a bundle in a temporary directory. The engine and the reference are timed alternately in
`rounds` rounds (the development machine is shared and noisy); the table shows medians over all repeats.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch

from rt_samplernn.checkpoint import save_checkpoint
from rt_samplernn.commands.bench import bench_engine, bench_reference
from rt_samplernn.config import model_config_from_preset
from rt_samplernn.export.onnx_export import export_bundle
from rt_samplernn.live.cpu import cpu_name
from rt_samplernn.model import SampleRNN


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=["live"])
    p.add_argument("--voices", nargs="+", type=int, default=[1, 4])
    p.add_argument("--seconds", type=float, default=5.0, help="engine audio per repeat")
    p.add_argument("--reference-seconds", type=float, default=1.0, help="PyTorch audio per repeat (0: skip)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--int8", action="store_true", help="also time an int8 export of each preset (export --int8)")
    p.add_argument("--no-fp32", action="store_true", help="time only the int8 exports")
    p.add_argument(
        "--first-release",
        action="store_true",
        help="time the first release's engine on its own int8 export against today's engine on the "
        "version 2 int8 export of the same checkpoint, alternating (benchmarks/first_release.py)",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="with --first-release: a trained checkpoint (default: a seeded random model of the first preset)",
    )
    p.add_argument(
        "--extra-bundle",
        nargs="+",
        type=Path,
        default=[],
        help="with --first-release: also time today's engine on these bundle directories",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.first_release:
        return _first_release(args)
    rows: list[tuple[str, int, float, float, float, float | None, dict[str, list[float]], float, float | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            torch.manual_seed(0)
            model = SampleRNN(model_config_from_preset(preset)).eval()
            ckpt = save_checkpoint(Path(tmp) / f"{preset}.pt", model)
            bundles = {}
            for int8 in ([False] if not args.no_fp32 else []) + ([True] if args.int8 else []):
                kind = f"v2 {'int8' if int8 else 'fp32'}"  # the version export writes
                bundles[kind] = Path(tmp) / f"{preset}-v2-{'int8' if int8 else 'fp32'}"
                export_bundle(model, bundles[kind], int8=int8)
            for voices in args.voices:
                eng: dict[str, list[float]] = {k: [] for k in bundles}
                eng_cpu: dict[str, list[float]] = {k: [] for k in bundles}
                ref, ref_cpu, graphs = [], [], {}
                for _ in range(args.rounds):
                    for kind, bundle in bundles.items():
                        r = bench_engine(bundle, args.seconds, voices, "cpu", args.threads, args.repeats)
                        eng[kind] += r["rtfs"]
                        eng_cpu[kind].append(r["cpu_rtf"])
                        graphs[kind] = r["graphs"]
                        print(f"  {preset} {kind} x{voices}: engine {r['rtf']:.2f}x", file=sys.stderr, flush=True)
                    if args.reference_seconds > 0:
                        rr = bench_reference(ckpt, args.reference_seconds, voices, args.threads, 1)
                        ref += rr["rtfs"]
                        ref_cpu.append(rr["cpu_rtf"])
                        print(f"  {preset} x{voices}: reference {ref[-1]:.3f}x", file=sys.stderr, flush=True)
                for kind in bundles:
                    rows.append(
                        (
                            f"{preset} {kind}",
                            voices,
                            statistics.median(eng[kind]),
                            min(eng[kind]),
                            max(eng[kind]),
                            statistics.median(ref) if ref else None,
                            graphs[kind],
                            statistics.median(eng_cpu[kind]),
                            statistics.median(ref_cpu) if ref_cpu else None,
                        )
                    )
    print(f"machine: {cpu_name()}, {args.threads} thread(s), CPU provider; RTF = generated s / wall s, per voice")
    print("(CPU columns: generated s per s of this process's CPU time, less disturbed by other load)")
    print(
        f"{'bundle':<16} {'voices':>6} {'engine RTF':>11} {'(min-max)':>13} {'PyTorch RTF':>12} {'ratio':>7} "
        f"{'engine CPU':>11} {'PyTorch CPU':>12} {'ratio':>7}  us/call p50 (graphs coarse to fine, sample)"
    )
    for preset, voices, med, lo, hi, ref_rtf, graph_us, cpu, ref_cpu_rtf in rows:
        calls = " / ".join(f"{v[0]:.0f}" for v in graph_us.values())
        ref_s = f"{ref_rtf:>12.3f} {med / ref_rtf:>6.1f}x" if ref_rtf else f"{'-':>12} {'-':>7}"
        ref_c = f"{ref_cpu_rtf:>12.3f} {cpu / ref_cpu_rtf:>6.1f}x" if ref_cpu_rtf else f"{'-':>12} {'-':>7}"
        print(
            f"{preset:<16} {voices:>6} {med:>10.2f}x {f'{lo:.2f}-{hi:.2f}':>13} {ref_s} {cpu:>10.2f}x {ref_c}  {calls}"
        )
    return 0


def _first_release(args: argparse.Namespace) -> int:
    from first_release import compare, print_table

    from rt_samplernn.checkpoint import load_checkpoint

    def export_today(checkpoint: Path, out: Path) -> None:
        export_bundle(load_checkpoint(checkpoint)[0], out, int8=True)

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint
        if ckpt is None:
            torch.manual_seed(0)
            ckpt = save_checkpoint(Path(tmp) / "random.pt", SampleRNN(model_config_from_preset(args.presets[0])))
        rows = compare(
            ckpt,
            Path(tmp),
            args.voices,
            args.seconds,
            args.repeats,
            args.rounds,
            args.threads,
            export_today,
            args.extra_bundle,
        )
    print(f"machine: {cpu_name()}, {args.threads} thread(s), CPU provider; checkpoint {ckpt}")
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
