"""Reference generator in PyTorch eager: one call per tier step, as the SampleRNN peers generate.

It follows the generation timeline in docs/CONTRACTS.md exactly, so the ONNX engine, given the same seed,
produces the same samples. Priming warms every frame tier over the whole seed clip.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch
from tqdm import tqdm

from rt_samplernn.audio import to_model_audio
from rt_samplernn.config import ModelConfig
from rt_samplernn.errors import UserError
from rt_samplernn.model import SampleRNN, State
from rt_samplernn.quantize import quantize, zero_level
from rt_samplernn.sampling import gumbel_noise, noise_rng


def prime_levels(cfg: ModelConfig, audio: np.ndarray, rate: int) -> np.ndarray:
    """A seed clip as int levels, left-padded with silence to a whole number of top frames."""
    levels = quantize(to_model_audio(audio, rate, cfg.sample_rate), cfg.q_type, cfg.q_levels)
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


def primed_states(model: SampleRNN, history: torch.Tensor) -> list[State]:
    """States of every frame tier after reading the whole history from the initial state."""
    states = model.initial_state(history.shape[0])
    if history.shape[1] > model.overlap:
        _, states = model.condition(history, states)
    return states


@torch.inference_mode()
def generate_levels(
    model: SampleRNN,
    n_samples: int,
    temperatures: Sequence[float],
    seed: int = 0,
    seed_levels: np.ndarray | None = None,
    progress: bool = False,
) -> np.ndarray:
    """(len(temperatures), n_samples) int levels, one sequence per temperature, all in one batch."""
    cfg = model.cfg
    voices = len(temperatures)
    if voices < 1 or min(temperatures) <= 0:
        raise UserError("temperatures must be positive, one per sequence")
    sizes = cfg.frame_sizes
    f0 = sizes[0]
    history = torch.from_numpy(start_history(cfg, voices, seed_levels).copy())
    t0 = history.shape[1]
    states = primed_states(model, history)
    hist = torch.cat([history, torch.zeros(voices, n_samples, dtype=torch.int64)], dim=1)
    temps = torch.tensor(temperatures, dtype=torch.float32)[:, None]
    rng = noise_rng(seed)
    conds: list[torch.Tensor | None] = [None] * len(sizes)
    noise = None
    for t in tqdm(range(t0, t0 + n_samples), disable=not progress, unit="sample", unit_scale=True, leave=False):
        for k in reversed(range(len(sizes))):
            size = sizes[k]
            if t % size == 0:
                above = None if k == len(sizes) - 1 else conds[k + 1][:, (t % sizes[k + 1]) // size]
                conds[k], states[k] = model.frame_tiers[k].step(hist[:, t - size : t], above, states[k])
        if t % f0 == 0:
            noise = torch.from_numpy(gumbel_noise(rng, (voices, f0, cfg.q_levels)))
        logits = model.sample_tier.step(hist[:, t - f0 : t], conds[0][:, t % f0])
        # argmax(logits / T + g) == argmax(logits + T * g); this form is the engine's, bit for bit.
        hist[:, t] = torch.argmax(logits.float() + temps * noise[:, t % f0], dim=-1)
    return hist[:, t0:].numpy()


@torch.inference_mode()
def generate_blocks(
    model: SampleRNN,
    n_samples: int,
    temperatures: Sequence[float],
    seed: int = 0,
    seed_levels: np.ndarray | None = None,
    block_samples: int = 16384,
    progress: bool = False,
) -> Iterator[np.ndarray]:
    """generate_levels in pieces: (voices, <= block_samples) int levels at a time, the same samples in order.

    Only the last top frame of the history is kept between pieces, so memory does not grow with n_samples.
    """
    cfg = model.cfg
    voices = len(temperatures)
    if voices < 1 or min(temperatures) <= 0:
        raise UserError("temperatures must be positive, one per sequence")
    sizes, f0, f_top = cfg.frame_sizes, cfg.frame_sizes[0], cfg.top_frame_size
    history = torch.from_numpy(start_history(cfg, voices, seed_levels).copy())
    t0 = history.shape[1]  # a multiple of f_top, as is the block: the timeline below uses absolute t
    states = primed_states(model, history)
    block = max(f_top, block_samples - block_samples % f_top)
    buf = torch.empty(voices, f_top + block, dtype=torch.int64)  # last top frame, then this block
    buf[:, :f_top] = history[:, -f_top:]
    del history
    temps = torch.tensor(temperatures, dtype=torch.float32)[:, None]
    rng = noise_rng(seed)
    conds: list[torch.Tensor | None] = [None] * len(sizes)
    noise = None
    base = t0 - f_top  # absolute t of buf[:, 0]
    with tqdm(total=n_samples, disable=not progress, unit="sample", unit_scale=True, leave=False) as bar:
        for t in range(t0, t0 + n_samples):
            i = t - base
            for k in reversed(range(len(sizes))):
                size = sizes[k]
                if t % size == 0:
                    above = None if k == len(sizes) - 1 else conds[k + 1][:, (t % sizes[k + 1]) // size]
                    conds[k], states[k] = model.frame_tiers[k].step(buf[:, i - size : i], above, states[k])
            if t % f0 == 0:
                noise = torch.from_numpy(gumbel_noise(rng, (voices, f0, cfg.q_levels)))
            logits = model.sample_tier.step(buf[:, i - f0 : i], conds[0][:, t % f0])
            buf[:, i] = torch.argmax(logits.float() + temps * noise[:, t % f0], dim=-1)
            if i + 1 == f_top + block or t + 1 == t0 + n_samples:
                yield buf[:, f_top : i + 1].numpy().copy()
                bar.update(i + 1 - f_top)
                buf[:, :f_top] = buf[:, i + 1 - f_top : i + 1]
                base = t + 1 - f_top
