"""The MIDI side of the live session (no Qt): the input port, MIDI learn, and the map's files and rows.

`rt_samplernn.gui.session.LiveSession` inherits it; one `MidiController` is made on first use and kept
across bundles, so its port stays open when the model is reopened.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rt_samplernn.errors import UserError

if TYPE_CHECKING:
    from rt_samplernn.live.midi import MidiController
    from rt_samplernn.live.params import Parameters


class MidiSide:
    """MIDI for `LiveSession`: expects ``params`` (the cells), ``voices`` and ``_errors`` from it."""

    VIRTUAL_PORT = "virtual port (rt-samplernn)"

    _errors: list[str]

    def __init__(self) -> None:
        self.params: Parameters | None = None
        self.midi: MidiController | None = None
        self._midi_port: str | None = None
        self.map_path: Path | None = None  # the map file to start from (the window passes the remembered one)

    def midi_ports(self) -> list[str]:
        """MIDI input ports there are now ([] when MIDI is unavailable, e.g. no JACK server here)."""
        from rt_samplernn.live.midi import CLIENT_NAME, list_input_ports

        try:  # our own virtual port, listed by JACK, is not an input to choose
            return [p for p in list_input_ports() if not p.startswith(f"{CLIENT_NAME}:")]
        except UserError:
            return []

    @property
    def voices(self) -> int:
        raise NotImplementedError  # the session's

    def _controller(self) -> MidiController | None:
        """The MidiController, made on first use and kept across bundles, so its port stays open."""
        from rt_samplernn.live.midi import MidiController, default_map, default_map_path, load_map

        if self.params is None:
            return None
        ctl = self.midi
        if ctl is None:
            map_path = self.map_path
            midi_map = load_map(map_path) if map_path is not None and map_path.is_file() else default_map(self.voices)
            self.midi = MidiController(self.params, midi_map, map_path=map_path or default_map_path())
        elif ctl.params is not self.params:
            # A new bundle or voice count: point the open controller at the new parameter cells (one
            # reference store; the MIDI thread looks cells up by name per message). A default map is
            # swapped for the default of the new voice count; a performer's own map is kept.
            still_default = ctl.midi_map.mappings == default_map(ctl.params.voices).mappings
            ctl.params = self.params
            if still_default:
                ctl.set_map(default_map(self.voices), apply_specs=False)
        return self.midi

    def _attach_midi(self) -> None:
        """After a bundle (re)opens: the controller writes the new parameters; its port stays open."""
        if self.midi is not None:
            self._controller()
        elif self._midi_port is not None:  # a port was asked for before any bundle was open
            port, self._midi_port = self._midi_port, None
            try:
                self.open_midi(port)
            except UserError as e:
                self._errors.append(str(e))

    def open_midi(self, port: str | None) -> None:
        """Listen on a port (a name, or VIRTUAL_PORT), or stop listening (None); UserError if it cannot."""
        if port is None:
            if self.midi is not None:
                self.midi.close_port()
            self._midi_port = None
            return
        ctl = self._controller()
        if ctl is None:
            self._midi_port = port  # opened once a bundle is loaded
            return
        virtual = port == self.VIRTUAL_PORT
        ctl.open("virtual" if virtual else port)
        self._midi_port = self.VIRTUAL_PORT if virtual else (ctl.port_name or port)  # the full name

    @property
    def midi_port(self) -> str | None:
        return self._midi_port

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
        return self.midi.learning if self.midi is not None else None

    def mappings(self) -> list[tuple[str, str]]:
        """(parameter name, 'CC 74 ch 1') for every mapping, in map order."""
        ctl = self.midi if self.midi is not None else self._controller()
        return [(m.param, m.describe()) for m in ctl.mappings] if ctl is not None else []

    def save_map(self, path: Path) -> Path:
        ctl = self._controller()
        if ctl is None:
            raise UserError("open a bundle first: a MIDI map belongs to its parameters")
        return ctl.save_map(path)

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

    def midi_status(self) -> str:
        ctl = self.midi
        if ctl is None or self._midi_port is None:
            return "MIDI input off"
        return f"{ctl.status} · {ctl.messages} messages"
