"""Every way a bundle can be wrong gets a one-line UserError that names the file."""

from __future__ import annotations

import json
import shutil

import pytest

from rt_samplernn.cli import main
from rt_samplernn.errors import UserError
from rt_samplernn.export.onnx_export import sha256_file
from rt_samplernn.live.bundle import load_bundle
from rt_samplernn.live.engine import Engine
from tests.bundle_helpers import tiny_bundle


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    tiny_bundle(root / "other", dim=24)  # same layout, other shapes
    return tiny_bundle(root / "good")[1]


@pytest.fixture
def bundle(pristine, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(pristine, copy)
    return copy


def edit_manifest(bundle, change) -> None:
    path = bundle / "model.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def error_of(bundle) -> str:
    with pytest.raises(UserError) as info:
        Engine(bundle)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_good_bundle_loads(bundle):
    b = load_bundle(bundle)
    assert [g.path.name for g in b.frame_graphs] == ["frame.onnx", "big_frame.onnx"]
    assert Engine(bundle / "model.json").generate(10).shape == (1, 10)


def test_missing_directory_and_manifest(bundle, tmp_path):
    assert "no such bundle directory" in error_of(tmp_path / "nowhere")
    (bundle / "model.json").unlink()
    assert "model.json: missing" in error_of(bundle)


def test_manifest_not_json(bundle):
    (bundle / "model.json").write_text("{ not json")
    assert "model.json: not valid JSON" in error_of(bundle)


def test_not_a_bundle_manifest(bundle):
    edit_manifest(bundle, lambda d: d.update(format="something-else"))
    assert "not an rt-samplernn bundle manifest" in error_of(bundle)


def test_unknown_version(bundle):
    edit_manifest(bundle, lambda d: d.update(version=99))
    message = error_of(bundle)
    assert "bundle version 99 is not supported" in message and "reads version 1" in message


def test_missing_graph(bundle):
    (bundle / "frame.onnx").unlink()
    assert "frame.onnx: graph file missing" in error_of(bundle)


def test_altered_graph(bundle):
    data = bytearray((bundle / "sample.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle / "sample.onnx").write_bytes(bytes(data))
    assert "sample.onnx: checksum mismatch" in error_of(bundle)


def test_manifest_shapes_disagree_with_config(bundle):
    edit_manifest(bundle, lambda d: d["graphs"][0]["states"][0].update(shape=[1, "voices", 64]))
    message = error_of(bundle)
    assert "state 'h' of big_frame.onnx has shape [1, 'voices', 64], config says" in message


def test_graph_shapes_disagree_with_manifest(bundle, pristine):
    # A valid graph of another model, with its checksum written into the manifest: only the shapes can tell.
    other = pristine.parent / "other" / "frame.onnx"
    shutil.copy(other, bundle / "frame.onnx")
    edit_manifest(bundle, lambda d: d["graphs"][1].update(sha256=sha256_file(bundle / "frame.onnx")))
    message = error_of(bundle)
    assert "frame.onnx" in message and "model.json says" in message


def test_unloadable_graph(bundle):
    (bundle / "sample.onnx").write_bytes(b"not an onnx file")
    edit_manifest(bundle, lambda d: d["graphs"][2].update(sha256=sha256_file(bundle / "sample.onnx")))
    assert "sample.onnx: not a readable ONNX graph" in error_of(bundle)  # found before onnxruntime sees it


def test_wrong_graph_set(bundle):
    edit_manifest(bundle, lambda d: d["graphs"].pop(0))
    assert "do not match a 3-tier model" in error_of(bundle)


def test_cli_prints_one_line(bundle, capsys):
    edit_manifest(bundle, lambda d: d.update(version=99))
    assert main(["bench", str(bundle), "--seconds", "0.1", "--repeats", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "version 99 is not supported" in err


def test_bench_command(bundle, capsys):
    assert main(["bench", str(bundle), "--seconds", "0.2", "--repeats", "2", "--voices", "2"]) == 0
    out = capsys.readouterr().out
    assert "real-time factor" in out and "sample.onnx" in out and "big_frame.onnx" in out


def test_unknown_weights_kind(bundle):
    edit_manifest(bundle, lambda d: d.update(weights="int3"))
    assert "weights 'int3' are not one of fp32" in error_of(bundle)


def test_non_finite_initial_state_is_refused(bundle):
    def poison(d):
        state = d["graphs"][0]["states"][0]
        layers, _, dim = state["shape"]
        state["initial"] = [[float("nan")] * dim] * layers

    edit_manifest(bundle, poison)
    message = error_of(bundle)
    assert "initial values of state 'h' of big_frame.onnx hold NaN or inf" in message and "re-export" in message


@pytest.mark.parametrize(
    "key,value",
    [
        ("sample_rate", 44100),
        ("quantization", {"type": "linear", "levels": 256, "zero_level": 128}),
        ("frame_sizes", [4, 32]),
    ],
)
def test_top_level_summary_contradicting_config_is_refused(bundle, key, value, capsys):
    edit_manifest(bundle, lambda d: d.update({key: value}))
    message = error_of(bundle)
    assert f"model.json: top-level {key} {value!r} contradicts config" in message and "re-export" in message
    assert main(["generate", str(bundle), "--seconds", "0.1", "--out", str(bundle / "x.wav")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "contradicts config" in err and not (bundle / "x.wav").exists()
