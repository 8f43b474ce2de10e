"""Checkpoints load weights only: truncated, mismatched and code-carrying files get one-line errors and run nothing."""

import os

import pytest
import torch

from rt_samplernn.checkpoint import load_checkpoint, save_checkpoint
from rt_samplernn.config import ModelConfig
from rt_samplernn.errors import UserError
from rt_samplernn.model import SampleRNN

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
    with pytest.raises(UserError, match=r"evil\.pt: refused: the file holds objects other than weights"):
        load_checkpoint(path)
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
    with pytest.raises(UserError, match=r"b\.pt: weights do not fit the model config"):
        load_checkpoint(tmp_path / "b.pt")


def test_other_files_are_refused(tmp_path):
    torch.save({"hello": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="not an rt-samplernn checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    data = {"format": "rt-samplernn-checkpoint", "version": 99}
    torch.save(data, tmp_path / "future.pt")
    with pytest.raises(UserError, match="version 99 is not supported"):
        load_checkpoint(tmp_path / "future.pt")
