"""Seedable Gumbel-max sampling noise, shared by the PyTorch reference generator and the ONNX engine (torch-free).

Every voice draws from its own stream (`voice_rngs`): voice 0 from `default_rng(seed)`, the single-voice
stream of earlier releases, voice v >= 1 from `default_rng([seed, v])`. So N voices from one seed are N
independent streams, and a voice's samples do not depend on how many voices run beside it.
"""

from __future__ import annotations

import numpy as np

_TINY = np.float32(1e-20)


def gumbel_noise(rng: np.random.Generator, shape: tuple[int, ...], out: np.ndarray | None = None) -> np.ndarray:
    """float32 Gumbel(0, 1) noise: argmax(logits / T + noise) draws from softmax(logits / T).

    With `out` (float32, of `shape`, contiguous) it is filled in place, allocating nothing: the engine's loop
    uses that. Drawing N blocks at once gives the same values as N draws of one block.
    """
    u = np.empty(shape, dtype=np.float32) if out is None else out
    rng.random(dtype=np.float32, out=u)
    np.maximum(u, _TINY, out=u)
    np.log(u, out=u)
    np.negative(u, out=u)  # -log(u)
    u += _TINY
    np.log(u, out=u)
    np.negative(u, out=u)  # -log(-log(u) + tiny)
    return u


def noise_rng(seed: int, voice: int = 0) -> np.random.Generator:
    """The generator voice `voice` draws its noise from, so the same seed gives the same samples everywhere."""
    return np.random.default_rng(seed if voice == 0 else [seed, voice])


def voice_rngs(seed: int, voices: int) -> list[np.random.Generator]:
    """One independent noise generator per voice (noise_rng of each)."""
    return [noise_rng(seed, v) for v in range(voices)]


def voice_noise(rngs: list[np.random.Generator], f0: int, q_levels: int) -> np.ndarray:
    """(voices, F0, Q) float32 Gumbel noise, voice v's rows from rngs[v]: one sample-graph call's noise."""
    return np.stack([gumbel_noise(rng, (f0, q_levels)) for rng in rngs])
