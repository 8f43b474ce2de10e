"""Checks shared by the commands: argparse types for numeric flags (finite, in range) and writable output paths.

A numeric flag outside its range is refused by argparse itself, before anything loads: the message names
the flag (argparse adds `argument --seconds:`), the value and the valid range. An output path is probed by
creating (and removing) a file where the output will go, so a missing folder, a file in the way, a
read-only disk or a virtual filesystem (/proc, /sys) is a one-line UserError before any work is done.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Callable
from pathlib import Path

from rt_samplernn.atomic import check_replaceable
from rt_samplernn.config import MAX_FRAME_SIZE
from rt_samplernn.errors import UserError
from rt_samplernn.live.declarations import DECLARATIONS
from rt_samplernn.live.providers import PROVIDERS as PROVIDERS  # every --provider offers them

MAX_SECONDS = 86_400.0  # 24 h: the longest `generate` / `bench` output; memory stays bounded, time does not
MAX_PLAY_SECONDS = 10_000_000.0  # ~4 months: play for longer by leaving --seconds out
MAX_TEMPERATURE = 100.0
MAX_GAIN = 100.0
MAX_VOICES = 256
MAX_THREADS = 1024
MAX_LATENCY_MS = 10_000.0
MAX_SEED = 2**63 - 1


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _bounds(low: float, high: float, low_open: bool) -> str:
    return f"{'(' if low_open else '['}{_fmt(low)}, {_fmt(high)}]"


def float_in(low: float, high: float, low_open: bool = True) -> Callable[[str], float]:
    """An argparse type: a finite float in (low, high] (or [low, high] when not low_open)."""

    def parse(text: str) -> float:
        try:
            value = float(text) if text.isascii() else math.nan  # float() takes Arabic-Indic or full-width digits
        except ValueError:
            value = math.nan
        inside = (value > low if low_open else value >= low) and value <= high
        if not math.isfinite(value) or not inside:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number in {_bounds(low, high, low_open)}")
        return value

    parse.__name__ = "number"
    return parse


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            if not text.isascii():  # int() takes Arabic-Indic or full-width digits: a flag should not
                raise ValueError(text)
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number in [{low}, {high}]") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number in [{low}, {high}]")
        return value

    parse.__name__ = "whole number"
    return parse


# The types the commands share (one place for each limit).
seconds = float_in(0.0, MAX_SECONDS)
play_seconds = float_in(0.0, MAX_PLAY_SECONDS)
temperature = float_in(0.0, MAX_TEMPERATURE)
_MIN_P = DECLARATIONS["min_p"].spec
assert _MIN_P is not None  # a float's declaration has its range
MAX_MIN_P = _MIN_P.maximum  # the tail cut's one range: its declaration's
min_p = float_in(0.0, MAX_MIN_P, low_open=False)
gain = float_in(0.0, MAX_GAIN, low_open=False)
latency_ms = float_in(0.0, MAX_LATENCY_MS)
voices = int_in(1, MAX_VOICES)
threads = int_in(1, MAX_THREADS)
seed = int_in(0, MAX_SEED)
config_float = float_in(0.0, 1e9, low_open=False)  # `train` flags: range checks proper live in the config
config_int = int_in(0, 2**31 - 1)
frame_size = int_in(1, MAX_FRAME_SIZE)


def _probe(folder: Path, what: Path, flag: str) -> None:
    """Create and remove a file in folder: the surest test that the output can be written there."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".rt-samplernn-probe-"):
            pass
    except OSError as e:
        raise UserError(
            f"{what}: cannot write in {folder} ({e.strerror or type(e).__name__}); choose another {flag}"
        ) from None


def check_output_file(path: Path, force: bool, flag: str = "--out") -> None:
    """A file can be written at path: its folder exists and is writable, nothing is in the way (or --force)."""
    folder = path.parent
    if path.is_dir():
        raise UserError(f"{path}: is a folder; give a file name, e.g. {flag} {path / 'out.wav'}")
    if path.exists() and not force:
        raise UserError(f"{path}: already exists; use --force to overwrite it")
    if not folder.exists():
        raise UserError(f"{path}: folder {folder} does not exist; create it or choose another {flag}")
    if not folder.is_dir():
        raise UserError(f"{path}: {folder} is a file, not a folder; choose another {flag}")
    check_replaceable(path)  # --force replaces a regular file, never a device, a pipe or a folder
    _probe(folder, path, flag)


def check_output_dir(path: Path, flag: str, target: Path | None = None) -> None:
    """A folder can be made (or written) at path: the nearest existing ancestor is a writable folder.

    target: what the error names (default path), e.g. a bundle that is built in its parent folder.
    """
    target = target or path
    if path.exists() and not path.is_dir():
        where = "is a file" if target == path else f"{path} is a file"
        raise UserError(f"{target}: {where}, not a folder; choose another {flag}")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{target}: {existing} is a file, not a folder; choose another {flag}")
    _probe(existing, target, flag)
