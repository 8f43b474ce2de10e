"""The control flags shared by `play` (and the window's command): --midi, --midi-map, ..., --osc, and opening them."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rt_samplernn.commands._checks import int_in
from rt_samplernn.errors import UserError
from rt_samplernn.live.declarations import SEED_SLOTS
from rt_samplernn.live.midi.mapfile import MidiMap, default_map, default_map_path, describe_default_map, load_map
from rt_samplernn.live.midi.ports import API_NAMES, VIRTUAL_PORT
from rt_samplernn.live.osc import DEFAULT_HOST

if TYPE_CHECKING:
    from rt_samplernn.live.rig import Rig


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


@dataclass(frozen=True)
class ControlPlan:
    """What the MIDI flags ask for before a bundle is open: the map (None: the default map for the engine's
    voices), where it is saved, and the seed slot files (the map's, then --seed-slot's; '' an empty slot)."""

    midi_map: MidiMap | None
    map_path: Path
    map_named: bool  # --midi-map was given, or the saved map exists: say where it came from
    slot_files: tuple[str, ...]
    live_input: bool  # --input: a slot after the files

    @property
    def slot_count(self) -> int:
        return max(SEED_SLOTS, len(self.slot_files) + self.live_input)


def control_plan(args: argparse.Namespace) -> ControlPlan:
    """Read the map --midi-map names (else the saved one, with --midi) and list the seed slot files."""
    midi_port = getattr(args, "midi", None)
    map_arg = getattr(args, "midi_map", None)
    map_path = Path(map_arg) if map_arg else default_map_path()
    named = bool(map_arg) or map_path.exists()
    midi_map = load_map(map_path) if midi_port is not None and named else None
    slots = midi_map.slots if midi_map is not None else ()
    slot_files = [str(map_path.parent / s) if s else "" for s in slots]  # "": an empty slot
    slot_files += list(getattr(args, "seed_slot", None) or [])
    return ControlPlan(midi_map, map_path, named, tuple(slot_files), getattr(args, "input", None) is not None)


def open_controls(args: argparse.Namespace, rig: Rig, plan: ControlPlan) -> None:
    """Open what `add_midi_arguments`'s, `add_osc_arguments`'s, --input's and --midi-clock's flags ask for on an
    open ``rig`` (prepared, for the clock), and say so on stderr: the seed slots, the live input (the slot
    after the files), the MIDI port, OSC, the MIDI clock.
    Errors are UserErrors (one line for the CLI); ``rig.close()`` stops what was opened."""
    rig.load_slots(plan.slot_files)
    midi_port, osc_port = getattr(args, "midi", None), getattr(args, "osc", None)
    live_device = getattr(args, "input", None)
    if live_device is not None:
        index = len(plan.slot_files)
        rig.set_input(live_device, getattr(args, "input_seconds", None), slot=index)
        live = rig.live_input
        assert live is not None  # set_input opened it
        midi_map = plan.midi_map or default_map(rig.voices_wanted if rig.engine is None else rig.engine.voices)
        first = next((m.number for m in midi_map.mappings if m.kind == "pads" and m.param == "slot"), None)
        pad = f"its pad: note {first + index}; " if first is not None and midi_port is not None else ""
        print(
            f"{live.name}: its last {live.seconds:g} s are seed slot {index + 1} ({pad}/prime {index + 1})",
            file=sys.stderr,
        )
    if midi_port is not None:
        channel = getattr(args, "midi_channel", None)
        opened = rig.open_midi(
            midi_port,
            plan.midi_map,
            plan.map_path,
            channel=None if channel is None else channel - 1,
            api=getattr(args, "midi_api", None),
        )
        print(f"MIDI: listening on {opened}; map: {plan.map_path if plan.map_named else 'default'}", file=sys.stderr)
    if osc_port is not None:
        server = rig.open_osc(osc_port, getattr(args, "osc_host", DEFAULT_HOST))
        print(f"OSC: listening on udp {server.host}:{server.port}", file=sys.stderr)
    clock_port = getattr(args, "midi_clock", None)
    if clock_port is not None:
        opened = rig.open_midi_clock(clock_port, getattr(args, "midi_api", None))
        locked = rig.locked
        bpm = f"{locked.tempo.manual_bpm:g}" if locked is not None else "--bpm"
        print(f"MIDI clock: following {opened}; the tempo is {bpm} BPM until the clock runs", file=sys.stderr)
