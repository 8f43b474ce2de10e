"""Every voice its own noise stream, and the tail cut (min_p) in the sample graph: off is bit-exact with the
graph without it, on draws only levels above the cut (checked on the logits), and the engine and the
PyTorch reference generator agree with it; bundles without the cut's input still play."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from rt_samplernn.export.onnx_export import build_unrolled_sample_graph, export_bundle
from rt_samplernn.export.verify import bundle_logits
from rt_samplernn.generate import generate_levels
from rt_samplernn.live.engine import Engine
from rt_samplernn.model import SampleRNN
from rt_samplernn.sampling import gumbel_noise, noise_rng
from tests.bundle_helpers import tiny_model, v1_bundle, v1_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def peaked_model(seed: int = 3) -> SampleRNN:
    """A tiny model whose logits spread over tens of nats, as a trained one's do (a random one's are flat)."""
    model = tiny_model(seed)
    with torch.no_grad():
        output_layer(model).weight.mul_(40.0)
    return model


def output_layer(model: SampleRNN) -> torch.nn.Linear:
    layer = model.sample_tier.output
    assert isinstance(layer, torch.nn.Linear)
    return layer


def without_cut(model: onnx.ModelProto) -> onnx.ModelProto:
    """The sample graph as exported before the cut: each ArgMax reads the perturbed logits, no min_p input."""
    stripped = onnx.ModelProto()
    stripped.CopyFrom(model)
    for node in stripped.graph.node:
        if node.op_type == "ArgMax" and node.input[0].endswith("_kept"):
            node.input[0] = node.input[0][: -len("kept")] + "perturbed"
    keep = [i for i in stripped.graph.input if i.name != "min_p"]
    del stripped.graph.input[:]
    stripped.graph.input.extend(keep)
    needed = {"samples"}
    nodes = []
    for node in reversed(stripped.graph.node):  # drop what nothing reads any more
        if any(o in needed for o in node.output):
            nodes.append(node)
            needed.update(node.input)
    del stripped.graph.node[:]
    stripped.graph.node.extend(reversed(nodes))
    return stripped


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def random_feeds(model: SampleRNN, frames: int, seed: int, temperature: float) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    f0, q = model.cfg.frame_sizes[0], model.cfg.q_levels
    s_dim = output_layer(model).weight.shape[1]
    return {
        "prev": rng.integers(0, q, (frames, f0)).astype(np.int64),
        "cond": rng.standard_normal((frames, f0, s_dim)).astype(np.float32),
        "noise": gumbel_noise(noise_rng(seed), (frames, f0, q)),
        "temperature": np.full(frames, temperature, np.float32),
    }


def test_cut_zero_is_bit_exact_with_the_graph_without_the_cut():
    model = peaked_model()
    graph = build_unrolled_sample_graph(model.sample_tier)
    assert "min_p" in [i.name for i in graph.graph.input]
    for temperature in (0.5, 1.0, 1.5):
        feeds = random_feeds(model, 4000, seed=int(temperature * 10), temperature=temperature)
        old = session(without_cut(graph)).run(["samples"], feeds)[0]
        new = session(graph).run(["samples"], {**feeds, "min_p": np.zeros(4000, np.float32)})[0]
        np.testing.assert_array_equal(new, old)
        cut = session(graph).run(["samples"], {**feeds, "min_p": np.full(4000, 0.05, np.float32)})[0]
        assert not np.array_equal(cut, old)  # the cut does something at these temperatures


def test_with_a_cut_only_levels_above_it_are_drawn(tmp_path):
    """Draw with the cut, then ask the graph's own teacher-forced logits how likely each drawn level was."""
    model = peaked_model()
    export_bundle(model, tmp_path / "b")
    graph = build_unrolled_sample_graph(model.sample_tier)
    f0 = model.cfg.frame_sizes[0]
    frames = 3000
    feeds = random_feeds(model, frames, seed=5, temperature=2.0)  # hot: the tail would be drawn often
    below = {}
    for cut in (0.0, 0.1):
        drawn = session(graph).run(["samples"], {**feeds, "min_p": np.full(frames, cut, np.float32)})[0]
        # teacher forcing frame by frame: the logits each drawn sample was drawn from
        logits = np.stack(
            [
                bundle_logits(
                    tmp_path / "b" / "sample.onnx", np.concatenate([feeds["prev"][i], drawn[i]]), feeds["cond"][i], f0
                )
                for i in range(0, frames, 10)
            ]
        )  # (frames / 10, F0, Q)
        picked = np.take_along_axis(logits, drawn[::10, :, None], axis=2)[..., 0]
        log_ratio = picked - logits.max(axis=2)  # log(p(drawn) / p(most likely)) at temperature 1
        below[cut] = float(np.mean(log_ratio < np.log(0.1) - 1e-4))
    assert below[0.0] > 0.05  # without the cut, hot sampling draws from the tail
    assert below[0.1] == 0.0


def test_engine_and_reference_agree_with_a_cut(tmp_path):
    model = peaked_model(4)
    export_bundle(model, tmp_path / "b")
    temps, cuts = [1.0, 1.4, 0.8], [0.0, 0.05, 0.2]
    engine = Engine(tmp_path / "b", voices=3, seed=7)
    assert engine.has_min_p
    for v, (t, c) in enumerate(zip(temps, cuts, strict=True)):
        engine.set_temperature(t, voice=v)
        engine.set_min_p(c, voice=v)
    np.testing.assert_array_equal(engine.min_p, np.float32(cuts))
    ours = engine.generate_levels(1500)
    ref = generate_levels(model, 1500, temps, seed=7, min_p=cuts)
    np.testing.assert_array_equal(ours, ref)


def test_n_voices_from_one_seed_are_n_independent_streams(tmp_path):
    """Each voice draws its own noise: pairwise distinct, and voice v is the same whatever the voice count."""
    model = tiny_model(2)
    export_bundle(model, tmp_path / "b")
    four = Engine(tmp_path / "b", voices=4, seed=3).generate_levels(2000)
    for a in range(4):
        for b in range(a + 1, 4):
            assert np.mean(four[a] == four[b]) < 0.2
    one = Engine(tmp_path / "b", voices=1, seed=3).generate_levels(2000)
    two = Engine(tmp_path / "b", voices=2, seed=3).generate_levels(2000)
    np.testing.assert_array_equal(one[0], four[0])
    np.testing.assert_array_equal(two, four[:2])
    np.testing.assert_array_equal(generate_levels(model, 2000, [1.0] * 4, seed=3), four)


def test_a_bundle_without_the_cut_plays_with_it_off(tmp_path):
    """Version 1 bundles (and version 2 ones exported before the cut) have no min_p input: the engine feeds
    none, keeps the value, and draws exactly what it drew before."""
    model = v1_model("gru")  # peaked, as peaked_model makes them
    v1_bundle("gru", tmp_path / "v1")
    engine = Engine(tmp_path / "v1", voices=2, seed=1)
    assert not engine.has_min_p
    engine.set_min_p(0.3)
    out = engine.generate_levels(800)
    np.testing.assert_array_equal(out, generate_levels(model, 800, [1.0, 1.0], seed=1))
