"""Priming in bounded chunks (rt_samplernn.schedule.prime_windows) gives the states of one pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rt_samplernn.generate import primed_states, start_history
from rt_samplernn.live.engine import Engine
from rt_samplernn.schedule import block_schedule, prime_windows, tiers_due
from tests.bundle_helpers import bundle_of_version, tiny_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_windows_cover_the_history_once_with_one_top_frame_of_context():
    windows = list(prime_windows(16 + 16 * 10, 16, chunk_top_frames=3))
    assert windows == [(0, 64), (48, 112), (96, 160), (144, 176)]
    assert list(prime_windows(16, 16)) == []


def test_timeline():
    assert tiers_due((4, 16), 16) == [(1, -1), (0, 0)] and tiers_due((4, 16), 20) == [(0, 1)]
    assert tiers_due((4, 16), 21) == []
    assert block_schedule((2, 4, 8)) == [[(2, -1), (1, 0), (0, 0)], [(0, 1)], [(1, 1), (0, 0)], [(0, 1)]]


def test_reference_priming_in_chunks_equals_one_pass():
    model = tiny_model(2, rnn_type="lstm", rnn_layers=2)
    levels = np.random.default_rng(0).integers(0, 256, 16 * 700)
    history = torch.from_numpy(start_history(model.cfg, 1, levels).copy())
    with torch.inference_mode():
        chunked = primed_states(model, history)  # 700 top frames: 3 chunks of at most 256
        _, one_pass = model.condition(history, model.initial_state(1))
    for a, b in zip(chunked, one_pass, strict=True):
        for x, y in zip(a, b, strict=True):
            torch.testing.assert_close(x, y, rtol=0, atol=1e-5)


@pytest.mark.parametrize("version", [1, 2])
def test_engine_priming_matches_the_reference(tmp_path, version):
    model, _ = bundle_of_version(version, tmp_path / "b")
    levels = np.random.default_rng(1).integers(0, 256, 16 * 600)
    history = start_history(model.cfg, 1, levels)
    engine = Engine(tmp_path / "b")
    seen: list[float] = []
    ours = engine.states_after(history[0], progress=seen.append)
    with torch.inference_mode():
        ref = primed_states(model, torch.from_numpy(history.copy()))
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    for a, b in zip(ours, ref, strict=True):
        for x, y in zip(a, b, strict=True):
            assert np.max(np.abs(x - y.numpy())) < 1e-4
