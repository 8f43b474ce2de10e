"""Pure-NumPy helpers behind the window's drawings (no Qt): waveform thumbnails, scope traces, spectra.

Kept apart from the widgets so they test headless and cost nothing to import. All inputs are float audio
in [-1, 1]; outputs are small arrays sized for drawing (one value per pixel column or per bin).
"""

from __future__ import annotations

import numpy as np


def envelope(audio: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """(mins, maxs), each (columns,) float32: the min and max of each of `columns` equal slices of a clip.

    audio: (frames,) or (frames, channels) (channels are averaged). An empty clip gives zeros.
    """
    columns = max(1, int(columns))
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.size == 0:
        z = np.zeros(columns, np.float32)
        return z, z.copy()
    edges = np.linspace(0, x.size, columns + 1).astype(np.int64)
    edges[1:] = np.maximum(edges[1:], edges[:-1] + 1)  # every column gets at least one sample
    edges = np.minimum(edges, x.size)
    starts = np.minimum(edges[:-1], x.size - 1)
    mins = np.minimum.reduceat(x, starts)
    maxs = np.maximum.reduceat(x, starts)
    return mins.astype(np.float32), maxs.astype(np.float32)


def trigger_offset(x: np.ndarray, span: int) -> int:
    """Index of the first rising zero crossing that leaves `span` samples after it (0 if none): steadies a scope."""
    x = np.asarray(x)
    limit = x.size - span
    if limit <= 1:
        return 0
    head = x[:limit]
    rising = np.flatnonzero((head[:-1] <= 0.0) & (head[1:] > 0.0))
    return int(rising[0] + 1) if rising.size else 0


class Spectrum:
    """Magnitude spectrum in dBFS of the newest `size` samples, Hann-windowed; the window is made once."""

    def __init__(self, size: int = 1024, sample_rate: int = 16000, floor_db: float = -100.0):
        self.size = int(size)
        self.sample_rate = int(sample_rate)
        self.floor_db = float(floor_db)
        self.window = np.hanning(self.size).astype(np.float32)
        self.norm = 2.0 / float(self.window.sum())  # a full-scale sine reads 0 dBFS
        self.freqs = np.fft.rfftfreq(self.size, 1.0 / self.sample_rate).astype(np.float32)

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        """(size // 2 + 1,) float32 dBFS, clipped below at floor_db; zero-pads clips shorter than size."""
        x = np.asarray(audio, dtype=np.float32)[-self.size :]
        if x.size < self.size:
            x = np.concatenate([np.zeros(self.size - x.size, np.float32), x])
        mag = np.abs(np.fft.rfft(x * self.window)) * self.norm
        return np.maximum(20.0 * np.log10(mag + 1e-12), self.floor_db).astype(np.float32)


def log_bins(freqs: np.ndarray, db: np.ndarray, bins: int, f_min: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Reduce a linear spectrum to `bins` log-spaced bands (max per band) for drawing: (centers_hz, db)."""
    f_max = float(freqs[-1]) if freqs.size else 1.0
    f_min = min(f_min, f_max / 2)
    edges = np.geomspace(max(f_min, 1e-3), f_max, bins + 1)
    idx = np.clip(np.searchsorted(freqs, edges), 0, freqs.size - 1)
    out = np.empty(bins, np.float32)
    for i in range(bins):
        lo, hi = idx[i], max(idx[i + 1], idx[i] + 1)
        out[i] = db[lo:hi].max()
    return np.sqrt(edges[:-1] * edges[1:]).astype(np.float32), out


def peak_dbfs(x: np.ndarray) -> float:
    """Peak level of a block in dBFS (-120 for silence)."""
    x = np.asarray(x)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return 20.0 * float(np.log10(peak)) if peak > 1e-6 else -120.0
