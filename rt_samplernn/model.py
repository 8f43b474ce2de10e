"""SampleRNN (Mehri et al., ICLR 2017): N frame tiers over a sample-level MLP, in PyTorch.

Reads top to bottom like the paper's figure. Frame sizes run fine to coarse (cfg.frame_sizes = (16, 64)):
tier k turns each frame of frame_sizes[k] previous samples into one conditioning vector per position of
the tier below. The training forward and the step functions are the same code: a step is the forward on
a sequence of length one, with the recurrent state passed in and returned explicitly
(`forward(x, state) -> (y, state)`), which is what the ONNX step graphs export. (In train mode the sample
tier computes its input layer another way, same function: see SampleTier.folded_input.)

Shapes: B batch (voices), T frames, F frame size, L samples, D = cfg.dim, S = cfg.sample_dim, Q = q_levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from rt_samplernn.config import ModelConfig
from rt_samplernn.schedule import window_frames

FOLD_MAX_LEVELS = 1024  # the folded sample-tier input (training only) holds F * Q * S weights: up to this Q
State = tuple[Tensor, ...]  # (h,) for GRU, (h, c) for LSTM; each (layers, B, D)


def _linear(cfg: ModelConfig, n_in: int, n_out: int, bias: bool = True) -> nn.Linear:
    layer = nn.Linear(n_in, n_out, bias=bias)
    return cast(nn.Linear, weight_norm(layer)) if cfg.weight_norm else layer  # the same module, parametrized


class FrameTier(nn.Module):
    """One frame-level tier: frame -> ints rescaled to [-2, 2] -> linear -> + conditioning -> RNN -> upsample."""

    def __init__(self, cfg: ModelConfig, frame_size: int, ratio: int, out_dim: int):
        super().__init__()
        self.frame_size = frame_size
        self.ratio = ratio  # positions of the tier below per frame of this tier
        self.out_dim = out_dim
        self.q_levels = cfg.q_levels
        self.layers = cfg.rnn_layers
        self.dim = cfg.dim
        self.is_lstm = cfg.rnn_type == "lstm"
        rnn = nn.LSTM if self.is_lstm else nn.GRU
        self.expand = _linear(cfg, frame_size, cfg.dim)
        # One module per layer, so skip connections can read every layer's output.
        # (ModuleLists, so parameters register; typed as what they hold)
        self.rnns = cast(
            "Sequence[nn.RNNBase]",
            nn.ModuleList(rnn(cfg.dim, cfg.dim, batch_first=True) for _ in range(cfg.rnn_layers)),
        )
        self.skips = (
            cast("Sequence[nn.Linear]", nn.ModuleList(_linear(cfg, cfg.dim, cfg.dim) for _ in range(cfg.rnn_layers)))
            if cfg.skip_connections
            else None
        )
        # Learned upsampling: one linear map per output position, i.e. a transposed conv with stride = ratio.
        self.upsample = _linear(cfg, cfg.dim, ratio * out_dim)
        n_state = 2 if self.is_lstm else 1
        h0 = torch.zeros(n_state, cfg.rnn_layers, cfg.dim)
        if cfg.learn_h0:
            self.h0 = nn.Parameter(h0)
        else:
            self.register_buffer("h0", h0, persistent=False)

    def initial_state(self, batch: int) -> State:
        # (n_state, layers, D) -> n_state tensors of (layers, B, D)
        return tuple(h[:, None, :].expand(-1, batch, -1).contiguous() for h in self.h0)

    def forward(self, frames: Tensor, cond: Tensor | None, state: State) -> tuple[Tensor, State]:
        """frames (B, T, F) int levels; cond (B, T, D) or None -> (B, T * ratio, out_dim), new state."""
        x = (frames.to(torch.float32) / (self.q_levels / 2) - 1.0) * 2.0
        x = self.expand(x)
        if cond is not None:
            x = x + cond
        new_state: list[list[Tensor]] = [[] for _ in state]
        skip_sum = None
        for i, rnn in enumerate(self.rnns):
            layer_state = tuple(s[i : i + 1] for s in state)
            x, out_state = rnn(x, layer_state if self.is_lstm else layer_state[0])
            for store, s in zip(new_state, out_state if self.is_lstm else (out_state,)):
                store.append(s)
            if self.skips is not None:
                projected = self.skips[i](x)
                skip_sum = projected if skip_sum is None else skip_sum + projected
        out = skip_sum if skip_sum is not None else x
        batch, steps, _ = out.shape
        up = self.upsample(out).reshape(batch, steps * self.ratio, self.out_dim)
        return up, tuple(torch.cat(s, dim=0) for s in new_state)

    def step(self, frame: Tensor, cond: Tensor | None, state: State) -> tuple[Tensor, State]:
        """One frame: frame (B, F), cond (B, D) or None -> (B, ratio, out_dim), new state."""
        return self.forward(frame[:, None, :], None if cond is None else cond[:, None, :], state)


class SampleTier(nn.Module):
    """Sample-level MLP: previous F samples -> embedding -> conv over the frame (no bias) -> + cond -> ReLU MLP -> logits."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.frame_size = cfg.frame_sizes[0]
        self.embedding = nn.Embedding(cfg.q_levels, cfg.emb_size)
        conv = nn.Conv1d(cfg.emb_size, cfg.sample_dim, kernel_size=self.frame_size, bias=False)
        self.input_conv = weight_norm(conv) if cfg.weight_norm else conv
        self.hidden = cast(
            "Sequence[nn.Linear]",
            nn.ModuleList(_linear(cfg, cfg.sample_dim, cfg.sample_dim) for _ in range(cfg.mlp_layers)),
        )
        self.output = _linear(cfg, cfg.sample_dim, cfg.q_levels)
        self.fold_when_training = cfg.q_levels <= FOLD_MAX_LEVELS  # see folded_input

    def forward(self, prev: Tensor, cond: Tensor) -> Tensor:
        """prev (B, L + F - 1) int levels, cond (B, L, S) -> logits (B, L, Q) for the L samples after each window."""
        if self.training and self.fold_when_training:
            h = self.folded_input(prev) + cond
        else:
            e = self.embedding(prev).transpose(1, 2)  # (B, E, L + F - 1)
            h = self.input_conv(e).transpose(1, 2) + cond  # (B, L, S)
        for layer in self.hidden:
            h = F.relu(layer(h))
        return self.output(h)

    def folded_input(self, prev: Tensor) -> Tensor:
        """The same embedding -> conv, 3x faster to train: fold the embedding into the conv as one (F*Q, S) table
        (row k*Q + q: level q at offset k) and sum F rows per position. prev (B, L + F - 1) -> (B, L, S)."""
        q_levels, size = self.embedding.num_embeddings, self.frame_size
        table = torch.einsum("qe,sef->fqs", self.embedding.weight, self.input_conv.weight)  # (F, Q, S)
        table = table.reshape(size * q_levels, -1)
        rows = prev.unfold(1, size, 1) + torch.arange(size, device=prev.device) * q_levels  # (B, L, F)
        return F.embedding_bag(rows.reshape(-1, size), table, mode="sum").reshape(*rows.shape[:2], -1)

    def step(self, prev: Tensor, cond: Tensor) -> Tensor:
        """One sample: prev (B, F) int levels, cond (B, S) -> logits (B, Q)."""
        return self.forward(prev, cond[:, None, :])[:, 0]


class SampleRNN(nn.Module):
    """The whole hierarchy. frame_tiers[0] is the finest frame tier (it conditions the sample tier)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        tiers = []
        for k, frame_size in enumerate(cfg.frame_sizes):
            below = cfg.frame_sizes[k - 1] if k > 0 else 1
            out_dim = cfg.dim if k > 0 else cfg.sample_dim
            tiers.append(FrameTier(cfg, frame_size, frame_size // below, out_dim))
        # a ModuleList (so the tiers' parameters register), typed as the tiers it holds
        self.frame_tiers = cast("Sequence[FrameTier]", nn.ModuleList(tiers))
        self.sample_tier = SampleTier(cfg)

    @property
    def overlap(self) -> int:
        """Samples of context before the first predicted one: the top frame size."""
        return self.cfg.top_frame_size

    def initial_state(self, batch: int) -> list[State]:
        return [tier.initial_state(batch) for tier in self.frame_tiers]

    def condition(self, x: Tensor, states: list[State]) -> tuple[Tensor, list[State]]:
        """Run the frame tiers coarse to fine. x (B, overlap + L) levels -> cond (B, L, S) for samples x[:, overlap:]."""
        cond: Tensor | None = None
        new_states = list(states)
        for k, frames in window_frames(self.cfg.frame_sizes, x):
            cond, new_states[k] = self.frame_tiers[k](frames, cond, states[k])
        assert cond is not None  # there is at least one frame tier
        return cond, new_states

    def forward(self, x: Tensor, states: list[State]) -> tuple[Tensor, list[State]]:
        """Teacher-forced: x (B, overlap + L) int levels -> logits (B, L, Q) predicting x[:, overlap:], new states."""
        cond, new_states = self.condition(x, states)
        size = self.sample_tier.frame_size
        prev = x[:, self.overlap - size : -1]  # (B, L + F - 1)
        return self.sample_tier(prev, cond), new_states
