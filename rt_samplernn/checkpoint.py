"""Checkpoints: weights, configs and training state in one file, written atomically, loaded without running code.

A checkpoint is a plain dict saved with torch.save and loaded with `torch.load(weights_only=True)`, which
only rebuilds tensors and plain containers: a file crafted to run code on load is refused, not executed.
A hand-edited or damaged file is checked field by field (configs, weight shapes against a meta-device
model, the training state `train --resume` reads) and refused with "this checkpoint's X is not valid".

A load error says what the file is: "not a PyTorch checkpoint" (a WAV, a text, an .npz: told apart by its
first bytes before torch reads it), "a PyTorch file of another program" (objects other than weights: the
class is named, never loaded), "a checkpoint of another program" (weights only, but no rt-samplernn
header), "weights of another shape" (than the checkpoint's own model config), and what to do: the run's
other checkpoints beside it, by name (best.pt first), are what to give instead (`instead`).
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from rt_samplernn.atomic import leftover_temporaries, replacing
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
    with replacing(path, "checkpoint", "check the free space") as f:
        torch.save(payload, f)
    return path


# What a file that is not a PyTorch file starts with, to name it in the error.
MAGIC = (
    (b"RIFF", "a WAV file: audio"),
    (b"fLaC", "a FLAC file: audio"),
    (b"OggS", "an Ogg file: audio"),
    (b"ID3", "an MP3 file: audio"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"\x1f\x8b", "a gzip file"),
    (b"\x89PNG", "a PNG image"),
)


def instead(path: str | Path) -> str:
    """What to give instead of a checkpoint that does not load: the run's other checkpoints beside it that
    exist (best.pt first: it holds the training state too, so `train --resume` continues from it)."""
    path = Path(path)
    if path.parent.is_dir():
        folder = path.parent
        for other in (folder / "best.pt", folder / "last.pt", *sorted(folder.glob("step-*.pt"), reverse=True)):
            if other.is_file() and other.resolve() != path.resolve():
                return f"use {other} instead"
    return "use another checkpoint of the run (best.pt, last.pt, step-N.pt)"


def _not_pytorch(path: Path) -> str | None:
    """What the file is when its first bytes say it is no file torch.save writes (a zip holding data.pkl, or a
    pickle); None when it may be one (torch.load then decides: a zip cut short is "truncated")."""
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return None
        return "an .npz of NumPy arrays" if names and all(n.endswith(".npy") for n in names) else "a zip archive"
    if head.startswith(b"\x80"):  # a pickle: torch.save's legacy format
        return None
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    if not head:
        return "an empty file"
    text = head.decode("utf-8", errors="replace")[:-3]  # the last character may be cut in two
    if all(c.isprintable() or c in "\t\r\n\f" for c in text) and "\ufffd" not in text:
        return "a text file"
    return "a file of unknown kind"


def _refusal(path: Path, e: pickle.UnpicklingError) -> UserError:
    """Torch's weights-only refusal, said without its advice to load the file unsafely: a class or function
    in the pickle ("GLOBAL posix.system") is a file of another program; anything else is no checkpoint."""
    text = str(e)
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found:
        return UserError(
            f"{path}: refused: a PyTorch file of another program: it holds objects other than weights (the class "
            f"or function {found.group(1)[:80]}), which are never loaded; only rt-samplernn checkpoints load: "
            f"{instead(path)}"
        )
    reason = text.split("WeightsUnpickler error:", 1)[-1].strip()
    reason = (reason.splitlines()[0] if reason else type(e).__name__)[:120]
    return UserError(f"{path}: not a PyTorch checkpoint (a pickle that is not one: {reason}); {instead(path)}")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict, checked for format and version; one-line UserError for anything wrong, saying what
    the file is and what to give instead."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint file; {instead(path)}")
    kind = _not_pytorch(path)
    if kind is not None:
        raise UserError(
            f"{path}: not a PyTorch checkpoint ({kind}); give a .pt file `rt-samplernn train` wrote: {instead(path)}"
        )
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise _refusal(path, e) from None
    except Exception as e:  # any failure to parse an untrusted file is the user's file, not our bug
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(
            f"{path}: not a readable checkpoint (truncated or corrupt: {msg[:160]}); {instead(path)}"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        holds = (
            f"its keys: {', '.join(map(str, list(data)[:4]))[:80]}"
            if isinstance(data, dict)
            else f"a {type(data).__name__}"
        )
        raise UserError(
            f"{path}: a checkpoint of another program, not an rt-samplernn checkpoint (no '{FORMAT}' header; "
            f"{holds}); {instead(path)}"
        )
    if data.get("version") not in SUPPORTED_VERSIONS:
        raise UserError(
            f"{path}: checkpoint version {data.get('version')!r} is not supported "
            f"(this rt-samplernn reads {', '.join(map(str, SUPPORTED_VERSIONS))})"
        )
    return data


def _invalid(path: str | Path, what: str, detail: str) -> UserError:
    return UserError(
        f"{path}: this checkpoint's {what} is not valid ({detail[:200]}); the file was edited or damaged: "
        f"{instead(path)}"
    )


def _config_of(data: dict[str, Any], path: str | Path, key: str, what: str, parse: Any) -> Any:
    values = data.get(key)
    if not isinstance(values, dict):
        raise _invalid(path, what, f"a {type(values).__name__}, not a table of fields")
    try:
        return parse(values)
    except UserError as e:
        raise _invalid(path, what, str(e).split(": ", 1)[-1]) from None
    except (TypeError, ValueError, AttributeError, OverflowError) as e:
        raise _invalid(path, what, f"{type(e).__name__}: {e}") from None


def _meta_model(cfg: ModelConfig) -> SampleRNN:
    """The model's structure without memory (meta tensors): shapes to check against, whatever the config says."""
    with torch.device("meta"):
        return SampleRNN(cfg)


def _check_weights_fit(weights: Any, cfg: ModelConfig, path: str | Path) -> None:
    """Names and shapes of the weights against the config, before anything of the config's size is allocated."""
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise _invalid(path, "weights", "not a table of tensors")
    try:
        want = {k: tuple(v.shape) for k, v in _meta_model(cfg).state_dict().items()}
    except (RuntimeError, ValueError, OverflowError) as e:
        raise _invalid(path, "model config", f"no model of this size can be built: {str(e).splitlines()[0]}") from None
    missing = sorted(want.keys() - weights.keys())
    unexpected = sorted(weights.keys() - want.keys())
    wrong = [k for k in want if k in weights and tuple(weights[k].shape) != want[k]]
    if missing or unexpected or wrong:
        detail = (
            f"{wrong[0]} is {list(weights[wrong[0]].shape)}, the config makes it {list(want[wrong[0]])}"
            if wrong
            else f"missing {missing[:3]}"
            if missing
            else f"unexpected {unexpected[:3]}"
        )
        raise UserError(
            f"{path}: weights of another shape: they do not fit the model config ({detail}); the file was edited "
            f"or damaged: {instead(path)}"
        )


def check_finite(tensors: dict[str, Any], path: str | Path, what: str) -> None:
    """Every floating tensor holds numbers only; else a UserError naming the file and the tensor.

    The one finiteness check where weights, optimizer state and carried RNN states are loaded: NaN weights
    would generate a full-scale DC signal, be reported as a best loss of 0 and saved again as best.pt.
    """
    for name, t in tensors.items():
        if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise UserError(
                f"{path}: {what} {name} holds NaN or infinite values (the training diverged, or the file is "
                f"damaged); {instead(path)}"
            )


def model_from_checkpoint(data: dict[str, Any], path: str | Path) -> SampleRNN:
    """Rebuild the model from the checkpoint's own config and load its weights (checked: fit, finite)."""
    cfg = _config_of(data, path, "model_config", "model config", model_config_from_dict)
    _check_weights_fit(data.get("model"), cfg, path)
    check_finite(data["model"], path, "weight")
    model = SampleRNN(cfg)
    try:
        model.load_state_dict(data["model"])
    except (RuntimeError, KeyError, TypeError) as e:
        first = str(e).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else (first[0] if first else type(e).__name__)
        raise UserError(
            f"{path}: weights of another shape: they do not fit the model config ({detail[:200]}); {instead(path)}"
        ) from None
    return model


def load_checkpoint(path: str | Path) -> tuple[SampleRNN, ModelConfig, dict[str, Any]]:
    """(model in eval mode, its config, the whole checkpoint dict) from a checkpoint file."""
    data = read_checkpoint(path)
    model = model_from_checkpoint(data, path).eval()
    return model, model.cfg, data


def train_config_of(data: dict[str, Any], path: str | Path = "checkpoint") -> TrainConfig | None:
    """The checkpoint's training config, None when it has none; a UserError naming path when it is not valid."""
    if not data.get("train_config"):
        return None
    return _config_of(data, path, "train_config", "train config", train_config_from_dict)


# ----------------------------------------------------------------------------------------------------------
# Training state (what `train --resume` reads), checked before training touches it
# ----------------------------------------------------------------------------------------------------------

POSITION_FIELDS = ("epoch", "batch", "segment")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_training_state(data: dict[str, Any], path: str | Path, cfg: ModelConfig) -> None:
    """Every field `train --resume` uses has the type and shape training wrote; else a UserError naming it."""
    for key in ("step", "evals_since_best", "nonfinite_total"):
        if not _count(data.get(key)):
            raise _invalid(path, key, f"{data.get(key)!r}, expected a whole number >= 0")
    best = data.get("best_val_bits")
    if not isinstance(best, (int, float)) or isinstance(best, bool) or not best >= 0:  # NaN and -inf fail too
        raise _invalid(path, "best_val_bits", f"{best!r}, expected a number (inf before the first evaluation)")
    position = data.get("position")
    if (
        not isinstance(position, dict)
        or sorted(position) != sorted(POSITION_FIELDS)
        or not all(_count(v) for v in position.values())
    ):
        raise _invalid(path, "position", f"{position!r}, expected whole numbers >= 0 for {', '.join(POSITION_FIELDS)}")
    _check_rng_state(data.get("rng_torch"), path)
    model = _meta_model(cfg)
    _check_optimizer_state(data.get("optimizer"), [tuple(p.shape) for p in model.parameters()], path)
    _check_carried_states(data.get("carried_states"), cfg, path)
    optimizer = data["optimizer"]["state"]
    check_finite({f"{k}/{i}": v for i, values in optimizer.items() for k, v in values.items()}, path, "optimizer state")
    check_finite({str(i): s for i, s in enumerate(data.get("carried_states") or [])}, path, "carried RNN state")


def _check_rng_state(state: Any, path: str | Path) -> None:
    try:
        torch.Generator().set_state(state)
    except (TypeError, RuntimeError, ValueError) as e:
        raise _invalid(
            path, "rng_torch", f"not a torch generator state: {str(e).splitlines()[0] if str(e) else e}"
        ) from None


def _check_optimizer_state(state: Any, shapes: list[tuple[int, ...]], path: str | Path) -> None:
    """The optimizer's param_groups cover the model's parameters and its per-parameter tensors have their shapes."""
    groups = state.get("param_groups") if isinstance(state, dict) else None
    per_param = state.get("state") if isinstance(state, dict) else None
    if (
        not isinstance(groups, list)
        or not isinstance(per_param, dict)
        or not all(isinstance(g, dict) and isinstance(g.get("params"), list) for g in groups)
    ):
        raise _invalid(path, "optimizer state", "expected {state: {...}, param_groups: [{params: [...]}, ...]}")
    ids = [i for g in groups for i in g["params"]]
    if sorted(ids) != list(range(len(shapes))):
        raise _invalid(path, "optimizer state", f"it covers {len(ids)} parameters, the model has {len(shapes)}")
    for i, values in per_param.items():
        if not isinstance(i, int) or not 0 <= i < len(shapes) or not isinstance(values, dict):
            raise _invalid(path, "optimizer state", f"entry {i!r} is not a parameter of the model")
        for name, value in values.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0 and tuple(value.shape) != shapes[i]:
                raise _invalid(
                    path,
                    "optimizer state",
                    f"{name} of parameter {i} is {list(value.shape)}, the parameter is {list(shapes[i])}",
                )


def _check_carried_states(states: Any, cfg: ModelConfig, path: str | Path) -> None:
    """RNN states carried into the next segment: none, or (layers, batch, dim) per frame tier and state."""
    if states is None or (isinstance(states, list) and not states):
        return
    n_state = 2 if cfg.rnn_type == "lstm" else 1
    expected = len(cfg.frame_sizes) * n_state
    if (
        not isinstance(states, list)
        or len(states) != expected
        or not all(isinstance(s, torch.Tensor) and s.is_floating_point() and s.dim() == 3 for s in states)
    ):
        raise _invalid(path, "carried_states", f"expected {expected} float tensors (layers, batch, dim)")
    batch = states[0].shape[1]
    for s in states:
        if tuple(s.shape) != (cfg.rnn_layers, batch, cfg.dim) or batch < 1:
            raise _invalid(
                path,
                "carried_states",
                f"a state is {list(s.shape)}, the model needs [{cfg.rnn_layers}, batch, {cfg.dim}]",
            )


def remove_stale_parts(folder: str | Path) -> list[Path]:
    """Delete the temporary checkpoint files (.NAME.pt.*.part) a killed save left in folder; returns them."""
    stale = leftover_temporaries(Path(folder), "*.pt")
    for part in stale:
        part.unlink(missing_ok=True)
    return stale
