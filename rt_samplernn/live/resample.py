"""The worker's streaming resampler from the model's rate to the device's: a steady share of output per block.

pedalboard's `StreamResampler` (JUCE's windowed-sinc interpolator) gives back about ``ratio * n`` frames for
every ``n`` it is fed, from the second block on (the first also fills the filter's look-ahead). soxr's
streaming resampler, used before, gives its output in lumps: at 8 -> 48 kHz nothing for four blocks of 256,
then 140 ms at once, so a 50 ms ring ran dry while the worker fed it (689 underruns a minute of the 8 kHz
demo on JACK at 48 kHz; benchmarks/RESULTS.md). A lump also sits in the resampler before it is heard, which
is knob latency. The filter: `QUALITY`, a 32-tap windowed sinc, images at least 85 dB down up to 3/4 of the
model's Nyquist (tests/test_resample.py). On an x86 CPU without AVX, where pedalboard cannot run
(rt_samplernn.live.cpu.pedalboard_runs_here), soxr's stream ("HQ") stands in: it plays, lumps and all (give
such a CPU a larger --latency-ms).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rt_samplernn.live.cpu import pedalboard_runs_here

QUALITY = "WindowedSinc32"  # pedalboard.Resample.Quality's name


class DeviceResampler:
    """Resamples the worker's mixed blocks, (frames, channels) float32, from ``source_rate`` to ``target_rate``.

    ``steady``: pedalboard's resampler (True), or soxr's where pedalboard cannot run (False). Imported here,
    not at the module's import: pedalboard takes 0.1 s to import, and a Player without resampling needs neither.
    """

    def __init__(self, source_rate: int, target_rate: int, channels: int) -> None:
        self.source_rate, self.target_rate, self.channels = int(source_rate), int(target_rate), int(channels)
        self.steady = pedalboard_runs_here()
        self._stream: Any
        if self.steady:
            import pedalboard
            from pedalboard.io import StreamResampler

            quality = getattr(pedalboard.Resample.Quality, QUALITY)
            self._stream = StreamResampler(float(source_rate), float(target_rate), self.channels, quality)
        else:
            import soxr

            self._stream = soxr.ResampleStream(source_rate, target_rate, self.channels, dtype="float32", quality="HQ")
        self._fed = 0  # source frames fed
        self._given = 0  # target frames given back

    def process(self, block: np.ndarray) -> np.ndarray:
        """The device frames for ``block`` (frames, channels): about ``ratio`` times as many, every call."""
        if self.steady:
            out = np.ascontiguousarray(self._stream.process(np.ascontiguousarray(block.T, dtype=np.float32)).T)
        else:
            out = self._stream.resample_chunk(np.ascontiguousarray(block, dtype=np.float32))
        self._fed += block.shape[0]
        self._given += out.shape[0]
        return out

    @property
    def delay_frames(self) -> float:
        """Device frames fed in and not yet given back (the filter's look-ahead): part of the knob latency."""
        return self._fed * self.target_rate / self.source_rate - self._given
