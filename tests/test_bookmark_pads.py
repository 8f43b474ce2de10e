"""Bookmarks from MIDI: the default map's pads save (notes from 60) and recall (notes from 48) the exact state."""

from __future__ import annotations

import numpy as np
import torch

from rt_samplernn.live.control import LiveControl
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.midi.controller import MidiController
from rt_samplernn.live.midi.mapfile import Mapping, default_map, map_from_dict, map_to_dict
from rt_samplernn.live.params import Parameters
from tests.bundle_helpers import tiny_bundle


def test_pads_save_and_recall_bookmarks_between_blocks(tmp_path):
    torch.set_num_threads(1)
    _, path = tiny_bundle(tmp_path / "b", frame_sizes=(4, 16))
    engine = Engine(path, voices=2, seed=1)
    params = Parameters(voices=2)
    control = LiveControl(params, engine, start=False)
    midi = MidiController(params, default_map(2), control=control, map_path=tmp_path / "map.toml")
    try:
        engine.generate(90)
        midi.feed([0x90, 61, 100])  # the second save pad: bookmark 2
        assert params.bookmarks[1] is None  # not yet: the producer takes it between blocks
        control.tick(256)
        assert params.bookmarks[1] is not None and params.bookmarks[0] is None
        after = engine.generate(500)
        midi.feed([0xB0, 1, 10])  # the temperature knob turns
        control.tick(256)
        engine.generate(200)
        midi.feed([0x90, 49, 100])  # the second recall pad: back to bookmark 2, knobs included
        control.tick(256)
        assert np.array_equal(engine.generate(500), after)
        assert np.allclose(engine.temperatures, 1.0) and params.temperature.target == 1.0
        midi.feed([0x90, 48, 100])  # bookmark 1 is empty: a notice, nothing changes
        control.tick(256)
        control.run_pending()
        assert "bookmark 1 is empty" in control.message
        midi.feed([0x90, 48 + 8, 100])  # past the eighth pad: not a bookmark pad
        assert params["bookmark_recall"].target == 0
    finally:
        midi.close()


def test_bookmark_pads_round_trip_through_a_map_file():
    m = default_map(1)
    pads = {x.param: x.number for x in m.mappings if x.kind == "pads"}
    assert pads == {"slot": 36, "bookmark_save": 60, "bookmark_recall": 48}
    again = map_from_dict(map_to_dict(m))
    assert Mapping("bookmark_recall", "pads", 48) in again.mappings
