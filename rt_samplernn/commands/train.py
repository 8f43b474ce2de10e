"""`rt-samplernn train`: every model and training field is a flag, generated from the config dataclasses."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from rt_samplernn.config import PRESETS, ModelConfig, TrainConfig
from rt_samplernn.errors import UserError

EPILOG = """examples:
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
    p.add_argument("--config", metavar="FILE", help="TOML or JSON file with [model] and [train] tables")
    p.add_argument("--val-data", nargs="+", default=(), metavar="PATH", help="held-out files or folders for validation")
    p.add_argument(
        "--resume", metavar="CKPT|RUN_DIR", help="continue exactly from a checkpoint (a run dir means its last.pt)"
    )
    p.add_argument("--device", help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda when present)")
    p.add_argument("--force", action="store_true", help="train into a RUN_DIR that already holds checkpoints")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
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
    from rt_samplernn.checkpoint import (
        check_training_state,
        model_from_checkpoint,
        read_checkpoint,
        remove_stale_parts,
        train_config_of,
    )
    from rt_samplernn.commands._checks import check_output_dir
    from rt_samplernn.config import (
        apply_overrides,
        model_config_from_preset,
        read_config_file,
        to_dict,
    )
    from rt_samplernn.train import train

    out = Path(args.out)
    check_output_dir(out, "--out")  # before the data is read: a bad --out must not cost a data scan
    remove_stale_parts(out)  # left by a run killed while writing a checkpoint
    file = read_config_file(args.config) if args.config else {}
    model_flags, train_flags = _given(args, ModelConfig), _given(args, TrainConfig)
    resume = None
    if args.resume:
        path = Path(args.resume)
        ckpt = path / "last.pt" if path.is_dir() else path
        resume = read_checkpoint(ckpt)
        if model_flags or file.get("model"):
            raise UserError(f"{args.resume}: the model is fixed by the checkpoint; drop the model flags to resume")
        model_cfg = model_from_checkpoint(resume, ckpt).cfg
        base = to_dict(train_config_of(resume, ckpt) or TrainConfig())
    else:
        if out.is_dir() and any(out.glob("*.pt")) and not args.force:
            raise UserError(
                f"{out}: already holds checkpoints; use --resume {out} to continue or --force to start over"
            )
        model_cfg = model_config_from_preset(file.get("preset", args.preset), {**file.get("model", {}), **model_flags})
        base = to_dict(TrainConfig())
    train_cfg = apply_overrides(TrainConfig, base, {**file.get("train", {}), **train_flags}, "train")
    if resume is not None:
        check_training_state(resume, ckpt, model_cfg)
        _check_same_batches(train_cfg, base, args.resume)
    if args.device:
        check_device(args.device)
    result = train(args.data, out, model_cfg, train_cfg, args.val_data, resume, args.device, args.quiet)
    return 0 if result.stopped != "interrupted" else 130
