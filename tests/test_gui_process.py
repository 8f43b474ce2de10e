"""`rt-samplernn gui` as a process: without torch, on a real X server (Xvfb), and closed by Ctrl-C or SIGTERM.

Each test starts the command in a fresh process, as a performer would, with a temporary settings file and
config folder. The Xvfb tests start their own X server on a free display (Xvfb picks it: -displayfd).
"""

from __future__ import annotations

import configparser
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.jack import jack_available, jack_server
from tests.midi_helpers import midi_bundle

NO_TORCH = (
    "import importlib.abc, sys\n"
    "class NoTorch(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name == 'torch' or name.startswith('torch.'):\n"
    "            raise ImportError('torch is blocked on the live path')\n"
    "sys.meta_path.insert(0, NoTorch())\n"
    "from rt_samplernn.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "assert 'torch' not in sys.modules\n"
    "sys.exit(rc)\n"
)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return midi_bundle(tmp_path_factory)


@contextmanager
def xvfb() -> Iterator[str]:
    """An Xvfb server on a display it picks itself; yields DISPLAY (':N'). Skips where Xvfb is not installed."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (scripts/setup.sh installs it: apt-get install xvfb xauth)")
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write)
    try:
        with os.fdopen(read) as f:
            number = f.readline().strip()
        assert number.isdigit(), f"Xvfb did not start: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}"
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def gui_env(tmp_path: Path, display: str | None = None) -> dict[str, str]:
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"))
    if display is None:
        env["QT_QPA_PLATFORM"] = "offscreen"
    else:
        env.pop("QT_QPA_PLATFORM", None)
        env.pop("WAYLAND_DISPLAY", None)
        env["DISPLAY"] = display
    return env


def settings_of(path: Path) -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(path)
    return cfg


def test_gui_command_runs_without_torch_and_saves_a_screenshot(bundle, tmp_path):
    """`rt-samplernn gui BUNDLE --screenshot` in a fresh process where importing torch fails."""
    shot = tmp_path / "shot.png"
    env = gui_env(tmp_path)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            NO_TORCH,
            "gui",
            str(bundle),
            "--settings",
            str(tmp_path / "s.ini"),
            "--provider",
            "cpu",
            "--screenshot",
            str(shot),
            "--quit-after",
            "0.5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.stat().st_size > 10_000
    bad = subprocess.run(
        [sys.executable, "-m", "rt_samplernn", "gui", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert bad.returncode == 1 and "model.json" in bad.stderr


def test_the_window_starts_on_a_real_x_server(bundle, tmp_path):
    """Under Xvfb Qt loads its xcb plugin (it aborts at start when a library it needs is missing)."""
    shot = tmp_path / "x11.png"
    with xvfb() as display:
        env = gui_env(tmp_path, display)
        probe = subprocess.run(
            [sys.executable, "-c", "from rt_samplernn.gui.app import application; print(application().platformName())"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert probe.returncode == 0 and probe.stdout.strip() == "xcb", (probe.returncode, probe.stderr[-2000:])
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "rt_samplernn",
                "gui",
                str(bundle),
                "--device",
                "none",
                "--settings",
                str(tmp_path / "s.ini"),
                "--provider",
                "cpu",
                "--start",
                "--screenshot",
                str(shot),
                "--quit-after",
                "1.0",
            ],
            capture_output=True,
            text=True,
            timeout=90,
            env=env,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and shot.stat().st_size > 10_000


@pytest.mark.jack  # it starts a JACK server itself
@pytest.mark.parametrize("signum,exit_code", [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_ctrl_c_and_sigterm_close_the_playing_window_cleanly(bundle, tmp_path, signum, exit_code):
    """The window plays to JACK (a PortAudio stream left open aborts the process at exit); the signal closes it
    like File > Quit: settings saved (the window geometry is written only then), exit 130 / 0, no traceback."""
    if not jack_available():
        pytest.skip("jackd not installed (apt-get install jackd2)")
    ini = tmp_path / "s.ini"
    with jack_server(16000, 256):
        with xvfb() if shutil.which("Xvfb") else _offscreen() as display:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "rt_samplernn",
                    "gui",
                    str(bundle),
                    "--device",
                    "system",
                    "--latency-ms",
                    "200",
                    "--settings",
                    str(ini),
                    "--provider",
                    "cpu",
                    "--start",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=gui_env(tmp_path, display),
            )
            try:
                deadline = time.monotonic() + 60
                while settings_of(ini).get("General", "device", fallback="") == "":  # written once playing
                    assert proc.poll() is None, proc.communicate()[1][-2000:]
                    assert time.monotonic() < deadline, "the window did not start playing"
                    time.sleep(0.1)
                assert "geometry" not in settings_of(ini)["General"]
                proc.send_signal(signum)
                _, err = proc.communicate(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
    assert proc.returncode == exit_code, err[-2000:]
    assert "Traceback" not in err and "Error" not in err, err[-2000:]
    saved = settings_of(ini)["General"]
    assert "system" in saved["device"] and saved["latency_ms"] == "200" and "geometry" in saved


@contextmanager
def _offscreen() -> Iterator[None]:
    yield None
