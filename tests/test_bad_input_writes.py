"""Interrupted and failing writes lose nothing: bundles swap in whole, WAVs and checkpoints land complete or not at all.

Failures come from real causes: a process killed by the kernel part-way through a write (SIGXFSZ when a file
passes RLIMIT_FSIZE, what a full quota does), or the same limit with the signal ignored (write() fails
with EFBIG, as on a full disk).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rt_samplernn.checkpoint import save_checkpoint
from rt_samplernn.cli import main
from rt_samplernn.config import TrainConfig
from rt_samplernn.errors import UserError
from rt_samplernn.live.bundle import load_bundle
from rt_samplernn.train import Checkpointer
from tests.bundle_helpers import tiny_bundle, tiny_model

FILE_LIMIT = 100_000  # bytes: above the tiny frame graphs, below the tiny sample graph (~200 kB)


def limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))


def python_with_file_limit(code: str, kill: bool) -> subprocess.CompletedProcess:
    """Run code with files capped at FILE_LIMIT bytes: the kernel kills it there (kill), or write() fails.

    Python ignores SIGXFSZ from the start, so for kill the code puts the default action back first.
    """
    if kill:
        code = "import signal; signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n" + code
    return subprocess.run(
        [sys.executable, "-B", "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit_file_size,
        cwd=Path(__file__).parent.parent,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def cli_with_file_limit(*args: object, kill: bool) -> subprocess.CompletedProcess:
    """`rt-samplernn ARGS` (the real CLI) with files capped at FILE_LIMIT bytes."""
    code = f"from rt_samplernn.cli import main; raise SystemExit(main({[str(a) for a in args]!r}))"
    return python_with_file_limit(code, kill)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def old_bundle_and_new_checkpoint(tmp_path):
    """A bundle of one model in tmp/bundle and a checkpoint of another model in tmp/new.pt."""
    _, bundle = tiny_bundle(tmp_path / "bundle", seed=1)
    return bundle, save_checkpoint(tmp_path / "new.pt", tiny_model(2))


def test_export_killed_part_way_leaves_the_old_bundle_intact(old_bundle_and_new_checkpoint, tmp_path):
    bundle, ckpt = old_bundle_and_new_checkpoint
    before = snapshot(bundle)
    proc = cli_with_file_limit("export", ckpt, "-o", bundle, "--force", kill=True)
    assert proc.returncode == -signal.SIGXFSZ, proc.stderr  # killed while writing sample.onnx
    assert snapshot(bundle) == before and load_bundle(bundle).root == bundle
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".bundle.part-")]
    assert leftovers  # the unfinished export, beside (not inside) the bundle
    assert main(["export", str(ckpt), "-o", str(bundle), "--force"]) == 0
    assert snapshot(bundle) != before and load_bundle(bundle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "new.pt"]  # the next export cleaned up


def test_export_that_fails_to_write_says_so_and_keeps_the_old_bundle(old_bundle_and_new_checkpoint, tmp_path):
    bundle, ckpt = old_bundle_and_new_checkpoint
    before = snapshot(bundle)
    proc = cli_with_file_limit("export", ckpt, "-o", bundle, "--force", kill=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{bundle}: cannot write the bundle (File too large); the old one, if any, is unchanged" in lines[0]
    assert snapshot(bundle) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "new.pt"]


def test_export_restores_a_bundle_moved_aside_by_a_killed_swap(old_bundle_and_new_checkpoint, tmp_path, capsys):
    bundle, ckpt = old_bundle_and_new_checkpoint
    before = snapshot(bundle)
    bundle.rename(tmp_path / ".bundle.old")  # where a kill between the swap's two renames leaves it
    assert main(["export", str(ckpt), "-o", str(bundle)]) == 1  # restored first, so --force is needed
    assert "already exists; pass --force" in capsys.readouterr().err
    assert snapshot(bundle) == before and not (tmp_path / ".bundle.old").exists()


def test_force_never_replaces_a_folder_that_is_not_a_bundle(old_bundle_and_new_checkpoint, tmp_path, capsys):
    _, ckpt = old_bundle_and_new_checkpoint
    folder = tmp_path / "music"
    folder.mkdir()
    (folder / "song.wav").write_bytes(b"mine")
    assert main(["export", str(ckpt), "-o", str(folder), "--force"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "music: holds files but no model.json, so it is not a bundle" in err
    assert snapshot(folder) == {"song.wav": b"mine"}


def test_generate_that_cannot_write_keeps_the_old_file(old_bundle_and_new_checkpoint, tmp_path):
    bundle, _ = old_bundle_and_new_checkpoint
    out = tmp_path / "take.wav"
    out.write_bytes(b"the take from yesterday")
    # 10 s of 16-bit audio is 320 kB: the write fails part-way, after the destination check passed.
    proc = cli_with_file_limit("generate", bundle, "--seconds", "10", "--out", out, "--force", kill=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[-1].startswith(f"rt-samplernn generate: error: {out}: cannot write (")  # libsndfile's words
    assert lines[-1].endswith("); check the free space or choose another --out")
    assert out.read_bytes() == b"the take from yesterday"
    assert not list(tmp_path.glob(".*.part"))


def test_stale_checkpoint_part_is_removed_at_the_next_start(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    code = (
        "from rt_samplernn.checkpoint import save_checkpoint; from tests.bundle_helpers import tiny_model; "
        f"save_checkpoint({str(run / 'last.pt')!r}, tiny_model(0, dim=96))"
    )
    proc = python_with_file_limit(code, kill=True)
    assert proc.returncode == -signal.SIGXFSZ, proc.stderr  # killed part-way through torch.save
    [left] = [p.name for p in run.iterdir()]
    assert left.startswith(".last.pt.") and left.endswith(".part")  # the unique temporary of the killed save
    main(["train", str(tmp_path / "no-data"), "--out", str(run), "--quiet"])  # starts, then finds no data
    assert "no-data" in capsys.readouterr().err
    assert list(run.iterdir()) == []


def test_best_is_written_before_last_records_it(tmp_path):
    checkpointer = Checkpointer(tmp_path, TrainConfig())
    model = tiny_model(0)
    checkpointer.save(model, True, step=10, best_val_bits=2.0)
    (tmp_path / "best.pt").unlink()
    (tmp_path / "best.pt").mkdir()  # something in the way of best.pt only: its write is refused
    with pytest.raises(UserError, match=r"best\.pt: is a folder; only a regular file is replaced"):
        checkpointer.save(model, True, step=20, best_val_bits=1.5)
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    assert last["best_val_bits"] == 2.0 and last["step"] == 10  # last.pt claims no best that best.pt lacks


def test_checkpoint_write_on_a_full_disk_is_one_error_and_keeps_the_old_files(tmp_path):
    Checkpointer(tmp_path, TrainConfig()).save(tiny_model(0), True, step=10, best_val_bits=2.0)
    before = snapshot(tmp_path)
    code = (
        "from rt_samplernn.config import TrainConfig; from rt_samplernn.train import Checkpointer; "
        "from rt_samplernn.errors import UserError; from tests.bundle_helpers import tiny_model\n"
        "try:\n"
        f"    Checkpointer(__import__('pathlib').Path({str(tmp_path)!r}), TrainConfig())"
        ".save(tiny_model(0, dim=96), True, step=20, best_val_bits=1.5)\n"
        "except UserError as e:\n    print(e)"
    )
    proc = python_with_file_limit(code, kill=False)  # torch.save's write fails part-way (EFBIG)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert (
        proc.stdout.strip() == f"{tmp_path / 'best.pt'}: cannot write checkpoint (the write stopped part-way); "
        "check the free space"
    )
    assert snapshot(tmp_path) == before  # no .part left, best.pt and last.pt as they were
