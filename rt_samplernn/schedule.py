"""The generation timeline, defined once (torch-free): which tiers run where, what they read, how a seed primes.

Positions t count samples from the start of the history, which always begins with one top frame of
silence, so t = top frame size is the first sample generated (or primed). Before sample t is drawn, frame
tier k runs when t is a multiple of its frame size, coarse to fine, on the frame_sizes[k] samples before t,
and reads column (t mod frame_sizes[k+1]) / frame_sizes[k] of the conditioning the tier above produced at
its last step. The sample tier reads column t mod frame_sizes[0] of the finest tier's conditioning.
The reference generator (rt_samplernn.generate), the engine, the exporter's parity check and
docs/bundle.md all follow this module.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

from rt_samplernn.audio import ArrayClip, Clip, model_audio_blocks, peak_and_length
from rt_samplernn.config import ModelConfig
from rt_samplernn.errors import UserError
from rt_samplernn.quantize import quantize, zero_level

PRIME_CHUNK_TOP_FRAMES = 256  # top frames read per priming chunk: bounds memory whatever the clip length

Due = tuple[int, int]  # (tier k, conditioning column it reads from tier k + 1; -1 for the top tier)


def tiers_due(frame_sizes: Sequence[int], t: int) -> list[Due]:
    """The frame tiers that run before sample t is drawn, coarse to fine, each with its conditioning column."""
    due = []
    top = len(frame_sizes) - 1
    for k in range(top, -1, -1):
        if t % frame_sizes[k] == 0:
            due.append((k, -1 if k == top else (t % frame_sizes[k + 1]) // frame_sizes[k]))
    return due


class Levels(Protocol):
    """(B, samples) levels: a numpy array or a torch tensor. window_frames only slices and reshapes them, so
    the results are the caller's type again (L in, L out); the Protocol leaves their own types to them."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def __getitem__(self, key: tuple[slice, slice], /) -> Any: ...

    def reshape(self, batch: int, frames: int, frame_size: int, /) -> Any: ...


L = TypeVar("L", bound=Levels)


def window_frames(frame_sizes: Sequence[int], x: L) -> Iterator[tuple[int, L]]:
    """The whole-window conditioning pass's inputs: for x (B, F_top + n) levels (one top frame of context,
    n a multiple of F_top), each frame tier k coarse to fine with its frames (B, n / F_k, F_k), frame j
    covering x[:, F_top - F_k + j F_k : F_top + j F_k]. Run tier k on them with the conditioning the tier
    above returned (None for the top tier): the training forward, the exporter's check and version-1
    priming all do this, each with its own math."""
    f_top = frame_sizes[-1]
    batch, length = x.shape[0], x.shape[1] - f_top
    for k in reversed(range(len(frame_sizes))):
        size = frame_sizes[k]
        frames: L = x[:, f_top - size : f_top - size + length].reshape(batch, length // size, size)
        yield k, frames


def block_schedule(frame_sizes: Sequence[int]) -> list[list[Due]]:
    """tiers_due at each block of F0 samples of one top frame: the pattern repeats every top frame."""
    f0, f_top = frame_sizes[0], frame_sizes[-1]
    return [tiers_due(frame_sizes, pos) for pos in range(0, f_top, f0)]


def sample_column(frame_sizes: Sequence[int], t: int) -> int:
    """The column of the finest tier's conditioning that sample t reads."""
    return t % frame_sizes[0]


def level_dtype(q_levels: int) -> type:
    """The smallest unsigned integer type that holds levels 0 .. q_levels - 1 (q_levels <= 65536)."""
    return np.uint8 if q_levels <= 256 else np.uint16


def seed_level_blocks(cfg: ModelConfig, clip: Clip, measured: tuple[float, int] | None = None) -> Iterator[np.ndarray]:
    """The seed clip's levels in blocks: downmixed, resampled, peak normalized, quantized, left-padded with
    silence to a whole number of top frames; small integers, one block at a time (bounded memory).
    `measured`: audio.peak_and_length(clip, cfg.sample_rate) if already known (else one more pass over the clip)."""
    peak, samples = measured or peak_and_length(clip, cfg.sample_rate)
    pad = (-samples) % cfg.top_frame_size
    dtype = level_dtype(cfg.q_levels)

    def levels() -> Iterator[np.ndarray]:
        yield np.full(pad, zero_level(cfg.q_levels), dtype=dtype)
        read = 0
        for x in model_audio_blocks(clip, cfg.sample_rate, peak):
            read += len(x)
            yield quantize(x, cfg.q_type, cfg.q_levels).astype(dtype)
        if read != samples:  # the padding was set by the first pass: a file rewritten meanwhile cannot prime
            raise UserError(f"{getattr(clip, 'path', 'the seed clip')}: changed while it was being read; prime again")

    return levels()


def prime_levels(cfg: ModelConfig, audio: np.ndarray, rate: int) -> np.ndarray:
    """A seed clip (any rate, mono or (frames, channels)) as int64 levels, whole: seed_level_blocks joined.
    For short clips and checks; priming itself reads PrimingHistory.from_clip, which never holds the clip."""
    return np.concatenate(list(seed_level_blocks(cfg, ArrayClip(audio, rate)))).astype(np.int64)


def start_history(cfg: ModelConfig, voices: int, seed_levels: np.ndarray | None = None) -> np.ndarray:
    """(voices, F_top + P) levels: one top frame of silence, then the (padded) seed clip if any."""
    silence = np.full((voices, cfg.top_frame_size), zero_level(cfg.q_levels), dtype=np.int64)
    if seed_levels is None or len(seed_levels) == 0:
        return silence
    if len(seed_levels) % cfg.top_frame_size:
        raise ValueError("seed levels must be padded to a multiple of the top frame size (use prime_levels)")
    return np.concatenate([silence, np.broadcast_to(seed_levels, (voices, len(seed_levels)))], axis=1)


def prime_windows(
    history_samples: int, top_frame_size: int, chunk_top_frames: int = PRIME_CHUNK_TOP_FRAMES
) -> Iterator[tuple[int, int]]:
    """(start, stop) slices of a history that prime it in bounded chunks, states carried from one to the next.

    Each window holds one top frame of context before the samples it reads (the windows overlap by that
    much), so running the frame tiers window after window equals one pass over the whole history.
    """
    step = chunk_top_frames * top_frame_size
    for start in range(0, history_samples - top_frame_size, step):
        yield start, min(start + top_frame_size + step, history_samples)


def windows_of(
    chunks: Iterable[np.ndarray], top_frame_size: int, chunk_top_frames: int = PRIME_CHUNK_TOP_FRAMES
) -> Iterator[np.ndarray]:
    """history[start:stop] for each window of prime_windows, as int64, from the history given in chunks of
    any size: holds one window and one chunk, never the whole history."""
    size = top_frame_size * (chunk_top_frames + 1)
    step = top_frame_size * chunk_top_frames
    held = np.empty(0, np.int64)
    for chunk in chunks:
        held = np.concatenate([held, np.asarray(chunk, np.int64)])
        while len(held) >= size:
            yield held[:size]
            held = held[step:]
    if len(held) > top_frame_size:
        yield held


@dataclass
class PrimingHistory:
    """A one-voice history in start_history's layout (one top frame of silence, then the padded seed) that
    priming reads window by window (prime_windows), states carried: `samples` long, `windows()` each time.

    from_clip reads the seed clip (a file or an array) in blocks as the windows are consumed, so nothing
    of the clip's length is held; from_levels and from_history wrap levels already in memory. All give the
    same windows for the same clip.
    """

    samples: int
    windows: Callable[[], Iterator[np.ndarray]]

    @classmethod
    def from_clip(cls, cfg: ModelConfig, clip: Clip) -> PrimingHistory:
        f_top = cfg.top_frame_size
        silence = np.full(f_top, zero_level(cfg.q_levels), dtype=np.int64)
        measured = peak_and_length(clip, cfg.sample_rate)  # a first pass (peak, length); windows() reads again

        def windows() -> Iterator[np.ndarray]:
            return windows_of(itertools.chain([silence], seed_level_blocks(cfg, clip, measured)), f_top)

        return cls(f_top + measured[1] + (-measured[1]) % f_top, windows)

    @classmethod
    def from_levels(cls, cfg: ModelConfig, seed_levels: np.ndarray | None) -> PrimingHistory:
        return cls.from_history(start_history(cfg, 1, seed_levels)[0], cfg.top_frame_size)

    @classmethod
    def from_history(cls, history: np.ndarray, top_frame_size: int) -> PrimingHistory:
        """A one-voice history already in memory (start_history's layout)."""
        return cls(len(history), lambda: (history[a:b] for a, b in prime_windows(len(history), top_frame_size)))
