"""Training on real recorded music: it learns (fp32 and bf16), resumes exactly (schedule included), survives
non-finite losses, and runs under DDP; the faster training forward computes the same function."""

import csv
import os
import subprocess
import sys
import types

import numpy as np
import pytest
import soundfile
import torch

from rt_samplernn.checkpoint import read_checkpoint
from rt_samplernn.config import RECIPES, ModelConfig, TrainConfig, model_config_from_preset
from rt_samplernn.data import build_dataset
from rt_samplernn.errors import UserError
from rt_samplernn.model import SampleRNN
from rt_samplernn.train import (
    Evaluated,
    Progress,
    bf16_autocast_supported,
    cpu_threads,
    evaluate,
    learning_rate_at,
    train,
)

CPU_BF16 = bf16_autocast_supported(torch.device("cpu"))

TINY = ModelConfig(frame_sizes=(4, 16), dim=64, sample_dim=64, emb_size=32)


def small_train_cfg(**kw):
    base = dict(
        batch_size=4,
        seq_len=256,
        chunk_seconds=0.5,
        eval_every=50,
        val_batches=0,
        early_stopping_patience=0,
        num_threads=1,
        seed=0,
        preview_seconds=0,
    )
    return TrainConfig(**{**base, **kw})


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(
    "amp",
    [
        False,
        pytest.param(
            True,
            marks=pytest.mark.skipif(
                not CPU_BF16,
                reason="this CPU has no native bf16 (oneDNN needs AVX512-BF16 or AMX): training runs in fp32",
            ),
        ),
    ],
    ids=["fp32", "bf16"],
)
def test_nll_drops_clearly_on_real_music(music_dir, tmp_path, amp):
    cfg = small_train_cfg(max_steps=300, eval_every=100, learning_rate=2e-3, amp=amp)
    data = build_dataset([music_dir / "train"], TINY, cfg, [music_dir / "val"], quiet=True)
    torch.manual_seed(cfg.seed)
    start_bits = evaluate(SampleRNN(TINY), data.val, cfg, torch.device("cpu"))
    result = train([], tmp_path / "run", TINY, cfg, dataset=data)
    assert result.step == 300 and result.stopped == "max_steps"
    assert start_bits > 7.5  # about log2(256) = 8 bits before training
    print(f"validation NLL {start_bits:.3f} -> {result.best_val_bits:.3f} bits/sample ({'bf16' if amp else 'fp32'})")
    assert result.best_val_bits < start_bits - 2.0, (start_bits, result.best_val_bits)
    assert [p.step for p in result.history] == [100, 200, 300]


def test_resume_equals_an_uninterrupted_run(music_dir, tmp_path, monkeypatch):
    """Also with previews at every evaluation: making them leaves the weights and every random state alone."""
    cfg = small_train_cfg(
        preview_seconds=0.05,
        max_steps=20,
        eval_every=7,
        checkpoint_policy="always",
        keep_checkpoints=2,
        lr_schedule="cosine",
        warmup_steps=5,
        min_lr_fraction=0.1,
    )
    data = build_dataset([music_dir / "train"], TINY, cfg, quiet=True)
    train([], tmp_path / "straight", TINY, cfg, dataset=data)
    # Interrupted by its time budget after step 15, mid-batch, as recipes/demo.sh sessions end; the clock
    # reads one second later at each call, so every step takes exactly 1 s of the 0.25-minute budget.
    clock = iter(range(10**6))
    monkeypatch.setattr("rt_samplernn.train.time", types.SimpleNamespace(perf_counter=lambda: float(next(clock))))
    budgeted = TrainConfig(**{**vars(cfg), "max_minutes": 0.25})
    cut = train([], tmp_path / "halves", TINY, budgeted, dataset=data)
    monkeypatch.undo()
    assert cut.stopped == "time_limit" and cut.step == 15
    resumed_from = read_checkpoint(tmp_path / "halves" / "last.pt")
    assert resumed_from["position"]["segment"] > 0  # stopped mid-batch: carried states must survive
    train([], tmp_path / "halves", TINY, cfg, resume=resumed_from, dataset=data)
    a, b = read_checkpoint(tmp_path / "straight" / "last.pt"), read_checkpoint(tmp_path / "halves" / "last.pt")
    assert a["step"] == b["step"] == 20
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key], atol=0, rtol=0)
    # The schedule resumed where it was: warm-up done at step 5, cosine to 0.1 x at step 20.
    lrs = [group["lr"] for ckpt in (a, b) for group in ckpt["optimizer"]["param_groups"]]
    assert lrs[0] == lrs[-1] == pytest.approx(cfg.learning_rate * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * 14 / 15))))
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
    for key, state in a["optimizer"]["state"].items():
        torch.testing.assert_close(state["exp_avg_sq"], b["optimizer"]["state"][key]["exp_avg_sq"], atol=0, rtol=0)
    assert sorted(p.name for p in (tmp_path / "straight").glob("step-*.pt")) == ["step-00000014.pt", "step-00000020.pt"]
    assert b["train_seconds"] > 15  # the budget's clock carries across sessions
    previews = sorted(p.name for p in (tmp_path / "halves" / "previews").glob("*.wav"))
    assert previews[:2] == ["step-00000007-cold.wav", "step-00000007-primed.wav"] and len(previews) == 8


def test_repeated_non_finite_losses_stop_with_a_clear_message(music_dir, tmp_path):
    cfg = small_train_cfg(max_steps=200, learning_rate=1e30, optimizer="sgd", grad_clip=1e38, max_nonfinite=3)
    data = build_dataset([music_dir / "train"], TINY, cfg, quiet=True)
    with pytest.raises(UserError, match="non-finite losses or gradients in a row; lower --learning-rate"):
        train([], tmp_path / "nan", TINY, cfg, dataset=data)


def test_two_process_ddp_on_cpu_trains(music_dir, tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "rt_samplernn",
        "train",
        str(music_dir / "train"),
        "--out",
        str(out),
        "--frame-sizes",
        "4",
        "16",
        "--dim",
        "32",
        "--sample-dim",
        "32",
        "--emb-size",
        "16",
        "--batch-size",
        "2",
        "--seq-len",
        "128",
        "--chunk-seconds",
        "0.5",
        "--max-steps",
        "12",
        "--eval-every",
        "6",
        "--val-batches",
        "1",
        "--num-threads",
        "1",
        "--preview-seconds",
        "0.05",
        "--quiet",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    ckpt = read_checkpoint(out / "last.pt")
    assert ckpt["step"] == 12 and np.isfinite(ckpt["val_bits"])


@pytest.mark.parametrize("preset", ["live", "paper-2tier"])
def test_the_training_forward_computes_what_the_exported_forward_does(preset):
    """Training folds the sample tier's embedding into its input conv (a lookup table); eval and export run the
    conv. Same weights, same logits."""
    torch.manual_seed(0)
    model = SampleRNN(model_config_from_preset(preset, {"dim": 64, "sample_dim": 64, "emb_size": 32}))
    x = torch.randint(0, 256, (2, model.overlap + 128))
    states = model.initial_state(2)
    trained, _ = model.train()(x, states)
    exported, _ = model.eval()(x, states)
    torch.testing.assert_close(trained, exported, atol=1e-5, rtol=1e-5)
    model.train()(x, states)[0].logsumexp(-1).sum().backward()  # and gradients reach the embedding and the conv
    assert model.sample_tier.embedding.weight.grad.abs().sum() > 0


def test_cpu_threads_share_the_cores_among_local_ranks(monkeypatch):
    assert cpu_threads(3) == 3
    cores = cpu_threads(0)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert cpu_threads(0) == max(1, cores // 2)


def test_every_train_flag_says_what_it_is():
    import argparse
    import dataclasses

    from rt_samplernn.commands import train as train_command

    parser = argparse.ArgumentParser()
    train_command.register(parser.add_subparsers(), argparse.HelpFormatter)
    text = parser._subparsers._group_actions[0].choices["train"].format_help()
    for cls in (ModelConfig, TrainConfig):
        for f in dataclasses.fields(cls):
            words = f.metadata.get("help", "").split()
            assert len(words) >= 3, f"--{f.name.replace('_', '-')} has no help text in words"
            assert f"--{f.name.replace('_', '-')}" in text


def test_previews_are_valid_wavs_of_the_requested_length_deterministic_and_in_tensorboard(music_dir, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tiny_8k = ModelConfig(**{**vars(TINY), "sample_rate": 8000})
    cfg = small_train_cfg(max_steps=6, eval_every=3, preview_seconds=2.0, val_fraction=0.5)  # 2 s: one window
    data = build_dataset([music_dir / "train"], tiny_8k, cfg, quiet=True)
    events = []
    for run in ("a", "b"):
        train([], tmp_path / run, tiny_8k, cfg, dataset=data, on_event=events.append)
    names = sorted(p.name for p in (tmp_path / "a" / "previews").iterdir())
    assert names == [f"step-{s:08d}-{v}.wav" for s in (3, 6) for v in ("cold", "primed")]
    for name in names:
        info = soundfile.info(tmp_path / "a" / "previews" / name)
        assert (info.samplerate, info.channels, info.frames) == (8000, 1, 16000) and info.subtype == "PCM_16"
        # deterministic for the seed: the second run's previews are the same files, byte for byte
        assert (tmp_path / "a" / "previews" / name).read_bytes() == (tmp_path / "b" / "previews" / name).read_bytes()
    audio, _ = soundfile.read(tmp_path / "a" / "previews" / names[0])
    assert np.abs(audio).max() > 0.01  # sound, not an empty file
    rows = list(csv.DictReader(open(tmp_path / "a" / "previews.csv")))
    assert [(r["step"], r["voice"]) for r in rows] == [("3", "cold"), ("3", "primed"), ("6", "cold"), ("6", "primed")]
    # six steps of a tiny model: noise, and the measure says so
    assert all(r["verdict"] == "noise-like" and float(r["flatness"]) > 0.1 for r in rows), rows
    tb = EventAccumulator(str(tmp_path / "a" / "tb"), size_guidance={"audio": 0, "scalars": 0})
    tb.Reload()
    assert {"preview/cold", "preview/primed"} <= set(tb.Tags()["audio"])
    assert [e.step for e in tb.Audio("preview/primed")] == [3, 6]
    for voice in ("cold", "primed"):
        for name in ("loudness_db", "flatness", "silent_share"):
            assert [e.step for e in tb.Scalars(f"preview/{voice}/{name}")] == [3, 6]
    evaluated = [e for e in events if isinstance(e, Evaluated)]
    assert [len(e.previews) for e in evaluated] == [2, 2, 2, 2] and evaluated[0].preview_share > 0
    progress = [e for e in events if isinstance(e, Progress)]
    assert [e.step for e in progress[:6]] == list(range(1, 7)) and progress[5].last_val_bits < 9


def test_render_is_deterministic_for_a_seed_and_leaves_torch_random_state_alone():
    from rt_samplernn.previews import render

    torch.manual_seed(0)
    model = SampleRNN(TINY).train()
    priming = np.random.default_rng(0).integers(0, 256, 16 * 20)
    state = torch.get_rng_state()
    a, b, c = (render(model, 0.05, seed, priming) for seed in (3, 3, 4))
    assert torch.equal(state, torch.get_rng_state()) and model.training
    assert list(a) == ["cold", "primed"] and len(a["cold"]) == 800
    assert all(np.array_equal(a[v], b[v]) for v in a) and not np.array_equal(a["cold"], c["cold"])
    assert not np.array_equal(a["cold"], a["primed"])  # priming changes what follows


def test_the_advice_comes_after_several_evaluations_of_noise():
    from rt_samplernn.previews import NOISE_EVALS_FOR_ADVICE, Preview, advice, all_noise

    noise = Preview("cold", np.zeros(1, np.float32), {}, "noise-like")
    pitched = Preview("primed", np.zeros(1, np.float32), {}, "pitched, no beat yet")
    assert all_noise([noise]) and not all_noise([noise, pitched]) and not all_noise([])
    assert advice(NOISE_EVALS_FOR_ADVICE - 1) is None
    assert "restart with a lower learning rate" in advice(NOISE_EVALS_FOR_ADVICE)


def test_cosine_over_the_clock_when_only_minutes_bound_the_run():
    cfg = TrainConfig(max_steps=0, max_minutes=2.0, warmup_steps=10, learning_rate=1e-3, min_lr_fraction=0.1)
    assert learning_rate_at(4, cfg, 0.0) == pytest.approx(5e-4)  # warm-up counts steps
    assert learning_rate_at(50, cfg, 0.0) == pytest.approx(1e-3)
    assert learning_rate_at(50, cfg, 60.0) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))  # half the minutes
    assert learning_rate_at(50, cfg, 500.0) == pytest.approx(1e-4)
    with pytest.raises(UserError, match="--max-steps or --max-minutes"):
        TrainConfig(max_steps=0)
    first = TrainConfig(**RECIPES["first-release"])
    assert [learning_rate_at(s, first) for s in (0, 99)] == [1e-3, 1e-3]


def test_an_old_checkpoint_without_the_new_fields_resumes(music_dir, tmp_path):
    """Checkpoints written before previews (no noise_evals, no preview_seconds) continue training."""
    from rt_samplernn.cli import main

    cfg = small_train_cfg(max_steps=6, eval_every=3)
    data = build_dataset([music_dir / "train"], TINY, cfg, quiet=True)
    train([], tmp_path / "old", TINY, cfg, dataset=data)
    ckpt = torch.load(tmp_path / "old" / "last.pt", weights_only=True)
    del ckpt["noise_evals"], ckpt["train_config"]["preview_seconds"]
    torch.save(ckpt, tmp_path / "old" / "last.pt")
    assert (
        main(
            [
                "train",
                str(music_dir / "train"),
                "--out",
                str(tmp_path / "old"),
                "--resume",
                str(tmp_path / "old"),
                "--max-steps",
                "9",
                "--preview-seconds",
                "0.05",
                "--quiet",
            ]
        )
        == 0
    )
    resumed = read_checkpoint(tmp_path / "old" / "last.pt")
    assert resumed["step"] == 9 and resumed["noise_evals"] in (0, 1)
    assert len(list((tmp_path / "old" / "previews").glob("step-00000009-*.wav"))) == 2
