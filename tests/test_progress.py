"""Progress bars: live on a terminal, throttled in a log; `generate` from a bundle shows one."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from rt_samplernn.progress import progress_bar
from tests.stream_helpers import tiny_bundle

ROOT = Path(__file__).resolve().parent.parent


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_a_line_per_half_minute_and_a_terminal_gets_live_updates():
    log, tty = io.StringIO(), Terminal()
    for stream, kwargs in ((log, {}), (tty, {"mininterval": 0.0})):
        with progress_bar(total=300, file=stream, **kwargs) as bar:
            for _ in range(300):
                bar.update(1)
    assert log.getvalue().count("\r") <= 3  # start and end only (tqdm's default: one per update here)
    assert tty.getvalue().count("\r") > 100


def test_generate_from_a_bundle_shows_progress_and_matches_one_engine_call(tmp_path):
    pytest.importorskip("torch")
    bundle = tiny_bundle(tmp_path)
    out = tmp_path / "g.wav"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rt_samplernn",
            "generate",
            str(bundle),
            "--seconds",
            "1.2",
            "--seed",
            "3",
            "--limiter",
            "off",  # compared with the engine's own samples: no limiter's lookahead in between
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "sample" in proc.stderr and "%" in proc.stderr  # the bar (tqdm: "...| 19.2k/19.2k [...sample/s]")
    from rt_samplernn.live.engine import Engine

    audio, _ = soundfile.read(str(out), dtype="float32")
    expected = Engine(bundle, voices=1, seed=3, provider="cpu").generate(19200)[0]
    np.testing.assert_allclose(audio, expected, atol=1 / 32767)  # blocks give the same samples as one call
