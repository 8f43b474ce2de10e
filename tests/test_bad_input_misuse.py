"""Everyday misuse (class 6 of issue 22): one line each, or the documented behaviour.

`--resume` with another batch size (refused: the position and carried states are per batch), devices
this machine lacks, `play --stdout` with standard output closed, model flags past their documented limits
(the same limits as config files), `--q-levels` at its maximum, fewer chunks than torchrun's processes need.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rt_samplernn.cli import main
from rt_samplernn.config import ModelConfig, TrainConfig, field_limits
from rt_samplernn.data import build_dataset, chunks_from_clips
from rt_samplernn.errors import UserError
from rt_samplernn.quantize import dequantize
from tests.cli_helpers import one_error_line
from tests.test_checkpoint import SMALL

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run(music_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", str(music_dir / "train"), "--out", str(out), "--max-steps", "3", "--quiet", *SMALL]) == 0
    return out


@pytest.mark.parametrize("flag,value", [("--batch-size", "3"), ("--seq-len", "128"), ("--chunk-seconds", "0.5")])
def test_resume_with_other_batches_is_refused(run, music_dir, tmp_path, capsys, flag, value):
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.suffix == ".pt"}
    line = one_error_line(["train", music_dir / "train", "--out", run, "--resume", run, flag, value], capsys)
    assert f"{flag} {value}: {run} was trained with" in line and f"drop {flag}" in line
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.suffix == ".pt"} == before


def test_resume_with_the_same_batch_size_given_again_is_fine(run, music_dir, capsys):
    assert (
        main(
            [
                "train",
                str(music_dir / "train"),
                "--out",
                str(run),
                "--resume",
                str(run),
                "--batch-size",
                "2",
                "--max-steps",
                "4",
                "--quiet",
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    "device,words",
    [
        ("cuda", "not usable here"),
        ("cuda:7", "not usable here"),
        ("gpu0", "not a torch device; use cpu, cuda or cuda:N"),
    ],
)
def test_a_device_this_machine_lacks_is_one_line(music_dir, tmp_path, capsys, device, words):
    import torch

    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has that many GPUs")
    line = one_error_line(["train", music_dir / "train", "--out", tmp_path / "r", "--device", device, *SMALL], capsys)
    assert f"--device {device}" in line.replace("'", "") and words in line
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_play_stdout_with_stdout_closed_is_one_line():
    proc = subprocess.run(
        [sys.executable, "-m", "rt_samplernn", "play", "--stdout", "--seconds", "0.5", "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        timeout=120,
        preexec_fn=lambda: os.close(1),  # started with standard output closed, as `>&-` does
    )
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.count("\n") == 1, err
    assert "--stdout: standard output is closed" in err


@pytest.mark.parametrize(
    "flag,value",
    [
        ("--dim", "8193"),
        ("--sample-rate", "384001"),
        ("--sample-rate", "999"),
        ("--rnn-layers", "65"),
        ("--q-levels", "65537"),
        ("--frame-sizes", "65537"),
    ],
)
def test_model_flags_past_their_limits_are_refused_by_argparse(tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as e:
        main(["train", str(tmp_path), "--out", str(tmp_path / "r"), flag, value])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and f"argument {flag}: '{value}' is not a whole number in [" in err.splitlines()[-1]


@pytest.mark.parametrize("value", ["١٢٨", "１２８"])  # Arabic-Indic and full-width digits
def test_flags_take_ascii_digits_only(tmp_path, capsys, value):
    with pytest.raises(SystemExit):
        main(["generate", "--seconds", value, "--out", str(tmp_path / "a.wav")])
    assert f"argument --seconds: '{value}' is not a number in" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", str(tmp_path), "--out", str(tmp_path / "r"), "--dim", value])
    assert f"argument --dim: '{value}' is not a whole number in [1, 8192]" in capsys.readouterr().err


def test_config_files_share_the_flags_limits(tmp_path, capsys):
    low, high = field_limits(ModelConfig, "dim")
    (tmp_path / "c.toml").write_text(f"[model]\ndim = {int(high) + 1}\n")
    line = one_error_line(["train", tmp_path, "--out", tmp_path / "r", "--config", tmp_path / "c.toml"], capsys)
    assert f"dim {int(high) + 1} is outside [{int(low)}, {int(high)}]" in line


def test_limits_are_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(1..8192, default: 512)" in out and "(1000..384000, default: 16000)" in out


def test_q_levels_at_its_documented_maximum_keeps_every_level(music_dir):
    cfg = ModelConfig(frame_sizes=(4, 16), dim=8, sample_dim=8, emb_size=4, q_type="linear", q_levels=65536)
    ramp = np.linspace(-0.999, 0.999, 16000, dtype=np.float32)
    levels = chunks_from_clips([ramp], cfg, TrainConfig(batch_size=1, seq_len=256, chunk_seconds=0.5))
    assert levels.dtype == np.uint16 and levels.max() > 60000  # int16 storage wrapped these to negatives
    assert np.abs(dequantize(levels[0].astype(np.int64), "linear", 65536) - ramp[: levels.shape[1]]).max() < 1e-4


def test_q_levels_at_its_maximum_trains(music_dir, tmp_path):
    flags = [f for f in SMALL]
    flags[flags.index("--emb-size") + 1] = "4"
    args = ["train", str(music_dir / "train"), "--out", str(tmp_path / "r"), "--max-steps", "2", "--quiet", *flags]
    assert main(args + ["--q-type", "linear", "--q-levels", "65536"]) == 0
    assert (tmp_path / "r" / "last.pt").is_file()


def test_fewer_chunks_than_a_batch_per_torchrun_process_is_one_line(music_dir, monkeypatch):
    cfg = ModelConfig(frame_sizes=(4, 16), dim=8, sample_dim=8, emb_size=4)
    train_cfg = TrainConfig(batch_size=4, seq_len=256, chunk_seconds=0.5, val_fraction=0.0)
    n = len(build_dataset([music_dir / "train"], cfg, train_cfg, quiet=True).train)
    monkeypatch.setenv("WORLD_SIZE", str(n // 4 + 1))  # what torchrun sets for its processes
    with pytest.raises(UserError, match=rf"only {n} training chunks for batch_size 4 x {n // 4 + 1} processes"):
        build_dataset([music_dir / "train"], cfg, train_cfg, quiet=True)


def test_q_levels_at_its_maximum_exports_verifies_and_generates(tmp_path, capsys):
    from rt_samplernn.checkpoint import save_checkpoint
    from tests.bundle_helpers import tiny_model

    ckpt = save_checkpoint(tmp_path / "q.pt", tiny_model(0, q_type="linear", q_levels=65536, emb_size=4))
    assert main(["export", str(ckpt), "-o", str(tmp_path / "b"), "--verify", "--verify-samples", "200"]) == 0
    out = capsys.readouterr().out
    assert "note: parity window shortened to 512 samples" in out and "parity: ok" in out  # not 8 GB of logits
    assert main(["generate", str(tmp_path / "b"), "--seconds", "0.1", "--out", str(tmp_path / "a.wav")]) == 0


def test_a_model_that_cannot_fit_in_memory_is_one_line_not_a_kill(music_dir, tmp_path, capsys):
    args = ["train", music_dir / "train", "--out", tmp_path / "r", "--dim", "8192", "--rnn-layers", "64"]
    line = one_error_line([*args, "--device", "cpu"], capsys)
    assert "this training needs at least" in line and "GiB is available: lower --dim, --rnn-layers" in line
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
