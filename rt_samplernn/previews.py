"""Previews during training: a few seconds generated from the current weights at every evaluation, measured
against held-out music and given a plain verdict, written as WAVs, TensorBoard audio and rows of previews.csv.

Two voices in one pass of the reference generator (rt_samplernn.generate), with a fixed seed: `cold` starts
from the all-zero state, as a live voice does; `primed` first reads a held-out chunk and continues it. The
generator draws its noise from NumPy (sampling), never from torch's generator, so a preview leaves training's
random state untouched and resuming stays exact.

The measures are rt_samplernn.measure's and the verdict rt_samplernn.judge's, the one judge (per window of
measure.WINDOW_S seconds: a preview shorter than one window is "too short to judge"), against the held-out
chunks as the music.
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
import soundfile
import torch

from rt_samplernn import measure
from rt_samplernn.atomic import replacing
from rt_samplernn.config import ModelConfig, TrainConfig
from rt_samplernn.generate import generate_blocks
from rt_samplernn.model import SampleRNN
from rt_samplernn.quantize import dequantize
from rt_samplernn.schedule import PrimingHistory

VOICES = ("cold", "primed")
TEMPERATURE = 1.0
# Per preview: the medians of measure.MEASURES over its windows, its silent share, and the classifier's AUC.
MEASURES = (*measure.MEASURES, "silent_share", "auc")
MUSIC_CHUNKS = 16  # held-out chunks the music's ranges are taken from
NOISE_EVALS_FOR_ADVICE = 4  # evaluations in a row of noise before the advice
NOISE_VERDICTS = ("silent", "noise-like")
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
class Music:
    """The held-out music the previews are compared with: its windows and the classifier's own baseline."""

    windows: measure.Windows
    auc: float

    @classmethod
    def of(cls, val_chunks: np.ndarray, q_type: str, q_levels: int, sample_rate: int) -> Music | None:
        """Up to MUSIC_CHUNKS held-out chunks, spread evenly, read one after another (a window may span two);
        None when they do not fill one window."""
        if len(val_chunks) == 0:
            return None
        rows = np.linspace(0, len(val_chunks) - 1, min(len(val_chunks), MUSIC_CHUNKS)).round().astype(int)
        audio = dequantize(val_chunks[rows].reshape(-1), q_type, q_levels).astype(np.float32)
        (windows,) = measure.measure_voices(audio, sample_rate, "held-out")
        return cls(windows, measure.music_auc(windows)) if len(windows) else None


def judge(audio: np.ndarray, sample_rate: int, music: Music | None) -> tuple[dict[str, float], str]:
    """(the preview's measures, MEASURES; the verdict in words: rt_samplernn.judge's, against the music)."""
    (windows,) = measure.measure_voices(audio, sample_rate, "preview")
    values = {name: measure.median(windows.measure(name)) for name in measure.MEASURES}
    values["silent_share"] = windows.silent_share()
    if music is None:
        return {**values, "auc": math.nan}, "not judged: under one window of held-out audio"
    c = measure.compare(windows, music.windows, music.auc)
    return {**values, "auc": c.auc}, c.verdict


def render(model: SampleRNN, seconds: float, seed: int, priming_levels: np.ndarray | None) -> dict[str, np.ndarray]:
    """{voice: float32 audio} of `seconds` from the model's current weights: cold, and primed from
    `priming_levels` (int levels, a whole number of top frames) when given; both in one generator pass."""
    cfg = model.cfg
    n_samples = int(round(seconds * cfg.sample_rate))
    histories = [PrimingHistory.from_levels(cfg, None)]
    if priming_levels is not None and len(priming_levels):
        histories.append(PrimingHistory.from_levels(cfg, np.asarray(priming_levels, dtype=np.int64)))
    was_training = model.training
    model.eval()  # the step path (embedding and conv), not the training-only folded table
    # oneDNN reorders the sample tier's conv weights at every one-sample call (6x slower than without it);
    # only the enabled flag changes (None leaves the others as they are).
    onednn = torch.backends.mkldnn.set_flags(False, None, None, None)[0]
    threads = torch.get_num_threads()  # one: ops this small only wait for each other on more (8x slower on a busy CPU)
    torch.set_num_threads(1)
    try:
        levels = generate_levels_for(model, n_samples, histories, seed)
    finally:
        model.train(was_training)
        torch.backends.mkldnn.set_flags(onednn, None, None, None)
        torch.set_num_threads(threads)
    audio = dequantize(levels, cfg.q_type, cfg.q_levels).astype(np.float32)
    return {voice: audio[i] for i, voice in enumerate(VOICES[: len(histories)])}


def generate_levels_for(model: SampleRNN, n_samples: int, histories: list[PrimingHistory], seed: int) -> np.ndarray:
    """(voices, n_samples) levels, one voice per history."""
    if n_samples == 0:
        return np.zeros((len(histories), 0), dtype=np.int64)
    blocks = generate_blocks(model, n_samples, [TEMPERATURE] * len(histories), seed, histories, n_samples)
    return np.concatenate(list(blocks), axis=1)


def make_previews(
    model: SampleRNN, seconds: float, seed: int, priming_levels: np.ndarray | None, music: Music | None
) -> list[Preview]:
    """Render, measure and judge the previews."""
    rate = model.cfg.sample_rate
    previews = []
    for voice, audio in render(model, seconds, seed, priming_levels).items():
        measures, said = judge(audio, rate, music)
        previews.append(Preview(voice, audio, measures, said))
    return previews


def save_previews(run_dir: Path, step: int, previews: Sequence[Preview], rate: int, writer: Any = None) -> None:
    """WAVs in run_dir/previews (step-00000500-cold.wav, ...), rows of run_dir/previews.csv, and, given a
    TensorBoard SummaryWriter, audio and one scalar per measure (preview/cold/flatness, ...)."""
    folder = run_dir / "previews"
    folder.mkdir(parents=True, exist_ok=True)
    for p in previews:
        target = folder / f"step-{step:08d}-{p.voice}.wav"
        with replacing(target, "preview") as f:
            soundfile.write(f, np.clip(p.audio, -1.0, 1.0), rate, subtype="PCM_16", format="WAV")
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
                if math.isfinite(p.measures[name]):
                    writer.add_scalar(f"preview/{p.voice}/{name}", p.measures[name], step)


def all_noise(previews: Sequence[Preview]) -> bool:
    """Every preview noise-like or silent (an evaluation that counts towards the advice)."""
    return bool(previews) and all(p.verdict in NOISE_VERDICTS for p in previews)


def advice(noise_evals: int) -> str | None:
    """The field's advice after NOISE_EVALS_FOR_ADVICE evaluations in a row of noise (again every as many)."""
    if noise_evals and noise_evals % NOISE_EVALS_FOR_ADVICE == 0:
        return ADVICE.format(n=noise_evals)
    return None


class Previewer:
    """The previews of one training run: primed from the first held-out chunk, judged against the held-out
    chunks as the music, seeded with the run's seed; `previewer(model, step)` makes and saves them."""

    def __init__(
        self, run_dir: Path, model_cfg: ModelConfig, train_cfg: TrainConfig, val_chunks: np.ndarray, writer: Any
    ):
        self.run_dir, self.cfg, self.writer = run_dir, train_cfg, writer
        self.rate = model_cfg.sample_rate
        self.priming = val_chunks[0].astype(np.int64) if len(val_chunks) else None
        self.music = Music.of(val_chunks, model_cfg.q_type, model_cfg.q_levels, self.rate)

    def __call__(self, model: SampleRNN, step: int) -> tuple[list[Preview], float]:
        """(the previews of the model's current weights, the seconds they took to make and save)."""
        started = time.perf_counter()
        cfg = self.cfg
        previews = make_previews(model, cfg.preview_seconds, cfg.seed, self.priming, self.music)
        save_previews(self.run_dir, step, previews, self.rate, self.writer)
        return previews, time.perf_counter() - started
