"""Running `rt-samplernn` in this process from a test, for the one-line errors a user's mistake must give."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from rt_samplernn.cli import main


def one_error_line(args: Sequence[object], capsys: pytest.CaptureFixture[str]) -> str:
    """Run `rt-samplernn ARGS`: it must fail (exit 1) with one line on stderr and no traceback; that line."""
    assert main([str(a) for a in args]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()
