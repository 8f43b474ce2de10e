"""Long outputs are generated and written in blocks: the same samples as one pass, whatever the block size."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from rt_samplernn.checkpoint import save_checkpoint
from rt_samplernn.cli import main
from rt_samplernn.commands.generate import BLOCK_SAMPLES
from rt_samplernn.generate import generate_blocks, generate_levels, prime_levels
from tests.bundle_helpers import tiny_bundle, tiny_model


@pytest.mark.parametrize("block", [16, 48, 100, 1000])
def test_reference_in_blocks_equals_one_pass(one_torch_thread, block):
    model = tiny_model(3)
    cfg = model.cfg
    seed = prime_levels(cfg, np.random.default_rng(0).standard_normal(700).astype(np.float32), 44100)
    whole = generate_levels(model, 999, [1.0, 0.7], seed=5, seed_levels=seed)
    pieces = list(generate_blocks(model, 999, [1.0, 0.7], seed=5, seed_levels=seed, block_samples=block))
    assert np.array_equal(np.concatenate(pieces, axis=1), whole)
    assert max(p.shape[1] for p in pieces) <= max(block, cfg.top_frame_size)  # memory: one block at a time


def test_generate_across_block_boundaries_matches_between_bundle_and_checkpoint(one_torch_thread, tmp_path):
    # Longer than one block: both paths cross a block boundary; the engine and the reference agree exactly.
    model, bundle = tiny_bundle(tmp_path / "bundle", seed=4)
    ckpt = save_checkpoint(tmp_path / "tiny.pt", model)
    seconds = (BLOCK_SAMPLES + 1000) / model.cfg.sample_rate
    for source, name in ((bundle, "engine.wav"), (ckpt, "reference.wav")):
        assert (
            main(
                [
                    "generate",
                    str(source),
                    "--seconds",
                    str(seconds),
                    "--count",
                    "2",
                    "--channels",
                    "--seed",
                    "7",
                    "--out",
                    str(tmp_path / name),
                ]
            )
            == 0
        )
    engine, rate = soundfile.read(tmp_path / "engine.wav", dtype="int16")
    reference, _ = soundfile.read(tmp_path / "reference.wav", dtype="int16")
    assert engine.shape == (BLOCK_SAMPLES + 1000, 2) and rate == model.cfg.sample_rate
    assert np.array_equal(engine, reference)
    assert not list(tmp_path.glob(".*.part"))
