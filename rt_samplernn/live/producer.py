"""The producer seam: what the `Player` drives and its `Reprimer` re-primes. The ONNX `Engine` is one.

No torch, no Qt. A producer generates (voices, n) float32 audio in [-1, 1] on the player's worker thread;
its output gain is a number the player applies itself, after the watchdog has heard the model's own
output (a performer muting with the gain is no collapse). Re-priming (a watchdog event, `Player.reprime`)
calls `prime` or `reset` from a helper thread; the producer swaps the new state in at its next `generate`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from rt_samplernn.audio import Clip


class Producer(Protocol):
    """What a `Player` needs of the audio source it streams (rt_samplernn.live.engine.Engine implements it)."""

    @property
    def sample_rate(self) -> int:
        """Hz."""
        ...

    @property
    def voices(self) -> int: ...

    @property
    def seed(self) -> int:
        """The noise seed; each re-prime derives a fresh one from it."""
        ...

    @property
    def gain(self) -> float:
        """Linear output gain: the player applies it after the watchdog (generate(..., apply_gain=False))."""
        ...

    @property
    def temperatures(self) -> np.ndarray:
        """Sampling temperature per voice, (voices,), for the meters."""
        ...

    @property
    def min_p(self) -> np.ndarray:
        """Tail cut per voice, (voices,), for the meters (0: off)."""
        ...

    @property
    def audio_stats(self) -> Mapping[str, Any] | None:
        """Statistics of the training audio (the bundle's `audio_stats`), for the watchdog's thresholds."""
        ...

    def generate(self, n: int, *, apply_gain: bool = True) -> np.ndarray:
        """(voices, n) float32 audio in [-1, 1]; continues across calls."""
        ...

    def prime(
        self,
        audio: np.ndarray | Clip,
        rate: int | None = None,
        seed: int | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        """Warm up on a seed clip; restart the noise stream of `seed` (the current one if None)."""
        ...

    def reset(self, seed: int | None = None) -> None:
        """Back to the initial state; the noise stream restarts from `seed` (the current one if None)."""
        ...


class PassesReadouts:
    """The `Producer` readouts of a producer that wraps another (``self.engine``): HotSwap, TempoLocked pass
    them on as they are."""

    engine: Producer

    @property
    def sample_rate(self) -> int:
        return self.engine.sample_rate

    @property
    def voices(self) -> int:
        return self.engine.voices

    @property
    def seed(self) -> int:
        return self.engine.seed

    @property
    def gain(self) -> float:
        return self.engine.gain

    @property
    def temperatures(self) -> np.ndarray:
        return self.engine.temperatures

    @property
    def min_p(self) -> np.ndarray:
        return self.engine.min_p

    @property
    def audio_stats(self) -> Mapping[str, Any] | None:
        return self.engine.audio_stats
