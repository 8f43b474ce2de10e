"""Block features of audio, defined once: the live watchdog's ears and the bundle's ``audio_stats`` (torch-free).

Per block of ``BLOCK_FRAMES`` samples (Hann window) `BlockAnalyser.features` gives the AC power (the block's
mean removed: a stuck DC level has none), spectral flatness (geometric over arithmetic mean of the power
spectrum above DC: white noise about 0.56, a pure tone near 0, recorded music mostly 0.0002-0.04), the share of
the energy below ``LOW_HZ`` and the zero-crossing rate. `audio_stats` summarises training audio as percentiles
of one-second windows:

    {"sample_rate": 16000, "window_s": 1.0, "windows": 2817, "block_frames": 1024, "low_hz": 100.0,
     "rms_db": {"p1": -38.2, "p5": ..., "p50": ..., "p95": ..., "p99": ...}, "flatness": {...}, "low_share": {...}}

The music measures (rt_samplernn.measure) build their loudness and flatness on these definitions.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from rt_samplernn.audio import find_audio_files, read_audio
from rt_samplernn.errors import UserError

BLOCK_FRAMES = 1024  # samples per analysis block at the audio's rate (64 ms at 16 kHz)
LOW_HZ = 100.0  # "bass" band edge of low_share
STATS_WINDOW_S = 1.0  # audio_stats are over windows this long
PERCENTILES = (1, 5, 50, 95, 99)
STATS_SILENT_DB = -60.0  # audio_stats: windows quieter than this carry no flatness / low-share information
MANIFEST_KEY = "audio_stats"

# Music measures


def db(power: np.ndarray | float) -> np.ndarray:
    """Power -> dB (floored at -200 dB)."""
    return 10.0 * np.log10(np.maximum(power, 1e-20))


def flatness_of_spectra(power: np.ndarray) -> np.ndarray:
    """Spectral flatness of power spectra (last axis, DC bin first): geometric over arithmetic mean of the
    bins above DC."""
    ac = power[..., 1:]
    return np.exp(np.mean(np.log(ac), axis=-1)) / np.mean(ac, axis=-1)


class BlockAnalyser:
    """Per-block AC power, flatness, low share and zero-crossing rate, for one rate and block size."""

    def __init__(self, sample_rate: int, block_frames: int = BLOCK_FRAMES, low_hz: float = LOW_HZ) -> None:
        self.block_frames = int(block_frames)
        self.window = np.hanning(self.block_frames).astype(np.float32)
        freqs = np.fft.rfftfreq(self.block_frames, 1.0 / sample_rate)
        self.low_bins = int(np.searchsorted(freqs, low_hz, side="right"))  # bins 0 .. low_bins-1 (DC included)

    def features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """x: (rows, block_frames) float32 -> (power, flatness, low_share, zcr), each (rows,) float64."""
        x = x.astype(np.float64)
        ac = x - x.mean(axis=1, keepdims=True)
        power = np.mean(ac * ac, axis=1)
        spec = np.abs(np.fft.rfft(x * self.window, axis=1)) ** 2 + 1e-12  # DC kept for low_share
        flatness = flatness_of_spectra(spec)
        low_share = spec[:, : self.low_bins].sum(axis=1) / spec.sum(axis=1)
        signs = np.signbit(ac)
        zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
        return power, flatness, low_share, zcr

    def blocks(self, x: np.ndarray) -> np.ndarray:
        """The whole blocks of mono x, (rows, block_frames) (a shorter tail is left out)."""
        n = len(x) // self.block_frames
        return np.asarray(x[: n * self.block_frames], np.float32).reshape(n, self.block_frames)

    def loudness_db(self, x: np.ndarray) -> float:
        """dBFS of the mean AC power of x's whole blocks (-200 when x holds no whole block)."""
        blocks = self.blocks(x)
        return float(db(self.features(blocks)[0].mean())) if len(blocks) else -200.0


def window_features(
    audio: np.ndarray, sample_rate: int, window_s: float = STATS_WINDOW_S, block_frames: int = BLOCK_FRAMES
) -> dict[str, np.ndarray]:
    """Per window of whole blocks of mono ``audio``: rms_db (AC), mean flatness, energy-weighted low share."""
    analyser = BlockAnalyser(sample_rate, block_frames)
    per_window = max(1, round(window_s * sample_rate / block_frames))
    windows = len(audio) // block_frames // per_window
    if windows == 0:
        return {"rms_db": np.zeros(0), "flatness": np.zeros(0), "low_share": np.zeros(0)}
    x = np.asarray(audio[: windows * per_window * block_frames], np.float32).reshape(-1, block_frames)
    power, flatness, low_share, _ = analyser.features(x)
    energy = power + 1e-20
    shape = (windows, per_window)
    return {
        "rms_db": db(power.reshape(shape).mean(axis=1)),
        "flatness": flatness.reshape(shape).mean(axis=1),
        "low_share": (low_share * energy).reshape(shape).sum(axis=1) / energy.reshape(shape).sum(axis=1),
    }


def audio_stats(
    paths: Iterable[str | Path],
    sample_rate: int,
    window_s: float = STATS_WINDOW_S,
    max_seconds_per_file: float = 600.0,
) -> dict[str, Any]:
    """The ``audio_stats`` manifest entry for recordings (files or folders, searched recursively).

    Each file is read as the model hears it (mono, ``sample_rate``, peak-normalised), at most
    ``max_seconds_per_file`` of it, so memory stays bounded. Raises UserError for no audio at all.
    """
    from rt_samplernn.audio import to_model_audio

    paths = list(paths)
    parts: dict[str, list[np.ndarray]] = {"rms_db": [], "flatness": [], "low_share": []}
    for f in find_audio_files(paths):
        audio, rate = read_audio(f, max_seconds_per_file)
        feats = window_features(to_model_audio(audio, rate, sample_rate), sample_rate, window_s)
        loud = feats["rms_db"] > STATS_SILENT_DB
        parts["rms_db"].append(feats["rms_db"])
        parts["flatness"].append(feats["flatness"][loud])
        parts["low_share"].append(feats["low_share"][loud])
    merged = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
    if len(merged["flatness"]) == 0:
        raise UserError(f"no audible audio of {window_s:g} s or more in {', '.join(map(str, paths))}")
    stats: dict[str, Any] = {
        "sample_rate": int(sample_rate),
        "window_s": float(window_s),
        "windows": int(len(merged["rms_db"])),
        "block_frames": BLOCK_FRAMES,
        "low_hz": LOW_HZ,
    }
    for key, values in merged.items():
        stats[key] = {f"p{q}": round(float(np.percentile(values, q)), 5) for q in PERCENTILES}
    return stats
