"""Model and training configurations, presets, and checked overrides (torch-free)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rt_samplernn.errors import UserError

RNN_TYPES = ("gru", "lstm")
Q_TYPES = ("linear", "mu-law", "a-law")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
CHECKPOINT_POLICIES = ("best", "always")
LR_SCHEDULES = ("constant", "cosine")


MIN_SAMPLE_RATE = 1_000  # Hz: a model's rate, and the rates of the audio files read (rt_samplernn.audio)
MAX_SAMPLE_RATE = 384_000
MAX_FRAME_SIZE = 65_536  # samples per frame of a frame tier
MAX_FRAME_TIERS = 8


def _field(default: Any, help_text: str, low: float | None = None, high: float | None = None) -> Any:
    """A dataclass field with its --help text in the user's words and its limits [low, high], which the
    config files, checkpoints, bundles and `rt-samplernn train`'s flags all check (one place for each limit)."""
    return dataclasses.field(default=default, metadata={"help": help_text, "low": low, "high": high})


def field_limits(cls: type, name: str) -> tuple[float | None, float | None]:
    """(low, high) of a config field; None where it has no bound."""
    meta = {f.name: f.metadata for f in dataclasses.fields(cls)}[name]
    return meta.get("low"), meta.get("high")


def _check_limits(cfg: Any, kind: str) -> None:
    """Every bounded number of a config within its field's limits; else a UserError naming the field and range."""
    for f in dataclasses.fields(cfg):
        low, high = f.metadata.get("low"), f.metadata.get("high")
        value = getattr(cfg, f.name)
        if low is None or isinstance(value, (bool, str, tuple)):
            continue
        if (
            isinstance(value, float)
            and not math.isfinite(value)
            or not low <= value <= (math.inf if high is None else high)
        ):
            bounds = f"[{low}, {high}]" if high is not None else f">= {low}"
            raise UserError(f"{kind} config: {f.name} {value} is outside {bounds}")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of an N-tier SampleRNN. Frame sizes run fine to coarse: (16, 64) is 3 tiers, (16,) is 2."""

    frame_sizes: tuple[int, ...] = _field(
        (16, 64), "samples per frame of each frame tier, fine to coarse: '16 64' is 3 tiers, '16' is 2"
    )
    dim: int = _field(512, "width of every frame tier's RNN (bigger learns more, plays slower)", 1, 8192)
    sample_dim: int = _field(256, "hidden width of the sample-level MLP that predicts each sample", 1, 8192)
    rnn_type: str = _field("gru", "recurrent cell of the frame tiers: gru or lstm")
    rnn_layers: int = _field(1, "stacked RNN layers per frame tier", 1, 64)
    skip_connections: bool = _field(False, "a frame tier's output sums every RNN layer's projection")
    learn_h0: bool = _field(False, "learn the RNNs' initial state instead of starting from zeros")
    weight_norm: bool = _field(False, "weight normalization on the linear layers (as in the paper)")
    q_levels: int = _field(256, "quantization levels per sample (256 for mu-law and a-law)", 2, 65536)
    q_type: str = _field("mu-law", "how samples are quantized: linear, mu-law or a-law")
    emb_size: int = _field(256, "size of the learned embedding of each quantized sample", 1, 8192)
    mlp_layers: int = _field(2, "ReLU hidden layers of the sample MLP after its input layer", 1, 64)
    sample_rate: int = _field(
        16000,
        "audio rate the model hears and plays, Hz (training audio is resampled)",
        MIN_SAMPLE_RATE,
        MAX_SAMPLE_RATE,
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame_sizes", tuple(int(f) for f in self.frame_sizes))
        check_model_config(self)

    @property
    def n_tiers(self) -> int:
        return len(self.frame_sizes) + 1

    @property
    def top_frame_size(self) -> int:
        return self.frame_sizes[-1]


def check_model_config(cfg: ModelConfig) -> None:
    if not cfg.frame_sizes:
        raise UserError("model config: frame_sizes needs at least one frame size, e.g. [16] or [16, 64]")
    if len(cfg.frame_sizes) > MAX_FRAME_TIERS or max(cfg.frame_sizes) > MAX_FRAME_SIZE:
        raise UserError(
            f"model config: frame_sizes {list(cfg.frame_sizes)}: at most {MAX_FRAME_TIERS} frame tiers of at most "
            f"{MAX_FRAME_SIZE} samples"
        )
    below = 1
    for size in cfg.frame_sizes:
        if size <= below or size % below:
            raise UserError(
                f"model config: frame_sizes {list(cfg.frame_sizes)} must grow fine to coarse, "
                "each a multiple of the one before (e.g. [16, 64])"
            )
        below = size
    if cfg.rnn_type not in RNN_TYPES:
        raise UserError(f"model config: rnn_type {cfg.rnn_type!r} is not one of {', '.join(RNN_TYPES)}")
    if cfg.q_type not in Q_TYPES:
        raise UserError(f"model config: q_type {cfg.q_type!r} is not one of {', '.join(Q_TYPES)}")
    if cfg.q_type != "linear" and cfg.q_levels != 256:
        raise UserError(f"model config: {cfg.q_type} quantization uses 256 levels, not {cfg.q_levels}")
    _check_limits(cfg, "model")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: batching, TBPTT, optimizer, checkpoints, stopping."""

    batch_size: int = _field(16, "chunks trained on at once", 1, 65536)
    seq_len: int = _field(1024, "samples per truncated-backprop segment; a multiple of the top frame size", 1, 1 << 20)
    chunk_seconds: float = _field(8.0, "seconds per training chunk; RNN states carry across its segments", 0.0, 3600.0)
    chunk_overlap_seconds: float = _field(0.0, "seconds consecutive chunks of a file share")
    val_fraction: float = _field(0.1, "share of chunks held out for validation when --val-data is not given")
    silence_threshold: float = _field(0.01, "RMS under which a 1024-sample window counts as silent")
    silence_fraction: float = _field(0.8, "drop a chunk when more than this share of its windows is silent")
    optimizer: str = _field("adam", "adam, sgd or rmsprop")
    learning_rate: float = _field(
        2e-3,
        "peak learning rate, reached after the warm-up (2e-3 with warm-up and cosine decay learned faster than "
        "the first release's constant 1e-3 on real music: benchmarks/RESULTS.md)",
    )
    lr_schedule: str = _field(
        "cosine",
        "cosine: decay to min-lr-fraction x learning-rate at --max-steps, or, with --max-steps 0, when "
        "--max-minutes run out (a cosine over the training clock); constant: stay at learning-rate",
    )
    warmup_steps: int = _field(20, "raise the learning rate linearly from 0 over this many steps")
    min_lr_fraction: float = _field(0.05, "where the cosine schedule ends, as a share of learning-rate")
    momentum: float = _field(0.9, "momentum of sgd and rmsprop")
    grad_clip: float = _field(5.0, "clip the gradient norm to this")
    max_steps: int = _field(
        100_000,
        "stop after this many steps (one step: one segment of every chunk in a batch); 0: no step limit. "
        "A new run given --max-minutes but not --max-steps has no step limit",
    )
    max_epochs: int = _field(1000, "stop after this many passes over the training chunks")
    max_minutes: float = _field(
        0.0, "stop after this many minutes of training, not counting evaluation and checkpoints (0: no limit)"
    )
    eval_every: int = _field(
        1000, "steps between evaluations on the held-out audio (each writes checkpoints and, by default, a preview)"
    )
    val_batches: int = _field(
        8,
        "held-out batches scored per evaluation: batch-size x this many chunks, chosen once, spread "
        "evenly over the held-out audio (0: all of it)",
    )
    preview_seconds: float = _field(
        2.0,
        "seconds of audio generated at every evaluation from the current weights, one voice cold and one "
        "primed from held-out audio: WAVs in RUN_DIR/previews, TensorBoard audio, previews.csv (0: none)",
        0.0,
        600.0,
    )
    checkpoint_policy: str = _field("best", "best: last.pt and best.pt; always: also step-N.pt every evaluation")
    keep_checkpoints: int = _field(3, "step-N.pt files kept under checkpoint-policy always")
    early_stopping_patience: int = _field(10, "stop after this many evaluations without improvement (0: never)")
    max_nonfinite: int = _field(20, "stop after this many non-finite losses in a row")
    amp: bool = _field(
        True,
        "bf16 mixed precision where the device runs it natively (CUDA, CPUs with AVX512-BF16 or AMX); "
        "elsewhere fp32. --no-amp: always fp32",
    )
    seed: int = _field(0, "seed for weights, batch order and validation choice")
    num_threads: int = _field(
        0, "CPU threads for training (0: every core this process may use, shared among DDP ranks)", 0, 1024
    )

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise UserError(f"train config: optimizer {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if self.checkpoint_policy not in CHECKPOINT_POLICIES:
            raise UserError(
                f"train config: checkpoint_policy {self.checkpoint_policy!r} is not one of "
                f"{', '.join(CHECKPOINT_POLICIES)}"
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise UserError(f"train config: lr_schedule {self.lr_schedule!r} is not one of {', '.join(LR_SCHEDULES)}")
        if self.batch_size < 1 or self.seq_len < 1 or self.eval_every < 1:
            raise UserError("train config: batch_size, seq_len and eval_every must be positive")
        if self.max_steps < 0 or self.max_minutes < 0 or self.preview_seconds < 0:
            raise UserError("train config: max_steps, max_minutes and preview_seconds must be 0 or more")
        if self.lr_schedule == "cosine" and not self.max_steps and not self.max_minutes:
            raise UserError(
                "train config: the cosine schedule decays over --max-steps or --max-minutes; give one of them, "
                "or --lr-schedule constant"
            )
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise UserError(f"train config: {f.name} {value} is not a finite number")
        _check_limits(self, "train")
        if not 0.0 <= self.val_fraction < 1.0:
            raise UserError(f"train config: val_fraction {self.val_fraction} must be in [0, 1)")


# Training recipes `train --recipe` starts from (flags and config files override them). The default is
# TrainConfig's own: lr 2e-3, 20 warm-up steps, cosine to 5%, bf16 where native (benchmarks/RESULTS.md).
RECIPES: dict[str, dict[str, Any]] = {
    "default": {},
    # The first release's: constant 1e-3, no warm-up.
    "first-release": dict(learning_rate=1e-3, lr_schedule="constant", warmup_steps=0),
}

PRESETS: dict[str, dict[str, Any]] = {
    # Small enough to run live on a laptop CPU.
    "live": dict(frame_sizes=(16, 64), dim=512, sample_dim=256, rnn_type="gru", rnn_layers=1, q_type="mu-law"),
    # PRiSM-SampleRNN's defaults.
    "prism": dict(
        frame_sizes=(16, 64),
        dim=1024,
        sample_dim=1024,
        rnn_type="gru",
        rnn_layers=4,
        q_type="mu-law",
        skip_connections=True,
        emb_size=256,
        mlp_layers=1,
    ),
    # The paper's best 2-tier model (Mehri et al. 2017).
    "paper-2tier": dict(
        frame_sizes=(16,),
        dim=1024,
        sample_dim=1024,
        rnn_type="gru",
        rnn_layers=3,
        q_type="linear",
        learn_h0=True,
        weight_norm=True,
        mlp_layers=2,
    ),
}


def _coerce(cls: type, name: str, value: Any, kind: str) -> Any:
    """Convert a value from a flag or a file to the field's type, or say what was wrong."""
    default = getattr(cls(), name) if cls is TrainConfig else getattr(ModelConfig(), name)
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                low = value.lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            if isinstance(value, bool):
                return value
            raise ValueError(value)
        if isinstance(value, str) and not isinstance(default, str) and not value.isascii():
            raise ValueError(value)  # int() takes Arabic-Indic or full-width digits; a config file should not
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = [v for v in value.replace(",", " ").split() if v]
            return tuple(int(v) for v in value)
        if isinstance(default, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if isinstance(default, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError, OverflowError):
        raise UserError(f"{kind} config: {name}={str(value)[:40]!r} is not a valid {type(default).__name__}") from None


def apply_overrides(cls: type, base: Mapping[str, Any], overrides: Mapping[str, Any], kind: str) -> Any:
    """Build cls from base values plus overrides; unknown keys and wrong types are errors naming the valid keys."""
    names = [f.name for f in dataclasses.fields(cls)]
    values = dict(base)
    for key, value in overrides.items():
        key = key.replace("-", "_")
        if key not in names:
            raise UserError(f"{kind} config: unknown key {key!r}; valid keys: {', '.join(names)}")
        values[key] = _coerce(cls, key, value, kind)
    return cls(**values)


def model_config_from_preset(preset: str, overrides: Mapping[str, Any] | None = None) -> ModelConfig:
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return apply_overrides(ModelConfig, PRESETS[preset], overrides or {}, "model")


def model_config_from_dict(values: Mapping[str, Any]) -> ModelConfig:
    return apply_overrides(ModelConfig, {}, values, "model")


def train_config_from_dict(values: Mapping[str, Any]) -> TrainConfig:
    return apply_overrides(TrainConfig, {}, values, "train")


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML or JSON file with optional [model] and [train] tables (and an optional preset key)."""
    from rt_samplernn.structured import read_structured

    path = Path(path)
    data = read_structured(path, "config file")
    if not isinstance(data, dict):
        raise UserError(f"{path}: holds {_kind_of(data)}, not a table; write [model] and [train] tables")
    unknown = set(data) - {"model", "train", "preset"}
    if unknown:
        raise UserError(f"{path}: unknown section(s) {sorted(unknown)}; valid: model, train, preset")
    for key in ("model", "train"):
        if key in data and not isinstance(data[key], dict):
            raise UserError(f"{path}: {key} holds {_kind_of(data[key])}, not a table of fields, e.g. [{key}]")
    if "preset" in data and not isinstance(data["preset"], str):
        raise UserError(f'{path}: preset holds {_kind_of(data["preset"])}, not a name, e.g. preset = "live"')
    return data


def _kind_of(value: Any) -> str:
    """What a value from a file is, in the user's words: null, a number (3), a string ('fast'), a list (...)."""
    if value is None:
        return "null"
    kind = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}
    return f"{kind.get(type(value), 'a ' + type(value).__name__)} ({str(value)[:40] if not isinstance(value, str) else repr(value[:40])})"
