"""Does it sound like this music? Every measure of audio the project uses, defined once (torch-free, NumPy).

Two families share the definitions below:

* **Block features** (the live watchdog's, and the bundle's ``audio_stats``): defined in
  `rt_samplernn.block_features` (power, flatness, low share, zero-crossing rate per block).

* **Music measures** per window of ``WINDOW_S`` seconds of mono audio at its own rate (`Windows`):

  - ``loudness_db``: dBFS of the mean AC power of the window's blocks (the level above);
  - ``flatness``: the mean block flatness (above);
  - ``pitch_salience``: the highest normalized autocorrelation at a lag of a 50-1000 Hz pitch, window-corrected
    (Boersma), averaged over frames of ``PITCH_FRAME_S``: near 1 for a held note, near 0 for noise;
  - ``rhythmicity``: the onset-strength envelope (positive spectral flux of log-mel frames at ``HOP_S`` hops,
    averaged over bands), its highest normalized autocorrelation peak at lags of 0.2-1.0 s: how strongly the
    window repeats at a beat's period (Drascula's rhythmic tracks about 0.4; a held note or noise near 0);
  - ``spectral_dynamics``: the spread (standard deviation) over time of each mel band's log energy, averaged
    over the bands: how much the sound moves (natural log of power);
  - the share of silent one-second windows (under rt_samplernn.judge's ``silent_db``).

  Timbre measures of a window under ``NO_SOUND_DB`` are NaN (nothing to judge); NaN counts as outside a range.
  The classifier two-sample test (`rt_samplernn.two_sample.classifier_auc`) tells two sets of windows apart by their log-mel statistics
  (mean and spread of each of ``MEL_BANDS`` bands), standardized, with a logistic regression, as a 5-fold
  cross-validated AUC: 0.5 cannot tell them apart, 1.0 always can.

`music_windows` reads music as a model hears it (mono, resampled with soxr to the generated audio's rate,
peak-normalised per file), in blocks, sampling at most ``max_minutes`` of windows evenly; `compare` sets one
voice against it, and rt_samplernn.judge's `verdict` (its thresholds in one place) says what that comparison
means, in words (`Comparison.verdict`) and against the issue's floor (`Comparison.floor`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rt_samplernn import judge
from rt_samplernn.audio import FileClip, find_audio_files, model_audio_blocks, peak_and_length
from rt_samplernn.block_features import BlockAnalyser, db
from rt_samplernn.errors import UserError
from rt_samplernn.judge import THRESHOLDS, Row
from rt_samplernn.two_sample import classifier_auc

WINDOW_S = 2.0  # seconds per window of the music measures
SILENCE_WINDOW_S = 1.0  # the silent share counts windows this long (each music window's two halves)
NO_SOUND_DB = -60.0  # a window under this has no flatness, pitch, rhythm or dynamics
PITCH_FRAME_S = 0.128  # seconds per autocorrelation frame of pitch salience (six periods of 50 Hz)
PITCH_HZ = (50.0, 1000.0)  # the pitches pitch salience looks for
QUIET_RMS = 1e-3  # pitch frames quieter than this are left out
MEL_FRAME_S = 0.05  # log-mel frame (rounded to a power of two in samples)
HOP_S = 0.01  # log-mel hop: the onset envelope's time step
MEL_BANDS = 32
MEL_LOW_HZ = 30.0
MEL_FLOOR = 1e-8  # power floor of the log-mel bands (-80 dB): silence reads as a constant, not as noise
BEAT_LAGS_S = (0.2, 1.0)  # rhythmicity looks for periods in this range
ONSET_FLOOR = 0.01  # an onset envelope varying less than this (log units per frame) has no rhythm
MAX_MINUTES = 20.0  # default cap on the audio analysed per voice and for the music
MEASURES = ("loudness_db", "flatness", "pitch_salience", "rhythmicity", "spectral_dynamics")
UNITS = {"loudness_db": "dBFS", "flatness": "", "pitch_salience": "", "rhythmicity": "", "spectral_dynamics": ""}


# ----------------------------------------------------------------------------------------------- music measures


def mel_filters(sample_rate: int, n_fft: int, bands: int = MEL_BANDS, low_hz: float = MEL_LOW_HZ) -> np.ndarray:
    """(bands, n_fft // 2 + 1) triangular filters evenly spaced on the mel scale from low_hz to Nyquist; a band
    narrower than a bin takes the bin nearest its centre."""

    def mel(hz: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    def hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(low_hz), mel(sample_rate / 2.0), bands + 2))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    weights = np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    for b in np.flatnonzero(weights.sum(axis=1) == 0):
        weights[b, np.argmin(np.abs(freqs - edges[b + 1]))] = 1.0
    return weights


class WindowAnalyser:
    """The music measures of one window of mono audio at one rate (filters and windows precomputed)."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = int(sample_rate)
        self.window_frames = int(round(WINDOW_S * sample_rate))
        self.blocks = BlockAnalyser(sample_rate)
        self.n_fft = 2 ** int(round(math.log2(MEL_FRAME_S * sample_rate)))
        self.hop = max(1, int(round(HOP_S * sample_rate)))
        self.mel_window = np.hanning(self.n_fft)
        self.mel = mel_filters(sample_rate, self.n_fft) / np.sum(self.mel_window) ** 2
        hop_s = self.hop / sample_rate
        self.lags = (int(math.ceil(BEAT_LAGS_S[0] / hop_s)), int(BEAT_LAGS_S[1] / hop_s))
        self.pitch_frame = int(round(PITCH_FRAME_S * sample_rate))
        self.pitch_window = np.hanning(self.pitch_frame)
        self.pitch_window_ac = self._autocorrelation(self.pitch_window)
        self.pitch_lags = (int(sample_rate / PITCH_HZ[1]), min(int(sample_rate / PITCH_HZ[0]), self.pitch_frame // 2))

    def log_mel(self, x: np.ndarray) -> np.ndarray:
        """(frames, MEL_BANDS) natural log of mel-band power, frames of n_fft at hop samples."""
        frames = np.lib.stride_tricks.sliding_window_view(np.asarray(x, np.float64), self.n_fft)[:: self.hop]
        power = np.abs(np.fft.rfft(frames * self.mel_window, axis=1)) ** 2
        return np.log(power @ self.mel.T + MEL_FLOOR)

    def onset_envelope(self, log_mel: np.ndarray) -> np.ndarray:
        """Onset strength at each log-mel hop: the positive spectral flux averaged over the bands (value i: frame
        i + 1 against frame i, heard at `onset_time_s` (i))."""
        return np.maximum(np.diff(log_mel, axis=0), 0.0).mean(axis=1)

    def onset_time_s(self, index: np.ndarray | int) -> np.ndarray:
        """Seconds from the audio's start to onset-envelope value ``index``: the centre of its later frame."""
        return ((np.asarray(index) + 1) * self.hop + self.n_fft / 2) / self.sample_rate

    def strongest_onset_s(self, x: np.ndarray) -> float | None:
        """Seconds from the start of mono ``x`` to its strongest onset; None when it is too short for two
        frames or holds no onset (an envelope under ONSET_FLOOR: silence, a held note)."""
        if len(x) < self.n_fft + self.hop:
            return None
        onset = self.onset_envelope(self.log_mel(x))
        strongest = int(np.argmax(onset))
        return float(self.onset_time_s(strongest)) if onset[strongest] >= ONSET_FLOOR else None

    def rhythmicity(self, log_mel: np.ndarray) -> float:
        """Highest normalized autocorrelation peak of the onset envelope at BEAT_LAGS_S (0: none)."""
        onset = self.onset_envelope(log_mel)
        onset = onset - onset.mean()
        n = len(onset)
        lo, hi = self.lags
        if n <= hi + 1:
            return float("nan")
        r = np.correlate(onset, onset, mode="full")[n - 1 : n - 1 + hi + 2]
        r = r / max(r[0], n * ONSET_FLOOR**2)
        inner = r[lo : hi + 1]
        peaks = inner[(inner >= r[lo - 1 : hi]) & (inner >= r[lo + 1 : hi + 2])]
        return float(max(0.0, peaks.max())) if len(peaks) else 0.0

    @staticmethod
    def _autocorrelation(a: np.ndarray) -> np.ndarray:
        frame = a.shape[-1]
        spectrum = np.fft.rfft(a, 2 * frame, axis=-1)
        r = np.fft.irfft(np.abs(spectrum) ** 2, axis=-1)[..., :frame]
        return r / np.maximum(r[..., :1], 1e-20)

    def pitch_salience(self, x: np.ndarray) -> float:
        """Mean over frames of the highest window-corrected normalized autocorrelation at a pitch lag
        (NaN when every frame is quiet)."""
        n = len(x) // self.pitch_frame
        frames = np.asarray(x[: n * self.pitch_frame], np.float64).reshape(n, self.pitch_frame)
        frames = frames[np.sqrt(np.mean(frames**2, axis=1)) > QUIET_RMS]
        if len(frames) == 0:
            return float("nan")
        frames = (frames - frames.mean(axis=1, keepdims=True)) * self.pitch_window
        corrected = self._autocorrelation(frames) / np.maximum(self.pitch_window_ac, 1e-6)
        lo, hi = self.pitch_lags
        return float(np.mean(np.clip(corrected[:, lo : hi + 1].max(axis=1), 0.0, 1.0)))

    def measure(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One window -> (measures in MEASURES order, loudness of its two halves, classifier features)."""
        half = len(x) // 2
        halves = np.array([self.blocks.loudness_db(x[:half]), self.blocks.loudness_db(x[half:])])
        blocks = self.blocks.blocks(x)
        power, flatness, _, _ = self.blocks.features(blocks)
        loudness = float(db(power.mean()))
        log_mel = self.log_mel(x)
        features = np.concatenate([log_mel.mean(axis=0), log_mel.std(axis=0)])
        if loudness < NO_SOUND_DB:
            values = [loudness, math.nan, math.nan, math.nan, math.nan]
        else:
            values = [
                loudness,
                float(flatness.mean()),
                self.pitch_salience(x),
                self.rhythmicity(log_mel),
                float(log_mel.std(axis=0).mean()),
            ]
        return np.array(values), halves, features


@dataclass
class Windows:
    """Per-window music measures of one voice, or of a set of music files (``group``: which file)."""

    sample_rate: int
    values: np.ndarray  # (windows, len(MEASURES))
    halves_db: np.ndarray  # (windows, 2): loudness of each window's one-second halves
    features: np.ndarray  # (windows, 2 * MEL_BANDS): the classifier's log-mel statistics
    group: np.ndarray  # (windows,) int: the file each window came from
    seconds: float = 0.0  # audio length read (before sampling windows)
    names: list[str] = field(default_factory=list)  # the files, by group

    def __len__(self) -> int:
        return len(self.values)

    def measure(self, name: str) -> np.ndarray:
        """(windows,) values of one of MEASURES."""
        return self.values[:, MEASURES.index(name)]

    def silent_share(self) -> float:
        """Share of one-second windows under the judge's silent_db (NaN without windows)."""
        return float(np.mean(self.halves_db < THRESHOLDS.silent_db)) if len(self) else math.nan

    def select(self, rows: np.ndarray) -> Windows:
        return Windows(
            self.sample_rate,
            self.values[rows],
            self.halves_db[rows],
            self.features[rows],
            self.group[rows],
            self.seconds,
            self.names,
        )

    @staticmethod
    def join(parts: Sequence[Windows], sample_rate: int) -> Windows:
        """Several clips' windows as one set, each clip its own group."""
        if not parts:
            empty = np.zeros((0, len(MEASURES)))
            return Windows(sample_rate, empty, np.zeros((0, 2)), np.zeros((0, 2 * MEL_BANDS)), np.zeros(0, int))
        return Windows(
            sample_rate,
            np.concatenate([p.values for p in parts]),
            np.concatenate([p.halves_db for p in parts]),
            np.concatenate([p.features for p in parts]),
            np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)]),
            sum(p.seconds for p in parts),
            [n for p in parts for n in p.names],
        )


Measured = tuple[np.ndarray, np.ndarray, np.ndarray]  # WindowAnalyser.measure of one window


def _collect(analyser: WindowAnalyser, windows: Iterable[np.ndarray], name: str, seconds: float) -> Windows:
    return _windows_from(analyser.sample_rate, [analyser.measure(w) for w in windows], name, seconds)


def _windows_from(sample_rate: int, measured: Sequence[Measured], name: str, seconds: float) -> Windows:
    if not measured:
        return Windows.join([], sample_rate)
    return Windows(
        sample_rate,
        np.array([m[0] for m in measured]),
        np.array([m[1] for m in measured]),
        np.array([m[2] for m in measured]),
        np.zeros(len(measured), int),
        seconds,
        [name],
    )


def _sampled(count: int, keep: int) -> set[int]:
    """Indices of at most `keep` of `count` windows, evenly spread."""
    if count <= keep:
        return set(range(count))
    return {int(i) for i in np.linspace(0, count - 1, max(keep, 1)).round()}


def _windows_of(blocks: Iterable[np.ndarray], window_frames: int, wanted: set[int]) -> Iterator[np.ndarray]:
    """The wanted whole windows of a stream of blocks ((frames,) or (frames, channels)); one window held."""
    pending: list[np.ndarray] = []
    held = 0
    index = 0
    for block in blocks:
        pending.append(block)
        held += len(block)
        while held >= window_frames:
            joined = np.concatenate(pending)
            if index in wanted:
                yield joined[:window_frames]
            index += 1
            rest = joined[window_frames:]
            pending, held = [rest], len(rest)
        if index > max(wanted, default=-1):
            return


def measure_voices(audio: np.ndarray, sample_rate: int, name: str = "audio") -> list[Windows]:
    """Per-window measures of each voice: audio (frames,) is one voice, (voices, frames) several."""
    audio = np.nan_to_num(np.asarray(audio, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    rows = audio[None] if audio.ndim == 1 else audio
    analyser = WindowAnalyser(sample_rate)
    count = rows.shape[1] // analyser.window_frames
    return [
        _collect(
            analyser,
            (row[i * analyser.window_frames : (i + 1) * analyser.window_frames] for i in range(count)),
            name if len(rows) == 1 else f"{name} voice {v + 1}",
            rows.shape[1] / sample_rate,
        )
        for v, row in enumerate(rows)
    ]


def measure_file_voices(path: str | Path, max_minutes: float = MAX_MINUTES) -> list[Windows]:
    """Per-window measures of each channel of a generated file (each channel one voice), at the file's rate,
    read in blocks, at most max_minutes of windows sampled evenly. A file holding NaN or infinite samples is a
    UserError saying how many and where (audio.FileClip), never scored as silence."""
    clip = FileClip(path)
    analyser = WindowAnalyser(clip.rate)
    count = int(clip.seconds * clip.rate) // analyser.window_frames
    wanted = _sampled(count, int(max_minutes * 60 / WINDOW_S))
    channels = clip.channels
    measured: list[list[Measured]] = [[] for _ in range(channels)]
    for window in _windows_of(clip.blocks(1 << 16), analyser.window_frames, wanted):  # one window held
        for c in range(channels):
            measured[c].append(analyser.measure(window[:, c]))
    name = Path(path).name
    return [
        _windows_from(clip.rate, measured[c], name if channels == 1 else f"{name} channel {c + 1}", clip.seconds)
        for c in range(channels)
    ]


def music_windows(paths: Sequence[str | Path], sample_rate: int, max_minutes: float = MAX_MINUTES) -> Windows:
    """Per-window measures of music (files or folders) as a model at sample_rate hears it: mono, resampled with
    soxr, peak-normalised per file; read in blocks (two passes: the peak, then the windows), at most
    max_minutes of windows sampled evenly over all the files. Raises UserError when nothing is long enough."""
    files = find_audio_files(paths)
    if not files:
        raise UserError(f"no audio files in {', '.join(map(str, paths))}")
    analyser = WindowAnalyser(sample_rate)
    clips = [FileClip(f) for f in files]
    peaks = [peak_and_length(c, sample_rate) for c in clips]
    counts = [n // analyser.window_frames for _, n in peaks]
    if sum(counts) == 0:
        raise UserError(f"no music of {WINDOW_S:g} s or more in {', '.join(map(str, paths))}")
    wanted = _sampled(sum(counts), int(max_minutes * 60 / WINDOW_S))
    parts = []
    start = 0
    for clip, (peak, n), count in zip(clips, peaks, counts):
        local = {i - start for i in wanted if start <= i < start + count}
        start += count
        if not local:
            continue
        windows = _windows_of(model_audio_blocks(clip, sample_rate, peak), analyser.window_frames, local)
        parts.append(_collect(analyser, windows, clip.path.name, n / sample_rate))
    return Windows.join(parts, sample_rate)


def music_halves(music: Windows) -> tuple[Windows, Windows]:
    """Two halves of the music: by file (alternate files) when there are several, else by time."""
    if len(np.unique(music.group)) > 1:
        odd = music.group % 2 == 1
    else:
        odd = np.arange(len(music)) >= len(music) // 2
    return music.select(np.flatnonzero(~odd)), music.select(np.flatnonzero(odd))


# ------------------------------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class Comparison:
    """One voice against the music: a row per measure, silent shares, the two AUCs, and the verdict."""

    voice: str
    windows: int
    music_windows: int
    rows: dict[str, Row]
    silent_share: float  # of the voice's one-second windows
    music_silent_share: float
    auc: float  # generated vs music
    auc_music: float  # two halves of the music
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "voice": self.voice,
            "windows": self.windows,
            "music_windows": self.music_windows,
            "measures": {
                name: {
                    "generated_median": _num(r.generated_median),
                    "music_median": _num(r.music_median),
                    "music_p5": _num(r.music_range[0]),
                    "music_p95": _num(r.music_range[1]),
                    "inside": _num(r.inside),
                }
                for name, r in self.rows.items()
            },
            "silent_share": _num(self.silent_share),
            "music_silent_share": _num(self.music_silent_share),
            "auc": _num(self.auc),
            "auc_music": _num(self.auc_music),
            "verdict": self.verdict,
        }

    def figures(self) -> judge.Figures:
        """What the judge reads of this comparison."""
        return judge.Figures(self.windows, self.silent_share, rows=self.rows, auc=self.auc)

    def floor(self) -> dict[str, bool]:
        """The issue's floor, measure by measure (the judge's checks; the sounding share on one-second windows)."""
        return judge.verdict(self.figures()).checks


def _num(v: float) -> float | None:
    """JSON-safe: NaN -> None, else rounded to 5 significant places."""
    return None if not np.isfinite(v) else float(f"{v:.5g}")


def median(values: np.ndarray) -> float:
    """Median of the finite values (NaN when none)."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if len(finite) else math.nan


def percentile_range(values: np.ndarray, low: float = 5.0, high: float = 95.0) -> tuple[float, float]:
    """(low-th, high-th) percentile of the finite values (NaNs when none)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return math.nan, math.nan
    return float(np.percentile(finite, low)), float(np.percentile(finite, high))


def share_within(values: np.ndarray, bounds: tuple[float, float]) -> float:
    """Share of values inside [low, high] (NaN counts as outside; NaN when there are no values)."""
    if not len(values):
        return math.nan
    with np.errstate(invalid="ignore"):
        return float(np.mean((values >= bounds[0]) & (values <= bounds[1])))


def music_auc(music: Windows, seed: int = 0) -> float:
    """The classifier's AUC between the two halves of the music (`music_halves`): its own baseline."""
    first, second = music_halves(music)
    return classifier_auc(first.features, second.features, seed=seed)


def compare(voice: Windows, music: Windows, auc_music: float | None = None, seed: int = 0) -> Comparison:
    """One voice's windows against the music's (the same rate); auc_music from `music_auc` when not given."""
    if voice.sample_rate != music.sample_rate:
        raise ValueError(f"voice at {voice.sample_rate} Hz against music at {music.sample_rate} Hz")
    rows = {}
    for name in MEASURES:
        g, m = voice.measure(name), music.measure(name)
        bounds = percentile_range(m)
        rows[name] = Row(name, median(g), median(m), bounds, share_within(g, bounds))
    auc_music = music_auc(music, seed) if auc_music is None else auc_music
    partial = Comparison(
        voice=voice.names[0] if voice.names else "audio",
        windows=len(voice),
        music_windows=len(music),
        rows=rows,
        silent_share=voice.silent_share(),
        music_silent_share=music.silent_share(),
        auc=classifier_auc(voice.features, music.features, seed=seed),
        auc_music=auc_music,
        verdict="",
    )
    return Comparison(**{**partial.__dict__, "verdict": judge.verdict(partial.figures()).words})


def compare_voices(voices: Sequence[Windows], music: Windows, seed: int = 0) -> list[Comparison]:
    """Each voice against the music (the music's own AUC computed once)."""
    baseline = music_auc(music, seed)
    return [compare(v, music, baseline, seed) for v in voices]


def measure_against(
    audio: np.ndarray, sample_rate: int, music: Windows | Sequence[str | Path], seed: int = 0
) -> list[Comparison]:
    """Generated audio ((frames,) or (voices, frames) at sample_rate) against music: `Windows` from
    `music_windows` (reuse them for many clips) or music files and folders. Each Comparison has a verdict."""
    if not isinstance(music, Windows):
        music = music_windows(music, sample_rate)
    return compare_voices(measure_voices(audio, sample_rate), music, seed)


def measure_files(
    generated: Sequence[str | Path],
    against: Sequence[str | Path],
    max_minutes: float = MAX_MINUTES,
    seed: int = 0,
    on_file: Callable[[str], None] | None = None,
) -> list[Comparison]:
    """Every voice (each channel of each file) of the generated files against the music, the music resampled
    to the generated audio's rate (measured once per rate). on_file(name) is called as each file is read."""
    files = find_audio_files(generated)
    if not files:
        raise UserError(f"no audio files in {', '.join(map(str, generated))}")
    music: dict[int, tuple[Windows, float]] = {}
    out = []
    for f in files:
        if on_file:
            on_file(str(f))
        voices = measure_file_voices(f, max_minutes)
        if not len(voices[0]):
            raise UserError(f"{f}: shorter than one {WINDOW_S:g}-s window; measure at least {WINDOW_S:g} s of audio")
        rate = voices[0].sample_rate
        if rate not in music:
            if on_file:
                on_file(f"the music at {rate} Hz")
            m = music_windows(against, rate, max_minutes)
            music[rate] = (m, music_auc(m, seed))
        m, baseline = music[rate]
        out += [compare(v, m, baseline, seed) for v in voices]
    return out
