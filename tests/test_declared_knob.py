"""A knob is one declaration: a made-up float declared in rt_samplernn/live/declarations.py alone reaches the
parameter cells, the default MIDI map and a MIDI CC, OSC's addresses, the control loop, the engine, a bookmark
and the hot-swap's hand-over, with no other line of the library changed. The engine subclass is "the code that
uses its value"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rt_samplernn.live import declarations
from rt_samplernn.live.declarations import Declaration, FloatSpec
from rt_samplernn.live.engine import Engine
from tests.stream_helpers import tiny_bundle

BRIGHTNESS = Declaration(
    "brightness",
    "Brightness",
    "float",
    FloatSpec(0.0, 1.0, 0.5, smoothing_ms=0.0),
    midi=("cc", 80),
    engine="set_brightness",
    reads="brightness",
    help="a made-up knob",
)


class BrightEngine(Engine):
    """The engine with the made-up knob's value kept (the code that would use it)."""

    _brightness = 0.5

    @property
    def brightness(self) -> float:
        return self._brightness

    def set_brightness(self, value: float) -> None:
        self._brightness = float(value)


@pytest.fixture()
def declared_brightness(monkeypatch):
    """The one declaration added, where every declaration is."""
    monkeypatch.setattr(declarations, "PARAMETERS", (*declarations.PARAMETERS, BRIGHTNESS))
    monkeypatch.setattr(declarations, "DECLARATIONS", {**declarations.DECLARATIONS, "brightness": BRIGHTNESS})


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    return tiny_bundle(tmp_path_factory.mktemp("tiny"))


def test_a_declared_knob_reaches_midi_osc_the_engine_and_bookmarks(declared_brightness, bundle):
    from rt_samplernn.live.control import LiveControl
    from rt_samplernn.live.hotswap import HotSwap
    from rt_samplernn.live.midi.controller import MidiController
    from rt_samplernn.live.midi.mapfile import Mapping, default_map
    from rt_samplernn.live.osc import routes_for
    from rt_samplernn.live.params import FloatParam, Parameters

    params = Parameters(voices=1)
    assert isinstance(params["brightness"], FloatParam)
    assert Mapping("brightness", "cc", 80) in default_map().mappings
    assert "/brightness" in [r.address for r in routes_for(params)]

    engine = BrightEngine(bundle, provider="cpu")
    swap = HotSwap(engine)
    control = LiveControl(params, swap, start=False)
    midi = MidiController(params, default_map(), control=control)
    midi.feed([0xB0, 80, 127])  # CC 80 to the top
    assert params["brightness"].target == 1.0
    control.tick(256)
    assert engine.brightness == 1.0

    state = swap.snapshot()  # a bookmark keeps it
    assert float(state.knobs["brightness"]) == 1.0
    engine.set_knob("brightness", 0.25)
    swap.restore(state)
    assert engine.brightness == 1.0

    new = BrightEngine(bundle, provider="cpu")
    new.set_knob_values(engine.knob_values())  # what a hot-swap hands over
    assert new.brightness == 1.0 and np.array_equal(new.temperatures, engine.temperatures)
    control.close()
