"""benchmarks/gpu.sh is run only on a lent GPU machine; here it must at least parse, and so must its helper."""

import py_compile
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_script_parses():
    done = subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / "gpu.sh")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    py_compile.compile(str(ROOT / "benchmarks" / "gpu_check.py"), doraise=True)
