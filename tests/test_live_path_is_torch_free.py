"""Invariant 1: nothing on the live path imports torch; each module imports in a process where torch cannot."""

import subprocess
import sys

import pytest

LIVE_MODULES = [
    "rt_samplernn.config", "rt_samplernn.quantize", "rt_samplernn.audio", "rt_samplernn.sampling",
    "rt_samplernn.bundle", "rt_samplernn.engine", "rt_samplernn.ring", "rt_samplernn.stream",
    "rt_samplernn.watchdog", "rt_samplernn.params", "rt_samplernn.midi", "rt_samplernn.cli",
    "rt_samplernn.commands.play", "rt_samplernn.commands.devices", "rt_samplernn.commands.gui",
    "rt_samplernn.gui.window",
]

BLOCK_TORCH = """
import importlib.abc, sys
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked on the live path")
sys.meta_path.insert(0, NoTorch())
import importlib
importlib.import_module(sys.argv[1])
assert "torch" not in sys.modules
"""


@pytest.mark.parametrize("module", LIVE_MODULES)
def test_module_imports_without_torch(module):
    proc = subprocess.run([sys.executable, "-c", BLOCK_TORCH, module], capture_output=True, text=True, timeout=120,
                          env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_blocker_really_blocks():
    proc = subprocess.run([sys.executable, "-c", BLOCK_TORCH, "rt_samplernn.model"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "torch is blocked" in proc.stderr
