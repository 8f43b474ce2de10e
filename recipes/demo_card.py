"""Measure the demo model for its model card: validation NLL on held-out tracks, and whether 60 s of its
audio is neither silence nor white noise (RMS and spectral flatness against the training audio's ranges).

    python recipes/demo_card.py RUN_DIR/best.pt rt_samplernn/models/demo --held-out track10 track20 track30

Prints the figures as JSON and writes them to BUNDLE/measurements.json; MODEL_CARD.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from rt_samplernn.audio import load_for_model
from rt_samplernn.checkpoint import load_checkpoint, train_config_of
from rt_samplernn.data import chunks_from_clips
from rt_samplernn.live.engine import Engine
from rt_samplernn.train import evaluate

AUDIO = Path("/usr/share/scummvm/drascula/audio")
WINDOW_S = 5.0  # seconds per measured window
FFT = 1024


def spectral_flatness(x: np.ndarray) -> float:
    """Mean over FFT frames of geometric / arithmetic mean of the power spectrum (white noise ~0.56)."""
    n = len(x) // FFT
    frames = x[: n * FFT].reshape(n, FFT) * np.hanning(FFT)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-12
    return float(np.mean(np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)))


def window_stats(x: np.ndarray, rate: int) -> tuple[list[float], list[float]]:
    size = int(WINDOW_S * rate)
    windows = [x[i : i + size] for i in range(0, len(x) - size + 1, size)]
    return [float(np.sqrt(np.mean(w**2))) for w in windows], [spectral_flatness(w) for w in windows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("bundle")
    parser.add_argument("--held-out", nargs="+", default=["track10", "track20", "track30"])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)

    model, cfg, ckpt = load_checkpoint(args.checkpoint)
    train_cfg = train_config_of(ckpt)
    held = [AUDIO / f"{name}.ogg" for name in args.held_out]
    train_files = sorted(set(AUDIO.glob("track*.ogg")) - set(held))
    val_chunks = chunks_from_clips([load_for_model(f, cfg.sample_rate) for f in held], cfg, train_cfg)
    val_cfg = type(train_cfg)(**{**vars(train_cfg), "val_batches": 0})
    val_bits = evaluate(model, val_chunks, val_cfg, torch.device("cpu"))

    train_rms, train_flat = [], []
    for f in train_files:
        rms, flat = window_stats(load_for_model(f, cfg.sample_rate), cfg.sample_rate)
        train_rms += rms
        train_flat += flat

    engine = Engine(args.bundle, voices=1, seed=args.seed)
    start = time.perf_counter()
    audio = engine.generate(int(args.seconds * engine.sample_rate))[0]
    wall = time.perf_counter() - start
    gen_rms, gen_flat = window_stats(audio, engine.sample_rate)
    noise = np.random.default_rng(0).uniform(-1, 1, int(WINDOW_S * cfg.sample_rate)).astype(np.float32)

    figures = {
        "checkpoint_step": int(ckpt["step"]),
        "val_nll_bits_per_sample": round(val_bits, 4),
        "val_seconds": round(val_chunks.size / cfg.sample_rate, 1),
        "generated_seconds": args.seconds,
        "generation_real_time_factor": round(args.seconds / wall, 2),
        "generated_rms_per_5s": [round(v, 4) for v in gen_rms],
        "generated_flatness_per_5s": [round(v, 4) for v in gen_flat],
        "training_rms_p5_p50_p95": [round(float(np.percentile(train_rms, p)), 4) for p in (5, 50, 95)],
        "training_flatness_p5_p50_p95": [round(float(np.percentile(train_flat, p)), 4) for p in (5, 50, 95)],
        "white_noise_flatness": round(spectral_flatness(noise), 4),
        # silence: any 5 s window more than 20 dB under the quietest 5% of the training windows
        "not_silence": bool(min(gen_rms) > 0.1 * float(np.percentile(train_rms, 5))),
        # white noise: any 5 s window with half of white noise's flatness or more

        "not_white_noise": bool(max(gen_flat) < 0.5 * spectral_flatness(noise)),
    }
    print(json.dumps(figures, indent=2))
    (Path(args.bundle) / "measurements.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
