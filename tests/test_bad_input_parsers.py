"""Untrusted text (class 5 of issue 22): one reader for every JSON and TOML file, manifests bounded before use.

A bundle's model.json, a MIDI map and a training config, each made hostile in the test: nesting thousands
deep, integers with thousands of digits, digits that are not ASCII, a manifest whose sizes would allocate
gigabytes, a graph keeping its weights in another file, a sample graph returning levels out of range.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper

from rt_samplernn.cli import main
from rt_samplernn.config import read_config_file
from rt_samplernn.errors import UserError
from rt_samplernn.live.bundle import load_bundle, sha256_file
from rt_samplernn.live.midi import load_map
from tests.bundle_helpers import tiny_bundle

DEEP_JSON = "[" * 100_000 + "]" * 100_000
DEEP_TOML = "a = " + "[" * 100_000 + "]" * 100_000 + "\n"
HUGE_INT = "9" * 5000  # past Python's 4300-digit limit for int(str)
BIG_INT = "9" * 4000  # parses, then overflows float()


@pytest.fixture
def bundle(tmp_path):
    return tiny_bundle(tmp_path / "b")[1]


def edit_manifest(bundle: Path, change) -> None:
    path = bundle / "model.json"
    d = json.loads(path.read_text())
    change(d)
    path.write_text(json.dumps(d))


def one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(
    "text,words",
    [
        (DEEP_JSON, "not valid JSON (nested too deep)"),
        ('{"a": ' * 40 + "1" + "}" * 40, "nested more than 32 levels deep"),
        (f'{{"format": "rt-samplernn-bundle", "version": {HUGE_INT}}}', "not valid JSON (Exceeds the limit"),
        (f'{{"format": "rt-samplernn-bundle", "version": {BIG_INT}}}', "holds a whole number of 4000 digits"),
        ("\xff\xfe{}", "not UTF-8"),
    ],
)
def test_hostile_model_json_is_one_line(bundle, text, words):
    (bundle / "model.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(UserError) as e:
        load_bundle(bundle)
    assert str(e.value).startswith(f"{bundle / 'model.json'}: ") and words in one_line(e)


@pytest.mark.parametrize(
    "name,text,words",
    [
        ("deep.json", DEEP_JSON, "not valid JSON (nested too deep)"),
        ("deep.toml", DEEP_TOML, "not valid TOML"),
        ("digits.toml", f"version = {HUGE_INT}\n", "not valid TOML"),
        ("big.toml", f"version = {BIG_INT}\n", "holds a whole number of 4000 digits"),
    ],
)
def test_hostile_midi_map_is_one_line(tmp_path, name, text, words):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UserError) as e:
        load_map(path)
    assert str(e.value).startswith(f"{path}: ") and words in one_line(e)


@pytest.mark.parametrize(
    "text,words",
    [
        (DEEP_TOML, "not valid TOML"),
        (f"[model]\ndim = {BIG_INT}\n", "holds a whole number of 4000 digits"),
        ('[model]\ndim = "١٢٨"\n', "dim='١٢٨' is not a valid int"),  # Arabic-Indic digits: int() would take them
        ('[train]\nlearning_rate = "１e-3"\n', "is not a valid float"),  # full-width
        ("model = 3\n", "model holds a number (3), not a table of fields"),
        ('train = "fast"\n', "train holds a string ('fast'), not a table"),
    ],
)
def test_hostile_training_config_is_one_line(tmp_path, capsys, text, words):
    path = tmp_path / "cfg.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "run"), "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err


@pytest.mark.parametrize("text", ["null", '"a string"', "[1, 2]"])
def test_config_json_that_is_not_a_table_is_one_line(tmp_path, text):
    path = tmp_path / "cfg.json"
    path.write_text(text)
    with pytest.raises(UserError, match=r"cfg\.json: holds .*, not a table; write \[model\] and \[train\] tables"):
        read_config_file(path)


def test_config_json_with_null_for_a_table_is_one_line(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text('{"model": null}')
    with pytest.raises(UserError, match=r"cfg\.json: model holds null, not a table of fields"):
        read_config_file(path)


@pytest.mark.parametrize(
    "field,value,words",
    [
        ("dim", 10**9, "dim 1000000000 is outside [1, 8192]"),
        ("sample_rate", 10**9, "sample_rate 1000000000 is outside [1000, 384000]"),
        ("rnn_layers", 10**6, "rnn_layers 1000000 is outside [1, 64]"),
        ("frame_sizes", [4, 2**40], "at most 8 frame tiers of at most 65536 samples"),
    ],
)
def test_manifest_sizes_are_bounded_before_anything_is_allocated(bundle, field, value, words):
    edit_manifest(bundle, lambda d: d["config"].update({field: value}))
    with pytest.raises(UserError) as e:
        load_bundle(bundle)
    assert words in one_line(e)


def test_a_state_shape_that_would_allocate_gigabytes_is_refused_first(bundle):
    def huge_state(d):
        d["graphs"][0]["states"][0]["shape"] = [1, "voices", 10**12]

    edit_manifest(bundle, huge_state)
    with pytest.raises(UserError, match=r"has shape \[1, 'voices', 1000000000000\], config says"):
        load_bundle(bundle)


def test_onnx_external_data_is_refused_even_with_matching_checksums(bundle):
    path = bundle / "frame.onnx"
    model = onnx.load(str(path))
    onnx.save_model(
        model, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="w.bin", size_threshold=0
    )
    assert (bundle / "w.bin").is_file()
    edit_manifest(bundle, lambda d: [g.update(sha256=sha256_file(path)) for g in d["graphs"] if g["file"] == path.name])
    with pytest.raises(UserError) as e:
        load_bundle(bundle)
    assert "keeps its data in another file, which the checksums do not cover" in one_line(e)


def test_sample_graph_levels_out_of_range_are_an_error_not_a_wrap(bundle):
    """The sample graph's output shifted by -1000: levels below 0 would index the table from its end."""
    from rt_samplernn.live.engine import Engine

    path = bundle / "sample.onnx"
    model = onnx.load(str(path))
    graph = model.graph
    out = graph.output[0]
    inner = f"{out.name}_unshifted"
    for node in graph.node:
        node.output[:] = [inner if o == out.name else o for o in node.output]
    graph.initializer.append(onnx.numpy_helper.from_array(np.array(1000, np.int64), "shift"))
    graph.node.append(helper.make_node("Sub", [inner, "shift"], [out.name]))
    onnx.save(model, str(path))
    edit_manifest(bundle, lambda d: [g.update(sha256=sha256_file(path)) for g in d["graphs"] if g["file"] == path.name])
    with pytest.raises(UserError, match=r"sample\.onnx: computes wrong on this CPU"):
        Engine(bundle, provider="cpu")  # the self-check at load catches it first
    edit_manifest(bundle, lambda d: d.pop("selfcheck"))  # a bundle without one: the range check while playing
    engine = Engine(bundle, provider="cpu")
    with pytest.raises(UserError) as e:
        engine.generate(64)
    assert "sample.onnx: returned level -" in one_line(e) and "outside 0..255" in str(e.value)


def test_nan_weights_inside_a_graph_are_refused_even_with_matching_checksums(bundle):
    path = bundle / "frame.onnx"
    model = onnx.load(str(path))
    init = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    values = onnx.numpy_helper.to_array(init).copy()
    values.flat[0] = np.nan
    init.CopyFrom(onnx.numpy_helper.from_array(values, init.name))
    onnx.save(model, str(path))
    edit_manifest(bundle, lambda d: [g.update(sha256=sha256_file(path)) for g in d["graphs"] if g["file"] == path.name])
    with pytest.raises(UserError) as e:
        load_bundle(bundle)
    assert f"frame.onnx: tensor {init.name!r} holds NaN values" in one_line(e)


@pytest.mark.parametrize(
    "change,words",
    [
        (lambda g: g["inputs"][0].update(dtype=[]), "inputs must be a list of {name, dtype"),
        (lambda g: g.update(outputs=[None]), "outputs must be a list of {name, dtype"),
        (lambda g: g["states"][0].update(input="x"), "its input and output must be among the graph's inputs"),
        (lambda g: g.update(ratio=3), "ratio 3, but frame_sizes [4, 16] make it 4"),
    ],
)
def test_graph_entries_are_checked_before_onnxruntime_sees_them(bundle, change, words):
    """Found by mutating every value of a real model.json: each of these reached onnxruntime or a sort."""
    edit_manifest(bundle, lambda d: change(d["graphs"][0]))
    with pytest.raises(UserError) as e:
        load_bundle(bundle)
    assert words in one_line(e)
