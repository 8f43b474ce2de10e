"""Reading audio files and preparing clips for a model: mono, the model's rate, peak-normalized (torch-free).

Every audio file this project reads goes through `read_audio` or `FileClip` (training data, seeds, seed slots,
the bundle's music clip, `measure`, the audio statistics). Both refuse what is not audio in one line naming
the file: a header claiming a rate outside MIN_SAMPLE_RATE..MAX_SAMPLE_RATE, no audio at all, and NaN or
infinite samples (a float file can hold them; they would be scored as silence or primed as zeros), with
how many there are and where the first is (`non_finite_error`).
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import soundfile
import soxr

from rt_samplernn.config import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from rt_samplernn.errors import UserError

PEAK = 0.95  # training clips and seed clips are scaled so their peak is this
BLOCK_FRAMES = 65536  # frames read and resampled at a time when preparing a clip (any size gives the same result)
# Audio files whose header claims a rate outside [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE] are refused (a lying
# header would otherwise be resampled by a huge factor); models' rates have the same range (config.py).
# What `generate --out` and `play --record` write, by extension: (libsndfile format, subtype).
OUTPUT_FORMATS = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".aiff": ("AIFF", "PCM_16"),
    ".aif": ("AIFF", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".oga": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}


def audio_extensions() -> set[str]:
    """File extensions soundfile (libsndfile) can read, lower case with the dot."""
    exts = {f".{fmt.lower()}" for fmt in soundfile.available_formats()}
    return exts | {".aif", ".oga", ".opus"}


def output_format(path: Path) -> tuple[str, str]:
    """(format, subtype) that the file's extension names, if this libsndfile writes it; else a UserError."""
    supported = {ext: fs for ext, fs in OUTPUT_FORMATS.items() if soundfile.check_format(*fs)}
    found = supported.get(path.suffix.lower())
    if found is None:
        raise UserError(
            f"{path}: cannot write {path.suffix or 'a file without extension'}; "
            f"use one of {', '.join(sorted(supported))}"
        )
    return found


def checked_rate(path: Path, rate: int) -> int:
    """The rate a file's header claims, if it is in [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]; else a UserError."""
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise UserError(
            f"{path}: its header claims {rate} Hz; audio files from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz are "
            "read (the file is damaged or not what its header says)"
        )
    return int(rate)


def find_audio_files(paths: Sequence[str | Path]) -> list[Path]:
    """Files given, plus every audio file under folders given (recursive, sorted)."""
    exts = audio_extensions()
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in exts))
        elif p.is_file():
            found.append(p)
        else:
            raise UserError(f"{p}: no such file or folder")
    return found


def non_finite_error(path: Path, rate: int, count: int, first_frame: int) -> UserError:
    """The one message for a file holding NaN or infinite samples: how many, and where the first one is."""
    return UserError(
        f"{path}: {count} sample(s) are NaN or infinite, the first at {first_frame / rate:.3f} s (frame "
        f"{first_frame}); the file is damaged or not audio: export or convert it again"
    )


def _non_finite(block: np.ndarray) -> tuple[int, int]:
    """(NaN and infinite samples in a (frames, channels) block, the frame of the first; -1 when none)."""
    bad = ~np.isfinite(block)
    if not bad.any():
        return 0, -1
    return int(bad.sum()), int(np.argmax(bad.any(axis=1)))


def read_audio(path: str | Path, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """float32 (frames, channels) and the file's rate (with max_seconds: at most that much from the start); a
    UserError naming the file if it cannot be read, holds no audio or holds NaN or infinite samples."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: {'is a folder, not an audio file' if path.is_dir() else 'no such file'}")
    try:
        rate = checked_rate(path, soundfile.info(str(path)).samplerate)
        frames = -1 if max_seconds is None else int(max_seconds * rate)
        data, rate = soundfile.read(str(path), frames=frames, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read audio ({str(e).strip() or type(e).__name__})") from None
    if data.size == 0:
        raise UserError(f"{path}: the file holds no audio")
    count, first = _non_finite(data)
    if count:
        raise non_finite_error(path, int(rate), count, first)
    return data, int(rate)


class ArrayClip:
    """A clip in memory, (frames,) or (frames, channels) at `rate` Hz, read in blocks like a file."""

    def __init__(self, audio: np.ndarray, rate: int):
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim not in (1, 2):
            raise UserError(f"audio must be (frames,) or (frames, channels), got shape {audio.shape}")
        self.audio, self.rate = audio, int(rate)
        self.seconds = len(audio) / float(self.rate)

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        for start in range(0, len(self.audio), block_frames):
            yield self.audio[start : start + block_frames]


class FileClip:
    """An audio file read in blocks, never whole: what priming from a file holds is one block."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(
                f"{self.path}: {'is a folder, not an audio file' if self.path.is_dir() else 'no such file'}"
            )
        try:
            info = soundfile.info(str(self.path))
        except (soundfile.LibsndfileError, RuntimeError, OSError, ValueError) as e:
            raise UserError(f"{self.path}: cannot read audio ({str(e).strip() or type(e).__name__})") from None
        if info.frames == 0:
            raise UserError(f"{self.path}: the file holds no audio")
        self.rate = checked_rate(self.path, info.samplerate)
        self.channels = int(info.channels)
        self.seconds = info.frames / float(self.rate)

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        """The file's samples, float32 (frames, channels), block_frames at a time; a block holding NaN or
        infinite samples is never yielded: the rest of the file is counted (a block at a time) and a UserError
        says how many there are and where the first is."""
        try:
            with soundfile.SoundFile(str(self.path)) as f:
                start = 0
                while True:
                    block = f.read(block_frames, dtype="float32", always_2d=True)
                    if len(block) == 0:
                        return
                    count, first = _non_finite(block)
                    if count:
                        while len(rest := f.read(block_frames, dtype="float32", always_2d=True)):
                            count += _non_finite(rest)[0]
                        raise non_finite_error(self.path, self.rate, count, start + first)
                    yield block
                    start += len(block)
        except (soundfile.LibsndfileError, RuntimeError, OSError, ValueError) as e:
            raise UserError(f"{self.path}: cannot read audio ({str(e).strip() or type(e).__name__})") from None


Clip = ArrayClip | FileClip


def as_clip(audio: np.ndarray | Clip, rate: int | None) -> Clip:
    """A clip as given, or an array (any rate, mono or (frames, channels)) wrapped as one."""
    if isinstance(audio, (ArrayClip, FileClip)):
        if rate is not None and int(rate) != audio.rate:
            raise UserError(f"the clip's rate is {audio.rate} Hz, not {rate} Hz")
        return audio
    if rate is None:
        raise UserError("an audio array needs its sample rate")
    return ArrayClip(audio, rate)


def mono_blocks(clip: Clip, sample_rate: int, block_frames: int | None = None) -> Iterator[np.ndarray]:
    """The clip as float32 mono at sample_rate, block by block (BLOCK_FRAMES of the clip), not yet normalized:
    the mean of the channels, then soxr's streaming resampler ("HQ"; the same samples as soxr.resample on the
    whole clip, whatever the block size), NaN and inf -> 0."""
    block_frames = block_frames or BLOCK_FRAMES
    stream = None
    if clip.rate != sample_rate:
        stream = soxr.ResampleStream(clip.rate, sample_rate, 1, dtype="float32", quality="HQ")
    pending = None
    for block in itertools.chain(clip.blocks(block_frames), [None]):
        if pending is not None:
            mono = pending.mean(axis=1) if pending.ndim == 2 else np.ascontiguousarray(pending)
            if stream is not None:
                mono = stream.resample_chunk(mono, last=block is None)
            yield np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
        pending = block


def peak_of(blocks: Iterable[np.ndarray]) -> tuple[float, int]:
    """(max |x|, number of samples) over blocks of samples."""
    peak, n = 0.0, 0
    for x in blocks:
        if x.size:
            peak = max(peak, float(np.max(np.abs(x))))
        n += len(x)
    return peak, n


def normalized(audio: np.ndarray, peak: float | None) -> np.ndarray:
    """Scale so that `peak` (the whole clip's, None: no scaling) becomes PEAK, clip to [-1, 1], as float32."""
    if peak is not None and peak > 1e-6:
        audio = audio * (PEAK / peak)
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def peak_and_length(clip: Clip, sample_rate: int, block_frames: int | None = None) -> tuple[float, int]:
    """(peak |x|, samples) of the clip as mono at sample_rate: one pass, one block at a time."""
    return peak_of(mono_blocks(clip, sample_rate, block_frames))


def model_audio_blocks(
    clip: Clip, sample_rate: int, peak: float, block_frames: int | None = None
) -> Iterator[np.ndarray]:
    """The clip prepared for a model, block by block: mono, sample_rate, scaled by its peak (from `peak_and_length`).
    Joined, the blocks equal to_model_audio(whole clip) exactly, whatever block_frames."""
    return (normalized(x, peak) for x in mono_blocks(clip, sample_rate, block_frames))


def to_model_audio(audio: np.ndarray, rate: int, sample_rate: int, normalize: bool = True) -> np.ndarray:
    """Any clip -> float32 mono at sample_rate: downmix, resample with soxr, scale the peak to PEAK."""
    blocks = list(mono_blocks(ArrayClip(audio, rate), sample_rate))
    mono = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    return normalized(mono, peak_of([mono])[0] if normalize else None)


def read_tail(path: str | Path, seconds: float) -> tuple[np.ndarray, int, float]:
    """(the last `seconds` of a file as float32 mono, its rate, the file's length in seconds), read in blocks."""
    clip = FileClip(path)
    keep = max(1, round(seconds * clip.rate))
    tail: collections.deque[np.ndarray] = collections.deque()
    held = 0
    for block in clip.blocks(BLOCK_FRAMES):  # keeps the blocks that end the file, no more
        tail.append(block.mean(axis=1))
        held += len(block)
        while held - len(tail[0]) >= keep:
            held -= len(tail.popleft())
    return np.concatenate(tail)[-keep:], clip.rate, clip.seconds


def load_for_model(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read a file and prepare it for a model (mono, sample_rate, peak-normalized)."""
    data, rate = read_audio(path)
    return to_model_audio(data, rate, sample_rate)
