"""Training on real recorded music: it learns, resumes exactly, survives non-finite losses, and runs under DDP."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from rt_samplernn.checkpoint import read_checkpoint
from rt_samplernn.config import ModelConfig, TrainConfig
from rt_samplernn.data import build_dataset
from rt_samplernn.errors import UserError
from rt_samplernn.model import SampleRNN
from rt_samplernn.train import evaluate, train

TINY = ModelConfig(frame_sizes=(4, 16), dim=64, sample_dim=64, emb_size=32)


def small_train_cfg(**kw):
    base = dict(batch_size=4, seq_len=256, chunk_seconds=0.5, eval_every=50, val_batches=0,
                early_stopping_patience=0, num_threads=1, seed=0)
    return TrainConfig(**{**base, **kw})


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_nll_drops_clearly_on_real_music(music_dir, tmp_path):
    cfg = small_train_cfg(max_steps=300, eval_every=100, learning_rate=2e-3)
    data = build_dataset([music_dir / "train"], TINY, cfg, [music_dir / "val"], quiet=True)
    torch.manual_seed(cfg.seed)
    start_bits = evaluate(SampleRNN(TINY), data.val, cfg, torch.device("cpu"))
    result = train([], tmp_path / "run", TINY, cfg, quiet=True, dataset=data)
    assert result.step == 300 and result.stopped == "max_steps"
    assert start_bits > 7.5  # about log2(256) = 8 bits before training
    print(f"validation NLL {start_bits:.3f} -> {result.best_val_bits:.3f} bits/sample")
    assert result.best_val_bits < start_bits - 2.0, (start_bits, result.best_val_bits)


def test_resume_equals_an_uninterrupted_run(music_dir, tmp_path):
    cfg = small_train_cfg(max_steps=20, eval_every=7, checkpoint_policy="always", keep_checkpoints=2)
    data = build_dataset([music_dir / "train"], TINY, cfg, quiet=True)
    train([], tmp_path / "straight", TINY, cfg, quiet=True, dataset=data)
    half = TrainConfig(**{**vars(cfg), "max_steps": 14})
    train([], tmp_path / "halves", TINY, half, quiet=True, dataset=data)
    resumed_from = read_checkpoint(tmp_path / "halves" / "last.pt")
    assert resumed_from["position"]["segment"] > 0  # stopped mid-batch: carried states must survive
    train([], tmp_path / "halves", TINY, cfg, resume=resumed_from, quiet=True, dataset=data)
    a, b = read_checkpoint(tmp_path / "straight" / "last.pt"), read_checkpoint(tmp_path / "halves" / "last.pt")
    assert a["step"] == b["step"] == 20
    for key in a["model"]:
        torch.testing.assert_close(a["model"][key], b["model"][key], atol=0, rtol=0)
    assert sorted(p.name for p in (tmp_path / "straight").glob("step-*.pt")) == ["step-00000014.pt", "step-00000020.pt"]


def test_repeated_non_finite_losses_stop_with_a_clear_message(music_dir, tmp_path):
    cfg = small_train_cfg(max_steps=200, learning_rate=1e30, optimizer="sgd", grad_clip=1e38, max_nonfinite=3)
    data = build_dataset([music_dir / "train"], TINY, cfg, quiet=True)
    with pytest.raises(UserError, match="non-finite losses or gradients in a row; lower --learning-rate"):
        train([], tmp_path / "nan", TINY, cfg, quiet=True, dataset=data)


def test_two_process_ddp_on_cpu_trains(music_dir, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "rt_samplernn", "train", str(music_dir / "train"), "--out", str(out),
           "--frame-sizes", "4", "16", "--dim", "32", "--sample-dim", "32", "--emb-size", "16",
           "--batch-size", "2", "--seq-len", "128", "--chunk-seconds", "0.5", "--max-steps", "12",
           "--eval-every", "6", "--val-batches", "1", "--num-threads", "1", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    ckpt = read_checkpoint(out / "last.pt")
    assert ckpt["step"] == 12 and np.isfinite(ckpt["val_bits"])
