"""The MIDI flags shared by `play` (and the window's command): --midi, --midi-map, ... and opening MIDI from them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rt_samplernn.commands._checks import int_in
from rt_samplernn.errors import UserError
from rt_samplernn.live.control import LiveControl
from rt_samplernn.live.midi.controller import MidiController
from rt_samplernn.live.midi.mapfile import default_map, default_map_path, describe_default_map, load_map
from rt_samplernn.live.midi.ports import API_NAMES, VIRTUAL_PORT
from rt_samplernn.live.params import SEED_SLOTS, Parameters


def add_midi_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --midi, --midi-map, --midi-channel, --midi-api and --seed-slot to a command's parser."""
    g = parser.add_argument_group("MIDI control")
    g.add_argument(
        "--midi",
        metavar="PORT",
        default=None,
        help="MIDI input: a port name substring, an index, or 'virtual' (a port named "
        f"{VIRTUAL_PORT!r} for other programs to connect to)",
    )
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
    g.add_argument(
        "--seed-slot",
        metavar="FILE",
        action="append",
        default=[],
        help="an audio file for the next seed slot, from slot 1 (repeatable): pads/notes select "
        "and prime; a slot keeps the last 30 s of a longer file",
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


def attach(control: LiveControl, player: Any) -> None:
    """Make ``player`` call ``control.tick(frames)`` on its worker before every block."""
    hook = getattr(player, "add_block_hook", None)
    if not callable(hook):
        raise UserError(
            "this player has no add_block_hook(fn); MIDI control needs one (rt_samplernn.live.player.Player)"
        )
    hook(control.tick)


def start_from_args(args: argparse.Namespace, engine: Any, player: Any) -> MidiController | None:
    """Open MIDI as asked by `add_midi_arguments`'s flags; None when --midi was not given.

    Builds `Parameters` for the engine's voices, a `LiveControl` that applies them to ``engine`` at
    each of ``player``'s blocks (and its watchdog switch), loads the map and the seed slots, and opens
    the port. ``close()`` on the result stops it all. Errors are UserErrors (one line for the CLI).
    """
    if getattr(args, "midi", None) is None:
        return None
    map_arg = getattr(args, "midi_map", None)
    map_path = Path(map_arg) if map_arg else default_map_path()
    voices = int(getattr(engine, "voices", 1))
    midi_map = load_map(map_path) if (map_arg or map_path.exists()) else default_map(voices)
    slot_files = [str(map_path.parent / s) if s else "" for s in midi_map.slots]  # "": an empty slot
    slot_files += list(getattr(args, "seed_slot", None) or [])
    params = Parameters(voices=voices, slot_count=max(SEED_SLOTS, len(slot_files)))
    for i, f in enumerate(slot_files):
        if f:
            params.load_slot(i, f)
    controller = MidiController(params, midi_map, map_path=map_path)
    channel = getattr(args, "midi_channel", None)
    if channel is not None:
        if not 1 <= channel <= 16:
            raise UserError(f"--midi-channel {channel}: must be 1..16")
        controller.set_channel(channel - 1)
    control = LiveControl(params, engine, player)
    controller.control = control
    try:
        attach(control, player)
        opened = controller.open(args.midi, getattr(args, "midi_api", None))
    except BaseException:
        controller.close()
        raise
    print(
        f"MIDI: listening on {opened}; map: {map_path if map_arg or map_path.exists() else 'default'}", file=sys.stderr
    )
    return controller
