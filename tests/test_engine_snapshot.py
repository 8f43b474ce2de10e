"""Bookmarks of the exact state: Engine.snapshot / restore continue bit for bit; the state file round-trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rt_samplernn.errors import UserError
from rt_samplernn.export.onnx_export import export_bundle
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.snapshot import load_state, save_state
from tests.bundle_helpers import tiny_model

KINDS = {
    "2 tiers, GRU": dict(frame_sizes=(4, 16)),
    "3 tiers, LSTM": dict(frame_sizes=(4, 16, 64), rnn_type="lstm", rnn_layers=2, learn_h0=True),
    "2 tiers, LSTM": dict(frame_sizes=(4, 16), rnn_type="lstm"),
    "3 tiers, GRU": dict(frame_sizes=(4, 8, 32), rnn_layers=2),
}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("snapshot")
    paths = {}
    for i, (name, kw) in enumerate(KINDS.items()):
        model = tiny_model(i, **kw)
        with torch.no_grad():  # peaky logits: every sample then depends on the states, not only on the noise
            model.sample_tier.output.weight.mul_(8.0)
        paths[name] = root / name.replace(", ", "-")
        export_bundle(model, paths[name])
    return paths


def _engine(path, voices: int = 3, seed: int = 5) -> Engine:
    engine = Engine(path, voices=voices, seed=seed)
    for v, t in enumerate((1.0, 0.05, 0.2)[:voices]):  # low ones follow the states, high ones the noise
        engine.set_temperature(t, voice=v)
    engine.set_min_p(0.05, voice=0)
    engine.set_gain(0.8)
    return engine


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("before", [37, 256])  # mid top frame and mid noise chunk; a noise chunk just used up
def test_restore_continues_bit_for_bit_across_a_temperature_change(bundles, kind, before):
    engine = _engine(bundles[kind])
    engine.generate(before)
    state = engine.snapshot()
    after = engine.generate(523)  # crosses top frames and a noise chunk
    engine.set_temperature(0.2, voice=1)  # the knobs move, the model goes on elsewhere
    engine.set_min_p(0.3)
    engine.set_gain(1.5)
    engine.generate(301)
    engine.restore(state)
    assert np.allclose(engine.temperatures, [1.0, 0.05, 0.2]) and engine.gain == pytest.approx(0.8)
    assert np.allclose(engine.min_p, [0.05, 0.0, 0.0])
    again = engine.generate(523)
    assert np.array_equal(again, after)


@pytest.mark.parametrize("kind", ["3 tiers, LSTM", "2 tiers, GRU"])
def test_a_state_file_restores_into_a_fresh_engine(bundles, kind, tmp_path):
    engine = _engine(bundles[kind])
    engine.generate(77)
    save_state(engine.snapshot(), tmp_path / "b1.npz", bundle_name="tiny")
    after = engine.generate_levels(400)

    fresh = Engine(bundles[kind], voices=3, seed=99)  # another seed and other knobs: all replaced
    state, name = load_state(tmp_path / "b1.npz", fresh.state_spec())
    assert name == "tiny"
    fresh.restore(state)
    assert np.array_equal(fresh.generate_levels(400), after)


def test_restore_replaces_a_prime_and_a_reset_follows_the_bookmark_seed(bundles):
    path = bundles["2 tiers, GRU"]
    engine = _engine(path)
    engine.generate(50)
    state = engine.snapshot()
    after = engine.generate_levels(200)
    engine.prime(np.sin(np.arange(3000) / 9.0).astype(np.float32), 16000, seed=11)
    engine.restore(state)  # the later request wins
    assert np.array_equal(engine.generate_levels(200), after)
    assert engine.seed == 5


def test_states_of_another_bundle_or_voice_count_are_refused(bundles, tmp_path):
    engine = _engine(bundles["2 tiers, GRU"])
    state = engine.snapshot()
    with pytest.raises(UserError, match="another bundle"):
        _engine(bundles["2 tiers, LSTM"]).restore(state)
    with pytest.raises(UserError, match="2 voices, this engine 3"):
        engine.restore(_engine(bundles["2 tiers, GRU"], voices=2).snapshot())


def test_bad_state_files_are_one_line_errors(bundles, tmp_path):
    engine = _engine(bundles["2 tiers, GRU"])
    spec = engine.state_spec()
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(UserError, match="not a readable engine state") as e:
        load_state(junk, spec)
    assert "\n" not in str(e.value)
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.zeros(3))
    with pytest.raises(UserError, match="not an rt-samplernn engine state"):
        load_state(plain, spec)
    save_state(engine.snapshot(), tmp_path / "ok.npz")
    with np.load(tmp_path / "ok.npz") as z:
        arrays = {k: z[k] for k in z.files if k != "state.0.0"}
    np.savez(tmp_path / "cut.npz", **arrays)
    with pytest.raises(UserError, match="member state.0.0 is missing"):
        load_state(tmp_path / "cut.npz", spec)
    with pytest.raises(UserError, match="no such file"):
        load_state(tmp_path / "missing.npz", spec)


def test_bookmark_slots_round_trip_through_one_file(bundles, tmp_path):
    from rt_samplernn.live.snapshot import load_states, save_states

    engine = _engine(bundles["3 tiers, LSTM"])
    engine.generate(41)
    first = engine.snapshot()
    engine.generate(100)
    second = engine.snapshot()
    after = engine.generate_levels(300)
    save_states([None, first, None, second], tmp_path / "marks.npz", bundle_name="tiny")
    fresh = Engine(bundles["3 tiers, LSTM"], voices=3, seed=0)
    slots = load_states(tmp_path / "marks.npz", fresh.state_spec())
    assert [s is None for s in slots] == [True, False, True, False]
    assert slots[3] is not None
    fresh.restore(slots[3])
    assert np.array_equal(fresh.generate_levels(300), after)
    with pytest.raises(UserError, match="not an rt-samplernn bookmarks file"):
        load_states(_plain(tmp_path), fresh.state_spec())


def _plain(tmp_path):
    path = tmp_path / "plain-slots.npz"
    np.savez(path, x=np.zeros(2))
    return path
