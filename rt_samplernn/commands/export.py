"""`rt-samplernn export CKPT [-o BUNDLE_DIR] [--verify]`: a checkpoint -> a bundle of ONNX step graphs."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction, formatter: type) -> None:
    from rt_samplernn.commands import _checks as check

    p = sub.add_parser(
        "export", help="export a checkpoint to an ONNX bundle for live play", formatter_class=formatter,
        description="Write model.json plus one ONNX step graph per tier (docs/bundle.md).",
        epilog="examples:\n  rt-samplernn export runs/a/best.pt -o my-bundle --verify\n"
               "  rt-samplernn export runs/a/best.pt --verify --verify-audio seed.wav\n"
               "  rt-samplernn export runs/a/best.pt -o live-int8 --int8   # faster on a CPU, not bit-exact",
    )
    p.add_argument("checkpoint", metavar="CKPT", help="checkpoint file written by `rt-samplernn train`")
    p.add_argument("-o", "--out", metavar="BUNDLE_DIR", help="output directory (default: CKPT's name + '-bundle')")
    p.add_argument("--force", action="store_true", help="overwrite an existing bundle directory")
    p.add_argument("--int8", action="store_true",
                   help="store the frame graphs' MatMul weights as int8 (onnxruntime MatMulNBits): ~1.5x faster "
                        "on a CPU, about 1%% off the checkpoint; --verify then checks a relative tolerance")
    p.add_argument("--verify", action="store_true",
                   help="prove parity with the checkpoint: teacher-forced logits within 1e-4 and the engine "
                        "matching the PyTorch reference generator sample for sample")
    p.add_argument("--verify-seconds", type=check.float_in(0.0, 3600.0), default=2.0, metavar="S", help="teacher-forced audio length")
    p.add_argument("--verify-audio", metavar="FILE", help="teacher-force on this file instead of a test signal")
    p.add_argument("--verify-samples", type=check.int_in(1, 10_000_000), default=4000, metavar="N",
                   help="samples compared between the engine and the reference generator")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
    audio = load_for_model(args.verify_audio, cfg.sample_rate) if args.verify and args.verify_audio else None
    with replacing_dir(out) as tmp:  # a kill or failure before the end leaves the old bundle as it was
        manifest = export_bundle(model, tmp, source=f"{ckpt.name} sha256:{sha256_file(ckpt)}", int8=args.int8)
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted(tmp.glob("*.onnx")))
        if args.verify:
            from rt_samplernn.export.verify import verify_bundle

            report = verify_bundle(model, tmp, seconds=args.verify_seconds, audio=audio, n_generate=args.verify_samples)
            if not report.ok:
                raise UserError(f"{out}: parity check failed (table above), so the bundle was not written; "
                                "please report this with the checkpoint")
            print("parity: ok")
    print(f"wrote {out}/: {manifest.name}, {sizes}")
    return 0
