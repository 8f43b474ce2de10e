"""The control flags shared by `play` (and the window's command): --midi, --midi-map, ..., --osc, and opening them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rt_samplernn.commands._checks import int_in
from rt_samplernn.errors import UserError
from rt_samplernn.live.control import ControlledEngine, LiveControl
from rt_samplernn.live.input import LiveInput
from rt_samplernn.live.midi.controller import MidiController
from rt_samplernn.live.midi.mapfile import default_map, default_map_path, describe_default_map, load_map
from rt_samplernn.live.midi.ports import API_NAMES, VIRTUAL_PORT
from rt_samplernn.live.music import knob_specs
from rt_samplernn.live.osc import DEFAULT_HOST, OscServer, Route
from rt_samplernn.live.params import SEED_SLOTS, Parameters

if TYPE_CHECKING:
    from rt_samplernn.live.player import Player


def add_midi_port_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """--midi PORT: the one declaration, for `play` and `gui`."""
    parser.add_argument(
        "--midi",
        metavar="PORT",
        default=None,
        help="MIDI input: a port name substring, an index, or 'virtual' (a port named "
        f"{VIRTUAL_PORT!r} for other programs to connect to)",
    )


def add_seed_slot_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, then: str) -> None:
    """--seed-slot FILE (repeatable): the one declaration, for `play` and `gui`; ``then``: what the slots do there."""
    parser.add_argument(
        "--seed-slot",
        metavar="FILE",
        action="append",
        default=[],
        help=f"an audio file for the next seed slot, from slot 1 (repeatable); {then}; a slot keeps the last "
        "30 s of a longer file",
    )


def add_midi_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --midi, --midi-map, --midi-channel, --midi-api and --seed-slot to a command's parser."""
    g = parser.add_argument_group("MIDI control")
    add_midi_port_argument(g)
    g.add_argument(
        "--midi-map",
        metavar="FILE",
        default=None,
        help=f"MIDI map (TOML or JSON; ranges too, e.g. [params.temperature] minimum = 0.2); "
        f"without it: {default_map_path()} if it exists, else {describe_default_map()}",
    )
    g.add_argument(
        "--midi-channel",
        metavar="N",
        type=int_in(1, 16),
        default=None,
        help="only listen to MIDI channel N (1..16); without it: the map's channel (omni)",
    )
    g.add_argument(
        "--midi-api",
        choices=API_NAMES,
        default="auto",
        help="rtmidi API (auto: CoreMIDI, WinMM, ALSA; JACK where there is no ALSA sequencer)",
    )
    add_seed_slot_argument(g, "pads/notes select and prime")


def add_osc_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --osc and --osc-host to a command's parser."""
    g = parser.add_argument_group("OSC control")
    g.add_argument(
        "--osc",
        metavar="PORT",
        type=int_in(1, 65535),
        default=None,
        help="listen for OSC on this UDP port (None: no OSC), e.g. --osc 9000: /temperature f, /gain f, "
        "/voice/N/temperature f, /min_p f, /prime i (seed slot i), /reset, /bookmark/save i, /bookmark/recall i, "
        "/bundle s (open another bundle while playing); every live parameter has its address",
    )
    g.add_argument(
        "--osc-host",
        metavar="ADDRESS",
        default=DEFAULT_HOST,
        help=f"the address --osc listens on: {DEFAULT_HOST} is this machine only, 0.0.0.0 every network",
    )


def check_midi_arguments(args: argparse.Namespace) -> None:
    """Flags that only configure MIDI need --midi: refused rather than silently unused."""
    if getattr(args, "midi", None) is not None:
        return
    for flag, value in (
        ("--midi-map", getattr(args, "midi_map", None)),
        ("--midi-channel", getattr(args, "midi_channel", None)),
    ):
        if value is not None:
            raise UserError(
                f"{flag} {value}: only used with --midi PORT; add --midi (e.g. --midi virtual) or drop {flag}"
            )


@dataclass
class Controls:
    """What `start_controls` opened: the parameters' `LiveControl`, and MIDI and OSC where asked for."""

    control: LiveControl
    midi: MidiController | None
    osc: OscServer | None

    def close(self) -> None:
        if self.osc is not None:
            self.osc.close()
        if self.midi is not None:
            self.midi.close()  # closes the control too
        else:
            self.control.close()


def start_controls(
    args: argparse.Namespace,
    engine: ControlledEngine,
    player: Player,
    osc_routes: Sequence[Route] = (),
    live_input: LiveInput | None = None,
) -> Controls | None:
    """Open MIDI and OSC as asked by `add_midi_arguments`'s and `add_osc_arguments`'s flags; None with neither.

    Builds `Parameters` for the engine's voices, a `LiveControl` that applies them to ``engine`` at
    each of ``player``'s blocks (and its watchdog switch), loads the map and the seed slots, opens the
    MIDI port and the OSC socket (with ``osc_routes`` added, e.g. /bundle); ``live_input`` (play --input)
    becomes the seed slot after the files. ``close()`` on the result
    stops it all. Errors are UserErrors (one line for the CLI).
    """
    midi_port, osc_port = getattr(args, "midi", None), getattr(args, "osc", None)
    if midi_port is None and osc_port is None:
        return None
    map_arg = getattr(args, "midi_map", None)
    map_path = Path(map_arg) if map_arg else default_map_path()
    voices = engine.voices
    midi_map = load_map(map_path) if midi_port is not None and (map_arg or map_path.exists()) else default_map(voices)
    slot_files = [str(map_path.parent / s) if s else "" for s in midi_map.slots]  # "": an empty slot
    slot_files += list(getattr(args, "seed_slot", None) or [])
    bundle = getattr(engine, "bundle", None)
    specs = knob_specs(bundle, getattr(args, "full_range", False)) if bundle is not None else {}
    params = Parameters(voices=voices, slot_count=max(SEED_SLOTS, len(slot_files) + (live_input is not None)), **specs)
    for i, f in enumerate(slot_files):
        if f:
            params.load_slot(i, f)
    if live_input is not None:
        index = len(slot_files)
        params.set_live_slot(index, live_input.name, live_input.sample_rate, live_input.take, live_input.seconds)
        first = next((m.number for m in midi_map.mappings if m.kind == "pads" and m.param == "slot"), None)
        pad = f"its pad: note {first + index}; " if first is not None and midi_port is not None else ""
        print(
            f"{live_input.name}: its last {live_input.seconds:g} s are seed slot {index + 1} ({pad}/prime {index + 1})",
            file=sys.stderr,
        )
    control = LiveControl(params, engine, player)
    controls = Controls(control, None, None)
    try:
        player.add_block_hook(control.tick)  # the parameters land at the worker's block boundaries
        if midi_port is not None:
            controls.midi = MidiController(params, midi_map, map_path=map_path)
            controls.midi.control = control
            channel = getattr(args, "midi_channel", None)
            if channel is not None:
                controls.midi.set_channel(channel - 1)
            opened = controls.midi.open(midi_port, getattr(args, "midi_api", None))
            where = map_path if map_arg or map_path.exists() else "default"
            print(f"MIDI: listening on {opened}; map: {where}", file=sys.stderr)
        if osc_port is not None:
            controls.osc = OscServer(params, osc_port, getattr(args, "osc_host", DEFAULT_HOST), extra=osc_routes)
            controls.osc.start()
            print(f"OSC: listening on udp {controls.osc.host}:{controls.osc.port}", file=sys.stderr)
    except BaseException:
        controls.close()
        raise
    return controls


def start_from_args(args: argparse.Namespace, engine: ControlledEngine, player: Player) -> MidiController | None:
    """MIDI alone (`start_controls` without OSC): the `MidiController`, whose ``close()`` stops it all; None
    without --midi."""
    if getattr(args, "midi", None) is None:
        return None
    controls = start_controls(argparse.Namespace(**{**vars(args), "osc": None}), engine, player)
    return None if controls is None else controls.midi
