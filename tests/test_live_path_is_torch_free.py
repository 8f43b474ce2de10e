"""Invariant 1: nothing on the live path imports torch.

Every module of the live package (`rt_samplernn.live`), the window (`rt_samplernn.gui`), the shared core and
the live commands imports in a process where importing torch fails, and the commands' live code paths
(play, generate from a bundle, bench, devices) run there end to end, lazy imports included.
"""

import pkgutil
import subprocess
import sys

import pytest

import rt_samplernn.gui
import rt_samplernn.live
from rt_samplernn.models import DEMO_BUNDLE as DEMO

SHARED_CORE = [
    "rt_samplernn.config",
    "rt_samplernn.quantize",
    "rt_samplernn.audio",
    "rt_samplernn.measure",
    "rt_samplernn.judge",
    "rt_samplernn.sampling",
    "rt_samplernn.schedule",
    "rt_samplernn.errors",
    "rt_samplernn.atomic",
    "rt_samplernn.structured",
    "rt_samplernn.cli",
]
LIVE_COMMANDS = [
    "rt_samplernn.commands.play",
    "rt_samplernn.commands.devices",
    "rt_samplernn.commands.gui",
    "rt_samplernn.commands.progress",
    "rt_samplernn.commands.midi_options",
    "rt_samplernn.commands.measure",
]


def _walk(package) -> list[str]:
    return [package.__name__] + [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]


LIVE_MODULES = _walk(rt_samplernn.live) + _walk(rt_samplernn.gui) + SHARED_CORE + LIVE_COMMANDS

BLOCK_TORCH = """
import importlib.abc, sys
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked on the live path")
sys.meta_path.insert(0, NoTorch())
"""

IMPORT = (
    BLOCK_TORCH
    + """
import importlib
importlib.import_module(sys.argv[1])
assert "torch" not in sys.modules
"""
)

RUN_CLI = (
    BLOCK_TORCH
    + """
from rt_samplernn.cli import main
rc = main(sys.argv[1:])
assert "torch" not in sys.modules
sys.exit(rc)
"""
)

ENV = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "JACK_NO_START_SERVER": "1"}


def test_the_walk_finds_the_whole_live_path():
    assert {
        "rt_samplernn.live.engine",
        "rt_samplernn.live.player",
        "rt_samplernn.live.midi.controller",
        "rt_samplernn.gui.window",
    } <= set(LIVE_MODULES)


@pytest.mark.parametrize("module", LIVE_MODULES)
def test_module_imports_without_torch(module):
    proc = subprocess.run([sys.executable, "-c", IMPORT, module], capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize(
    "argv",
    [
        ["play", str(DEMO), "--device", "none", "--seconds", "0.3", "--record", "{tmp}/take.wav", "-q"],
        ["generate", str(DEMO), "--seconds", "0.2", "--out", "{tmp}/gen.wav"],
        ["bench", str(DEMO), "--seconds", "0.2", "--repeats", "1"],
        ["devices"],
    ],
    ids=["play", "generate-bundle", "bench", "devices"],
)
def test_live_command_runs_without_torch(argv, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    proc = subprocess.run(
        [sys.executable, "-c", RUN_CLI, *argv], capture_output=True, text=True, timeout=300, env=ENV, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_blocker_really_blocks():
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT, "rt_samplernn.model"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0 and "torch is blocked" in proc.stderr
