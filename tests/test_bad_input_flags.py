"""Bad numbers and bad destinations through the real command line: one line naming the flag or path, nothing written."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rt_samplernn.checkpoint import save_checkpoint
from rt_samplernn.cli import main
from tests.bundle_helpers import tiny_bundle


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(bundle folder, checkpoint file) of one tiny model."""
    root = tmp_path_factory.mktemp("models")
    model, bundle = tiny_bundle(root / "bundle")
    return bundle, save_checkpoint(root / "tiny.pt", model)


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    """(exit status, the one stderr line) of `rt-samplernn ARGS`; fails unless stderr is exactly one line."""
    try:
        rc = main([str(a) for a in args])
    except SystemExit as e:  # argparse refuses a flag's value itself
        rc = e.code if isinstance(e.code, int) else 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return rc, lines[0]


NUMBERS = [  # (command and flag, value, words of the message)
    (["generate", "B", "--seconds"], "nan", ["--seconds", "'nan'", "(0, 86400]"]),
    (["generate", "B", "--seconds"], "inf", ["--seconds", "'inf'"]),
    (["generate", "B", "--seconds"], "1e9", ["--seconds", "'1e9'", "86400"]),
    (["generate", "B", "--seconds"], "-1", ["--seconds"]),
    (["generate", "B", "--count"], "0", ["--count", "'0'", "[1, 256]"]),
    (["generate", "B", "--count"], "-1", ["--count", "'-1'"]),
    (["generate", "B", "--temperature"], "0", ["--temperature", "(0, 100]"]),
    (["generate", "B", "--temperature", "1", "nan", "--count"], "2", ["--temperature", "'nan'"]),
    (["generate", "B", "--seed"], "-5", ["--seed", "'-5'"]),
    (["generate", "B", "--threads"], "0", ["--threads"]),
    (["play", "B", "--latency-ms"], "nan", ["--latency-ms", "(0, 10000]"]),
    (["play", "B", "--latency-ms"], "0", ["--latency-ms"]),
    (["play", "B", "--seconds"], "inf", ["--seconds"]),
    (["play", "B", "--gain"], "-1", ["--gain", "[0, 100]"]),
    (["play", "B", "--gain"], "nan", ["--gain"]),
    (["play", "B", "--temperature"], "inf", ["--temperature"]),
    (["play", "B", "--voices"], "0", ["--voices"]),
    (["play", "B", "--voices"], "100000", ["--voices", "[1, 256]"]),
    (["play", "B", "--chunk-frames"], "0", ["--chunk-frames"]),
    (["play", "B", "--midi", "virtual", "--midi-channel"], "17", ["--midi-channel", "[1, 16]"]),
    (["gui", "B", "--voices"], "0", ["--voices"]),
    (["gui", "B", "--latency-ms"], "-3", ["--latency-ms"]),
    (["bench", "B", "--seconds"], "nan", ["--seconds"]),
    (["bench", "B", "--repeats"], "0", ["--repeats"]),
    (["export", "C", "--verify-seconds"], "inf", ["--verify-seconds"]),
    (["export", "C", "--verify-samples"], "-1", ["--verify-samples"]),
    (["train", "C", "--out", "X", "--learning-rate"], "nan", ["--learning-rate", "'nan'"]),
    (["train", "C", "--out", "X", "--max-steps"], "-1", ["--max-steps"]),
    (["train", "C", "--out", "X", "--chunk-seconds"], "inf", ["--chunk-seconds"]),
    (["train", "C", "--out", "X", "--frame-sizes"], "0", ["--frame-sizes"]),
]


@pytest.mark.parametrize("args,value,words", NUMBERS, ids=[" ".join(a[2:] + [v]) + f" ({a[0]})" for a, v, _ in NUMBERS])
def test_bad_numbers_are_refused_by_the_parser(models, tmp_path, capsys, args, value, words):
    bundle, ckpt = models
    args = [{"B": bundle, "C": ckpt, "X": tmp_path / "run"}.get(a, a) for a in args] + [value]
    rc, line = run_cli(args, capsys)
    assert rc == 2 and f"rt-samplernn {args[0]}: error: argument" in line and "--help" in line
    for word in words:
        assert word in line, line
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a run folder


def test_zero_eval_every_is_refused(models, tmp_path, capsys):
    rc, line = run_cli(["train", models[1], "--out", tmp_path / "run", "--eval-every", "0"], capsys)
    assert rc == 1 and "eval_every must be positive" in line


@pytest.mark.parametrize("flag,value", [("--midi-map", "my-map.toml"), ("--midi-channel", "3")])
def test_midi_flags_without_midi_are_refused(models, capsys, flag, value):
    rc, line = run_cli(["play", models[0], "--device", "none", "--seconds", "1", flag, value], capsys)
    assert rc == 1 and f"{flag} {value}: only used with --midi" in line


BAD_FILES = [  # (--out relative to tmp_path or absolute, words)
    ("/proc/out.wav", ["/proc/out.wav", "cannot write in /proc", "choose another --out"]),
    ("/sys/out.wav", ["/sys/out.wav", "cannot write in /sys"]),
    ("nowhere/out.wav", ["nowhere/out.wav", "does not exist", "create it"]),
    ("afile/out.wav", ["afile/out.wav", "is a file, not a folder"]),
    ("folder", ["folder: is a folder", "give a file name"]),
]


@pytest.mark.parametrize("out,words", BAD_FILES, ids=[o for o, _ in BAD_FILES])
@pytest.mark.parametrize("which", ["bundle", "checkpoint"])
def test_generate_refuses_bad_destinations(models, tmp_path, capsys, out, words, which):
    (tmp_path / "afile").write_text("in the way")
    (tmp_path / "folder").mkdir()
    out = out if out.startswith("/") else str(tmp_path / out)
    rc, line = run_cli(
        ["generate", models[0] if which == "bundle" else models[1], "--seconds", "0.1", "--out", out], capsys
    )
    assert rc == 1
    for word in words:
        assert word in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "folder"] and not any(
        (tmp_path / "folder").iterdir()
    )


def test_generate_refuses_to_overwrite_and_leaves_the_file(models, tmp_path, capsys):
    out = tmp_path / "take-2.wav"
    out.write_bytes(b"precious")
    rc, line = run_cli(
        ["generate", models[0], "--count", "2", "--seconds", "0.1", "--out", tmp_path / "take.wav"], capsys
    )
    assert rc == 1 and "take-2.wav: already exists; use --force" in line
    assert out.read_bytes() == b"precious" and not (tmp_path / "take-1.wav").exists()


def test_generate_checks_the_destination_before_generating(models):
    # A day of audio from the PyTorch reference would take hours: the error must come first.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rt_samplernn",
            "generate",
            str(models[1]),
            "--seconds",
            "86400",
            "--out",
            "/proc/day.wav",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert (
        proc.stderr.strip() == "rt-samplernn generate: error: /proc/day.wav: cannot write in /proc "
        "(No such file or directory); choose another --out"
    )


@pytest.mark.parametrize(
    "out,words",
    [
        ("/proc/b", ["/proc/b: cannot write in /proc", "choose another --out"]),
        ("/sys/b", ["/sys/b: cannot write in /sys"]),
        ("afile/run", ["afile/run:", "is a file, not a folder"]),
        ("afile", ["afile: is a file, not a folder"]),
    ],
)
def test_train_refuses_bad_run_folders_before_reading_data(models, tmp_path, capsys, out, words):
    (tmp_path / "afile").write_text("in the way")
    out = out if out.startswith("/") else str(tmp_path / out)
    rc, line = run_cli(["train", tmp_path / "no-data-here", "--out", out], capsys)  # the data would fail later
    assert rc == 1
    for word in words:
        assert word in line, line
    assert (tmp_path / "afile").read_text() == "in the way"


@pytest.mark.parametrize(
    "out,words",
    [
        ("/proc/b", ["/proc/b: cannot write in /proc", "choose another -o"]),
        ("/sys/b", ["/sys/b: cannot write in /sys"]),
        ("afile/b", ["afile/b:", "afile is a file, not a folder"]),
        ("afile", ["afile: exists and is not a folder"]),
    ],
)
def test_export_refuses_bad_destinations(models, tmp_path, capsys, out, words):
    (tmp_path / "afile").write_text("in the way")
    out = out if out.startswith("/") else str(tmp_path / out)
    rc, line = run_cli(["export", models[1], "-o", out], capsys)
    assert rc == 1
    for word in words:
        assert word in line, line
    assert [p.name for p in tmp_path.iterdir()] == ["afile"] and (tmp_path / "afile").read_text() == "in the way"
