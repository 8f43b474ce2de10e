"""`rt-samplernn train`: every model and training field is a flag, generated from the config dataclasses; the
data check before the first step, the progress bar and one line per evaluation (the library reports, this
prints)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rt_samplernn.config import PRESETS, RECIPES, ModelConfig, TrainConfig
from rt_samplernn.errors import UserError

if TYPE_CHECKING:
    from rt_samplernn.data import DataReport
    from rt_samplernn.train import Evaluated, Event

EPILOG = """the default recipe (every preset): Adam at a peak learning rate of 2e-3 after 20 warm-up steps, cosine
decay to 5% at --max-steps (or, with --max-minutes alone, when the minutes run out), bf16 where the device runs
it natively. On real music it learned faster than the first release's constant 1e-3 (benchmarks/RESULTS.md:
4.85 against 5.07 bits in 5 minutes); --recipe first-release brings that one back.

previews: at every evaluation, --preview-seconds of audio from the current weights (one voice cold, one primed
from held-out audio, fixed seed) go to RUN_DIR/previews/*.wav, TensorBoard (tab AUDIO) and RUN_DIR/previews.csv,
with rt-samplernn measure's figures and verdict in words (noise-like, no pitch yet, pitched, no beat yet, ...,
inside the music's ranges) against the held-out audio; 2 s or more to be judged.

examples:
  rt-samplernn train music/ --out runs/mine                             # the default recipe, live preset
  rt-samplernn train music/ --out runs/mine --dry-run                   # only the data check: found, kept, skipped
  rt-samplernn train music/ --out runs/hour --max-minutes 60            # a cosine over the hour
  rt-samplernn train music/ --out runs/old --recipe first-release       # constant 1e-3, no warm-up
  rt-samplernn train music/ --preset live --out runs/live
  rt-samplernn train a.wav b.flac --preset live --dim 256 --batch-size 8 --max-steps 2000 --out runs/small
  rt-samplernn train music/ --val-data held-out/ --config my.toml --out runs/b
  rt-samplernn train music/ --out runs/live --resume runs/live          # continue exactly where it stopped
  torchrun --nproc-per-node 4 -m rt_samplernn train music/ --preset prism --out runs/prism --amp

config file (TOML or JSON): optional `preset = "live"`, and [model] / [train] tables with the flag names
(underscores), e.g. [train] learning_rate = 0.0005. Flags override the file, the file overrides the preset.
"""


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _add_fields(group: argparse._ArgumentGroup, cls: type) -> None:
    from rt_samplernn.commands import _checks as check
    from rt_samplernn.config import field_limits

    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(cls(), f.name)
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        low, high = field_limits(cls, f.name)
        limits = f"{_number(low)}..{_number(high)}, " if low is not None and high is not None else ""
        help_text = f"{f.metadata['help']} ({limits}default: {shown})"
        if isinstance(default, bool):
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif isinstance(default, tuple):
            group.add_argument(flag, type=check.frame_size, nargs="+", default=None, metavar="N", help=help_text)
        else:
            kind: Any = str
            if isinstance(default, int):  # the field's own limits (config.py), else the general ones
                kind = check.int_in(int(low), int(high)) if low is not None and high is not None else check.config_int
            elif isinstance(default, float):
                kind = check.config_float
            group.add_argument(flag, type=kind, default=None, metavar=type(default).__name__.upper(), help=help_text)


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    p = sub.add_parser(
        "train",
        help="train a SampleRNN on audio files",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a SampleRNN on a folder (recursive) or list of audio files.",
        epilog=EPILOG,
    )
    p.add_argument("data", nargs="+", metavar="DATA", help="audio files or folders (anything soundfile reads)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="where checkpoints and TensorBoard events go")
    p.add_argument(
        "--preset", choices=sorted(PRESETS), default="live", help="model shape to start from (default: live)"
    )
    p.add_argument(
        "--recipe",
        choices=sorted(RECIPES),
        default="default",
        help="training recipe to start from: default (2e-3, warm-up, cosine) or first-release (constant 1e-3, "
        "no warm-up); the config file and flags override it",
    )
    p.add_argument("--config", metavar="FILE", help="TOML or JSON file with [model] and [train] tables")
    p.add_argument("--val-data", nargs="+", default=(), metavar="PATH", help="held-out files or folders for validation")
    p.add_argument(
        "--resume", metavar="CKPT|RUN_DIR", help="continue exactly from a checkpoint (a run dir means its last.pt)"
    )
    p.add_argument("--device", help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda when present)")
    p.add_argument("--force", action="store_true", help="train into a RUN_DIR that already holds checkpoints")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no per-evaluation lines (warnings stay)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="only check the data (minutes found and kept after silence, rates, channels, files skipped) and stop",
    )
    _add_fields(p.add_argument_group("model (see docs/architecture.md)"), ModelConfig)
    _add_fields(p.add_argument_group("training"), TrainConfig)
    p.set_defaults(func=run)


# What --resume's position (epoch, batch, segment) and carried RNN states are counted in: changing one of
# these would resume somewhere else, with states of the wrong batch size. Decided: refused, not reinterpreted.
BATCH_FIELDS = ("batch_size", "seq_len", "chunk_seconds", "chunk_overlap_seconds")


def _check_same_batches(cfg: TrainConfig, saved: dict[str, Any], resume: str) -> None:
    for name in BATCH_FIELDS:
        if getattr(cfg, name) != saved.get(name, getattr(cfg, name)):
            flag = "--" + name.replace("_", "-")
            raise UserError(
                f"{flag} {getattr(cfg, name)}: {resume} was trained with {saved[name]}, and --resume continues "
                f"exactly where it stopped; drop {flag} (or start a new run with --force)"
            )


TRAINING_BYTES_PER_PARAMETER = 16  # float32 weights, gradients and Adam's two moments
LOGIT_COPIES = 4  # the logits, their log-softmax and the gradients of both, per sample of a segment


def check_memory(model_cfg: ModelConfig, train_cfg: TrainConfig, device: str | None) -> None:
    """On the CPU: a one-line UserError when the model and one segment's logits would not fit in the memory
    this machine has available (instead of a kill by the kernel part-way); a lower estimate, not a promise."""
    import torch

    from rt_samplernn.model import SampleRNN

    if (device or ("cuda" if torch.cuda.is_available() else "cpu")).split(":")[0] != "cpu":
        return
    available = _available_bytes()
    if available is None:
        return
    with torch.device("meta"):
        parameters = sum(p.numel() for p in SampleRNN(model_cfg).parameters())
    logits = train_cfg.batch_size * train_cfg.seq_len * model_cfg.q_levels * 4 * LOGIT_COPIES
    need = parameters * TRAINING_BYTES_PER_PARAMETER + logits
    if need > available:
        raise UserError(
            f"this training needs at least {need / 2**30:.1f} GiB ({parameters / 1e6:.0f} M parameters; "
            f"{logits / 2**30:.1f} GiB of logits per segment: batch-size x seq-len x q-levels), and "
            f"{available / 2**30:.1f} GiB is available: lower --dim, --rnn-layers, --batch-size, --seq-len or "
            "--q-levels"
        )


def _available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_device(name: str) -> None:
    """--device names a torch device this machine has; else a one-line UserError saying what there is."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise UserError(f"--device {name!r}: not a torch device; use cpu, cuda or cuda:N") from None
    try:
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError, ValueError) as e:  # torch built without CUDA raises AssertionError
        have = f"{torch.cuda.device_count()} CUDA device(s)" if torch.cuda.is_available() else "no CUDA device"
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        raise UserError(
            f"--device {name}: not usable here ({first}); this machine has {have}: try --device cpu"
        ) from None


def _given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name) is not None}


def run(args: argparse.Namespace) -> int:
    from rt_samplernn.commands._checks import check_output_dir
    from rt_samplernn.config import apply_overrides, model_config_from_preset, read_config_file, to_dict
    from rt_samplernn.data import check_trainable, read_dataset

    out = Path(args.out)
    if not args.dry_run:  # --dry-run imports no torch: the data check alone starts fast
        from rt_samplernn.checkpoint import remove_stale_parts

        check_output_dir(out, "--out")  # before the data is read: a bad --out must not cost a data scan
        remove_stale_parts(out)  # left by a run killed while writing a checkpoint
    file = read_config_file(args.config) if args.config else {}
    model_flags, train_flags = _given(args, ModelConfig), _given(args, TrainConfig)
    train_file = {**RECIPES[args.recipe], **file.get("train", {})}
    resume = None
    if args.resume:
        from rt_samplernn.checkpoint import (
            check_training_state,
            model_from_checkpoint,
            read_checkpoint,
            train_config_of,
        )

        path = Path(args.resume)
        ckpt = path / "last.pt" if path.is_dir() else path
        resume = read_checkpoint(ckpt)
        if model_flags or file.get("model"):
            raise UserError(f"{args.resume}: the model is fixed by the checkpoint; drop the model flags to resume")
        model_cfg = model_from_checkpoint(resume, ckpt).cfg
        base = to_dict(train_config_of(resume, ckpt) or TrainConfig())
    else:
        if out.is_dir() and any(out.glob("*.pt")) and not args.force and not args.dry_run:
            raise UserError(
                f"{out}: already holds checkpoints; use --resume {out} to continue or --force to start over"
            )
        model_cfg = model_config_from_preset(file.get("preset", args.preset), {**file.get("model", {}), **model_flags})
        base = to_dict(TrainConfig())
        given = {k.replace("-", "_") for k in {**train_file, **train_flags}}
        if "max_minutes" in given and "max_steps" not in given:
            base["max_steps"] = 0  # minutes alone bound the run: the cosine follows the clock
    train_cfg = apply_overrides(TrainConfig, base, {**train_file, **train_flags}, "train")
    if resume is not None:
        check_training_state(resume, ckpt, model_cfg)
        _check_same_batches(train_cfg, base, args.resume)
    if args.device:
        check_device(args.device)
    check_memory(model_cfg, train_cfg, args.device)
    first_rank = int(os.environ.get("RANK", "0")) == 0
    quiet = args.quiet or not first_rank
    data = read_dataset(args.data, model_cfg, train_cfg, args.val_data, quiet, levels=not args.dry_run)
    if args.dry_run and data.report is not None:
        print_data_check(data.report)  # then, if it cannot fill a batch, the error
    check_trainable(data, args.data, model_cfg, train_cfg)
    if not args.dry_run and first_rank and data.report is not None:
        print_data_check(data.report, verbose=not args.quiet)
    if args.dry_run:
        print(f"dry run: {len(data.train)} training chunks, {len(data.val)} held out; nothing trained", file=sys.stderr)
        return 0
    from rt_samplernn.train import bf16_autocast_supported, pick_device, train

    device = pick_device(args.device, int(os.environ.get("LOCAL_RANK", "0")))
    if first_rank and train_cfg.amp and not bf16_autocast_supported(device) and not args.quiet:
        print(f"note: this {device.type} has no native bf16; training in fp32", file=sys.stderr)
    with TrainReport(train_cfg, resume, quiet=args.quiet or not first_rank) as shown:
        result = train([], out, model_cfg, train_cfg, (), resume, args.device, data, shown.on_event)
    if first_rank and not args.quiet:
        print(
            f"{result.stopped} at step {result.step}: best {result.best_val_bits:.3f} bits/sample; "
            f"checkpoints in {out}",
            file=sys.stderr,
        )
    return 0 if result.stopped != "interrupted" else 130


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} minutes"


def print_data_check(report: DataReport, verbose: bool = True) -> None:
    """The data check on stderr: found, kept, formats, skipped (verbose), then warnings and notices (always)."""
    out = sys.stderr
    if verbose:
        rates = ", ".join(f"{rate} Hz x {n}" for rate, n in report.rates.items()) or "none"
        channels = ", ".join(f"{ch} ch x {n}" for ch, n in report.channels.items()) or "none"
        print(
            f"data: {report.files} files, {_minutes(report.seconds_found)} found; "
            f"{_minutes(report.seconds_kept)} kept after silence ({_minutes(report.seconds_held_out)} of it "
            f"held out); sample rates {rates}; channels {channels}; {len(report.skipped)} skipped",
            file=out,
        )
        for path, why in report.skipped:
            print(f"  skipped {path}: {why}", file=out)
    for text in report.warnings():
        print(f"warning: {text}", file=out)
    for text in report.notices():
        print(f"notice: {text}", file=out)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _bits(value: float) -> str:
    return "-" if value != value or value == float("inf") else f"{value:.3f}"


class TrainReport:
    """Shows the library's reports: a progress bar (samples/s, time left, last and best held-out NLL) and one
    line per evaluation with the previews' measures and verdicts, and the field's advice when it is due."""

    def __init__(self, cfg: TrainConfig, resume: dict[str, Any] | None, quiet: bool):
        from rt_samplernn.progress import progress_bar

        self.bar = progress_bar(
            total=cfg.max_steps or None,
            initial=resume["step"] if resume else 0,
            disable=quiet,
            unit="step",
            dynamic_ncols=True,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} steps [{elapsed}{postfix}]",
        )

    def __enter__(self) -> TrainReport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()

    def on_event(self, event: Event) -> None:
        from rt_samplernn.train import Evaluated

        if self.bar.disable:
            return
        if isinstance(event, Evaluated):
            self.bar.write(evaluation_line(event))
            if event.advice:
                self.bar.write(f"advice: {event.advice}")
            return
        self.bar.set_postfix_str(
            f"{event.samples_per_s:,.0f} samples/s, {_clock(event.seconds_left)} left, held-out "
            f"{_bits(event.last_val_bits)} bits (best {_bits(event.best_val_bits)})",
            refresh=False,
        )
        self.bar.update(event.step - self.bar.n)


def evaluation_line(event: Evaluated) -> str:
    """One line per evaluation: NLL, speed, and each preview's measures and verdict."""
    p = event.point
    best = "new best" if event.improved else f"best {_bits(event.best_val_bits)}"
    line = (
        f"step {p.step}: held-out {_bits(p.val_bits)} bits ({best}), train {_bits(p.train_bits)} bits, "
        f"{event.samples_per_s:,.0f} samples/s"
    )
    for preview in event.previews:
        m = preview.measures
        shown = [f"{m['loudness_db']:.0f} dBFS"] if m["loudness_db"] == m["loudness_db"] else []
        shown += [
            f"{name} {m[name]:.2f}" for name in ("flatness", "pitch_salience", "rhythmicity") if m[name] == m[name]
        ]
        shown.append(f"silent {m['silent_share']:.0%}")
        line += f"; {preview.voice}: {', '.join(shown)} -> {preview.verdict}"
    if event.previews:
        line += f" (previews: {event.preview_share:.0%} of the training time)"
    return line
