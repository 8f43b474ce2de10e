"""Helpers for the MIDI tests: waiting without timed assertions, a tiny bundle, a JACK MIDI sender, a tone file."""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile

_BUNDLES: dict[str, Path] = {}


def wait_until(predicate, timeout_s=10.0, what="condition", info=None):
    """Poll until true; the timeout only keeps a broken run from hanging (no timing is asserted).
    ``info()``: extra text for the failure message (e.g. the player's metrics)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f"; {info()}" if info else ""))
        time.sleep(0.001)


def midi_bundle(tmp_path_factory) -> Path:
    """A tiny 2-tier bundle exported from a seeded untrained model (built once per test session)."""
    if "bundle" in _BUNDLES:
        return _BUNDLES["bundle"]
    torch = pytest.importorskip("torch")
    from rt_samplernn.config import ModelConfig
    from rt_samplernn.export.onnx_export import export_bundle
    from rt_samplernn.model import SampleRNN

    torch.manual_seed(0)
    model = SampleRNN(ModelConfig(frame_sizes=(16, 64), dim=24, sample_dim=16, emb_size=8))
    with torch.no_grad():  # larger weights than the init, so the output depends on the priming (as trained ones do)
        for w in model.parameters():
            w.mul_(4.0)
    out = tmp_path_factory.mktemp("bundle")
    export_bundle(model, out)
    _BUNDLES["bundle"] = out
    return out


class ControlledProducer:
    """An engine whose ``generate(n)`` ticks a LiveControl first (a Player's worker does that with a block hook)."""

    def __init__(self, engine, control):
        self.engine, self.control = engine, control

    def generate(self, n):
        self.control.tick(n)
        return self.engine.generate(n)


def make_engine(bundle, voices=1, seed=7):
    from rt_samplernn.live.engine import Engine

    return Engine(bundle, voices=voices, seed=seed, provider="cpu")


@contextmanager
def jack_sender(to: str | None = None, client: str = "sender"):
    """An rtmidi output on JACK: connected to the port matching ``to``, or a virtual port 'out'."""
    import rtmidi

    from rt_samplernn.live.midi import find_port

    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, client)
    try:
        if to is None:
            out.open_virtual_port("out")
        else:
            out.open_port(find_port(to, out.get_ports()), "out")
        yield out
    finally:
        out.close_port()
        out.delete()


def tone(path, rate=22050, seconds=0.5, hz=330.0):
    """Write a sine tone file (a seed clip for a slot); returns the path."""
    t = np.arange(int(rate * seconds)) / rate
    soundfile.write(str(path), (0.6 * np.sin(2 * math.pi * hz * t)).astype(np.float32), rate)
    return path


def start_from_args(args, engine, player):
    """MIDI alone, opened as `rt-samplernn play` opens it (its flags' plan, a rig, `open_controls`) around an
    engine and a player the test made: the rig's `MidiController`, whose ``close()`` stops it all; None
    without --midi."""
    import argparse

    from rt_samplernn.commands.midi_options import control_plan, open_controls
    from rt_samplernn.live.rig import Rig

    if getattr(args, "midi", None) is None:
        return None
    args = argparse.Namespace(**{**vars(args), "osc": None})
    plan = control_plan(args)
    rig = Rig(voices=engine.voices, seed=engine.seed, slot_count=plan.slot_count)
    rig.open(engine)
    rig.attach(player)
    open_controls(args, rig, plan)
    return rig.midi
