"""`rt-samplernn generate`: audio from a checkpoint (PyTorch reference) or a bundle (onnxruntime engine)."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """examples:
  rt-samplernn generate --seconds 10 --out demo.wav                      # the bundled demo model
  rt-samplernn generate runs/live/best.pt --seconds 5 --seed 1 --out a.wav
  rt-samplernn generate my-bundle --count 4 --temperature 0.8 0.9 1.0 1.1 --out take.wav   # take-1.wav ... take-4.wav
  rt-samplernn generate my-bundle --seed-audio intro.flac --seconds 30 --channels --out primed.wav
"""


def register(sub: argparse._SubParsersAction, formatter: type) -> None:
    p = sub.add_parser(
        "generate", help="generate audio to WAV from a checkpoint or a bundle",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Generate audio: a .pt checkpoint runs the PyTorch reference generator, a bundle folder "
        "runs the onnxruntime engine. Same seed, same samples.",
    )
    p.add_argument("model", nargs="?", metavar="CKPT|BUNDLE", help="checkpoint file or bundle folder (default: the demo bundle)")
    p.add_argument("--seconds", type=float, default=5.0, help="length of each sequence (default: 5)")
    p.add_argument("--temperature", type=float, nargs="+", default=[1.0], metavar="T",
                   help="one for all sequences or one per sequence (default: 1.0)")
    p.add_argument("--count", type=int, default=None, metavar="N", help="sequences, generated in one batch (default: number of temperatures)")
    p.add_argument("--seed-audio", metavar="FILE", help="prime every tier over this clip first (any rate, any channels)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same samples (default: 0)")
    p.add_argument("--out", default="generated.wav", metavar="OUT.wav", help="output WAV (default: generated.wav)")
    p.add_argument("--channels", action="store_true", help="N > 1: one N-channel file instead of OUT-1.wav ... OUT-N.wav")
    p.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="auto", help="bundle only: onnxruntime provider")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (default: 1)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.set_defaults(func=run)


def output_paths(out: Path, count: int, channels: bool) -> list[Path]:
    if count == 1 or channels:
        return [out]
    return [out.with_name(f"{out.stem}-{i + 1}{out.suffix or '.wav'}") for i in range(count)]


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from rt_samplernn.audio import read_audio, write_wav
    from rt_samplernn.errors import UserError
    from rt_samplernn.models import DEMO_BUNDLE
    from rt_samplernn.progress import progress_bar

    count = args.count or len(args.temperature)
    if len(args.temperature) not in (1, count):
        raise UserError(f"--temperature: give 1 value or {count} (one per sequence), not {len(args.temperature)}")
    temps = args.temperature * count if len(args.temperature) == 1 else args.temperature
    if min(temps) <= 0 or args.seconds <= 0 or count < 1:
        raise UserError("--temperature and --seconds must be positive, --count at least 1")
    paths = output_paths(Path(args.out), count, args.channels)
    existing = [str(p) for p in paths if p.exists()]
    if existing and not args.force:
        raise UserError(f"{existing[0]}: already exists; use --force to overwrite")
    seed_audio = read_audio(args.seed_audio) if args.seed_audio else None
    model = Path(args.model) if args.model else DEMO_BUNDLE

    if model.is_dir():
        from rt_samplernn.live.engine import Engine

        engine = Engine(model, voices=count, seed=args.seed, provider=args.provider, threads=args.threads)
        for voice, t in enumerate(temps):
            engine.set_temperature(t, voice=voice)
        if seed_audio is not None:
            from rt_samplernn.commands.progress import prime_with_progress

            prime_with_progress(engine, *seed_audio)
        rate = engine.sample_rate
        total = int(round(args.seconds * rate))
        audio = np.empty((count, total), np.float32)
        block = rate // 4  # the engine continues across calls: the same samples as one call
        with progress_bar(total=total, unit="sample", unit_scale=True, leave=False) as bar:
            for start in range(0, total, block):
                engine.generate(min(block, total - start), out=audio[:, start:start + block])
                bar.update(min(block, total - start))
    else:
        import torch

        from rt_samplernn.checkpoint import load_checkpoint
        from rt_samplernn.generate import generate_levels, prime_levels
        from rt_samplernn.quantize import dequantize

        torch.set_num_threads(args.threads)
        net, cfg, _ = load_checkpoint(model)
        rate = cfg.sample_rate
        seed_levels = prime_levels(cfg, *seed_audio) if seed_audio is not None else None
        levels = generate_levels(net, int(round(args.seconds * rate)), temps, args.seed, seed_levels, progress=True)
        audio = dequantize(levels, cfg.q_type, cfg.q_levels)
    if args.channels:
        write_wav(paths[0], np.ascontiguousarray(audio.T), rate)
    else:
        for path, voice in zip(paths, audio):
            write_wav(path, voice, rate)
    print("wrote " + ", ".join(map(str, paths)))
    return 0
