"""Training data: audio files -> mono model-rate clips -> quantized chunks -> shuffled batches -> TBPTT segments."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from rt_samplernn.audio import find_audio_files, read_audio, to_model_audio
from rt_samplernn.config import ModelConfig, TrainConfig
from rt_samplernn.errors import UserError
from rt_samplernn.progress import progress_bar
from rt_samplernn.quantize import quantize
from rt_samplernn.schedule import level_dtype

if TYPE_CHECKING:
    import torch

Batch = TypeVar("Batch", np.ndarray, "torch.Tensor")

SILENCE_WINDOW = 1024  # samples per RMS window when judging silence


@dataclass(frozen=True)
class FileRead:
    """One audio file as training reads it: the clip (mono, model rate, peak-normalized), or why it was skipped."""

    path: Path
    clip: np.ndarray | None  # None when skipped
    source_rate: int  # the file's own sample rate, Hz (0 when unreadable)
    channels: int
    seconds: float  # the file's length
    skipped: str = ""  # why it was skipped ("" when read)


def read_file(path: Path, sample_rate: int) -> FileRead:
    """Decode one file once: its clip for the model and what the data check reports about it."""
    try:
        data, rate = read_audio(path)
    except UserError as e:
        return FileRead(path, None, 0, 0, 0.0, str(e).removeprefix(f"{path}: "))
    return FileRead(path, to_model_audio(data, rate, sample_rate), rate, data.shape[1], len(data) / rate)


def _workers(jobs: int) -> int:
    """Threads for `jobs` independent jobs: one per core this process may use, at least one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(jobs, cores))


def read_files(files: Sequence[Path], sample_rate: int, quiet: bool = False) -> list[FileRead]:
    """read_file for each file, in order. Files decode on one thread per core (libsndfile and soxr release the
    GIL), so start-up scales with cores."""
    with ThreadPoolExecutor(_workers(len(files))) as pool:
        return list(
            progress_bar(
                pool.map(read_file, files, [sample_rate] * len(files)),
                total=len(files),
                desc="reading audio",
                unit="file",
                disable=quiet or len(files) < 4,
                leave=False,
            )
        )


def load_clips(files: Sequence[Path], sample_rate: int, quiet: bool = False) -> list[np.ndarray]:
    """Each readable file as float32 mono at sample_rate, in order; unreadable ones are left out (read_files
    says why)."""
    return [r.clip for r in read_files(files, sample_rate, quiet) if r.clip is not None]


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


def silent_share(audio: np.ndarray, threshold: float) -> float:
    """Share of the audio's SILENCE_WINDOW-sample windows whose RMS is below `threshold` (a shorter clip: one
    window)."""
    n = len(audio) // SILENCE_WINDOW
    if n == 0:
        return float(float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) < threshold)
    windows = audio[: n * SILENCE_WINDOW].reshape(n, SILENCE_WINDOW)
    rms = np.sqrt(np.mean(windows.astype(np.float64) ** 2, axis=1))
    return float(np.mean(rms < threshold))


def mostly_silent(chunk: np.ndarray, threshold: float, fraction: float) -> bool:
    """True when more than `fraction` of the chunk's windows have RMS below `threshold`."""
    return silent_share(chunk, threshold) > fraction


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


def _chunk_hop(model_cfg: ModelConfig, train_cfg: TrainConfig) -> int:
    """Samples from one chunk's start to the next's (chunk length less the overlap)."""
    overlap = int(round(train_cfg.chunk_overlap_seconds * model_cfg.sample_rate))
    return max(1, chunk_length(model_cfg, train_cfg) - overlap)


def chunks_from_clips(
    clips: Sequence[np.ndarray], model_cfg: ModelConfig, train_cfg: TrainConfig, levels: bool = True
) -> np.ndarray:
    """Quantized (n_chunks, chunk_length) levels (uint8, or uint16 above 256 levels) of every non-silent chunk,
    cut from the clips with their silent lead-ins and tails trimmed; clips are cut and quantized on one thread
    per core. With levels=False the chunks are only counted: (n_chunks, 0), nothing quantized (--dry-run)."""
    length, hop = chunk_length(model_cfg, train_cfg), _chunk_hop(model_cfg, train_cfg)
    dtype = level_dtype(model_cfg.q_levels)
    width = length if levels else 0

    def chunks_of(clip: np.ndarray) -> np.ndarray:
        # quantized clip by clip: memory holds levels (1-2 bytes a sample), not float copies
        trimmed = trim_silence(clip, train_cfg.silence_threshold)
        starts = [
            start
            for start, c in zip(range(0, len(trimmed), hop), cut_chunks(trimmed, length, hop))
            if not mostly_silent(c, train_cfg.silence_threshold, train_cfg.silence_fraction)
        ]
        if not starts or not levels:
            return np.zeros((len(starts), width), dtype=dtype)
        quantized = quantize(trimmed, model_cfg.q_type, model_cfg.q_levels).astype(dtype)
        return np.stack([quantized[start : start + length] for start in starts])

    with ThreadPoolExecutor(_workers(len(clips))) as pool:
        parts = list(pool.map(chunks_of, clips))
    return np.concatenate(parts) if parts else np.zeros((0, width), dtype=dtype)


MIN_MINUTES_KEPT = 30.0  # under this, the data check warns (the field's experience: 1-4 hours of one style)
LOUDNESS_SPREAD_DB = 12.0  # files whose loudness differs more than this get a notice


@dataclass
class DataReport:
    """What the data check says before the first step: found, kept after silence, formats seen, skipped."""

    files: int  # audio files found
    seconds_found: float  # their length (readable files)
    seconds_kept: float  # in chunks kept (trained on or held out) after silence was trimmed and dropped
    seconds_held_out: float  # of seconds_kept, or of --val-data, held out for validation
    rates: dict[int, int]  # the files' own sample rates: rate (Hz) -> files
    channels: dict[int, int]  # channel count -> files
    skipped: list[tuple[Path, str]]  # (file, why)
    loudness_dbfs: dict[Path, float]  # RMS of each file's sounding part after peak normalization, dBFS
    held_out_warnings: list[str] = field(default_factory=list)  # held-out audio missing or replaced

    def warnings(self) -> list[str]:
        """Warnings before training on this set: too little audio, no fair held-out audio."""
        if self.seconds_kept / 60 < MIN_MINUTES_KEPT:
            return self.held_out_warnings + [
                f"only {self.seconds_kept / 60:.1f} minutes of audio kept (under {MIN_MINUTES_KEPT:.0f}): the "
                "field's experience is 1-4 hours of consistent material; with less, expect the model to learn "
                "slowly or repeat passages"
            ]
        return list(self.held_out_warnings)

    def notices(self) -> list[str]:
        """Notices: files of very different loudness."""
        found = []
        loud = {p: db for p, db in self.loudness_dbfs.items() if math.isfinite(db)}
        if len(loud) >= 2:
            quiet_file, loud_file = min(loud, key=loud.__getitem__), max(loud, key=loud.__getitem__)
            spread = loud[loud_file] - loud[quiet_file]
            if spread > LOUDNESS_SPREAD_DB:
                found.append(
                    f"the files' loudness spans {spread:.0f} dB ({quiet_file.name} {loud[quiet_file]:.0f} dBFS, "
                    f"{loud_file.name} {loud[loud_file]:.0f} dBFS, after peak normalization): a model learns one "
                    "dynamic range best; consider compressing or leaving out the outliers"
                )
        return found


def describe(reads: Sequence[FileRead], files: int, silence_threshold: float) -> DataReport:
    """The found/skipped/format part of a DataReport (seconds kept filled in by read_dataset)."""
    ok = [r for r in reads if r.clip is not None]
    rates: dict[int, int] = {}
    channels: dict[int, int] = {}
    for r in ok:
        rates[r.source_rate] = rates.get(r.source_rate, 0) + 1
        channels[r.channels] = channels.get(r.channels, 0) + 1
    return DataReport(
        files=files,
        seconds_found=sum(r.seconds for r in ok),
        seconds_kept=0.0,
        seconds_held_out=0.0,
        rates=dict(sorted(rates.items())),
        channels=dict(sorted(channels.items())),
        skipped=[(r.path, r.skipped) for r in reads if r.clip is None],
        loudness_dbfs={r.path: _sounding_dbfs(r.clip, silence_threshold) for r in ok if r.clip is not None},
    )


def _sounding_dbfs(clip: np.ndarray, threshold: float) -> float:
    """RMS in dBFS of the clip's sounding part (silent lead-in and tail left out); -inf when all silent."""
    sounding = trim_silence(clip, threshold)
    if len(sounding) == 0:
        return -math.inf
    return 20 * math.log10(max(float(np.sqrt(np.mean(sounding.astype(np.float64) ** 2))), 1e-10))


@dataclass
class AudioSet:
    """Quantized chunks for training and validation, and what the data check found."""

    train: np.ndarray  # (n, chunk_length) levels, schedule.level_dtype
    val: np.ndarray  # (m, chunk_length) levels
    report: DataReport | None = None


def read_dataset(
    paths: Sequence[str | Path],
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    val_paths: Sequence[str | Path] = (),
    quiet: bool = False,
    levels: bool = True,
) -> AudioSet:
    """Read (each file decoded once), chunk, drop silence, and split off validation (held-out files if given,
    else a seeded share of chunks), with the data check's report. check_trainable says if it is enough.
    levels=False only counts the chunks (arrays of no columns): the data check alone, faster."""
    files = find_audio_files(paths)
    if not files:
        raise UserError(f"no audio files found in {', '.join(map(str, paths))}")
    reads = read_files(files, model_cfg.sample_rate, quiet)
    report = describe(reads, len(files), train_cfg.silence_threshold)
    chunks = chunks_from_clips([r.clip for r in reads if r.clip is not None], model_cfg, train_cfg, levels)
    hop_s = _chunk_hop(model_cfg, train_cfg) / model_cfg.sample_rate
    val_fraction = train_cfg.val_fraction
    if val_paths:
        val_reads = read_files(find_audio_files(val_paths), model_cfg.sample_rate, quiet)
        held_out = describe(val_reads, len(val_reads), train_cfg.silence_threshold)  # found counts both sets
        report.files += held_out.files
        report.seconds_found += held_out.seconds_found
        for mine, theirs in ((report.rates, held_out.rates), (report.channels, held_out.channels)):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n
        report.skipped += held_out.skipped
        report.loudness_dbfs.update(held_out.loudness_dbfs)
        val = chunks_from_clips([r.clip for r in val_reads if r.clip is not None], model_cfg, train_cfg, levels)
        if len(val):
            report.seconds_kept, report.seconds_held_out = (len(chunks) + len(val)) * hop_s, len(val) * hop_s
            return AudioSet(train=chunks, val=val, report=report)
        val_fraction = val_fraction or 0.1
        report.held_out_warnings.append(
            f"the held-out audio ({', '.join(map(str, val_paths))}) gives no chunk to score (silent, "
            f"unreadable or shorter than one chunk); holding out {val_fraction:.0%} of the training chunks instead"
        )
    order = np.random.default_rng(train_cfg.seed).permutation(len(chunks))
    n_val = int(round(len(chunks) * val_fraction))
    if val_fraction > 0 and len(chunks) >= 2:
        n_val = max(1, n_val)
    data = AudioSet(train=chunks[order[n_val:]], val=chunks[order[:n_val]], report=report)
    if len(data.val) == 0 and len(data.train):
        report.held_out_warnings.append(
            "no held-out audio (--val-fraction 0, or a single chunk): best.pt is chosen by the training "
            "loss; give --val-data or a --val-fraction for a fair choice"
        )
    report.seconds_kept, report.seconds_held_out = len(chunks) * hop_s, len(data.val) * hop_s
    return data


def check_trainable(
    data: AudioSet, paths: Sequence[str | Path], model_cfg: ModelConfig, train_cfg: TrainConfig
) -> None:
    """A UserError saying what to change when the set does not hold one batch of training chunks per process."""
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


def build_dataset(
    paths: Sequence[str | Path],
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    val_paths: Sequence[str | Path] = (),
    quiet: bool = False,
) -> AudioSet:
    """read_dataset, refused (UserError) when it cannot fill one batch."""
    data = read_dataset(paths, model_cfg, train_cfg, val_paths, quiet)
    check_trainable(data, paths, model_cfg, train_cfg)
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
