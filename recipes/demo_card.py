"""Measure the demo model and write its model card: held-out NLL, the training budget, and whether its audio
sounds like the music it learned from (rt_samplernn.measure, as `rt-samplernn measure` prints it: loudness,
spectral flatness, pitch salience, rhythmicity, spectral dynamics and silent share per 2-s window against the
training music's medians and 5th-95th percentiles, and the classifier AUC; 1 and 4 voices), with a spectrogram
of 10 s generated beside 10 s of held-out music.

    python recipes/demo_card.py RUN_DIR/best.pt rt_samplernn/models/demo --held-out track10 track20 track30 \
        --train-tracks 1 2 3 4 5 8 12 15 16 17 18 19 21 22 23 24 27

Writes BUNDLE/measurements.json, BUNDLE/spectrogram.png and BUNDLE/MODEL_CARD.md and prints the figures.
The measures are rt_samplernn.measure's, the same the demo's test recomputes from the bundle; each voice's
verdict and floor are rt_samplernn.judge's (`Comparison.verdict`, `Comparison.floor`), its thresholds in one place.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from rt_samplernn import measure
from rt_samplernn.checkpoint import load_checkpoint, train_config_of
from rt_samplernn.data import chunks_from_clips, load_clips
from rt_samplernn.live.bundle import load_bundle
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.music import start_from_music, start_settings
from rt_samplernn.train import evaluate

AUDIO = Path("/usr/share/scummvm/drascula/audio")
RHYTHMIC = [1, 2, 3, 4, 5, 8, 12, 15, 16, 17, 18, 19, 21, 22, 23, 24, 27]  # recipes/demo.sh's training tracks
FIGURE_SECONDS = 10.0
MUSIC_OFFSET_S = 20.0  # where the held-out excerpt in the figure starts
VOICES = (1, 4)  # the card measures the demo playing this many voices
SEEDS = (0, 1, 2, 3, 4)  # ... at each of these seeds


def play_voices(bundle_dir: Path | str, count: int, seed: int, seconds: float, temperature: float | None, cold: bool):
    """`count` voices of the bundle as `play` starts them (its usable defaults and lift, voices from its clip)."""
    bundle = load_bundle(bundle_dir)
    engine = Engine(bundle, voices=count, seed=seed)
    knobs = start_settings(bundle, temperature)
    engine.set_temperature(knobs["temperature"])
    if engine.has_min_p:
        engine.set_min_p(knobs["min_p"])
    start_from_music(engine, cold)
    return engine, engine.generate(int(seconds * engine.sample_rate))


def over_seeds(bundle_dir: Path | str, music: measure.Windows, seconds: float, cold: bool) -> dict[str, list[dict]]:
    """Every voice of 1 and 4 voices at each of SEEDS, judged against the music: {voices: [comparison, ...]}."""
    rows: dict[str, list[dict]] = {}
    for count in VOICES:
        for seed in SEEDS:
            engine, audio = play_voices(bundle_dir, count, seed, seconds, None, cold)
            comparisons = measure.compare_voices(measure.measure_voices(audio, engine.sample_rate), music)
            rows.setdefault(str(count), []).extend(
                c.to_dict() | {"seed": seed, "floor": c.floor()} for c in comparisons
            )
    return rows


def seeds_summary(rows: list[dict], music_rhythm: float) -> dict[str, object]:
    """One line of the seeds table: how many voices meet each part of the floor, and the medians."""

    def med(name: str) -> float:
        values = [r["measures"][name]["generated_median"] for r in rows]
        return (
            float(np.median([v for v in values if v is not None]))
            if any(v is not None for v in values)
            else float("nan")
        )

    verdicts: dict[str, int] = {}
    for r in rows:
        verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
    return {
        "voices": len(rows),
        "sounding": sum(r["silent_share"] <= 0.05 for r in rows),
        "rhythmicity_median": round(med("rhythmicity"), 3),
        "rhythmicity_of_music": round(med("rhythmicity") / music_rhythm, 2),
        "dynamics_reached": sum(bool(r["floor"].get("spectral_dynamics")) for r in rows),
        "flatness_inside": sum(bool(r["floor"].get("flatness_inside")) for r in rows),
        "auc_median": round(float(np.median([r["auc"] for r in rows])), 3),
        "verdicts": verdicts,
    }


def music_summary(music: measure.Windows) -> dict[str, list[float]]:
    """Each measure's 5th, 50th and 95th percentile over the music's windows (what the demo's test recomputes)."""
    summary = {}
    for name in measure.MEASURES:
        values = music.measure(name)
        low, high = measure.percentile_range(values)
        summary[name] = [round(low, 4), round(measure.median(values), 4), round(high, 4)]
    return summary


def spectrogram_db(x: np.ndarray, n_fft: int = 1024, hop: int = 320) -> np.ndarray:
    """(frequency bins, frames) magnitude in dB, Hann window."""
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    return 20 * np.log10(np.abs(np.fft.rfft(frames, axis=1)).T + 1e-6)


def colormap(level: np.ndarray) -> np.ndarray:
    """[0, 1] -> RGB uint8, dark blue through magenta and orange to pale yellow."""
    anchors = np.array([[0, 0, 4], [59, 15, 112], [140, 41, 129], [222, 73, 104], [254, 159, 109], [252, 253, 191]])
    pos = np.clip(level, 0, 1) * (len(anchors) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(anchors) - 2)
    frac = (pos - lo)[..., None]
    return (anchors[lo] * (1 - frac) + anchors[lo + 1] * frac).astype(np.uint8)


def draw_spectrograms(panels: list[tuple[str, np.ndarray]], rate: int, path: Path) -> None:
    """Spectrograms side by side with titles and axes, drawn with Qt offscreen (no matplotlib), saved as PNG."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtCore import QRect, Qt
    from PyQt6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter

    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (fonts need an application)
    specs = [spectrogram_db(x) for _, x in panels]
    top_db = max(float(s.max()) for s in specs)
    height, left, top, bottom, gap = 300, 56, 34, 40, 24
    widths = [s.shape[1] for s in specs]
    canvas = QImage(left + sum(widths) + gap * len(specs), top + height + bottom, QImage.Format.Format_RGB32)
    canvas.fill(QColor("white"))
    painter = QPainter(canvas)
    painter.setFont(QFont("DejaVu Sans", 9))
    x0 = left
    for (title, audio), spec in zip(panels, specs):
        level = (spec[::-1] - (top_db - 80.0)) / 80.0  # 80 dB of range, low frequencies at the bottom
        rows = np.linspace(0, level.shape[0] - 1, height).round().astype(int)
        rgb = np.ascontiguousarray(colormap(level[rows]))
        pixels = rgb.tobytes()  # held while the image is drawn: QImage does not copy it
        image = QImage(pixels, rgb.shape[1], rgb.shape[0], rgb.strides[0], QImage.Format.Format_RGB888)
        painter.drawImage(x0, top, image)
        painter.setPen(QColor("black"))
        painter.drawText(QRect(x0, 6, spec.shape[1], 22), Qt.AlignmentFlag.AlignCenter, title)
        seconds = len(audio) / rate
        for t in range(0, int(seconds) + 1, 2):
            x = x0 + int(t / seconds * (spec.shape[1] - 1))
            painter.drawLine(x, top + height, x, top + height + 4)
            painter.drawText(QRect(x - 20, top + height + 5, 40, 14), Qt.AlignmentFlag.AlignCenter, f"{t}")
        painter.drawText(QRect(x0, top + height + 20, spec.shape[1], 16), Qt.AlignmentFlag.AlignCenter, "seconds")
        x0 += spec.shape[1] + gap
    nyquist_khz = rate / 2000
    for k in range(int(nyquist_khz) + 1):
        y = top + height - int(k / nyquist_khz * (height - 1))
        painter.drawLine(left - 4, y, left, y)
        painter.drawText(QRect(left - 30, y - 7, 24, 14), Qt.AlignmentFlag.AlignRight, f"{k}")
    painter.save()
    painter.translate(12, top + height // 2 + 30)
    painter.rotate(-90)
    painter.drawText(0, 0, "frequency (kHz)")
    painter.restore()
    painter.end()
    if not canvas.save(str(path)):
        raise OSError(f"{path}: could not write the PNG")


def clip_row(bundle_dir: Path) -> str:
    """The card's row for the bundle's music clip (model.json `clip`), or nothing without one."""
    clip = json.loads((bundle_dir / "model.json").read_text()).get("clip")
    if clip is None:
        return ""
    return (
        f"| start | `{clip['file']}`: {clip['seconds']:g} s of training {clip['source']} from {clip['start_s']:g} s, "
        "16-bit FLAC at the model rate (the data's licence above allows redistributing it): `play`, `gui` and "
        "`generate` start every voice from its own stretch of it, and the watchdog re-primes from it; "
        "`--cold` starts from silence |\n"
    )


def seeds_table(fig: dict) -> str:
    """The seeds table: this demo's lines, then the replaced demo's (when the card knows them)."""
    lines = [
        "| demo | voices | voices sounding (95% of 1-s windows above -40 dBFS) | rhythmicity median (of the music's) "
        "| spectral dynamics reached | flatness inside | AUC median | verdicts |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, figures in (("this one", fig), (f"before ({fig.get('before', {}).get('date', '')})", fig.get("before"))):
        if not figures or "seeds" not in figures:
            continue
        for count, line in figures["seeds"].items():
            words = ", ".join(f"{n} {w}" for w, n in sorted(line["verdicts"].items(), key=lambda kv: -kv[1]))
            lines.append(
                f"| {label} | {count} | {line['sounding']} of {line['voices']} | {line['rhythmicity_median']:.2f} "
                f"({line['rhythmicity_of_music']:.0%}) | {line['dynamics_reached']} of {line['voices']} | "
                f"{line['flatness_inside']} of {line['voices']} | {line['auc_median']:.2f} | {words} |"
            )
    return "\n".join(lines)


def knob_table(bundle_dir: Path) -> str:
    """The usable scan's grid as the engine plays it (with its lift): one row per temperature, one column per cut."""
    usable = json.loads((bundle_dir / "model.json").read_text()).get("usable")
    if not usable:
        return "(no usable-range scan in this bundle)"
    lifted = usable.get("lift") is not None
    tried = [t for t in usable["tried"] if bool(t.get("lifted")) == lifted]
    cuts = sorted({t["min_p"] for t in tried})
    lines = ["| T | " + " | ".join(f"cut {c:g}" for c in cuts) + " |", "|---|" + "---|" * len(cuts)]
    for temperature in sorted({t["temperature"] for t in tried}):
        cells = []
        for c in cuts:
            (t,) = [t for t in tried if t["temperature"] == temperature and t["min_p"] == c]
            word = (
                "**ok**"
                if t["usable"]
                else "silent"
                if t["silent_share"] > 0.05
                else "hiss"
                if t["flatness"] > 0.2
                else "outside"
            )
            cells.append(f"{word} ({t['silent_share']:.0%} silent, {t['inside_share']:.0%} inside)")
        lines.append(f"| {temperature:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def knob_row(bundle_dir: Path) -> str:
    """The card's row for the knob's travel and the quiet lift."""
    usable = json.loads((bundle_dir / "model.json").read_text()).get("usable")
    if not usable:
        return ""
    lift = usable.get("lift")
    lifted = (
        f"; a voice whose last 2 ms fall under {lift['below_dbfs']:g} dBFS draws at no less than T "
        f"{lift['temperature']:g}, uncut (the quiet lift, `rt_samplernn/live/lift.py`)"
        if lift
        else ""
    )
    return (
        f"| knobs | temperature {usable['temperature'][0]:g}-{usable['temperature'][1]:g}, tail cut "
        f"{usable['min_p'][0]:g}-{usable['min_p'][1]:g}, starting at T {usable['defaults']['temperature']:g} "
        f"cut {usable['defaults']['min_p']:g} (the scan below){lifted} |\n"
    )


def card_text(fig: dict, bundle_dir: Path) -> str:
    cfg = fig["model"]
    tiers = len(cfg["frame_sizes"]) + 1
    budget = f"{fig['train_minutes']:.0f} minutes of training steps" if fig["train_minutes"] else "budget not recorded"
    music = fig["music_summary_p5_p50_p95"]
    rows = []

    def cell(m: dict, name: str, digits: int) -> str:
        g, inside = m[name]["generated_median"], m[name]["inside"]
        return "-" if g is None else f"{g:.{digits}f} ({inside:.0%})"

    for voices, comparisons in fig["voices"].items():
        for v, c in enumerate(comparisons):
            m = c["measures"]
            rows.append(
                f"| {voices} | {v + 1} | {cell(m, 'loudness_db', 1)} | {cell(m, 'flatness', 4)} | "
                f"{cell(m, 'pitch_salience', 2)} | {cell(m, 'rhythmicity', 2)} | {cell(m, 'spectral_dynamics', 2)} | "
                f"{c['silent_share']:.0%} | {c['auc']:.2f} | {c['verdict']} |"
            )
    music_row = (
        f"| music | | {music['loudness_db'][1]:.1f} ({music['loudness_db'][0]:.1f} to {music['loudness_db'][2]:.1f}) "
        f"| {music['flatness'][1]:.4f} ({music['flatness'][0]:.4f}-{music['flatness'][2]:.4f}) "
        f"| {music['pitch_salience'][1]:.2f} ({music['pitch_salience'][0]:.2f}-{music['pitch_salience'][2]:.2f}) "
        f"| {music['rhythmicity'][1]:.2f} ({music['rhythmicity'][0]:.2f}-{music['rhythmicity'][2]:.2f}) "
        f"| {music['spectral_dynamics'][1]:.2f} ({music['spectral_dynamics'][0]:.2f}-"
        f"{music['spectral_dynamics'][2]:.2f}) | {fig['music_silent_share']:.0%} | {fig['music_auc']:.2f} | |"
    )
    return f"""# Model card: the rt-samplernn demo model

The model `rt-samplernn play`, `generate` and `gui` use when no model is given.

| | |
|---|---|
| model | SampleRNN, {tiers} tiers (frame sizes {", ".join(map(str, cfg["frame_sizes"]))}), {cfg["rnn_layers"]} {cfg["rnn_type"].upper()} layer(s) of {cfg["dim"]} per frame tier, sample MLP hidden {cfg["sample_dim"]}, {cfg["q_type"]} {cfg["q_levels"]} levels, {cfg["sample_rate"] // 1000} kHz; {fig["parameters"] / 1e6:.2f} M parameters |
| data | the soundtrack of *Drascula: The Vampire Strikes Back*, Debian package `drascula-music` (`{AUDIO}/track*.ogg`): {fig["training_tracks"]} tracks for training ({", ".join(fig["train_tracks"])}), {", ".join(fig["held_out"])} held out; mono, {cfg["sample_rate"] / 1000:g} kHz (soxr), peak-normalised per file, {fig["chunk_seconds"]:g} s chunks, mostly-silent chunks dropped |
| licence of the data | Drascula-License, BSD-like and DFSG-free: © 1996-2008 Alcachofa Soft S.L. (see `/usr/share/doc/drascula-music/copyright`) |
| training | {fig["checkpoint_step"]:,} steps, {budget} ({fig["train_samples"] / 1e6:.0f} M training samples); {fig["train_recipe"]} |
| held-out NLL | **{fig["val_nll_bits_per_sample"]:.3f} bits per sample** on all {fig["val_seconds"]:.0f} s of the held-out tracks |
| speed | {fig["generation_real_time_factor"]:.2f}x real time for one voice (one onnxruntime thread, this bundle) |
{clip_row(bundle_dir)}{knob_row(bundle_dir)}| date | {fig["date"]} |

## What you hear

{fig.get("words") or "(not described)"}

## Does it sound like the music it learned?

{fig["generated_seconds"]:g} s per voice at temperature {fig["temperature"]:g} (tail cut {fig.get("min_p", 0):g}), seed {fig["seed"]}, started from {fig.get("start", "the all-zero state")} as `play` starts, measured per 2-s window
against the training music (`rt-samplernn measure`): each voice's median, and in brackets the share of its windows
inside the music's 5th-95th percentile range; the music's median and range in the last row. AUC: how well a
classifier tells the voice's windows from the music's (0.5: it cannot; the music's row: two halves of the music).

| voices | voice | loudness dBFS | flatness | pitch salience | rhythmicity | spectral dynamics | silent 1-s windows | AUC | verdict |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
{music_row}

![10 s generated beside 10 s of held-out music](spectrogram.png)

## Over seeds 0-4, beside the demo it replaces

Every voice of 1 and 4 voices at seeds {", ".join(map(str, SEEDS))}, {fig["generated_seconds"]:g} s each, as `play` starts them, against the
same training music (the replaced demo measured the same way, as it played then). The floor of issue 25:
every voice sounding, rhythmicity at least 75% of the music's median ({music["rhythmicity"][1]:.2f}), AUC at most 0.95.

{seeds_table(fig)}

## The knob

The usable-range scan of `export` ({fig.get("scan_seconds", 20):g} s per setting, one voice primed from the clip, as the engine plays it):
**ok** settings pass the judge (at most 5% silent seconds, flatness under the hiss threshold, half the seconds
inside the music's level and flatness). The knobs travel over the longest unbroken run of one cut.

{knob_table(bundle_dir)}

Flatness is the spectrum's geometric over arithmetic mean (noise near 0.56, notes near 0); pitch salience the
highest normalized autocorrelation peak at a 50-1000 Hz lag (a held note near 1, noise near 0); rhythmicity the
onset envelope's highest autocorrelation peak at 0.2-1 s; spectral dynamics how much each mel band's energy
moves within a window: definitions in `rt_samplernn/measure.py`. The figures are in `measurements.json` beside
this card, written with this card and the figure by

    python recipes/demo_card.py CHECKPOINT {bundle_dir}

To train a better one: run `recipes/demo.sh` longer (it resumes where it stopped), or on a GPU.
"""


def before_figures(before: str | None, bundle_dir: Path, music_files: list[Path], seconds: float, cold: bool):
    """The replaced demo's figures: a bundle folder is measured over the seeds now (against the same training
    music at its own rate), a measurements.json with a seeds table is read; without --before, the card being
    rewritten keeps the `before` it had."""
    if not before:
        card = bundle_dir / "measurements.json"
        return json.loads(card.read_text()).get("before") if card.exists() else None
    path = Path(before)
    figures = json.loads((path / "measurements.json" if path.is_dir() else path).read_text())
    kept = {k: figures.get(k) for k in ("date", "model", "val_nll_bits_per_sample", "seeds")}
    if path.is_dir():
        music = measure.music_windows(music_files, load_bundle(path).sample_rate, max_minutes=120.0)
        rhythm = music_summary(music)["rhythmicity"][1]
        kept["seeds"] = {n: seeds_summary(rows, rhythm) for n, rows in over_seeds(path, music, seconds, cold).items()}
    if not kept["seeds"]:
        raise SystemExit(f"{path}: no seeds table in it; give the replaced demo's bundle folder to measure it")
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="the checkpoint the bundle was exported from")
    parser.add_argument("bundle", help="the bundle folder; the card, figure and measurements are written into it")
    parser.add_argument("--held-out", nargs="+", default=["track10", "track20", "track30"])
    parser.add_argument(
        "--train-tracks",
        nargs="+",
        type=int,
        default=RHYTHMIC,
        metavar="N",
        help="the Drascula track numbers the demo was trained on (recipes/demo.sh's)",
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of audio to generate and measure")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--temperature", type=float, default=None, help="default: the bundle's usable default (as play), else 1.0"
    )
    parser.add_argument(
        "--cold", action="store_true", help="generate from the all-zero state, not from the bundle's clip as play"
    )
    parser.add_argument(
        "--train-minutes",
        type=float,
        default=0.0,
        help="training minutes for the card when the checkpoint predates its own record of them",
    )
    parser.add_argument(
        "--recipe",
        default="`bash recipes/demo.sh` (Adam, cosine schedule with warm-up, bf16 autocast)",
        help="how it was trained, for the card",
    )
    parser.add_argument(
        "--before", help="the replaced demo's measurements.json (or its bundle folder), shown beside this one's"
    )
    parser.add_argument("--words", default="", help="what the user hears, in words, for the card")
    args = parser.parse_args()
    torch.set_num_threads(1)
    bundle_dir = Path(args.bundle)

    model, cfg, ckpt = load_checkpoint(args.checkpoint)
    train_cfg = train_config_of(ckpt)
    if train_cfg is None:
        raise SystemExit(f"{args.checkpoint}: no training config in the checkpoint; the card needs the demo's own")
    held = [AUDIO / f"{name}.ogg" for name in args.held_out]
    train_files = [AUDIO / f"track{n}.ogg" for n in args.train_tracks]
    held_clips = load_clips(held, cfg.sample_rate, quiet=True)
    val_chunks = chunks_from_clips(held_clips, cfg, train_cfg)
    val_bits = evaluate(model, val_chunks, train_cfg, torch.device("cpu"))  # fp32, every held-out chunk
    training_music = measure.music_windows(train_files, cfg.sample_rate, max_minutes=120.0)  # all of it
    before = before_figures(args.before, bundle_dir, train_files, args.seconds, args.cold)  # first: it may refuse

    bundle = load_bundle(bundle_dir)
    voices: dict[str, list[dict]] = {}
    for count in VOICES:
        engine = Engine(bundle, voices=count, seed=args.seed)
        knobs = start_settings(bundle, args.temperature)  # as play starts: usable defaults, voices from the clip
        engine.set_temperature(knobs["temperature"])
        engine.set_min_p(knobs["min_p"])
        start_from_music(engine, args.cold)
        start = time.perf_counter()
        generated = engine.generate(int(args.seconds * engine.sample_rate))
        if count == 1:
            wall = time.perf_counter() - start
            audio = generated[0]
        comparisons = measure.compare_voices(measure.measure_voices(generated, engine.sample_rate), training_music)
        voices[str(count)] = [c.to_dict() | {"floor": c.floor()} for c in comparisons]

    figures = {
        "model": {**vars(cfg), "frame_sizes": list(cfg.frame_sizes)},
        "parameters": sum(p.numel() for p in model.parameters()),
        "checkpoint_step": int(ckpt["step"]),
        "train_minutes": round(args.train_minutes or float(ckpt.get("train_seconds", 0.0)) / 60, 1),
        "train_samples": int(ckpt["step"]) * train_cfg.batch_size * train_cfg.seq_len,
        "train_recipe": args.recipe,
        "chunk_seconds": train_cfg.chunk_seconds,
        "training_tracks": len(train_files),
        "train_tracks": [f.stem for f in train_files],
        "held_out": args.held_out,
        "val_nll_bits_per_sample": round(val_bits, 4),
        "val_seconds": round(val_chunks.size / cfg.sample_rate, 1),
        "generated_seconds": args.seconds,
        "seed": args.seed,
        "temperature": start_settings(bundle, args.temperature)["temperature"],
        "min_p": start_settings(bundle, args.temperature)["min_p"],
        "start": "all-zero state" if args.cold or bundle.manifest.get("clip") is None else "the bundle's clip",
        "generation_real_time_factor": round(args.seconds / wall, 2),
        "measure_window_s": measure.WINDOW_S,
        "music_windows": len(training_music),
        "music_summary_p5_p50_p95": music_summary(training_music),
        "music_silent_share": round(training_music.silent_share(), 4),
        "music_auc": round(measure.music_auc(training_music), 4),
        "voices": voices,
        "date": datetime.date.today().isoformat(),
        "words": args.words,
        "seeds": {
            count: seeds_summary(rows, music_summary(training_music)["rhythmicity"][1])
            for count, rows in over_seeds(bundle_dir, training_music, args.seconds, args.cold).items()
        },
        "before": before,
    }
    figure_n = int(FIGURE_SECONDS * cfg.sample_rate)
    music = held_clips[0][int(MUSIC_OFFSET_S * cfg.sample_rate) :][:figure_n]
    draw_spectrograms(
        [
            (f"generated (seed {args.seed}, first {FIGURE_SECONDS:g} s)", audio[:figure_n]),
            (f"held-out music ({args.held_out[0]}, {MUSIC_OFFSET_S:g}-{MUSIC_OFFSET_S + FIGURE_SECONDS:g} s)", music),
        ],
        cfg.sample_rate,
        bundle_dir / "spectrogram.png",
    )
    (bundle_dir / "measurements.json").write_text(json.dumps(figures, indent=2) + "\n")
    (bundle_dir / "MODEL_CARD.md").write_text(card_text(figures, bundle_dir))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
