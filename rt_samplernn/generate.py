"""Reference generator in PyTorch eager: one call per tier step, as the SampleRNN peers generate.

It follows the timeline of rt_samplernn.schedule exactly, so the ONNX engine, given the same seed, produces
the same samples. Priming warms every frame tier over the whole seed clip, in bounded chunks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from rt_samplernn.errors import UserError
from rt_samplernn.model import SampleRNN, State
from rt_samplernn.progress import progress_bar
from rt_samplernn.quantize import zero_level
from rt_samplernn.sampling import voice_noise, voice_rngs
from rt_samplernn.schedule import (
    PrimingHistory,
    prime_levels,
    prime_windows,
    sample_column,
    start_history,
    tiers_due,
)

__all__ = [
    "generate_blocks",
    "generate_levels",
    "prime_levels",
    "primed_from",
    "primed_states",
    "primed_voices",
    "start_history",
]


def primed_states(model: SampleRNN, history: torch.Tensor) -> list[State]:
    """States of every frame tier after reading the whole history from the initial state, in bounded chunks
    (schedule.prime_windows) with the states carried: the same as one pass, in memory that does not grow."""
    states = model.initial_state(history.shape[0])
    for start, stop in prime_windows(history.shape[1], model.overlap):
        _, states = model.condition(history[:, start:stop], states)
    return states


def primed_from(model: SampleRNN, history: PrimingHistory, voices: int) -> tuple[list[State], torch.Tensor]:
    """primed_states for `voices` copies of a one-voice PrimingHistory read window by window (a seed clip
    is never held whole), and its last top frame of levels, (voices, F_top)."""
    states = model.initial_state(voices)
    last = torch.full((voices, model.overlap), zero_level(model.cfg.q_levels), dtype=torch.int64)
    for window in history.windows():
        x = torch.from_numpy(np.broadcast_to(window, (voices, len(window))).copy())
        _, states = model.condition(x, states)
        last = x[:, -model.overlap :]
    return states, last


def primed_voices(model: SampleRNN, histories: Sequence[PrimingHistory]) -> tuple[list[State], torch.Tensor]:
    """primed_from for voices that each read their own one-voice history (a cold voice: from_levels(cfg, None)),
    stacked along the batch: the states and last top frames of len(histories) voices."""
    parts = [primed_from(model, history, 1) for history in histories]
    states = [tuple(torch.cat(held, dim=1) for held in zip(*tier)) for tier in zip(*(p[0] for p in parts))]
    return states, torch.cat([p[1] for p in parts])


def generate_levels(
    model: SampleRNN,
    n_samples: int,
    temperatures: Sequence[float],
    seed: int = 0,
    seed_levels: np.ndarray | None = None,
    progress: bool = False,
    min_p: Sequence[float] | None = None,
) -> np.ndarray:
    """(len(temperatures), n_samples) int levels, one sequence per temperature, all in one batch."""
    blocks = generate_blocks(
        model, n_samples, temperatures, seed, seed_levels, max(n_samples, 1), progress, min_p=min_p
    )
    return np.concatenate(list(blocks), axis=1)


@torch.inference_mode()
def generate_blocks(
    model: SampleRNN,
    n_samples: int,
    temperatures: Sequence[float],
    seed: int = 0,
    seed_levels: np.ndarray | PrimingHistory | Sequence[PrimingHistory] | None = None,
    block_samples: int = 16384,
    progress: bool = False,
    min_p: Sequence[float] | None = None,
) -> Iterator[np.ndarray]:
    """generate_levels in pieces: (voices, <= block_samples) int levels at a time, the same samples in order.

    Only the last top frame of the history is kept between pieces, so memory does not grow with n_samples;
    `seed_levels` from schedule.prime_levels, or a PrimingHistory.from_clip read as priming goes, or one
    PrimingHistory per voice (each voice continues its own history; their lengths are all whole top frames, so
    the voices share the timeline's phase). `min_p`: the tail cut per sequence (None or 0: off), as the sample
    graph computes it: levels whose logit is under the largest + log(min_p) are never drawn. Each sequence draws
    its own noise stream (sampling.voice_rngs).
    """
    cfg = model.cfg
    voices = len(temperatures)
    if voices < 1 or min(temperatures) <= 0:
        raise UserError("temperatures must be positive, one per sequence")
    sizes, f0, f_top = cfg.frame_sizes, cfg.frame_sizes[0], cfg.top_frame_size
    if seed_levels is None or isinstance(seed_levels, (np.ndarray, PrimingHistory)):
        history = (
            seed_levels if isinstance(seed_levels, PrimingHistory) else PrimingHistory.from_levels(cfg, seed_levels)
        )
        t0 = history.samples  # a multiple of f_top, as is the block: the timeline below uses absolute t
        states, last = primed_from(model, history, voices)
    else:  # one history per voice
        if len(seed_levels) != voices:
            raise UserError(f"{len(seed_levels)} priming histories for {voices} voices: give one per voice")
        t0 = seed_levels[0].samples
        states, last = primed_voices(model, seed_levels)
    block = max(f_top, block_samples - block_samples % f_top)
    buf = torch.empty(voices, f_top + block, dtype=torch.int64)  # last top frame, then this block
    buf[:, :f_top] = last
    temps = torch.tensor(temperatures, dtype=torch.float32)[:, None]
    cuts = [0.0] * voices if min_p is None else [float(c) for c in min_p]
    if len(cuts) != voices or not all(0.0 <= c <= 1.0 for c in cuts):
        raise UserError(f"min_p: one value from 0 to 1 per sequence ({voices}), got {list(cuts)}")
    log_cut = torch.log(torch.tensor(cuts, dtype=torch.float32))[:, None] if any(cuts) else None
    rngs = voice_rngs(seed, voices)
    conds = [torch.empty(0)] * len(sizes)  # each set by its tier's first step, before it is read
    noise = torch.empty(0)
    base = t0 - f_top  # absolute t of buf[:, 0]
    with progress_bar(total=n_samples, disable=not progress, unit="sample", unit_scale=True, leave=False) as bar:
        for t in range(t0, t0 + n_samples):
            i = t - base
            for k, col in tiers_due(sizes, t):
                above = None if col < 0 else conds[k + 1][:, col]
                conds[k], states[k] = model.frame_tiers[k].step(buf[:, i - sizes[k] : i], above, states[k])
            j = sample_column(sizes, t)
            if j == 0:
                noise = torch.from_numpy(voice_noise(rngs, f0, cfg.q_levels))
            logits = model.sample_tier.step(buf[:, i - f0 : i], conds[0][:, j]).float()
            # argmax(logits / T + g) == argmax(logits + T * g); this form is the engine's, bit for bit.
            perturbed = logits + temps * noise[:, j]
            if log_cut is not None:
                below = logits < logits.amax(dim=-1, keepdim=True) + log_cut
                perturbed = perturbed.masked_fill(below, float("-inf"))
            buf[:, i] = torch.argmax(perturbed, dim=-1)
            if i + 1 == f_top + block or t + 1 == t0 + n_samples:
                yield buf[:, f_top : i + 1].numpy().copy()
                bar.update(i + 1 - f_top)
                buf[:, :f_top] = buf[:, i + 1 - f_top : i + 1]
                base = t + 1 - f_top
