"""The command line end to end on small real data: train, resume, generate deterministically, one-line errors."""

import os
import subprocess
import sys

import pytest
import soundfile

SMALL = [
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
    "--eval-every",
    "10",
    "--val-batches",
    "1",
    "--num-threads",
    "1",
    "--preview-seconds",
    "0.1",
]


def cli(*args, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "rt_samplernn", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def assert_one_line_error(proc, *words):
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_train_resume_then_generate_twice_gives_identical_files(music_dir, tmp_path):
    run = tmp_path / "run"
    cli(
        "train",
        music_dir / "train",
        "--val-data",
        music_dir / "val",
        "--out",
        run,
        "--max-steps",
        "20",
        *SMALL,
        "--quiet",
    )
    assert_one_line_error(
        cli("train", music_dir / "train", "--out", run, *SMALL, check=False), "already holds checkpoints"
    )
    cli(
        "train",
        music_dir / "train",
        "--val-data",
        music_dir / "val",
        "--out",
        run,
        "--resume",
        run,
        "--max-steps",
        "30",
        "--quiet",
    )
    for name in ("a.wav", "b.wav"):
        cli("generate", run / "best.pt", "--seconds", "0.25", "--seed", "1", "--out", tmp_path / name)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    cli(
        "generate",
        run / "last.pt",
        "--seconds",
        "0.1",
        "--count",
        "2",
        "--temperature",
        "0.9",
        "1.1",
        "--seed-audio",
        music_dir / "val" / "c.wav",
        "--channels",
        "--out",
        tmp_path / "two.wav",
    )
    audio, rate = soundfile.read(tmp_path / "two.wav")
    assert rate == 16000 and audio.shape == (1600, 2)


@pytest.mark.parametrize(
    "args,words",
    [
        (["train", "nowhere/", "--out", "X"], ["nowhere: no such file or folder"]),
        (["train", "DATA", "--out", "X", "--preset", "live", "--frame-sizes", "16", "24"], ["frame_sizes", "multiple"]),
        (
            ["train", "DATA", "--out", "X", "--batch-size", "999", "--chunk-seconds", "0.5"],
            ["only", "training chunks", "--batch-size"],
        ),
        (["generate", "missing.pt"], ["missing.pt: no such checkpoint file"]),
        (["generate", "DATA/a.wav"], ["a.wav: not a PyTorch checkpoint (a WAV file: audio)"]),
    ],
)
def test_user_mistakes_get_one_line(music_dir, tmp_path, args, words):
    args = [str(a).replace("DATA", str(music_dir / "train")).replace("X", str(tmp_path / "x")) for a in args]
    assert_one_line_error(cli(*args, check=False), *words)


def test_every_command_has_help_with_examples():
    for command in ("train", "generate"):
        out = cli(command, "--help").stdout
        assert "examples:" in out and f"rt-samplernn {command}" in out
