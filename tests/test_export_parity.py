"""Export + parity (export.verify) over the model variants: 2/3/4 tiers, GRU/LSTM, skips, quantizers."""

from __future__ import annotations

import json

import pytest
import torch

from rt_samplernn.checkpoint import save_checkpoint
from rt_samplernn.cli import main
from rt_samplernn.export.onnx_export import export_bundle
from rt_samplernn.export.verify import verify_bundle
from rt_samplernn.live.engine import Engine
from tests.bundle_helpers import tiny_bundle, tiny_model, v1_bundle, v1_model

VARIANTS = {
    "3tier-gru-mulaw": dict(),
    "3tier-lstm-linear-skip-2layers-h0-wn": dict(
        rnn_type="lstm",
        rnn_layers=2,
        skip_connections=True,
        q_type="linear",
        q_levels=64,
        learn_h0=True,
        weight_norm=True,
    ),
    "2tier-gru-linear-skip-2layers": dict(
        frame_sizes=(8,), rnn_layers=2, skip_connections=True, q_type="linear", q_levels=128, mlp_layers=1
    ),
    "2tier-lstm-alaw-h0": dict(frame_sizes=(4,), rnn_type="lstm", q_type="a-law", learn_h0=True, sample_dim=24),
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_export_and_verify(tmp_path, variant):
    model, bundle = tiny_bundle(tmp_path / "b", **VARIANTS[variant])
    lines: list[str] = []
    report = verify_bundle(model, bundle, seconds=2.0, n_generate=500, seed=3, log=lines.append)
    assert report.ok, "\n".join(lines)
    assert report.compared == 500 and report.matched == 500
    names = sorted(p.name for p in bundle.glob("*.onnx"))
    expected = ["frame.onnx", "sample.onnx"] + (["big_frame.onnx"] if len(model.cfg.frame_sizes) == 2 else [])
    assert names == sorted(expected)


@pytest.mark.parametrize("name", ["gru", "lstm"])
def test_a_version_1_bundle_still_verifies(tmp_path, name):
    """Bundle version 1 (GRU/LSTM ops, Loop sample graph; 3-tier GRU mu-law, 2-tier LSTM a-law, learned h0),
    committed in tests/fixtures/v1 with the weights it was exported from: the engine and verify read it."""
    model = v1_model(name)
    v1_bundle(name, tmp_path / "v1")
    assert json.loads((tmp_path / "v1" / "model.json").read_text())["version"] == 1
    lines: list[str] = []
    report = verify_bundle(model, tmp_path / "v1", seconds=2.0, n_generate=300, seed=3, log=lines.append)
    assert report.ok and report.matched == 300, "\n".join(lines)


def test_four_tiers_naming_and_parity(tmp_path):
    model, bundle = tiny_bundle(tmp_path / "b", frame_sizes=(2, 4, 16))
    assert sorted(p.name for p in bundle.glob("*.onnx")) == [
        "big2_frame.onnx",
        "big_frame.onnx",
        "frame.onnx",
        "sample.onnx",
    ]
    assert verify_bundle(model, bundle, seconds=2.0, n_generate=300, log=lambda s: None).ok


def test_manifest_contents(tmp_path):
    model, bundle = tiny_bundle(tmp_path / "b", rnn_type="lstm", learn_h0=True)
    m = json.loads((bundle / "model.json").read_text())
    assert m["format"] == "rt-samplernn-bundle" and m["version"] == 2
    assert m["sample_rate"] == 16000 and m["quantization"] == {"type": "mu-law", "levels": 256, "zero_level": 128}
    assert [g["file"] for g in m["graphs"]] == ["big_frame.onnx", "frame.onnx", "sample.onnx"]
    top = m["graphs"][0]
    assert [s["input"] for s in top["states"]] == ["h", "c"]
    h0 = model.frame_tiers[1].h0[0].detach().numpy()
    assert torch.allclose(torch.tensor(top["states"][0]["initial"]), torch.from_numpy(h0))
    assert all(len(g["sha256"]) == 64 for g in m["graphs"])
    assert m["exporter"]["name"] == "rt-samplernn"


def _weights(bundle) -> str:
    return json.loads((bundle / "model.json").read_text()).get("weights", "fp32")


def test_export_command(tmp_path, capsys):
    """With no flags the command writes int8 (the bundle that plays on a CPU) and --verify checks it as int8;
    --fp32 writes the exact graphs and --verify holds them to sample-for-sample parity; --int8 is the default."""
    ckpt = tmp_path / "tiny.pt"
    save_checkpoint(ckpt, tiny_model(1))
    out = tmp_path / "bundle"
    assert main(["export", str(ckpt), "-o", str(out), "--verify", "--verify-samples", "200"]) == 0
    text = capsys.readouterr().out
    assert _weights(out) == "int8"
    assert "parity: ok" in text and "sample.onnx logits" in text and "(int8 bundle:" in text
    assert "weights int8" in text
    assert main(["export", str(ckpt), "-o", str(out)]) == 1  # exists: needs --force
    assert "--force" in capsys.readouterr().err
    assert main(["export", str(ckpt), "-o", str(out), "--force", "--fp32", "--verify", "--verify-samples", "200"]) == 0
    text = capsys.readouterr().out
    assert _weights(out) == "fp32"
    assert "parity: ok" in text and "(int8 bundle:" not in text and "200/200" in text
    assert main(["export", str(ckpt), "-o", str(out), "--force", "--int8"]) == 0
    assert _weights(out) == "int8"
    with pytest.raises(SystemExit) as refused:  # one or the other
        main(["export", str(ckpt), "-o", str(out), "--force", "--int8", "--fp32"])
    assert refused.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.pt")]) == 1
    capsys.readouterr()
    assert (
        main(
            [
                "bench",
                str(out),
                "--seconds",
                "0.2",
                "--repeats",
                "1",
                "--against",
                str(ckpt),
                "--against-seconds",
                "0.05",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "PyTorch eager reference" in text and "engine / reference" in text
    assert "voices this machine plays live (the p99 block time at most 1/1.2" in text and "on two threads:" in text
    table = text[text.index("worker time per block of 256 samples") :].splitlines()
    assert "real-time budget 16.0 ms" in table[0] and "p99 ms" in table[1]
    assert [row.split()[0] for row in table[2:4]] == ["1", "4"]  # p99 for 1 and 4 voices, always


def test_int8_export_is_smaller_runs_and_verifies_relatively(tmp_path):
    model = tiny_model(2)
    export_bundle(model, tmp_path / "fp32")
    export_bundle(model, tmp_path / "int8", int8=True)
    manifest = json.loads((tmp_path / "int8" / "model.json").read_text())
    assert manifest["weights"] == "int8"
    assert (tmp_path / "int8" / "frame.onnx").stat().st_size < (tmp_path / "fp32" / "frame.onnx").stat().st_size
    lines: list[str] = []
    report = verify_bundle(model, tmp_path / "int8", seconds=2.0, n_generate=200, log=lines.append)
    assert report.int8 and report.ok, "\n".join(lines)
    assert Engine(tmp_path / "int8", voices=2, seed=1).generate(300).shape == (2, 300)
