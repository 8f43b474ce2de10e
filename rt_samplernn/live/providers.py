"""The onnxruntime providers a bundle can play on, named once (plain data: no onnxruntime import).

`rt_samplernn.live.engine.Engine` takes one of them; every command's ``--provider`` offers them
(``_checks.PROVIDERS``). "auto" is CUDA where this onnxruntime can start it, else the CPU.
"""

from __future__ import annotations

PROVIDERS = ("auto", "cpu", "cuda")

__all__ = ["PROVIDERS"]
