"""Training on real recorded music: it learns (fp32 and bf16), resumes exactly (schedule included), survives
non-finite losses, and runs under DDP; the faster training forward computes the same function."""

import os
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

from rt_samplernn.checkpoint import read_checkpoint
from rt_samplernn.config import ModelConfig, TrainConfig, model_config_from_preset
from rt_samplernn.data import build_dataset
from rt_samplernn.errors import UserError
from rt_samplernn.model import SampleRNN
from rt_samplernn.train import bf16_autocast_supported, cpu_threads, evaluate, train

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
    result = train([], tmp_path / "run", TINY, cfg, quiet=True, dataset=data)
    assert result.step == 300 and result.stopped == "max_steps"
    assert start_bits > 7.5  # about log2(256) = 8 bits before training
    print(f"validation NLL {start_bits:.3f} -> {result.best_val_bits:.3f} bits/sample ({'bf16' if amp else 'fp32'})")
    assert result.best_val_bits < start_bits - 2.0, (start_bits, result.best_val_bits)
    assert [p.step for p in result.history] == [100, 200, 300]


def test_resume_equals_an_uninterrupted_run(music_dir, tmp_path, monkeypatch):
    cfg = small_train_cfg(
        max_steps=20,
        eval_every=7,
        checkpoint_policy="always",
        keep_checkpoints=2,
        lr_schedule="cosine",
        warmup_steps=5,
        min_lr_fraction=0.1,
    )
    data = build_dataset([music_dir / "train"], TINY, cfg, quiet=True)
    train([], tmp_path / "straight", TINY, cfg, quiet=True, dataset=data)
    # Interrupted by its time budget after step 15, mid-batch, as recipes/demo.sh sessions end; the clock
    # reads one second later at each call, so every step takes exactly 1 s of the 0.25-minute budget.
    clock = iter(range(10**6))
    monkeypatch.setattr("rt_samplernn.train.time", types.SimpleNamespace(perf_counter=lambda: float(next(clock))))
    budgeted = TrainConfig(**{**vars(cfg), "max_minutes": 0.25})
    cut = train([], tmp_path / "halves", TINY, budgeted, quiet=True, dataset=data)
    monkeypatch.undo()
    assert cut.stopped == "time_limit" and cut.step == 15
    resumed_from = read_checkpoint(tmp_path / "halves" / "last.pt")
    assert resumed_from["position"]["segment"] > 0  # stopped mid-batch: carried states must survive
    train([], tmp_path / "halves", TINY, cfg, resume=resumed_from, quiet=True, dataset=data)
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


def test_repeated_non_finite_losses_stop_with_a_clear_message(music_dir, tmp_path):
    cfg = small_train_cfg(max_steps=200, learning_rate=1e30, optimizer="sgd", grad_clip=1e38, max_nonfinite=3)
    data = build_dataset([music_dir / "train"], TINY, cfg, quiet=True)
    with pytest.raises(UserError, match="non-finite losses or gradients in a row; lower --learning-rate"):
        train([], tmp_path / "nan", TINY, cfg, quiet=True, dataset=data)


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
