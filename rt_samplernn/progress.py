"""Progress bars with manners: live on a terminal, one line every half minute in a log (torch-free)."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

LOG_INTERVAL_S = 30.0  # without a terminal (a log file, a pipe): at most one update this often


def progress_bar(iterable: Any = None, **kwargs: Any) -> tqdm:
    """`tqdm` writing to stderr; when stderr is not a terminal, it updates at most every LOG_INTERVAL_S.

    Takes tqdm's arguments (``total``, ``unit``, ``disable``, ...). Without a terminal, tqdm's default
    (ten updates a second, each a carriage-return line) would fill a log with hundreds of lines a minute.
    """
    stream = kwargs.setdefault("file", sys.stderr)
    if not _is_tty(stream):
        kwargs.setdefault("mininterval", LOG_INTERVAL_S)
        kwargs.setdefault("maxinterval", LOG_INTERVAL_S)
        kwargs.setdefault("ncols", 100)
    return tqdm(iterable, **kwargs)


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
