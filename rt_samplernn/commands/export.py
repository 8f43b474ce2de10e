"""`rt-samplernn export CKPT [-o BUNDLE_DIR] [--fp32] [--verify]`: a checkpoint -> a bundle of ONNX step graphs."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    from rt_samplernn.commands import _checks as check

    p = sub.add_parser(
        "export",
        help="export a checkpoint to an ONNX bundle for live play",
        formatter_class=formatter,
        description="Write model.json plus one ONNX step graph per tier (docs/bundle.md). The weights are int8 "
        "by default, the bundle that plays fastest on a CPU (about 2x the fp32 graphs, within about 0.001 bits "
        "per sample of the checkpoint on real audio); --fp32 writes the exact graphs instead.",
        epilog="examples:\n  rt-samplernn export runs/a/best.pt -o my-bundle --verify   # int8, checked\n"
        "  rt-samplernn export runs/a/best.pt --verify --verify-audio held-out.wav   # and its NLL on real audio\n"
        "  rt-samplernn export runs/a/best.pt -o exact --fp32 --verify   # bit-exact graphs (a GPU, parity work)\n"
        "  rt-samplernn export runs/a/best.pt -o live --clip music/track03.ogg --audio-stats music/\n"
        "      # voices start from 20 s of the music; the knobs travel the measured usable range",
    )
    p.add_argument("checkpoint", metavar="CKPT", help="checkpoint file written by `rt-samplernn train`")
    p.add_argument("-o", "--out", metavar="BUNDLE_DIR", help="output directory (default: CKPT's name + '-bundle')")
    p.add_argument("--force", action="store_true", help="overwrite an existing bundle directory")
    weights = p.add_mutually_exclusive_group()
    weights.add_argument(
        "--fp32",
        action="store_true",
        help="store the weights as fp32: the exact graphs (logits within 1e-4 of the checkpoint, the same "
        "samples as the PyTorch reference), about half the speed of the default int8 on a CPU",
    )
    weights.add_argument(
        "--int8",
        action="store_true",
        default=argparse.SUPPRESS,  # the default already: nothing reads it
        help="the default, accepted for old scripts: every weight matrix as int8 (onnxruntime MatMulNBits), "
        "about 2x faster on a CPU, about 1%% off the checkpoint; big models also get frame graphs for 3+ "
        "voices (*.batch.onnx)",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="check the bundle written against the checkpoint: int8 (default) within a relative tolerance "
        "and, with --verify-audio, at most 0.02 bits per sample worse on real audio; --fp32 teacher-forced "
        "logits within 1e-4 and the engine matching the PyTorch reference generator sample for sample",
    )
    p.add_argument(
        "--verify-seconds",
        type=check.float_in(0.0, 3600.0),
        default=2.0,
        metavar="S",
        help="seconds of audio the parity check and the NLL comparison read",
    )
    p.add_argument(
        "--verify-audio",
        nargs="+",
        metavar="FILE",
        help="real audio the model did not train on (joined in order): the check then also reports "
        "the bundle's and the checkpoint's NLL on it, in bits per sample; without it the NLL "
        "comparison is skipped and a test signal is used",
    )
    p.add_argument(
        "--verify-samples",
        type=check.int_in(1, 10_000_000),
        default=4000,
        metavar="N",
        help="samples compared between the engine and the reference generator",
    )
    p.add_argument(
        "--audio-stats",
        nargs="+",
        metavar="FILE|DIR",
        default=None,
        help="training audio (files or folders): store its level, flatness and bass share in the bundle, "
        "so the live watchdog knows a drone or hiss from this music (docs/bundle.md, audio_stats)",
    )
    p.add_argument(
        "--clip",
        metavar="FILE",
        default=None,
        help="a recording of the training music: a short stretch of it (its steadiest, resampled to the "
        "model rate, 16-bit FLAC) ships in the bundle, and play, gui and generate start every voice from it "
        "(each from its own offset) instead of from silence; e.g. --clip data/track03.ogg",
    )
    p.add_argument(
        "--clip-seconds",
        type=check.float_in(1.0, 120.0, low_open=False),
        default=20.0,
        metavar="S",
        help="length of the stored clip, 1-120 s (default: 20; a 16 kHz FLAC clip costs about 30 kB a second)",
    )
    p.add_argument(
        "--range-seconds",
        type=check.float_in(2.0, 600.0, low_open=False),
        default=20.0,
        metavar="S",
        help="seconds generated at each setting of the usable-range scan (a few temperatures x a few tail "
        "cuts, all at once; needs --audio-stats or --clip to know the music): the knobs then travel over "
        "the settings that stay musical (default: 20)",
    )
    p.add_argument(
        "--no-range",
        action="store_true",
        help="skip the usable-range scan (the knobs then travel their whole declared ranges)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from rt_samplernn.audio import load_for_model
    from rt_samplernn.checkpoint import load_checkpoint
    from rt_samplernn.commands._checks import check_output_dir
    from rt_samplernn.errors import UserError
    from rt_samplernn.export.atomic import check_replaceable, replacing_dir
    from rt_samplernn.export.onnx_export import export_bundle
    from rt_samplernn.live.bundle import sha256_file

    ckpt = Path(args.checkpoint)
    out = Path(args.out) if args.out else ckpt.with_name(f"{ckpt.stem}-bundle")
    check_replaceable(out, args.force)
    check_output_dir(out.parent, "-o", target=out)  # the new bundle is built beside out, then swapped in
    model, cfg, _ = load_checkpoint(ckpt)
    if args.verify_seconds < 2.0 and args.verify:
        print(f"note: --verify-seconds {args.verify_seconds} is shorter than the 2 s the parity check asks for")
    audio = None
    if args.verify and args.verify_audio:
        audio = np.concatenate([load_for_model(f, cfg.sample_rate) for f in args.verify_audio])
    with replacing_dir(out) as tmp:  # a kill or failure before the end leaves the old bundle as it was
        manifest = export_bundle(
            model,
            tmp,
            source=f"{ckpt.name} sha256:{sha256_file(ckpt)}",
            int8=not args.fp32,
        )
        if args.audio_stats:
            from rt_samplernn.block_features import MANIFEST_KEY, audio_stats
            from rt_samplernn.live.bundle import update_manifest

            stats = audio_stats(args.audio_stats, cfg.sample_rate)
            update_manifest(tmp, MANIFEST_KEY, stats)
            print(
                f"audio_stats: {stats['windows']} one-second windows of training audio (flatness p99 "
                f"{stats['flatness']['p99']:.3f}, bass share p99 {stats['low_share']['p99']:.2f})"
            )
        if args.clip:
            from rt_samplernn.live.music import add_clip

            entry = add_clip(tmp, args.clip, args.clip_seconds)
            print(f"clip: {entry['seconds']:g} s of {entry['source']} from {entry['start_s']:g} s ({entry['file']})")
        if args.verify:
            from rt_samplernn.export.verify import verify_bundle

            report = verify_bundle(model, tmp, seconds=args.verify_seconds, audio=audio, n_generate=args.verify_samples)
            if report.left_out:  # a faster variant this CPU computes wrong: written without it, and said
                from rt_samplernn.export.onnx_export import drop_batch_graphs

                drop_batch_graphs(tmp, report.batch_files)
                print(
                    f"left out {', '.join(report.batch_files)} (wrong on this CPU, table above): engines of "
                    "several voices run the plain graphs"
                )
            if not report.ok:
                raise UserError(
                    f"{out}: parity check failed (table above), so the bundle was not written; "
                    "please report this with the checkpoint"
                )
            print("parity: ok")
        if not args.no_range:
            scan_usable_range(tmp, args, cfg.sample_rate)
        kept = sorted(tmp.glob("*.onnx"))  # after --verify left out what this CPU computes wrong
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in kept)
    weights = "fp32 (exact)" if args.fp32 else "int8 (--fp32 for the exact graphs)"
    print(f"wrote {out}/: {manifest.name}, {sizes}; weights {weights}")
    return 0


def scan_usable_range(bundle: Path, args: argparse.Namespace, sample_rate: int) -> None:
    """Measure the bundle's usable range and store it in its manifest (or say why not)."""
    from rt_samplernn.block_features import MANIFEST_KEY, audio_stats
    from rt_samplernn.export.usable import measure_usable
    from rt_samplernn.live.bundle import load_bundle, update_manifest
    from rt_samplernn.live.music import USABLE_KEY
    from rt_samplernn.progress import progress_bar

    stats = load_bundle(bundle, check_sha=False).manifest.get(MANIFEST_KEY)
    if stats is None and args.clip:
        stats = audio_stats([args.clip], sample_rate)
    if stats is None:
        print("usable range: not measured (give --audio-stats or --clip: the scan needs the training music)")
        return
    with progress_bar(total=100, desc="usable range", unit="%", bar_format="{desc}: {bar} {n:.0f}%") as bar:

        def advance(fraction: float) -> None:
            bar.update(100 * fraction - bar.n)

        usable = measure_usable(bundle, stats, seconds=args.range_seconds, progress=advance)
        advance(1.0)  # no second pass when no setting passed the first
    update_manifest(bundle, USABLE_KEY, usable.to_manifest())
    judged = [t for t in usable.tried if bool(t.get("lifted")) == (usable.lift is not None)]
    passed = sum(bool(t["usable"]) for t in judged)
    lift = f", quiet lift at T {usable.lift.temperature:g}" if usable.lift is not None else ""
    print(
        f"usable range: temperature {usable.temperature[0]:g}-{usable.temperature[1]:g}, tail cut "
        f"{usable.min_p[0]:g}-{usable.min_p[1]:g}, start at T {usable.defaults['temperature']:g} cut "
        f"{usable.defaults['min_p']:g}{lift} ({passed} of {len(judged)} settings stayed musical over "
        f"{args.range_seconds:g} s)"
    )
