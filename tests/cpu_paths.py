"""Run a check on another x86 CPU's kernel path on any x86 machine: `qemu-x86_64 -cpu MODEL` (Debian's
qemu-user, which scripts/setup.sh installs) runs this Python and onnxruntime as that CPU would, so
onnxruntime picks that CPU's kernels (Haswell: AVX2 and FMA, no AVX-512, no VNNI; Nehalem: SSE4.2 only).
qemu 7.2's TCG emulates no AVX-512, so the VNNI paths run natively where the machine has them."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CPU_PATHS = ("native", "Haswell", "Nehalem")
EMULATED_TIMEOUT_S = 900  # onnxruntime runs 10-50x slower under emulation; imports take most of it


def run_on(cpu: str, code: str, *args: str) -> Any:
    """Run `python -c code args...` natively or under `qemu-x86_64 -cpu cpu`; returns the JSON its last stdout
    line holds. Skips where qemu-x86_64 cannot run this interpreter (not x86-64, or qemu-user missing)."""
    command = [sys.executable, "-c", code, *args]
    if cpu != "native":
        if platform.machine() != "x86_64":
            pytest.skip(f"qemu -cpu {cpu} emulates x86-64 user code: this machine is {platform.machine()}")
        if shutil.which("qemu-x86_64") is None:
            pytest.skip("qemu-x86_64 missing: apt-get install qemu-user (scripts/setup.sh does)")
        command = ["qemu-x86_64", "-cpu", cpu, *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=EMULATED_TIMEOUT_S)
    errors = "\n".join(line for line in proc.stderr.splitlines() if "TCG doesn't support" not in line)
    assert proc.returncode == 0, f"{cpu}: exit {proc.returncode}\n{errors[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])
