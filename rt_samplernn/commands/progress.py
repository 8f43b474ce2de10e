"""Progress bars the commands show for long library calls (the library reports fractions; commands print)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rt_samplernn.audio import Clip
from rt_samplernn.progress import progress_bar

LONG_SEED_SECONDS = 20.0  # seeds shorter than this prime in about a second: no bar


@contextmanager
def priming_progress(clip: Clip | None, quiet: bool = False) -> Iterator[Callable[[float], None]]:
    """A progress callback (fraction done) drawing a bar on stderr while ``clip`` primes, for long clips only."""
    show = clip is not None and not quiet and clip.seconds > LONG_SEED_SECONDS
    with progress_bar(total=100, unit="%", desc="priming", leave=False, disable=not show) as bar:
        yield lambda done: bar.update(round(done * 100) - bar.n)


def prime_with_progress(engine: Any, clip: Clip, quiet: bool = False) -> None:
    """engine.prime(clip) (an audio.FileClip is read in blocks) with a progress bar on stderr for long clips."""
    with priming_progress(clip, quiet) as progress:
        engine.prime(clip, progress=progress)
