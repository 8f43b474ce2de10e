"""What this CPU is: its name, the feature flags that choose onnxruntime's kernels, and whether pedalboard runs."""

from __future__ import annotations

import importlib
import platform
from pathlib import Path

# x86 and ARM feature flags (/proc/cpuinfo names) that choose onnxruntime's int8 and fp32 kernels
KERNEL_FLAGS = ("sse4_2", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "asimd", "asimddp", "i8mm")


def cpu_name() -> str:
    """The CPU's model name (Linux), else what the platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_flags() -> set[str]:
    """Every flag this CPU reports (Linux /proc/cpuinfo; elsewhere none are known)."""
    try:
        return set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return set()


def cpu_features() -> list[str]:
    """The KERNEL_FLAGS this CPU reports (Linux /proc/cpuinfo; elsewhere only the architecture is known)."""
    words = cpu_flags()
    return [f for f in KERNEL_FLAGS if f in words]


# onnxruntime's int8 kernel families, the one it prefers first: (the feature flag that selects it, in words)
KERNEL_PATHS = (
    ("avx512_vnni", "AVX-512 VNNI int8"),
    ("avx_vnni", "AVX-VNNI int8"),
    ("avx512bw", "AVX-512BW int8 without VNNI (u8 x s8 pairs add in int16)"),
    ("avx2", "AVX2 int8 without VNNI (u8 x s8 pairs add in int16)"),
    ("asimddp", "NEON with dot products"),
    ("asimd", "NEON"),
    ("sse4_2", "SSE int8"),
)


def kernel_path(features: list[str] | None = None) -> str:
    """In words: which of onnxruntime's int8 kernel families this CPU runs (the reason bundles check themselves)."""
    f = set(cpu_features() if features is None else features)
    machine = platform.machine()
    if not f:
        return f"{machine} (features unknown)"
    return f"{machine}, " + next((words for flag, words in KERNEL_PATHS if flag in f), "baseline int8")


def pedalboard_runs_here() -> bool:
    """False on an x86 CPU without AVX: pedalboard's wheels are built for AVX, and importing it there stops the
    process with an illegal instruction (qemu -cpu Westmere and older). The CPU as this process sees it (CPUID,
    through NumPy's runtime dispatch table: under qemu-user /proc/cpuinfo is the host's); True elsewhere."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return True
    umath = importlib.import_module("numpy._core._multiarray_umath")  # NumPy's dispatch table, no stubs
    features: dict[str, bool] = getattr(umath, "__cpu_features__", {})
    return features.get("AVX", True)
