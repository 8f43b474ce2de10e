"""Real recorded music for tests: Drascula's soundtrack from the Debian package drascula-music."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

DRASCULA = Path("/usr/share/scummvm/drascula/audio")


def drascula_track(n: int) -> Path:
    path = DRASCULA / f"track{n}.ogg"
    if not path.is_file():
        if os.environ.get("CI"):
            raise FileNotFoundError(f"{path}: CI must install drascula-music")
        pytest.skip("real audio missing: apt-get install drascula-music")
    return path


def write_excerpt(src: Path, dst: Path, start_s: float, seconds: float, rate: int = 16000) -> Path:
    """A mono 16 kHz WAV excerpt of a recording (soundfile reads the OGG, soxr resamples)."""
    info = soundfile.info(str(src))
    start = int(start_s * info.samplerate)
    data, sr = soundfile.read(
        str(src), start=start, frames=int(seconds * info.samplerate), dtype="float32", always_2d=True
    )
    mono = soxr.resample(data.mean(axis=1), sr, rate).astype(np.float32)
    soundfile.write(str(dst), mono, rate, subtype="PCM_16")
    return dst
