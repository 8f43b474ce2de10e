"""Quantizers: round trips within a level, and numpy and torch giving the same ints."""

import numpy as np
import pytest
import torch

from rt_samplernn.quantize import dequantize, dequantize_table, quantize, zero_level

KINDS = [("linear", 256), ("linear", 1024), ("mu-law", 256), ("a-law", 256)]


@pytest.mark.parametrize("q_type,q_levels", KINDS)
def test_round_trip_stays_within_one_level(q_type, q_levels):
    x = np.linspace(-1, 1, 10001, dtype=np.float32)
    levels = quantize(x, q_type, q_levels)
    assert levels.min() == 0 and levels.max() == q_levels - 1
    assert np.all(np.diff(levels) >= 0)  # monotonic
    again = quantize(dequantize(levels, q_type, q_levels), q_type, q_levels)
    np.testing.assert_array_equal(again, levels)


@pytest.mark.parametrize("q_type,q_levels", KINDS)
def test_numpy_and_torch_agree(q_type, q_levels):
    x = np.random.default_rng(0).uniform(-1.2, 1.2, 50000).astype(np.float32)
    np_levels = quantize(x, q_type, q_levels)
    torch_levels = quantize(torch.from_numpy(x), q_type, q_levels)
    assert torch_levels.dtype == torch.int64
    np.testing.assert_array_equal(np_levels, torch_levels.numpy())
    np.testing.assert_array_equal(
        dequantize(np_levels, q_type, q_levels), dequantize(torch.from_numpy(np_levels), q_type, q_levels).numpy()
    )


def test_mu_law_spends_levels_on_quiet_sounds():
    quiet = np.float32(0.01)
    assert quantize(quiet, "mu-law", 256) - zero_level(256) > quantize(quiet, "linear", 256) - zero_level(256) + 10


def test_silence_is_the_zero_level_and_table_matches():
    for q_type, q in KINDS:
        assert quantize(np.zeros(1, np.float32), q_type, q)[0] == zero_level(q)
        np.testing.assert_array_equal(dequantize_table(q_type, q), dequantize(np.arange(q), q_type, q))
