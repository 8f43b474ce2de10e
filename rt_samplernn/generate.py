"""Reference generator in PyTorch eager: one call per tier step, as the SampleRNN peers generate.

It follows the timeline of rt_samplernn.schedule exactly, so the ONNX engine, given the same seed, produces
the same samples. Priming warms every frame tier over the whole seed clip, in bounded chunks.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from rt_samplernn.progress import progress_bar

from rt_samplernn.errors import UserError
from rt_samplernn.model import SampleRNN, State
from rt_samplernn.sampling import gumbel_noise, noise_rng
from rt_samplernn.schedule import (
    prime_levels,
    prime_windows,
    sample_column,
    start_history,
    tiers_due,
)

__all__ = ["generate_levels", "prime_levels", "primed_states", "start_history"]


def primed_states(model: SampleRNN, history: torch.Tensor) -> list[State]:
    """States of every frame tier after reading the whole history from the initial state, in bounded chunks
    (schedule.prime_windows) with the states carried: the same as one pass, in memory that does not grow."""
    states = model.initial_state(history.shape[0])
    for start, stop in prime_windows(history.shape[1], model.overlap):
        _, states = model.condition(history[:, start:stop], states)
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
    for t in progress_bar(range(t0, t0 + n_samples), disable=not progress, unit="sample", unit_scale=True, leave=False):
        for k, col in tiers_due(sizes, t):
            above = None if col < 0 else conds[k + 1][:, col]
            conds[k], states[k] = model.frame_tiers[k].step(hist[:, t - sizes[k] : t], above, states[k])
        j = sample_column(sizes, t)
        if j == 0:
            noise = torch.from_numpy(gumbel_noise(rng, (voices, f0, cfg.q_levels)))
        logits = model.sample_tier.step(hist[:, t - f0 : t], conds[0][:, j])
        # argmax(logits / T + g) == argmax(logits + T * g); this form is the engine's, bit for bit.
        hist[:, t] = torch.argmax(logits.float() + temps * noise[:, j], dim=-1)
    return hist[:, t0:].numpy()
