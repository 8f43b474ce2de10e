"""Seedable Gumbel-max sampling noise, shared by the PyTorch reference generator and the ONNX engine (torch-free)."""

from __future__ import annotations

import numpy as np

_TINY = np.float32(1e-20)


def gumbel_noise(rng: np.random.Generator, shape: tuple[int, ...], out: np.ndarray | None = None) -> np.ndarray:
    """float32 Gumbel(0, 1) noise: argmax(logits / T + noise) draws from softmax(logits / T).

    With `out` (float32, of `shape`) it is filled in place, allocating nothing: the engine's loop uses that.
    Drawing N blocks at once gives the same values as N draws of one block.
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


def noise_rng(seed: int) -> np.random.Generator:
    """The generator every sampler draws its noise from, so the same seed gives the same samples everywhere."""
    return np.random.default_rng(seed)
