"""Previews during training: a few seconds generated from the current weights at every evaluation, measured
against held-out music and given a plain verdict, written as WAVs, TensorBoard audio and rows of previews.csv.

Two voices in one pass of the reference generator (rt_samplernn.generate), with a fixed seed: `cold` starts
from the all-zero state, as a live voice does; `primed` first reads a held-out chunk and continues it. The
generator draws its noise from NumPy (sampling.noise_rng), never from torch's generator, so a preview leaves
training's random state untouched and resuming stays exact.

Measures per clip: loudness (RMS of the whole clip, dBFS), spectral flatness and pitch salience
(rt_samplernn.measure's definitions), silence share (rt_samplernn.data's windows). The verdict compares them
with the same measures of held-out music cut into clips of the preview's length.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rt_samplernn import measure
from rt_samplernn.audio import write_wav
from rt_samplernn.config import ModelConfig, TrainConfig
from rt_samplernn.data import silent_share
from rt_samplernn.generate import generate_blocks
from rt_samplernn.model import SampleRNN
from rt_samplernn.quantize import dequantize
from rt_samplernn.schedule import PrimingHistory

VOICES = ("cold", "primed")
TEMPERATURE = 1.0
MEASURES = ("loudness_dbfs", "flatness", "pitch_salience", "silence_share")
NOISE_FLATNESS = 0.1  # at or above: noise-like (white noise ~0.56; recorded music mostly 0.0002-0.04)
SILENT_SHARE = 0.9  # at or above: silent
PITCHED_SALIENCE = 0.5  # without held-out music to compare against: pitched at or above
REFERENCE_CLIPS = 32  # held-out clips the music's ranges are taken from
NOISE_EVALS_FOR_ADVICE = 4  # evaluations in a row of noise before the advice
VERDICTS = (
    "silent",
    "noise-like",
    "no longer noise, not pitched yet",
    "pitched, not yet inside the music's ranges",
    "inside the music's ranges",
)
ADVICE = (
    "the previews have been noise for {n} evaluations. The field's rule (dadabots): if after a few epochs it "
    "only produces white noise, restart with a lower learning rate (e.g. --learning-rate 1e-3) and check the "
    "data (--dry-run shows what is kept): 1-4 hours of consistent material learn best"
)


@dataclass
class Preview:
    """One generated clip: which voice, its audio (float32 at the model's rate), its measures, the verdict."""

    voice: str
    audio: np.ndarray
    measures: dict[str, float]
    verdict: str


@dataclass
class MusicRanges:
    """5th-95th percentile of each measure over held-out music, in clips of the preview's length."""

    bounds: dict[str, tuple[float, float]]

    @classmethod
    def of(cls, clips: Sequence[np.ndarray], rate: int, silence_threshold: float) -> MusicRanges | None:
        """The ranges of these clips (None without any)."""
        measured = [measure_clip(c, rate, silence_threshold) for c in clips]
        if not measured:
            return None
        bounds = {}
        for name in ("loudness_dbfs", "flatness", "pitch_salience"):
            values = [m[name] for m in measured if math.isfinite(m[name])]
            if values:
                bounds[name] = measure.percentile_range(values)
        return cls(bounds)

    def inside(self, measures: dict[str, float]) -> bool:
        return all(lo <= measures[name] <= hi for name, (lo, hi) in self.bounds.items())


def measure_clip(audio: np.ndarray, rate: int, silence_threshold: float) -> dict[str, float]:
    """The preview measures of one clip (MEASURES); pitch salience is NaN when every frame is quiet."""
    level = measure.rms(audio)
    return {
        "loudness_dbfs": 20 * math.log10(max(level, 1e-10)),
        "flatness": measure.spectral_flatness(audio) if len(audio) >= measure.FFT else float("nan"),
        "pitch_salience": measure.pitch_salience(audio, rate) if len(audio) >= measure.PITCH_FRAME else float("nan"),
        "silence_share": silent_share(audio, silence_threshold),
    }


def verdict(measures: dict[str, float], music: MusicRanges | None) -> str:
    """One of VERDICTS, in a musician's words."""
    if measures["silence_share"] >= SILENT_SHARE:
        return "silent"
    if not measures["flatness"] < NOISE_FLATNESS:
        return "noise-like"
    if music is not None and music.inside(measures):
        return "inside the music's ranges"
    salience = measures["pitch_salience"]
    pitched_from = music.bounds.get("pitch_salience", (PITCHED_SALIENCE,))[0] if music else PITCHED_SALIENCE
    if math.isfinite(salience) and salience >= pitched_from:
        return "pitched, not yet inside the music's ranges"
    return "no longer noise, not pitched yet"


def reference_clips(val_chunks: np.ndarray, q_type: str, q_levels: int, samples: int) -> list[np.ndarray]:
    """Held-out audio cut into clips of `samples`, at most REFERENCE_CLIPS, spread over the held-out chunks."""
    if samples < 1 or len(val_chunks) == 0:
        return []
    audio = dequantize(val_chunks, q_type, q_levels).astype(np.float32)
    clips = [row[i : i + samples] for row in audio for i in range(0, audio.shape[1] - samples + 1, samples)]
    if len(clips) > REFERENCE_CLIPS:
        clips = [clips[i] for i in np.linspace(0, len(clips) - 1, REFERENCE_CLIPS).round().astype(int)]
    return clips


def render(model: SampleRNN, seconds: float, seed: int, priming_levels: np.ndarray | None) -> dict[str, np.ndarray]:
    """{voice: float32 audio} of `seconds` from the model's current weights: cold, and primed from
    `priming_levels` (int levels, a whole number of top frames) when given; both in one generator pass."""
    cfg = model.cfg
    n_samples = int(round(seconds * cfg.sample_rate))
    histories = [PrimingHistory.from_levels(cfg, None)]
    if priming_levels is not None and len(priming_levels):
        histories.append(PrimingHistory.from_levels(cfg, np.asarray(priming_levels, dtype=np.int64)))
    was_training, onednn = model.training, torch.backends.mkldnn.enabled
    model.eval()  # the step path (embedding and conv), not the training-only folded table
    # oneDNN reorders the sample tier's conv weights at every one-sample call (6x slower than without it).
    torch.backends.mkldnn.enabled = False
    try:
        levels = generate_levels_for(model, n_samples, histories, seed)
    finally:
        model.train(was_training)
        torch.backends.mkldnn.enabled = onednn
    audio = dequantize(levels, cfg.q_type, cfg.q_levels).astype(np.float32)
    return {voice: audio[i] for i, voice in enumerate(VOICES[: len(histories)])}


def generate_levels_for(model: SampleRNN, n_samples: int, histories: list[PrimingHistory], seed: int) -> np.ndarray:
    """(voices, n_samples) levels, one voice per history."""
    if n_samples == 0:
        return np.zeros((len(histories), 0), dtype=np.int64)
    blocks = generate_blocks(model, n_samples, [TEMPERATURE] * len(histories), seed, histories, n_samples)
    return np.concatenate(list(blocks), axis=1)


def make_previews(
    model: SampleRNN,
    seconds: float,
    seed: int,
    priming_levels: np.ndarray | None,
    music: MusicRanges | None,
    silence_threshold: float,
) -> list[Preview]:
    """Render, measure and judge the previews."""
    rate = model.cfg.sample_rate
    previews = []
    for voice, audio in render(model, seconds, seed, priming_levels).items():
        measures = measure_clip(audio, rate, silence_threshold)
        previews.append(Preview(voice, audio, measures, verdict(measures, music)))
    return previews


def save_previews(run_dir: Path, step: int, previews: Sequence[Preview], rate: int, writer: Any = None) -> None:
    """WAVs in run_dir/previews (step-00000500-cold.wav, ...), rows of run_dir/previews.csv, and, given a
    TensorBoard SummaryWriter, audio and one scalar per measure (preview/cold/flatness, ...)."""
    folder = run_dir / "previews"
    folder.mkdir(parents=True, exist_ok=True)
    for p in previews:
        write_wav(folder / f"step-{step:08d}-{p.voice}.wav", p.audio, rate)
    table = run_dir / "previews.csv"
    new = not table.exists()
    with open(table, "a", newline="") as f:
        rows = csv.writer(f)
        if new:
            rows.writerow(["step", "voice", "seconds", *MEASURES, "verdict"])
        for p in previews:
            rows.writerow(
                [step, p.voice, f"{len(p.audio) / rate:g}", *(f"{p.measures[m]:.6g}" for m in MEASURES), p.verdict]
            )
    if writer is not None:
        for p in previews:
            writer.add_audio(f"preview/{p.voice}", torch.from_numpy(p.audio)[None], step, sample_rate=rate)
            for name in MEASURES:
                writer.add_scalar(f"preview/{p.voice}/{name}", p.measures[name], step)


def all_noise(previews: Sequence[Preview]) -> bool:
    """Every preview noise-like or silent (an evaluation that counts towards the advice)."""
    return bool(previews) and all(p.verdict in ("noise-like", "silent") for p in previews)


def advice(noise_evals: int) -> str | None:
    """The field's advice after NOISE_EVALS_FOR_ADVICE evaluations in a row of noise (again every as many)."""
    if noise_evals and noise_evals % NOISE_EVALS_FOR_ADVICE == 0:
        return ADVICE.format(n=noise_evals)
    return None


class Previewer:
    """The previews of one training run: primed from the first held-out chunk, judged against the held-out
    music's ranges, seeded with the run's seed; `previewer(model, step)` makes and saves them."""

    def __init__(
        self, run_dir: Path, model_cfg: ModelConfig, train_cfg: TrainConfig, val_chunks: np.ndarray, writer: Any
    ):
        self.run_dir, self.cfg, self.writer = run_dir, train_cfg, writer
        self.rate = model_cfg.sample_rate
        self.priming = val_chunks[0].astype(np.int64) if len(val_chunks) else None
        samples = int(round(train_cfg.preview_seconds * self.rate))
        clips = reference_clips(val_chunks, model_cfg.q_type, model_cfg.q_levels, samples)
        self.music = MusicRanges.of(clips, self.rate, train_cfg.silence_threshold)

    def __call__(self, model: SampleRNN, step: int) -> tuple[list[Preview], float]:
        """(the previews of the model's current weights, the seconds they took to make and save)."""
        started = time.perf_counter()
        cfg = self.cfg
        previews = make_previews(model, cfg.preview_seconds, cfg.seed, self.priming, self.music, cfg.silence_threshold)
        save_previews(self.run_dir, step, previews, self.rate, self.writer)
        return previews, time.perf_counter() - started
