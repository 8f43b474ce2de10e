"""Tiny seeded SampleRNNs and their bundles, shared by the export, engine and bundle tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from rt_samplernn.config import ModelConfig, model_config_from_dict
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


V1_FIXTURES = Path(__file__).parent / "fixtures" / "v1"  # version-1 bundles (tests/fixtures/v1/README.md)


def v1_bundle(name: str, path: Path) -> Path:
    """A copy at `path` of the committed version-1 bundle `name` ("gru", "lstm", "int8")."""
    shutil.copytree(V1_FIXTURES / name, path)
    return path


def v1_model(name: str) -> SampleRNN:
    """The model the version-1 bundle `name` was exported from ("gru", "lstm": they carry weights.pt)."""
    folder = V1_FIXTURES / name
    cfg = model_config_from_dict(json.loads((folder / "model.json").read_text())["config"])
    model = SampleRNN(cfg).eval()
    model.load_state_dict(torch.load(folder / "weights.pt", weights_only=True))
    return model


def bundle_of_version(version: int, path: Path, seed: int = 3) -> tuple[SampleRNN, Path]:
    """A tiny model and its bundle of `version`: 2 exported now from tiny_model(seed), 1 the committed "gru"."""
    if version == 1:
        return v1_model("gru"), v1_bundle("gru", path)
    return tiny_bundle(path, seed)
