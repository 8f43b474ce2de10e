"""Checkpoints load weights only: truncated, mismatched and code-carrying files get one-line errors and run nothing."""

import os

import numpy as np
import pytest
import soundfile
import torch

from rt_samplernn.checkpoint import load_checkpoint, save_checkpoint
from rt_samplernn.cli import main
from rt_samplernn.config import ModelConfig
from rt_samplernn.errors import UserError
from rt_samplernn.model import SampleRNN
from tests.cli_helpers import one_error_line

CFG = ModelConfig(frame_sizes=(4,), dim=16, sample_dim=8, emb_size=4)


class Payload:
    """Unpickling this would create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_round_trip(tmp_path):
    model = SampleRNN(CFG)
    save_checkpoint(tmp_path / "a.pt", model, step=3)
    loaded, cfg, data = load_checkpoint(tmp_path / "a.pt")
    assert cfg == CFG and data["step"] == 3
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    assert not list(tmp_path.glob(".*part"))  # atomic write leaves no temporary file


def test_crafted_pickle_is_refused_without_running_its_payload(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": "rt-samplernn-checkpoint", "version": 1, "x": Payload(marker)}, path)
    with pytest.raises(UserError, match=r"evil\.pt: refused: a PyTorch file of another program") as e:
        load_checkpoint(path)
    assert "holds objects other than weights (the class or function posix.system)" in str(e.value)
    assert "weights_only" not in str(e.value) and "\n" not in str(e.value)  # not torch's advice to load it unsafely
    assert not marker.exists()


def test_truncated_checkpoint_gets_one_line(tmp_path):
    save_checkpoint(tmp_path / "a.pt", SampleRNN(CFG))
    data = (tmp_path / "a.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"cut\.pt: not a readable checkpoint") as e:
        load_checkpoint(tmp_path / "cut.pt")
    assert "\n" not in str(e.value)


def test_checkpoint_of_another_shape_is_named(tmp_path):
    save_checkpoint(tmp_path / "a.pt", SampleRNN(CFG))
    data = torch.load(tmp_path / "a.pt", weights_only=True)
    data["model_config"]["dim"] = 32
    torch.save(data, tmp_path / "b.pt")
    with pytest.raises(UserError, match=r"b\.pt: weights of another shape: they do not fit the model config") as e:
        load_checkpoint(tmp_path / "b.pt")
    assert str(e.value).endswith("use another checkpoint of the run (best.pt, last.pt, step-N.pt)")  # none beside
    (tmp_path / "a.pt").rename(tmp_path / "best.pt")
    with pytest.raises(UserError, match=r"weights of another shape") as e:
        load_checkpoint(tmp_path / "b.pt")
    assert str(e.value).endswith(f"use {tmp_path / 'best.pt'} instead")


def test_other_files_are_refused(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(1)}, "epoch": 3}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="a checkpoint of another program, not an rt-samplernn checkpoint") as e:
        load_checkpoint(tmp_path / "other.pt")
    assert "its keys: state_dict, epoch" in str(e.value)
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")  # a whole module, as some programs save it
    with pytest.raises(UserError, match="a PyTorch file of another program") as e:
        load_checkpoint(tmp_path / "module.pt")
    assert "torch.nn.modules.linear.Linear" in str(e.value) and "weights_only" not in str(e.value)
    data = {"format": "rt-samplernn-checkpoint", "version": 99}
    torch.save(data, tmp_path / "future.pt")
    with pytest.raises(UserError, match="version 99 is not supported"):
        load_checkpoint(tmp_path / "future.pt")


def _npz(path, **arrays):
    with open(path, "wb") as f:  # a file object: np.savez adds no .npz to the name
        np.savez(f, **arrays)


@pytest.mark.parametrize(
    "write, kind",
    [
        (lambda p: p.write_text("step 120, loss 2.1\n"), "a text file"),
        (lambda p: soundfile.write(str(p), np.zeros(100), 16000, format="WAV"), "a WAV file: audio"),
        (lambda p: _npz(p, x=np.zeros(2)), "an .npz of NumPy arrays"),
        (lambda p: p.write_bytes(b""), "an empty file"),
        (lambda p: p.write_bytes(bytes(range(256)) * 3), "a file of unknown kind"),
    ],
)
def test_a_file_that_is_not_a_pytorch_checkpoint_says_what_it_is(tmp_path, write, kind):
    path = tmp_path / "x.pt"
    write(path)
    with pytest.raises(UserError) as e:
        load_checkpoint(path)
    assert str(e.value).startswith(f"{path}: not a PyTorch checkpoint ({kind}); give a .pt file"), str(e.value)
    assert "weights_only" not in str(e.value) and "objects other than weights" not in str(e.value)


def test_resume_from_a_last_pt_that_is_not_a_checkpoint_says_so_and_points_at_best_pt(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    save_checkpoint(run / "best.pt", SampleRNN(CFG))
    (run / "last.pt").write_text("interrupted\n")
    assert main(["train", str(tmp_path), "--out", str(run), "--resume", str(run)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.strip() == (
        f"rt-samplernn train: error: {run / 'last.pt'}: not a PyTorch checkpoint (a text file); give a .pt file "
        f"`rt-samplernn train` wrote: use {run / 'best.pt'} instead"
    )


# Hand-edited checkpoints: every field that generate, export or `train --resume` reads is checked first.

SMALL = [
    "--frame-sizes",
    "4",
    "16",
    "--dim",
    "16",
    "--sample-dim",
    "16",
    "--emb-size",
    "8",
    "--batch-size",
    "2",
    "--seq-len",
    "64",
    "--chunk-seconds",
    "0.25",
    "--eval-every",
    "5",
    "--val-batches",
    "1",
    "--num-threads",
    "1",
    "--preview-seconds",
    "0",
]


@pytest.fixture(scope="module")
def trained(music_dir, tmp_path_factory):
    """last.pt of a real 5-step run (all the training state resume needs), stopped mid-batch."""
    run = tmp_path_factory.mktemp("run")
    assert main(["train", str(music_dir / "train"), "--out", str(run), "--max-steps", "5", "--quiet", *SMALL]) == 0
    return run / "last.pt"


def edited(trained, tmp_path, change) -> str:
    data = torch.load(trained, weights_only=True)
    change(data)
    path = tmp_path / "edited.pt"
    torch.save(data, path)
    return str(path)


def _set(key, value):
    return lambda d: d.__setitem__(key, value)


def _optimizer_exp_avg_transposed(d):
    i = min(i for i, s in d["optimizer"]["state"].items() if s["exp_avg"].dim() == 2 and s["exp_avg"].shape[0] > 1)
    d["optimizer"]["state"][i]["exp_avg"] = d["optimizer"]["state"][i]["exp_avg"].T.contiguous()


RESUME_EDITS = [  # (what, change, words)
    ("step", _set("step", "5"), ["step is not valid ('5', expected a whole number >= 0)"]),
    ("step negative", _set("step", -1), ["step is not valid"]),
    ("best_val_bits", _set("best_val_bits", "low"), ["best_val_bits is not valid"]),
    ("position", _set("position", {"epoch": 0}), ["position is not valid", "epoch, batch, segment"]),
    ("position type", lambda d: d["position"].update(batch="x"), ["position is not valid"]),
    ("optimizer", _set("optimizer", {}), ["optimizer state is not valid"]),
    (
        "optimizer count",
        lambda d: d["optimizer"]["param_groups"][0]["params"].pop(),
        ["optimizer state is not valid", "the model has"],
    ),
    ("optimizer shape", _optimizer_exp_avg_transposed, ["optimizer state is not valid", "exp_avg of parameter"]),
    ("rng", _set("rng_torch", torch.zeros(3, dtype=torch.uint8)), ["rng_torch is not valid"]),
    ("carried", _set("carried_states", [torch.zeros(1, 2, 16)]), ["carried_states is not valid", "expected 2"]),
    (
        "carried shape",
        lambda d: d["carried_states"].__setitem__(0, torch.zeros(1, 2, 7)),
        ["carried_states is not valid", "[1, 2, 7]"],
    ),
    ("train config", _set("train_config", ["adam"]), ["train config is not valid (a list"]),
    (
        "train config value",
        lambda d: d["train_config"].update(learning_rate="fast"),
        ["train config is not valid (learning_rate='fast' is not a valid float)"],
    ),
    ("model config", _set("model_config", "big"), ["model config is not valid (a str"]),
]


@pytest.mark.parametrize("what,change,words", RESUME_EDITS, ids=[w for w, _, _ in RESUME_EDITS])
def test_resume_from_a_hand_edited_checkpoint_is_one_line(trained, music_dir, tmp_path, capsys, what, change, words):
    path = edited(trained, tmp_path, change)
    before = (tmp_path / "edited.pt").read_bytes()
    line = one_error_line(["train", music_dir / "train", "--out", tmp_path / "run", "--resume", path], capsys)
    assert (
        line.startswith(f"rt-samplernn train: error: {path}: this checkpoint's") or "weights of another shape" in line
    )
    for word in words:
        assert word in line, line
    assert (tmp_path / "edited.pt").read_bytes() == before and not any((tmp_path / "run").glob("*.pt"))


def test_carried_states_of_a_real_run_pass(trained):
    from rt_samplernn.checkpoint import check_training_state, read_checkpoint

    data = read_checkpoint(trained)
    assert data["carried_states"] and data["position"]["segment"] > 0  # the fixture stops mid-batch
    check_training_state(data, trained, load_checkpoint(trained)[1])


@pytest.mark.parametrize(
    "change,words",
    [
        (lambda d: d["model_config"].update(dim="wide"), ["model config is not valid (dim='wide' is not a valid int)"]),
        (lambda d: d["model_config"].update(frame_sizes=[4, 6]), ["model config is not valid", "frame_sizes"]),
        (
            lambda d: d["model_config"].update(dim=4096),
            ["weights of another shape: they do not fit the model config", "the config makes it"],
        ),
        (
            lambda d: d["model_config"].update(dim=10**9),
            ["model config is not valid (dim 1000000000 is outside [1, 8192]"],
        ),
        (_set("model", [1, 2]), ["weights is not valid (not a table of tensors)"]),
    ],
)
def test_generate_and_export_from_a_hand_edited_config_is_one_line(trained, tmp_path, capsys, change, words):
    path = edited(trained, tmp_path, change)
    for args in (
        ["generate", path, "--seconds", "0.1", "--out", tmp_path / "a.wav"],
        ["export", path, "-o", tmp_path / "b"],
    ):
        line = one_error_line(args, capsys)
        for word in words:
            assert word in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edited.pt"]
