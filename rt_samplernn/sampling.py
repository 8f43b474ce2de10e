"""Seedable Gumbel-max sampling noise, shared by the PyTorch reference generator and the ONNX engine (torch-free)."""

from __future__ import annotations

import numpy as np

_TINY = np.float32(1e-20)


def gumbel_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 Gumbel(0, 1) noise: argmax(logits / T + noise) draws from softmax(logits / T)."""
    u = rng.random(shape, dtype=np.float32)
    return -np.log(-np.log(np.maximum(u, _TINY)) + _TINY)


def noise_rng(seed: int) -> np.random.Generator:
    """The generator every sampler draws its noise from, so the same seed gives the same samples everywhere."""
    return np.random.default_rng(seed)
