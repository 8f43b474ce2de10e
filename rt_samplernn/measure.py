"""Does it sound like music? Per-window loudness, noisiness and pitchedness of audio, and ranges to compare
them against (torch-free; the demo's model card and its test use these same definitions).

- RMS: root mean square per window (silence is near 0).
- Spectral flatness: geometric over arithmetic mean of the power spectrum above DC, averaged over FFT frames
  (white noise about 0.56, a pure tone near 0; recorded music mostly 0.0002-0.04).
- Pitch salience: the height of the normalized autocorrelation's highest peak at a lag of a musical pitch
  (50-1000 Hz), averaged over frames: near 1 for a held note, near 0 for noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

WINDOW_S = 5.0  # seconds per measured window
FFT = 1024  # samples per spectral-flatness frame
PITCH_FRAME = 2048  # samples per autocorrelation frame (128 ms at 16 kHz: six periods of 50 Hz)
PITCH_HZ = (50.0, 1000.0)  # the pitches pitch salience looks for
QUIET_RMS = 1e-3  # frames quieter than this are left out of pitch salience


def windows(x: np.ndarray, rate: int, window_s: float = WINDOW_S) -> list[np.ndarray]:
    """Consecutive whole windows of window_s seconds (a shorter tail is dropped)."""
    size = int(window_s * rate)
    return [x[i : i + size] for i in range(0, len(x) - size + 1, size)]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def flatness_of_spectra(power: np.ndarray) -> np.ndarray:
    """Spectral flatness of power spectra (last axis, DC bin first): geometric over arithmetic mean of the
    bins above DC. The one definition the model card, its test and the watchdog (audio_stats) share."""
    ac = power[..., 1:]
    return np.exp(np.mean(np.log(ac), axis=-1)) / np.mean(ac, axis=-1)


def spectral_flatness(x: np.ndarray) -> float:
    """Mean over Hann-windowed FFT frames of `flatness_of_spectra`."""
    n = len(x) // FFT
    frames = np.asarray(x[: n * FFT], dtype=np.float64).reshape(n, FFT) * np.hanning(FFT)
    return float(np.mean(flatness_of_spectra(np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-12)))


def pitch_salience(x: np.ndarray, rate: int) -> float:
    """Mean over frames of the highest normalized autocorrelation at a pitch lag (Boersma's window-corrected
    autocorrelation: the Hann window's own autocorrelation is divided out). NaN when every frame is quiet."""
    n = len(x) // PITCH_FRAME
    frames = np.asarray(x[: n * PITCH_FRAME], dtype=np.float64).reshape(n, PITCH_FRAME)
    frames = frames[np.sqrt(np.mean(frames**2, axis=1)) > QUIET_RMS]
    if len(frames) == 0:
        return float("nan")
    window = np.hanning(PITCH_FRAME)
    frames = (frames - frames.mean(axis=1, keepdims=True)) * window

    def autocorrelation(a: np.ndarray) -> np.ndarray:
        spectrum = np.fft.rfft(a, 2 * PITCH_FRAME, axis=-1)
        r = np.fft.irfft(np.abs(spectrum) ** 2, axis=-1)[..., :PITCH_FRAME]
        return r / np.maximum(r[..., :1], 1e-20)

    corrected = autocorrelation(frames) / np.maximum(autocorrelation(window), 1e-6)
    lo, hi = int(rate / PITCH_HZ[1]), min(int(rate / PITCH_HZ[0]), PITCH_FRAME // 2)
    return float(np.mean(np.clip(corrected[:, lo : hi + 1].max(axis=1), 0.0, 1.0)))


def window_stats(x: np.ndarray, rate: int, window_s: float = WINDOW_S) -> dict[str, list[float]]:
    """{"rms", "flatness", "pitch_salience"}: one value per whole window of x."""
    ws = windows(x, rate, window_s)
    return {
        "rms": [rms(w) for w in ws],
        "flatness": [spectral_flatness(w) for w in ws],
        "pitch_salience": [pitch_salience(w, rate) for w in ws],
    }


def merge_stats(parts: Sequence[dict[str, list[float]]]) -> dict[str, list[float]]:
    """The window stats of several clips as one set."""
    return {key: [v for part in parts for v in part[key]] for key in ("rms", "flatness", "pitch_salience")}


def percentile_range(values: Sequence[float], low: float = 5.0, high: float = 95.0) -> tuple[float, float]:
    """(low-th, high-th) percentile of the finite values."""
    finite = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    return float(np.percentile(finite, low)), float(np.percentile(finite, high))


def share_within(values: Sequence[float], bounds: tuple[float, float]) -> float:
    """Share of values inside [low, high] (NaN counts as outside)."""
    array = np.asarray(values, dtype=np.float64)
    return float(np.mean((array >= bounds[0]) & (array <= bounds[1]))) if len(array) else 0.0
