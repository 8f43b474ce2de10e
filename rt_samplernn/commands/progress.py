"""Progress bars the commands show for long library calls (the library reports fractions; commands print)."""

from __future__ import annotations

from typing import Any

import numpy as np
from rt_samplernn.progress import progress_bar

LONG_SEED_SECONDS = 20.0  # seeds shorter than this prime in about a second: no bar


def prime_with_progress(engine: Any, audio: np.ndarray, rate: int, quiet: bool = False) -> None:
    """engine.prime(audio, rate) with a progress bar on stderr for long seed clips."""
    show = not quiet and len(audio) > LONG_SEED_SECONDS * rate
    with progress_bar(total=100, unit="%", desc="priming", leave=False, disable=not show) as bar:
        engine.prime(audio, rate, progress=lambda done: bar.update(round(done * 100) - bar.n))
