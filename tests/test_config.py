"""Configs: presets build, overrides are checked against the fields with errors naming valid keys."""

import pytest

from rt_samplernn.config import (
    PRESETS,
    ModelConfig,
    TrainConfig,
    apply_overrides,
    model_config_from_preset,
)
from rt_samplernn.errors import UserError


def test_presets_have_the_documented_shapes():
    live = model_config_from_preset("live")
    assert (live.frame_sizes, live.dim, live.sample_dim, live.rnn_layers, live.q_type) == (
        (16, 64),
        512,
        256,
        1,
        "mu-law",
    )
    prism = model_config_from_preset("prism")
    assert (prism.frame_sizes, prism.dim, prism.rnn_layers, prism.rnn_type) == ((16, 64), 1024, 4, "gru")
    paper = model_config_from_preset("paper-2tier")
    assert (paper.frame_sizes, paper.dim, paper.rnn_layers, paper.q_type, paper.learn_h0, paper.weight_norm) == (
        (16,),
        1024,
        3,
        "linear",
        True,
        True,
    )
    assert set(PRESETS) == {"live", "prism", "paper-2tier"}


def test_unknown_key_names_the_valid_keys():
    with pytest.raises(UserError, match="unknown key 'hidden'.*valid keys: frame_sizes"):
        model_config_from_preset("live", {"hidden": 3})


def test_wrong_type_is_named():
    with pytest.raises(UserError, match="batch_size='many' is not a valid int"):
        apply_overrides(TrainConfig, {}, {"batch_size": "many"}, "train")


@pytest.mark.parametrize(
    "bad,match",
    [
        ({"frame_sizes": (16, 24)}, "multiple"),
        ({"rnn_type": "rnn"}, "gru, lstm"),
        ({"q_type": "mu-law", "q_levels": 512}, "256 levels"),
    ],
)
def test_invalid_model_values_are_refused(bad, match):
    with pytest.raises(UserError, match=match):
        ModelConfig(**bad)
