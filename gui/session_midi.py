"""The MIDI part of the live session (no Qt): the input port, MIDI learn, and the map's files and rows.

`rt_samplernn.gui.session.LiveSession` owns one `SessionMidi` (``session.midi``): a view of its rig's
`MidiController` (rt_samplernn.live.rig.Rig.midi_controller), made on first use and kept across bundles, so
its port stays open when the model is reopened (the rig points it at each bundle's cells). A port chosen
before any bundle is open is opened once one is (`attach`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rt_samplernn.errors import UserError

if TYPE_CHECKING:
    from rt_samplernn.live.midi import MidiController
    from rt_samplernn.live.rig import Rig

VIRTUAL_PORT_CHOICE = "virtual port (rt-samplernn)"  # the MIDI menu's entry for our own virtual input port


def input_ports() -> list[str]:
    """MIDI input ports there are now, ours left out ([] when MIDI is unavailable, e.g. no JACK server here):
    the MIDI input's and the clock's menus."""
    from rt_samplernn.live.midi import CLIENT_NAME, list_input_ports

    try:  # our own virtual ports, listed by JACK, are not inputs to choose
        return [p for p in list_input_ports() if not p.startswith(f"{CLIENT_NAME}:")]
    except UserError:
        return []


class SessionMidi:
    """MIDI for the window: ports, learn and maps, on ``rig``'s controller. ``errors``: the session's notice
    list, appended to."""

    def __init__(self, rig: Rig, errors: list[str]) -> None:
        self.rig = rig
        self.errors = errors
        self._port: str | None = None
        self.map_path: Path | None = None  # the map file to start from (the window passes the remembered one)

    @property
    def controller(self) -> MidiController | None:
        return self.rig.midi

    def ports(self) -> list[str]:
        """MIDI input ports there are now ([] when MIDI is unavailable, e.g. no JACK server here)."""
        return input_ports()

    def _controller(self) -> MidiController | None:
        """The rig's MidiController, made on first use (from the remembered map file, else the default map)."""
        from rt_samplernn.live.midi import default_map, load_map

        rig = self.rig
        if rig.params is None:
            return None
        if rig.midi is None:
            map_path = self.map_path
            midi_map = (
                load_map(map_path) if map_path is not None and map_path.is_file() else default_map(rig.params.voices)
            )
            return rig.midi_controller(midi_map, map_path)
        return rig.midi

    def attach(self) -> None:
        """After a bundle opens: a port asked for before any bundle was open is opened now."""
        if self.rig.midi is None and self._port is not None:
            port, self._port = self._port, None
            try:
                self.open(port)
            except UserError as e:
                self.errors.append(str(e))

    def open(self, port: str | None) -> None:
        """Listen on a port (a name, or VIRTUAL_PORT_CHOICE), or stop listening (None); UserError if it cannot."""
        if port is None:
            if self.controller is not None:
                self.controller.close_port()
            self._port = None
            return
        ctl = self._controller()
        if ctl is None:
            self._port = port  # opened once a bundle is loaded
            return
        virtual = port == VIRTUAL_PORT_CHOICE
        ctl.open("virtual" if virtual else port)
        self._port = VIRTUAL_PORT_CHOICE if virtual else (ctl.port_name or port)  # the full name

    @property
    def port(self) -> str | None:
        """The port listened to (its full name, or VIRTUAL_PORT_CHOICE), or None."""
        return self._port

    def learn(self, name: str | None) -> None:
        """Arm MIDI learn for a parameter (the next CC or note binds to it), or cancel it (None)."""
        ctl = self._controller()
        if ctl is None:
            return
        if name is None:
            ctl.cancel_learn()
        else:
            ctl.arm_learn(name)

    def learning(self) -> str | None:
        return self.controller.learning if self.controller is not None else None

    def mappings(self) -> list[tuple[str, str]]:
        """(parameter name, 'CC 74 ch 1') for every mapping, in map order."""
        ctl = self.controller if self.controller is not None else self._controller()
        return [(m.param, m.describe()) for m in ctl.mappings] if ctl is not None else []

    def save_map(self, path: Path) -> Path:
        ctl = self._controller()
        if ctl is None:
            raise UserError("open a bundle first: a MIDI map belongs to its parameters")
        return Path(ctl.save_map(path))

    def load_map(self, path: Path) -> None:
        self.map_path = Path(path)
        ctl = self._controller()
        if ctl is not None:
            ctl.load_map(path)

    def clear_map(self) -> None:
        ctl = self._controller()
        if ctl is not None:
            for name in {m.param for m in ctl.mappings}:
                ctl.clear_mappings(name)

    def remove_mapping(self, row: int) -> None:
        ctl = self._controller()
        if ctl is not None and 0 <= row < len(ctl.mappings):
            ctl.remove_mapping(ctl.mappings[row])

    def status(self) -> str:
        ctl = self.controller
        if ctl is None or self._port is None:
            return "MIDI input off"
        return f"{ctl.status} · {ctl.messages} messages"
