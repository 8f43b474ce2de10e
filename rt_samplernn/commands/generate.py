"""`rt-samplernn generate`: audio from a checkpoint (PyTorch reference) or a bundle (onnxruntime engine)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

from rt_samplernn.commands.fx_options import RENDER_BLOCK

EPILOG = """examples:
  rt-samplernn generate --seconds 10 --out demo.wav                      # the bundled demo model
  rt-samplernn generate runs/live/best.pt --seconds 5 --seed 1 --out a.wav
  rt-samplernn generate my-bundle --count 4 --temperature 0.8 0.9 1.0 1.1 --out take.wav   # take-1.wav ... take-4.wav
  rt-samplernn generate --temperature 1.3 --min-p 0.05 --seconds 20 --out hot.wav       # hotter, hiss cut off
  rt-samplernn generate --count 4 --cold --out cold.wav      # from silence, not from the bundle's music clip
  rt-samplernn generate my-bundle --seed-audio intro.flac --seconds 30 --channels --out primed.wav
  rt-samplernn generate --fx reverb:room_size=0.8 --out wet.wav       # what play --record plays (limiter at -1 dBFS)
  rt-samplernn generate my-bundle --limiter off --out raw.wav          # the model's own samples, no limiter
  rt-samplernn generate --bpm 120 --loop-beats 2 --loop-variation 0.3 --seconds 20 --out loop.wav
"""


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    from rt_samplernn.commands import _checks as check

    p = sub.add_parser(
        "generate",
        help="generate audio to WAV from a checkpoint or a bundle",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
        description="Generate audio: a .pt checkpoint runs the PyTorch reference generator, a bundle folder "
        "runs the onnxruntime engine. Same seed, same samples. Output is written as it is generated, "
        "so memory stays flat however long it is.",
    )
    p.add_argument(
        "model", nargs="?", metavar="CKPT|BUNDLE", help="checkpoint file or bundle folder (default: the demo bundle)"
    )
    p.add_argument(
        "--seconds",
        type=check.seconds,
        default=5.0,
        help=f"length of each sequence, up to {check.MAX_SECONDS:g} (default: 5)",
    )
    p.add_argument(
        "--temperature",
        type=check.temperature,
        nargs="+",
        default=None,
        metavar="T",
        help="one for all sequences or one per sequence (default: the bundle's usable default, else 1.0)",
    )
    p.add_argument(
        "--cold",
        action="store_true",
        help="bundle only: start from the model's initial (all-zero) state instead of the bundle's music clip",
    )
    p.add_argument(
        "--min-p",
        type=check.min_p,
        nargs="+",
        default=None,
        metavar="P",
        help=f"tail cut (min-p), 0 to {check.MAX_MIN_P:g}, one for all sequences or one per sequence: never draw a level "
        "less likely than this fraction of the most likely one (default: the bundle's usable default, "
        "else 0 = off)",
    )
    p.add_argument(
        "--count",
        type=check.voices,
        default=None,
        metavar="N",
        help=f"sequences, generated in one batch, 1..{check.MAX_VOICES} (default: number of temperatures)",
    )
    p.add_argument(
        "--seed-audio", metavar="FILE", help="prime every tier over this clip first (any rate, any channels)"
    )
    p.add_argument("--seed", type=check.seed, default=0, help="random seed: same seed, same samples (default: 0)")
    p.add_argument(
        "--out",
        default="generated.wav",
        metavar="OUT.wav",
        help="output file; the extension names the format: .wav, .flac, .ogg, .aiff, .mp3 (default: generated.wav)",
    )
    p.add_argument(
        "--channels", action="store_true", help="N > 1: one N-channel file instead of OUT-1.wav ... OUT-N.wav"
    )
    p.add_argument("--provider", choices=check.PROVIDERS, default="auto", help="bundle only: onnxruntime provider")
    p.add_argument("--threads", type=check.threads, default=1, help="intra-op threads (default: 1)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    from rt_samplernn.commands.fx_options import LIMITER_AUTO, add_effect_arguments

    add_effect_arguments(
        p,
        limiter_default=LIMITER_AUTO,
        limiter_help="default: -1 dBFS on a bundle's mix (one sequence, or a master chain: what play plays), off "
        "for sequences written apart and for a checkpoint (the reference)",
    )
    p.set_defaults(func=run)


FIX = "check the free space or choose another --out"
BLOCK_SAMPLES = RENDER_BLOCK  # generated and written per step: memory is this, not the whole output


def output_paths(out: Path, count: int, channels: bool) -> list[Path]:
    if count == 1 or channels:
        return [out]
    return [out.with_name(f"{out.stem}-{i + 1}{out.suffix or '.wav'}") for i in range(count)]


class AudioOutputs:
    """Audio files written as they come (format by extension: WAV, FLAC, OGG, ...), each under a unique
    temporary name beside its path and renamed into place only when complete (rt_samplernn.atomic).

    One file per voice, or one file with a channel per voice. A failure to write (disk full, ...) is a
    one-line UserError; on any failure or interruption the temporaries are removed and nothing is replaced.
    """

    def __init__(self, paths: list[Path], rate: int, voices: int, channels: bool) -> None:
        from rt_samplernn.audio import output_format

        self.paths = paths
        self.formats = [output_format(p) for p in paths]
        self.channels = channels
        self.rate, self.voices = rate, voices
        self.files: list[Any] = []
        self.stack = contextlib.ExitStack()

    def __enter__(self) -> AudioOutputs:
        import soundfile

        from rt_samplernn.atomic import replacing

        with self.stack:
            for path, (fmt, subtype) in zip(self.paths, self.formats):
                f = self.stack.enter_context(replacing(path, fix=FIX))
                channels = self.voices if self.channels else 1
                sf = self._guard(  # by descriptor: libsndfile writes itself, and reports a failed write as one error
                    path, soundfile.SoundFile, f.fileno(), "w", self.rate, channels, subtype, format=fmt, closefd=False
                )
                self.files.append(sf)
            self.stack = self.stack.pop_all()
        return self

    def write(self, audio: Any) -> None:
        """audio: (voices, n) float; clipped to [-1, 1]."""
        import numpy as np

        audio = np.clip(audio, -1.0, 1.0)
        if self.channels:
            self._guard(self.paths[0], self.files[0].write, np.ascontiguousarray(audio.T))
            return
        for path, f, voice in zip(self.paths, self.files, audio):
            self._guard(path, f.write, voice)

    def __exit__(self, kind: Any, value: Any, tb: Any) -> None:
        try:
            for path, f in zip(self.paths, self.files):
                if kind is None:
                    self._guard(path, f.close)  # completes the header
                else:
                    with contextlib.suppress(OSError, RuntimeError):
                        f.close()
        except BaseException:
            if not self.stack.__exit__(*sys.exc_info()):
                raise
        # on a clean exit each temporary replaces its path; after an exception each is removed
        self.stack.__exit__(kind, value, tb)

    @staticmethod
    def _guard(path: Path, action: Any, *args: Any, **kwargs: Any) -> Any:
        from rt_samplernn.atomic import write_error

        try:
            return action(*args, **kwargs)
        except (OSError, RuntimeError, AssertionError) as e:  # LibsndfileError is a RuntimeError; a short write asserts
            raise write_error(path, "", e, FIX) from None


def master_chain(args: argparse.Namespace) -> bool:
    """True when --fx or --vst3 puts an effect on the master chain."""
    from rt_samplernn.commands.fx_options import parse_fx

    return any(parse_fx(t)[0] == "master" for t in args.fx) or any(
        "=" not in t or "/" in t.partition("=")[0] or t.startswith("master=") for t in args.vst3
    )


def resolve_limiter(args: argparse.Namespace, bundle: bool, count: int) -> None:
    """--limiter auto (the default) -> -1 dBFS where the render is a mix, as `play` plays it (a bundle's one
    sequence, or a master chain), else off (sequences written apart; a checkpoint's reference samples)."""
    from rt_samplernn.commands.fx_options import LIMITER_AUTO
    from rt_samplernn.live.declarations import DEFAULT_CEILING_DB

    if args.limiter.strip().lower() == LIMITER_AUTO:
        on = bundle and (count == 1 or master_chain(args))
        args.limiter = f"{DEFAULT_CEILING_DB:g}" if on else "off"


def mixes(args: argparse.Namespace) -> bool:
    """True when the flags put a master chain or a limiter on: the voices are mixed, as `play` mixes them."""
    from rt_samplernn.commands.fx_options import parse_limiter

    return master_chain(args) or parse_limiter(args.limiter) is not None


def audio_blocks(
    args: argparse.Namespace, model: Path, temps: list[float], seed_audio: Any, cuts: list[float]
) -> tuple[int, Generator[Any, None, None]]:
    """(sample rate, an iterator of (voices, <= BLOCK_SAMPLES) float audio) for a bundle or a checkpoint."""
    if model.is_dir():
        from rt_samplernn.commands.fx_options import build_rack, build_tempo, worker_blocks
        from rt_samplernn.live.engine import Engine

        engine = Engine(model, voices=len(temps), seed=args.seed, provider=args.provider, threads=args.threads)
        rack = build_rack(args, engine.sample_rate, engine.voices)
        tempo = build_tempo(args, engine)
        for voice, (t, cut) in enumerate(zip(temps, cuts)):
            engine.set_temperature(t, voice=voice)
            engine.set_min_p(cut, voice=voice)
        if seed_audio is not None:
            from rt_samplernn.commands.progress import prime_with_progress

            prime_with_progress(engine, seed_audio)
        else:
            from rt_samplernn.live.music import start_from_music

            start_from_music(engine, args.cold)  # each voice from its own stretch of the clip; not in the output
        total = max(1, int(round(args.seconds * engine.sample_rate)))
        from rt_samplernn.progress import progress_bar

        if rack is not None or tempo is not None:
            mixed = rack is not None and (bool(rack.master.slots) or rack.limiter is not None)
            return engine.sample_rate, worker_blocks(engine, rack, tempo, total, mixed, total >= BLOCK_SAMPLES)

        def engine_blocks() -> Generator[Any, None, None]:
            with progress_bar(
                total=total, unit="sample", unit_scale=True, leave=False, disable=total < BLOCK_SAMPLES
            ) as bar:
                for start in range(0, total, BLOCK_SAMPLES):
                    n = min(BLOCK_SAMPLES, total - start)
                    yield engine.generate(n)
                    bar.update(n)

        return engine.sample_rate, engine_blocks()
    if args.fx or args.vst3 or args.limiter != "off" or args.bpm is not None or args.loop_beats is not None:
        from rt_samplernn.errors import UserError

        raise UserError(f"{model}: effects, --limiter and --bpm need a bundle; export the checkpoint first")
    import torch

    from rt_samplernn.checkpoint import load_checkpoint
    from rt_samplernn.generate import generate_blocks
    from rt_samplernn.quantize import dequantize
    from rt_samplernn.schedule import PrimingHistory

    torch.set_num_threads(args.threads)
    net, cfg, _ = load_checkpoint(model)
    seed_levels = PrimingHistory.from_clip(cfg, seed_audio) if seed_audio is not None else None  # read as it primes
    total = max(1, int(round(args.seconds * cfg.sample_rate)))
    levels = generate_blocks(net, total, temps, args.seed, seed_levels, BLOCK_SAMPLES, progress=True, min_p=cuts)
    return cfg.sample_rate, (dequantize(block, cfg.q_type, cfg.q_levels) for block in levels)


def run(args: argparse.Namespace) -> int:
    from rt_samplernn.audio import FileClip, output_format
    from rt_samplernn.commands._checks import check_output_file
    from rt_samplernn.errors import UserError
    from rt_samplernn.models import DEMO_BUNDLE

    model = Path(args.model) if args.model else DEMO_BUNDLE
    start = {"temperature": 1.0, "min_p": 0.0}
    if model.is_dir():  # a bundle's usable defaults where the flags say nothing
        from rt_samplernn.live.bundle import load_bundle
        from rt_samplernn.live.music import start_settings

        start = start_settings(load_bundle(model, check_sha=False))
    temp_args = args.temperature or [start["temperature"]]
    count = args.count or len(temp_args)
    if len(temp_args) not in (1, count):
        raise UserError(f"--temperature: give 1 value or {count} (one per sequence), not {len(temp_args)}")
    temps = temp_args * count if len(temp_args) == 1 else temp_args
    cut_args = args.min_p or [start["min_p"]]
    if len(cut_args) not in (1, count):
        raise UserError(f"--min-p: give 1 value or {count} (one per sequence), not {len(cut_args)}")
    cuts = cut_args * count if len(cut_args) == 1 else cut_args
    resolve_limiter(args, model.is_dir(), count)
    mixed = model.is_dir() and mixes(args)  # one file: the mix, as play plays it
    paths = [Path(args.out)] if mixed else output_paths(Path(args.out), count, args.channels)
    for path in paths:  # before any work: a bad destination must not cost a whole generation
        check_output_file(path, args.force)
        output_format(path)
    seed_audio = FileClip(args.seed_audio) if args.seed_audio else None  # checked now, read in blocks later
    rate, blocks = audio_blocks(args, model, temps, seed_audio, cuts)
    try:
        channels = (1 if count == 1 else 2) if mixed else count
        with AudioOutputs(paths, rate, channels, args.channels or mixed) as out:
            for audio in blocks:
                out.write(audio)
    finally:
        blocks.close()  # clears the progress bar before an error is printed
    print("wrote " + ", ".join(map(str, paths)))
    return 0
