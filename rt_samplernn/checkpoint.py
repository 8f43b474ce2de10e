"""Checkpoints: weights, configs and training state in one file, written atomically, loaded without running code.

A checkpoint is a plain dict saved with torch.save and loaded with `torch.load(weights_only=True)`, which
only rebuilds tensors and plain containers: a file crafted to run code on load is refused, not executed.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from rt_samplernn.config import (
    ModelConfig,
    TrainConfig,
    model_config_from_dict,
    to_dict,
    train_config_from_dict,
)
from rt_samplernn.errors import UserError
from rt_samplernn.model import SampleRNN

FORMAT = "rt-samplernn-checkpoint"
VERSION = 1
SUPPORTED_VERSIONS = (1,)


def save_checkpoint(path: str | Path, model: SampleRNN, train_cfg: TrainConfig | None = None, **state: Any) -> Path:
    """Write {format, version, model_config, train_config, model, **state} atomically: all of it or nothing."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model_config": to_dict(model.cfg),
        "train_config": to_dict(train_cfg) if train_cfg is not None else None,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **state,
    }
    tmp = path.with_name(f".{path.name}.part")
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write checkpoint ({e.strerror})") from None
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict, checked for format and version; one-line UserError for anything wrong."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint file")
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "unsupported object"
        raise UserError(
            f"{path}: refused: the file holds objects other than weights ({first[:160]}); "
            "only rt-samplernn checkpoints load"
        ) from None
    except Exception as e:  # any failure to parse an untrusted file is the user's file, not our bug
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{path}: not a readable checkpoint (truncated or corrupt: {msg[:160]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError(f"{path}: not an rt-samplernn checkpoint (no '{FORMAT}' header)")
    if data.get("version") not in SUPPORTED_VERSIONS:
        raise UserError(
            f"{path}: checkpoint version {data.get('version')!r} is not supported "
            f"(this rt-samplernn reads {', '.join(map(str, SUPPORTED_VERSIONS))})"
        )
    return data


def model_from_checkpoint(data: dict[str, Any], path: str | Path) -> SampleRNN:
    """Rebuild the model from the checkpoint's own config and load its weights."""
    try:
        cfg = model_config_from_dict(data["model_config"])
    except (KeyError, TypeError) as e:
        raise UserError(f"{path}: checkpoint has no usable model config ({e})") from None
    except UserError as e:
        raise UserError(f"{path}: {e}") from None
    model = SampleRNN(cfg)
    try:
        model.load_state_dict(data["model"])
    except (RuntimeError, KeyError, TypeError) as e:
        first = str(e).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else (first[0] if first else type(e).__name__)
        raise UserError(f"{path}: weights do not fit the model config ({detail[:200]})") from None
    return model


def load_checkpoint(path: str | Path) -> tuple[SampleRNN, ModelConfig, dict[str, Any]]:
    """(model in eval mode, its config, the whole checkpoint dict) from a checkpoint file."""
    data = read_checkpoint(path)
    model = model_from_checkpoint(data, path).eval()
    return model, model.cfg, data


def train_config_of(data: dict[str, Any]) -> TrainConfig | None:
    values = data.get("train_config")
    return train_config_from_dict(values) if values else None
