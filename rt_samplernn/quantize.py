"""Linear, mu-law and a-law quantizers; one definition for numpy arrays (live path) and torch tensors (training).

Floats in [-1, 1] map to ints in [0, q_levels). Both array kinds compute in float64, so they agree exactly.
This module never imports torch itself: a torch tensor brings its own namespace.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

MU = 255.0
A = 87.6
_LOG1P_MU = math.log1p(MU)
_ALAW_DENOM = 1.0 + math.log(A)


def _namespace(x: Any) -> Any:
    """numpy for arrays and scalars, torch for tensors (already imported by whoever made the tensor)."""
    if type(x).__module__.startswith("torch"):
        return sys.modules["torch"]
    return np


def _as_float64(x: Any, xp: Any) -> Any:
    if xp is np:
        return np.asarray(x, dtype=np.float64)
    return x.to(xp.float64)


def zero_level(q_levels: int) -> int:
    """The integer that silence quantizes to (used to pad histories)."""
    return q_levels // 2


def compress(x: Any, q_type: str) -> Any:
    """Companding in [-1, 1] -> [-1, 1] (identity for linear)."""
    xp = _namespace(x)
    x = xp.clip(_as_float64(x, xp), -1.0, 1.0)
    if q_type == "linear":
        return x
    ax = xp.abs(x)
    if q_type == "mu-law":
        return xp.sign(x) * xp.log1p(MU * ax) / _LOG1P_MU
    if q_type == "a-law":
        small = A * ax / _ALAW_DENOM
        large = (1.0 + xp.log(xp.clip(A * ax, 1.0, None))) / _ALAW_DENOM
        return xp.sign(x) * xp.where(ax < 1.0 / A, small, large)
    raise ValueError(f"unknown quantization {q_type!r}")


def expand(y: Any, q_type: str) -> Any:
    """Inverse of compress."""
    xp = _namespace(y)
    y = _as_float64(y, xp)
    if q_type == "linear":
        return y
    ay = xp.abs(y)
    if q_type == "mu-law":
        return xp.sign(y) * xp.expm1(ay * _LOG1P_MU) / MU
    if q_type == "a-law":
        small = ay * _ALAW_DENOM / A
        large = xp.exp(ay * _ALAW_DENOM - 1.0) / A
        return xp.sign(y) * xp.where(ay < 1.0 / _ALAW_DENOM, small, large)
    raise ValueError(f"unknown quantization {q_type!r}")


def quantize(x: Any, q_type: str, q_levels: int) -> Any:
    """Floats in [-1, 1] -> int64 levels in [0, q_levels)."""
    xp = _namespace(x)
    y = compress(x, q_type)
    q = xp.clip(xp.floor((y + 1.0) * 0.5 * q_levels), 0, q_levels - 1)
    return q.astype(np.int64) if xp is np else q.to(xp.int64)


def dequantize(q: Any, q_type: str, q_levels: int) -> Any:
    """int levels -> float32 in [-1, 1] (level centres)."""
    xp = _namespace(q)
    y = (_as_float64(q, xp) + 0.5) * (2.0 / q_levels) - 1.0
    x = expand(y, q_type)
    return x.astype(np.float32) if xp is np else x.to(xp.float32)


def dequantize_table(q_type: str, q_levels: int) -> np.ndarray:
    """float32 [q_levels] lookup table: table[level] = dequantize(level). The live path indexes it."""
    return dequantize(np.arange(q_levels), q_type, q_levels)
