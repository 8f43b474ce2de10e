"""MIDI control with python-rtmidi: ports, a CC map, MIDI learn, saved maps. No torch, no Qt.

Messages land in `rt_samplernn.live.params.Parameters` cells; `rt_samplernn.live.control.LiveControl`
applies those to the engine at block boundaries. Nothing here takes a lock the audio path or the producer could wait on.

Ports and APIs
--------------
``choose_api()`` picks CoreMIDI on macOS, WinMM on Windows, ALSA on Linux when the sequencer exists
(``/dev/snd/seq``), else JACK (machines with no ALSA sequencer, like the project's; jackd must run).
``RT_SAMPLERNN_MIDI_API=alsa|jack|coremidi|winmm`` or ``api=`` overrides it. A port is given as
``"virtual"`` (a port named ``rt-samplernn`` that other programs connect to; not on WinMM), an index or a
name substring (case-insensitive): ``list_input_ports()`` lists them.

Threads
-------
rtmidi queues incoming messages in C++ (its JACK/ALSA thread never takes the GIL); one Python thread
(``rt-samplernn-midi``) drains the queue every ``poll_ms``, parses, maps and writes parameter cells.
Floods are coalesced: per drained batch (up to `BATCH_MESSAGES`) each parameter is written once, with
its latest value. Sysex, clock, active sensing, running status, undefined status bytes, truncated or
out-of-range data are parsed or skipped, never raised. Every ``port_check_s`` the thread checks that
the port it opened still exists: if it vanishes, ``status`` says so (also logged) and playback goes
on; when a port of that name comes back it reconnects.

The map
-------
A `Mapping` binds one control to one parameter (see `rt_samplernn.live.params` for the names):

* ``cc``: a control change; 0..127 -> the knob range (``fourteen_bit``: CC N (0..31) is the MSB and
  CC N+32 the LSB, 0..16383); a trigger fires when the value crosses 64 upward, a switch is on >= 64.
* ``note``: a note-on fires a trigger, toggles a switch, or sets a knob to velocity/127.
* ``pads`` (param ``slot``): notes N, N+1, ... select seed slot 0, 1, ... and prime from it.

`MidiMap` holds the mappings, the channel filter (None = omni, else 0..15: only that channel is heard),
the float parameters' `FloatSpec` (range, curve, smoothing) and seed slot files. `default_map(voices)`
binds each parameter's declared default (rt_samplernn.live.params.PARAMETERS: CC 1 temperature, CC 7
gain, CC 21.. voice 1.. temperatures, CC 102/103/104 prime/reset/watchdog, pads from note 36). Voices
are named from 1 (``temperature.1``); files of version 1 named them from 0 and are still read. Files:
TOML (read with tomllib, written by a small writer here) or JSON, by extension; ``default_map_path()`` is ``$XDG_CONFIG_HOME/rt-samplernn/midi-map.toml`` on Linux
(``~/Library/Application Support/rt-samplernn`` on macOS, ``%APPDATA%\\rt-samplernn`` on Windows).
Channels are written 1..16 (or "any"/"omni") in files and 0..15 in code.

For the GUI (poll from a QTimer; all calls return at once, from any thread)
-------------------------------------------------------------------------
::

    ctl = MidiController(params, control=live_control)   # default map (or the saved one, see below)
    ctl.open("virtual")                 # or a name substring / index; ctl.close_port(); ctl.close()
    ctl.arm_learn("gain")               # next CC (or note) binds to gain; ctl.cancel_learn()
    ctl.learning                        # "gain" while armed, None after
    ctl.learn_version, ctl.last_bound   # changes / the Mapping just bound (Mapping.describe() -> "CC 74 ch 1")
    ctl.mappings, ctl.remove_mapping(m), ctl.clear_mappings("gain"), ctl.map_version
    ctl.save_map()  /  ctl.load_map(path)   # default path: ctl.map_path
    ctl.status, ctl.status_version, ctl.connected, ctl.port_name, ctl.messages (a count: activity LED)
    ctl.set_channel(None or 0..15), ctl.channel, ctl.params, ctl.control
    ctl.feed([0xB0, 1, 64])             # handle one message now, in this thread (tests; no port open)

A saved map that cannot be read makes ``MidiController(params)`` raise a UserError naming the file.

For ``rt-samplernn play``: ``add_midi_arguments(parser)`` and ``start_from_args(args, engine, player)``
(returns the `MidiController`, or None without --midi; ``close()`` it before stopping the player).
"""

from rt_samplernn.live.midi.controller import MidiController
from rt_samplernn.live.midi.mapfile import (
    Mapping,
    MidiMap,
    default_map,
    default_map_path,
    load_map,
    map_from_dict,
    map_to_dict,
    save_map,
)
from rt_samplernn.live.midi.parser import MidiParser
from rt_samplernn.live.midi.ports import (
    API_NAMES,
    CLIENT_NAME,
    VIRTUAL_PORT,
    choose_api,
    find_port,
    list_input_ports,
)

__all__ = [
    "API_NAMES",
    "CLIENT_NAME",
    "VIRTUAL_PORT",
    "choose_api",
    "list_input_ports",
    "find_port",
    "MidiParser",
    "Mapping",
    "MidiMap",
    "default_map",
    "default_map_path",
    "map_to_dict",
    "map_from_dict",
    "save_map",
    "load_map",
    "MidiController",
]
