"""Reading audio files and preparing clips for a model: mono, the model's rate, peak-normalized (torch-free)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import soxr

from rt_samplernn.errors import UserError

PEAK = 0.95  # training clips and seed clips are scaled so their peak is this


def audio_extensions() -> set[str]:
    """File extensions soundfile (libsndfile) can read, lower case with the dot."""
    exts = {f".{fmt.lower()}" for fmt in soundfile.available_formats()}
    return exts | {".aif", ".oga", ".opus"}


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """float32 (frames, channels) and the file's rate; a UserError naming the file if it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read audio ({str(e).strip() or type(e).__name__})") from None
    if data.size == 0:
        raise UserError(f"{path}: the file holds no audio")
    return data, int(rate)


def to_model_audio(audio: np.ndarray, rate: int, sample_rate: int, normalize: bool = True) -> np.ndarray:
    """Any clip -> float32 mono at sample_rate: downmix, resample with soxr, scale the peak to PEAK."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    elif audio.ndim != 1:
        raise UserError(f"audio must be (frames,) or (frames, channels), got shape {audio.shape}")
    if rate != sample_rate:
        audio = soxr.resample(audio, rate, sample_rate, quality="HQ").astype(np.float32)
    audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    if normalize:
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > 1e-6:
            audio = audio * (PEAK / peak)
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def load_for_model(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read a file and prepare it for a model (mono, sample_rate, peak-normalized)."""
    data, rate = read_audio(path)
    return to_model_audio(data, rate, sample_rate)


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write float audio (frames,) or (frames, channels) as 16-bit PCM WAV, atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part")
    try:
        soundfile.write(str(tmp), np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write ({e.strerror})") from None
