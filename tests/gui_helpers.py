"""The tiny bundle the window's tests open (tests/test_gui_window.py, tests/test_gui_effects.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


def window_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny 3-tier bundle exported from a seeded random-weight SampleRNN (the exporter needs torch; the GUI not)."""
    torch = pytest.importorskip("torch")
    from rt_samplernn.config import ModelConfig
    from rt_samplernn.export.onnx_export import export_bundle
    from rt_samplernn.model import SampleRNN

    torch.manual_seed(0)
    model = SampleRNN(ModelConfig(frame_sizes=(16, 64), dim=24, sample_dim=16, emb_size=8, mlp_layers=1))
    out = tmp_path_factory.mktemp("tiny-bundle")
    export_bundle(model.eval(), out)
    return out
