"""The model: shapes for 2 and 3 tiers, GRU and LSTM, skip on and off; the step functions equal the training forward."""

import itertools

import pytest
import torch

from rt_samplernn.config import ModelConfig
from rt_samplernn.model import SampleRNN
from rt_samplernn.schedule import sample_column, tiers_due

SHAPES = [
    dict(frame_sizes=(4,)),
    dict(frame_sizes=(4, 16)),
    dict(frame_sizes=(2, 4, 8)),  # N tiers
]
CELLS = [
    dict(rnn_type=r, skip_connections=s, rnn_layers=2) for r, s in itertools.product(("gru", "lstm"), (False, True))
]
EXTRAS = [dict(), dict(learn_h0=True, weight_norm=True, q_type="linear", q_levels=64)]


def tiny(**kw):
    return ModelConfig(**{"dim": 24, "sample_dim": 16, "emb_size": 8, **kw})


def step_through(model, x):
    """Teacher-forced logits from the per-tier step functions, in the generation order (rt_samplernn.schedule):
    equal to the training forward only if the model's tiers and the schedule agree."""
    cfg = model.cfg
    sizes = cfg.frame_sizes
    states = model.initial_state(x.shape[0])
    conds = [None] * len(sizes)
    out = []
    for t in range(model.overlap, x.shape[1]):
        for k, col in tiers_due(sizes, t):
            above = None if col < 0 else conds[k + 1][:, col]
            conds[k], states[k] = model.frame_tiers[k].step(x[:, t - sizes[k] : t], above, states[k])
        out.append(model.sample_tier.step(x[:, t - sizes[0] : t], conds[0][:, sample_column(sizes, t)]))
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("shape,cell,extra", list(itertools.product(SHAPES, CELLS, EXTRAS)))
def test_forward_shapes_and_step_parity(shape, cell, extra):
    torch.manual_seed(0)
    cfg = tiny(**shape, **cell, **extra)
    model = SampleRNN(cfg).eval()
    batch, length = 3, 4 * cfg.top_frame_size
    x = torch.randint(0, cfg.q_levels, (batch, model.overlap + 2 * length))
    with torch.no_grad():
        states = model.initial_state(batch)
        first, states = model(x[:, : model.overlap + length], states)  # two TBPTT segments, states carried
        second, states = model(x[:, length:], states)
        stepped = step_through(model, x)
    assert first.shape == (batch, length, cfg.q_levels)
    forward = torch.cat([first, second], dim=1)
    torch.testing.assert_close(stepped, forward, atol=1e-5, rtol=0)
    n_state = 2 if cfg.rnn_type == "lstm" else 1
    assert all(len(s) == n_state and s[0].shape == (cfg.rnn_layers, batch, cfg.dim) for s in states)


def test_learned_initial_state_gets_gradients():
    cfg = tiny(frame_sizes=(4,), learn_h0=True)
    model = SampleRNN(cfg)
    x = torch.randint(0, cfg.q_levels, (2, 4 + 16))
    logits, _ = model(x, model.initial_state(2))
    logits.sum().backward()
    assert model.frame_tiers[0].h0.grad is not None and model.frame_tiers[0].h0.grad.abs().sum() > 0
