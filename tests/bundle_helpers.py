"""Tiny seeded SampleRNNs and their bundles, shared by the export, engine and bundle tests."""

from __future__ import annotations

from pathlib import Path

import torch

from rt_samplernn.config import ModelConfig
from rt_samplernn.export.onnx_export import export_bundle
from rt_samplernn.model import SampleRNN

TINY = dict(frame_sizes=(4, 16), dim=32, sample_dim=32, emb_size=16, sample_rate=16000)


def tiny_model(seed: int = 0, **overrides) -> SampleRNN:
    """A random-weight model; learned h0 (when asked for) is random too, so it matters."""
    torch.manual_seed(seed)
    model = SampleRNN(ModelConfig(**{**TINY, **overrides})).eval()
    if model.cfg.learn_h0:
        with torch.no_grad():
            for tier in model.frame_tiers:
                tier.h0.normal_(0, 0.5)
    return model


def tiny_bundle(path: Path, seed: int = 0, **overrides) -> tuple[SampleRNN, Path]:
    model = tiny_model(seed, **overrides)
    export_bundle(model, path)
    return model, path
