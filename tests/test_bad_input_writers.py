"""One writer for every file (rt_samplernn.atomic): unique temporaries, only regular files replaced, one-line errors.

Also the writers that use it: `generate --out` in the format its extension names, `play --record` claiming
its file so that two recordings to one file cannot both succeed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile

from rt_samplernn.atomic import check_replaceable, open_exclusive, replacing, write_atomically, write_error
from rt_samplernn.cli import main
from rt_samplernn.errors import UserError
from rt_samplernn.live.sinks import WavSink

ROOT = Path(__file__).resolve().parent.parent


def test_two_writers_on_one_target_never_splice(tmp_path):
    target = tmp_path / "take.bin"
    with replacing(target) as first, replacing(target) as second:  # both open at once, as two runs would be
        first.write(b"A" * 100_000)
        second.write(b"B" * 50_000)
        temporaries = [p.name for p in tmp_path.iterdir()]
        assert len(temporaries) == 2 and all(n.startswith(".take.bin.") and n.endswith(".part") for n in temporaries)
    assert target.read_bytes() == b"A" * 100_000  # the last to finish (first), whole: not B spliced into A
    assert [p.name for p in tmp_path.iterdir()] == ["take.bin"]


def test_failure_in_the_body_removes_the_temporary_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "map.toml"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), replacing(target) as f:
        f.write(b"new, half")
        raise KeyboardInterrupt
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["map.toml"]


@pytest.mark.parametrize("kind", ["folder", "device", "pipe", "symlink to a folder"])
def test_only_a_regular_file_is_replaced(tmp_path, kind):
    target = tmp_path / "out.wav"
    if kind == "folder":
        target.mkdir()
    elif kind == "device":
        target = Path("/dev/null")
    elif kind == "pipe":
        os.mkfifo(target)
    else:
        (tmp_path / "dir").mkdir()
        target.symlink_to(tmp_path / "dir")
    with pytest.raises(UserError, match=r"only a regular file is replaced") as e:
        write_atomically(target, b"x")
    assert str(e.value).startswith(f"{target}: is ") and "\n" not in str(e.value)
    assert not list(tmp_path.glob(".*.part"))


def test_a_symlink_to_a_regular_file_is_replaced_as_a_file(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    check_replaceable(link)
    write_atomically(link, b"new")
    assert link.read_text() == "new" and real.read_text() == "old" and not link.is_symlink()


def test_a_full_disk_is_one_line_naming_the_file(tmp_path):
    with open("/dev/full", "wb", buffering=0) as full:  # every write to /dev/full fails with ENOSPC
        with pytest.raises(OSError) as raised:
            full.write(b"x")
    message = str(write_error(tmp_path / "best.pt", "checkpoint", raised.value))
    assert message.startswith(f"{tmp_path / 'best.pt'}: cannot write checkpoint (the disk is full); check the free")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_one_line_naming_the_file(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(UserError, match=r"ro/x\.json: cannot write \(permission denied\)"):
            write_atomically(folder / "x.json", b"{}")
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("suffix,format_name", [(".flac", "FLAC"), (".ogg", "OGG"), (".wav", "WAV")])
def test_generate_writes_the_format_its_extension_names(tmp_path, suffix, format_name):
    out = tmp_path / f"take{suffix}"
    assert main(["generate", "--seconds", "0.5", "--out", str(out)]) == 0
    info = soundfile.info(str(out))
    assert info.format == format_name and info.frames > 0
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_generate_to_an_unknown_extension_lists_the_ones_it_writes(tmp_path, capsys):
    assert main(["generate", "--seconds", "0.5", "--out", str(tmp_path / "take.xyz")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith("take.xyz: cannot write .xyz; use one of .aif, .aiff, .flac, .mp3, .oga, .ogg, .wav")
    assert list(tmp_path.iterdir()) == []


def test_generate_force_never_replaces_a_device(capsys):
    assert main(["generate", "--seconds", "0.5", "--out", "/dev/null", "--force"]) == 1
    assert "/dev/null: is a device; only a regular file is replaced" in capsys.readouterr().err


def test_a_second_recording_to_one_file_is_refused(tmp_path):
    out = tmp_path / "set.wav"
    first = WavSink(out)
    try:
        with pytest.raises(UserError, match=r"set\.wav: exists; pass --force"):
            WavSink(out)
        with pytest.raises(UserError, match=r"set\.wav: another process is writing to it"):
            WavSink(out, force=True)  # even with --force: the first one holds the lock
        first.open(16000, 1)
        first.write(_tone())
    finally:
        first.close()
    assert soundfile.info(str(out)).frames == len(_tone())
    second = WavSink(out, force=True)  # the first one is done: --force may replace it now
    second.close()
    assert not out.exists()  # closed before any audio: nothing left behind


def _tone():
    import numpy as np

    return (0.1 * np.sin(np.arange(16000) * 0.05)).astype("float32")[:, None]


@pytest.mark.parametrize("suffix,format_name", [(".ogg", "OGG"), (".flac", "FLAC")])
def test_record_writes_the_format_its_extension_names(tmp_path, suffix, format_name):
    out = tmp_path / f"set{suffix}"
    sink = WavSink(out)
    sink.open(16000, 1)
    sink.write(_tone())
    sink.close()
    info = soundfile.info(str(out))
    assert info.format == format_name and abs(info.frames - 16000) < 2048


def test_record_to_an_unwritable_extension_is_one_line(tmp_path):
    with pytest.raises(UserError, match=r"set\.xyz: cannot write \.xyz; use one of .*\.ogg"):
        WavSink(tmp_path / "set.xyz")
    assert list(tmp_path.iterdir()) == []


def test_open_exclusive_refuses_a_device():
    with pytest.raises(UserError, match=r"/dev/null: is a device"):
        open_exclusive(Path("/dev/null"), replace=True)


def test_two_play_record_on_one_file_do_not_both_say_recorded(tmp_path):
    pytest.importorskip("torch")
    from tests.stream_helpers import tiny_bundle

    bundle = tiny_bundle(tmp_path / "bundle")
    out = tmp_path / "set.wav"
    cli = [sys.executable, "-m", "rt_samplernn", "play", str(bundle), "--record", str(out), "--device", "none"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    first = subprocess.Popen(cli + ["--seconds", "4", "--force"], stderr=subprocess.PIPE, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not out.exists() and first.poll() is None:
            time.sleep(0.05)
        second = subprocess.run(cli + ["--seconds", "1", "--force"], capture_output=True, cwd=ROOT, env=env)
    finally:
        _, first_err = first.communicate(timeout=180)
    assert first.returncode == 0 and b"recorded" in first_err, first_err[-2000:]
    assert second.returncode == 1 and b"recorded" not in second.stderr
    assert b"set.wav: another process is writing to it" in second.stderr
    assert soundfile.info(str(out)).duration == pytest.approx(4.0, abs=0.1)


FULL_DISK_SCRIPT = r"""
import sys
import numpy as np
from pathlib import Path
from rt_samplernn.errors import UserError
from rt_samplernn.live.sinks import SinkClosed, WavSink
from rt_samplernn.cli import main

disk = Path(sys.argv[1])
print("generate", main(["generate", "--seconds", "30", "--out", str(disk / "take.wav")]), flush=True)
from rt_samplernn.checkpoint import save_checkpoint
from tests.bundle_helpers import tiny_model
try:
    save_checkpoint(disk / "best.pt", tiny_model(0, dim=256))
except UserError as e:
    print("checkpoint", e, flush=True)
sink = WavSink(disk / "set.wav")
sink.open(16000, 1)
try:
    for _ in range(20):
        sink.write(np.full((16000, 1), 0.1, np.float32))
except SinkClosed as e:
    print("record", e, flush=True)
sink.close()
"""


def test_a_full_disk_is_one_line_for_every_writer(tmp_path):
    """A real full disk: a 256 kB tmpfs, mounted in a private mount namespace (unshare; no root needed)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    script = f"mount -t tmpfs -o size=256k tmpfs {disk} && exec {sys.executable} -c '{FULL_DISK_SCRIPT}' {disk}"
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs tmpfs {disk}"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({probe.stderr.decode().strip()[:80]})")
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert "generate 1" in lines
    assert f"rt-samplernn generate: error: {disk / 'take.wav'}: cannot write (the disk is full); " in proc.stderr
    assert f"checkpoint {disk / 'best.pt'}: cannot write checkpoint (the disk is full); check the free space" in lines
    assert any(line.startswith(f"record {disk / 'set.wav'}: cannot write (the disk is full)") for line in lines)


def test_an_export_leaves_another_running_exports_folder_alone(tmp_path):
    """An unfinished `.NAME.part-PID` is removed only once its process is gone."""
    pytest.importorskip("torch")
    from rt_samplernn.checkpoint import save_checkpoint
    from tests.bundle_helpers import tiny_model

    ckpt = save_checkpoint(tmp_path / "a.pt", tiny_model(0))
    running = tmp_path / f".bundle.part-{os.getppid()}"  # a live process that is not this one
    running.mkdir()
    (running / "frame.onnx").write_bytes(b"half written by the other export")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".bundle.part-{dead.stdout.strip()}"
    stale.mkdir()
    assert main(["export", str(ckpt), "-o", str(tmp_path / "bundle")]) == 0
    assert running.is_dir() and (running / "frame.onnx").read_bytes() == b"half written by the other export"
    assert not stale.exists()
