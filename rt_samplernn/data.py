"""Training data: audio files -> mono model-rate clips -> quantized chunks -> shuffled batches -> TBPTT segments."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from rt_samplernn.audio import find_audio_files, load_for_model
from rt_samplernn.config import ModelConfig, TrainConfig
from rt_samplernn.errors import UserError
from rt_samplernn.progress import progress_bar
from rt_samplernn.quantize import quantize
from rt_samplernn.schedule import level_dtype

if TYPE_CHECKING:
    import torch

Batch = TypeVar("Batch", np.ndarray, "torch.Tensor")

SILENCE_WINDOW = 1024  # samples per RMS window when judging silence


def _load_or_warn(path: Path, sample_rate: int) -> np.ndarray | None:
    try:
        return load_for_model(path, sample_rate)
    except UserError as e:
        print(f"warning: skipping {e}", file=sys.stderr)
        return None


def load_clips(files: Sequence[Path], sample_rate: int, quiet: bool = False) -> list[np.ndarray]:
    """Each readable file as float32 mono at sample_rate, in order; unreadable ones are skipped with a warning.

    Files decode on one thread per core (libsndfile and soxr release the GIL), so start-up scales with cores.
    """
    workers = min(len(files), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    with ThreadPoolExecutor(max(workers, 1)) as pool:
        loaded = progress_bar(
            pool.map(_load_or_warn, files, [sample_rate] * len(files)),
            total=len(files),
            desc="reading audio",
            unit="file",
            disable=quiet or len(files) < 4,
            leave=False,
        )
        return [clip for clip in loaded if clip is not None]


def chunk_length(model_cfg: ModelConfig, train_cfg: TrainConfig) -> int:
    """Samples per chunk: the top frame size of context plus a whole number of TBPTT segments."""
    overlap = model_cfg.top_frame_size
    if train_cfg.seq_len % overlap:
        raise UserError(f"seq_len {train_cfg.seq_len} must be a multiple of the top frame size {overlap}")
    wanted = int(round(train_cfg.chunk_seconds * model_cfg.sample_rate))
    segments = (wanted - overlap) // train_cfg.seq_len
    if segments < 1:
        raise UserError(
            f"chunk_seconds {train_cfg.chunk_seconds} is shorter than one TBPTT segment "
            f"({train_cfg.seq_len} samples + {overlap} of context)"
        )
    return overlap + segments * train_cfg.seq_len


def cut_chunks(clip: np.ndarray, length: int, hop: int) -> list[np.ndarray]:
    return [clip[i : i + length] for i in range(0, len(clip) - length + 1, hop)]


def mostly_silent(chunk: np.ndarray, threshold: float, fraction: float) -> bool:
    """True when more than `fraction` of the chunk's windows have RMS below `threshold`."""
    n = len(chunk) // SILENCE_WINDOW
    if n == 0:
        return float(np.sqrt(np.mean(chunk**2))) < threshold
    windows = chunk[: n * SILENCE_WINDOW].reshape(n, SILENCE_WINDOW)
    rms = np.sqrt(np.mean(windows.astype(np.float64) ** 2, axis=1))
    return float(np.mean(rms < threshold)) > fraction


def trim_silence(clip: np.ndarray, threshold: float) -> np.ndarray:
    """The clip without its silent lead-in and tail (whole windows of RMS below `threshold`).

    A chunk cut from a track's start begins, like generation, from the all-zero state: were it the track's
    silent lead-in or fade, the model would learn that silence follows the start state, and voices started
    cold would stay silent.
    """
    n = len(clip) // SILENCE_WINDOW
    if n == 0:
        return clip
    windows = clip[: n * SILENCE_WINDOW].reshape(n, SILENCE_WINDOW).astype(np.float64)
    loud = np.flatnonzero(np.sqrt(np.mean(windows**2, axis=1)) >= threshold)
    if len(loud) == 0:
        return clip[:0]
    end = len(clip) if loud[-1] == n - 1 else (loud[-1] + 1) * SILENCE_WINDOW
    return clip[loud[0] * SILENCE_WINDOW : end]


def chunks_from_clips(clips: Sequence[np.ndarray], model_cfg: ModelConfig, train_cfg: TrainConfig) -> np.ndarray:
    """Quantized (n_chunks, chunk_length) levels (uint8, or uint16 above 256 levels) of every non-silent chunk, cut from the clips with their
    silent lead-ins and tails trimmed."""
    length = chunk_length(model_cfg, train_cfg)
    overlap = int(round(train_cfg.chunk_overlap_seconds * model_cfg.sample_rate))
    hop = max(1, length - overlap)
    dtype = level_dtype(model_cfg.q_levels)
    kept: list[np.ndarray] = []
    for clip in clips:  # quantized clip by clip: memory holds levels (1-2 bytes a sample), not float copies
        trimmed = trim_silence(clip, train_cfg.silence_threshold)
        levels = quantize(trimmed, model_cfg.q_type, model_cfg.q_levels).astype(dtype)
        kept += [
            levels[start : start + length]
            for start, c in zip(range(0, len(trimmed), hop), cut_chunks(trimmed, length, hop))
            if not mostly_silent(c, train_cfg.silence_threshold, train_cfg.silence_fraction)
        ]
    if not kept:
        return np.zeros((0, length), dtype=dtype)
    return np.stack(kept)


@dataclass
class AudioSet:
    """Quantized chunks for training and validation."""

    train: np.ndarray  # (n, chunk_length) levels, schedule.level_dtype
    val: np.ndarray  # (m, chunk_length) levels


def build_dataset(
    paths: Sequence[str | Path],
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    val_paths: Sequence[str | Path] = (),
    quiet: bool = False,
) -> AudioSet:
    """Read, chunk, drop silence, and split off validation (held-out files if given, else a seeded share of chunks)."""
    files = find_audio_files(paths)
    if not files:
        raise UserError(f"no audio files found in {', '.join(map(str, paths))}")
    chunks = chunks_from_clips(load_clips(files, model_cfg.sample_rate, quiet), model_cfg, train_cfg)
    val_fraction = train_cfg.val_fraction
    if val_paths:
        val_files = find_audio_files(val_paths)
        val = chunks_from_clips(load_clips(val_files, model_cfg.sample_rate, quiet), model_cfg, train_cfg)
        if len(val):
            return _checked(AudioSet(train=chunks, val=val), paths, model_cfg, train_cfg)
        val_fraction = val_fraction or 0.1
        print(
            f"warning: the held-out audio ({', '.join(map(str, val_paths))}) gives no chunk to score (silent, "
            f"unreadable or shorter than one chunk); holding out {val_fraction:.0%} of the training chunks instead",
            file=sys.stderr,
        )
    order = np.random.default_rng(train_cfg.seed).permutation(len(chunks))
    n_val = int(round(len(chunks) * val_fraction))
    if val_fraction > 0 and len(chunks) >= 2:
        n_val = max(1, n_val)
    data = AudioSet(train=chunks[order[n_val:]], val=chunks[order[:n_val]])
    if len(data.val) == 0 and len(data.train):
        print(
            "warning: no held-out audio (--val-fraction 0, or a single chunk): best.pt is chosen by the training "
            "loss; give --val-data or a --val-fraction for a fair choice",
            file=sys.stderr,
        )
    return _checked(data, paths, model_cfg, train_cfg)


def _checked(data: AudioSet, paths: Sequence[str | Path], model_cfg: ModelConfig, train_cfg: TrainConfig) -> AudioSet:
    """data, if it holds at least one batch of training chunks; else a UserError saying what to change."""
    train = data.train
    if len(train) == 0:
        raise UserError(
            f"no usable audio in {', '.join(map(str, paths))}: every file was unreadable, shorter than one "
            f"chunk ({chunk_length(model_cfg, train_cfg)} samples), or mostly silent"
        )
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)  # torchrun's processes: each takes whole batches
    if len(train) < train_cfg.batch_size * world:
        per = f" x {world} processes" if world > 1 else ""
        raise UserError(
            f"only {len(train)} training chunks for batch_size {train_cfg.batch_size}{per}: "
            "lower --batch-size or --chunk-seconds, or add audio"
        )
    return data


def validation_chunks(val: np.ndarray, n: int) -> np.ndarray:
    """The held-out chunks every evaluation scores: n of them spread evenly over the held-out audio (so every
    held-out file counts), or all of them when n is 0."""
    if not n or n >= len(val):
        return val
    return val[np.linspace(0, len(val) - 1, n).round().astype(np.int64)]


def batch_order(n_chunks: int, batch_size: int, seed: int, epoch: int, world: int = 1, rank: int = 0) -> np.ndarray:
    """(n_batches, batch_size) chunk indices for this rank in this epoch; the same for a given seed and epoch."""
    order = np.random.default_rng([seed, epoch]).permutation(n_chunks)
    n_batches = n_chunks // batch_size // world * world
    return order[: n_batches * batch_size].reshape(n_batches, batch_size)[rank::world]


def segments(batch: Batch, overlap: int, seq_len: int) -> Iterator[Batch]:
    """TBPTT segments (B, overlap + seq_len) of a batch of chunks, each overlapping the last by `overlap`."""
    for start in range(overlap, batch.shape[1] - seq_len + 1, seq_len):
        yield batch[:, start - overlap : start + seq_len]


def n_segments(chunk_len: int, overlap: int, seq_len: int) -> int:
    return (chunk_len - overlap) // seq_len
