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

from typing import Iterator, Sequence

import numpy as np

from rt_samplernn.audio import to_model_audio
from rt_samplernn.config import ModelConfig
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


def block_schedule(frame_sizes: Sequence[int]) -> list[list[Due]]:
    """tiers_due at each block of F0 samples of one top frame: the pattern repeats every top frame."""
    f0, f_top = frame_sizes[0], frame_sizes[-1]
    return [tiers_due(frame_sizes, pos) for pos in range(0, f_top, f0)]


def sample_column(frame_sizes: Sequence[int], t: int) -> int:
    """The column of the finest tier's conditioning that sample t reads."""
    return t % frame_sizes[0]


def prime_levels(cfg: ModelConfig, audio: np.ndarray, rate: int) -> np.ndarray:
    """A seed clip (any rate, mono or (frames, channels)) as int64 levels: downmixed, resampled, peak
    normalized, quantized, then left-padded with silence to a whole number of top frames."""
    levels = np.asarray(quantize(to_model_audio(audio, rate, cfg.sample_rate), cfg.q_type, cfg.q_levels), np.int64)
    pad = (-len(levels)) % cfg.top_frame_size
    return np.concatenate([np.full(pad, zero_level(cfg.q_levels), dtype=np.int64), levels])


def start_history(cfg: ModelConfig, voices: int, seed_levels: np.ndarray | None = None) -> np.ndarray:
    """(voices, F_top + P) levels: one top frame of silence, then the (padded) seed clip if any."""
    silence = np.full((voices, cfg.top_frame_size), zero_level(cfg.q_levels), dtype=np.int64)
    if seed_levels is None or len(seed_levels) == 0:
        return silence
    if len(seed_levels) % cfg.top_frame_size:
        raise ValueError("seed levels must be padded to a multiple of the top frame size (use prime_levels)")
    return np.concatenate([silence, np.broadcast_to(seed_levels, (voices, len(seed_levels)))], axis=1)


def prime_windows(history_samples: int, top_frame_size: int,
                  chunk_top_frames: int = PRIME_CHUNK_TOP_FRAMES) -> Iterator[tuple[int, int]]:
    """(start, stop) slices of a history that prime it in bounded chunks, states carried from one to the next.

    Each window holds one top frame of context before the samples it reads (the windows overlap by that
    much), so running the frame tiers window after window equals one pass over the whole history.
    """
    step = chunk_top_frames * top_frame_size
    for start in range(0, history_samples - top_frame_size, step):
        yield start, min(start + top_frame_size + step, history_samples)
