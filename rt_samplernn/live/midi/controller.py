"""The MIDI controller: one thread drains rtmidi, parses, maps and learns, and writes parameter cells.

With a ``tempo`` (rt_samplernn.live.tempo.Tempo) it also follows the MIDI clock on its port: clock (0xF8),
start (0xFA), continue (0xFB) and stop (0xFC) go to ``tempo.feed_midi`` with rtmidi's timestamps (the
deltas between messages, summed: the time the MIDI API saw each one, not when this thread drained it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rt_samplernn.errors import UserError
from rt_samplernn.live.control import LiveControl
from rt_samplernn.live.midi.mapfile import (
    PAD_PARAMS,
    Mapping,
    MidiMap,
    default_map,
    default_map_path,
    load_map,
    save_map,
)
from rt_samplernn.live.midi.parser import MidiParser
from rt_samplernn.live.midi.ports import (
    VIRTUAL_PORT,
    MidiInput,
    api_ids,
    api_name,
    choose_api,
    find_port,
    open_input,
)
from rt_samplernn.live.params import (
    FloatParam,
    IndexParam,
    Parameters,
    SwitchParam,
    Trigger,
    is_voice_name,
    next_version,
)

if TYPE_CHECKING:
    from rt_samplernn.live.tempo import Tempo

log = logging.getLogger("rt_samplernn.live.midi")
CLOCK_MESSAGES = frozenset((0xF8, 0xFA, 0xFB, 0xFC))  # clock, start, continue, stop
BATCH_MESSAGES = 512  # messages drained per pass before the coalesced writes are flushed


@dataclass(frozen=True)
class _Index:
    """Mappings by control number, rebuilt on each map change and swapped in whole (no lock to read)."""

    cc: dict[int, tuple[Mapping, ...]]
    lsb: dict[int, tuple[Mapping, ...]]
    note: dict[int, tuple[Mapping, ...]]
    pads: tuple[Mapping, ...]

    @staticmethod
    def build(mappings: Iterable[Mapping]) -> _Index:
        cc: dict[int, list[Mapping]] = {}
        lsb: dict[int, list[Mapping]] = {}
        note: dict[int, list[Mapping]] = {}
        pads: list[Mapping] = []
        for m in mappings:
            if m.kind == "cc":
                cc.setdefault(m.number, []).append(m)
                if m.fourteen_bit:
                    lsb.setdefault(m.number + 32, []).append(m)
            elif m.kind == "note":
                note.setdefault(m.number, []).append(m)
            else:
                pads.append(m)

        def freeze(by_number: dict[int, list[Mapping]]) -> dict[int, tuple[Mapping, ...]]:
            return {k: tuple(v) for k, v in by_number.items()}

        return _Index(freeze(cc), freeze(lsb), freeze(note), tuple(pads))


class MidiController:
    """Turns MIDI messages into parameter writes; owns the input port and its thread.

    ``params``: the cells to write. ``midi_map``: the starting map (default: the saved one at
    ``map_path`` if it exists, else `default_map`). ``control``: the `LiveControl` to close with this.
    ``map_path``: where `save_map()` writes by default (default: `default_map_path()`). ``poll_ms``: how
    often the MIDI thread looks at rtmidi's queue when it was empty; ``port_check_s``: how often it checks
    that the opened port still exists.
    """

    def __init__(
        self,
        params: Parameters,
        midi_map: MidiMap | None = None,
        control: LiveControl | None = None,
        map_path: str | Path | None = None,
        poll_ms: float = 2.0,
        port_check_s: float = 0.5,
    ) -> None:
        self.params = params
        self.control = control
        self.map_path = Path(map_path) if map_path else default_map_path()
        if midi_map is None:
            midi_map = load_map(self.map_path) if self.map_path.exists() else default_map(params.voices)
        self.poll_s = poll_ms / 1000.0
        self.port_check_s = port_check_s
        self._lock = threading.Lock()  # between map editors (GUI) and learn (MIDI thread) only
        self._mappings: tuple[Mapping, ...] = ()
        self._index = _Index.build(())
        self.channel: int | None = None
        self.slots: tuple[str, ...] = ()
        self.map_version = 0
        self._learn: tuple[str, bool] | None = None
        self.last_bound: Mapping | None = None
        self.learn_version = 0
        # counters and status (written by the MIDI thread only)
        self.messages = 0  # rtmidi messages received
        self.ignored = 0  # channel messages that matched nothing or were filtered out
        self.errors = 0
        self.status = "MIDI closed"
        self.status_version = 0
        self.connected = False
        self.port_name: str | None = None  # the port we listen to (None: virtual or closed)
        self.api: int | None = None
        self._parser = MidiParser()
        self._cc_last = bytearray(16 * 128)  # last 7-bit value per (channel, cc): button edges
        self._msb = bytearray(16 * 32)  # last MSB per (channel, cc 0..31) for 14-bit pairs
        self._pending: dict[str, float] = {}  # coalesced knob writes of the current batch
        self._midi_in: MidiInput | None = None
        self._thread: threading.Thread | None = None
        self._stop = False
        self.tempo: Tempo | None = None  # set to follow the clock on this port (any time; read per message)
        self.clock_messages = 0  # clock, start, continue, stop received (not counted in ``messages``)
        self._clock_s = 0.0  # rtmidi's deltas summed: the timestamp of the last message
        self.set_map(midi_map)

    # -- map -------------------------------------------------------------------------------------------
    def _check_names(self, mappings: Iterable[Mapping]) -> None:
        for m in mappings:
            if m.param not in self.params and not is_voice_name(m.param):
                raise UserError(
                    f"MIDI map: parameter {m.param!r} unknown; parameters: {', '.join(self.params.names())}"
                )

    def _swap(self, mappings: Sequence[Mapping]) -> None:
        self._mappings = tuple(mappings)
        self._index = _Index.build(self._mappings)
        self.map_version = next_version()

    def set_map(self, midi_map: MidiMap, apply_specs: bool = True) -> None:
        """Use ``midi_map``: its mappings, channel filter and (``apply_specs``) parameter ranges.

        Names like ``temperature.3`` beyond the engine's voices are kept but do nothing; other unknown
        names are an error naming the valid ones.
        """
        self._check_names(midi_map.mappings)
        floats = [f.name for f in self.params.float_params()]
        for name in midi_map.specs:
            if name not in floats and not is_voice_name(name):
                raise UserError(
                    f"MIDI map: [params.{name}]: no such continuous parameter; ranges exist for: {', '.join(floats)}"
                )
        specs = {k: v for k, v in midi_map.specs.items() if k in self.params}
        if apply_specs and specs:
            self.params.set_specs(specs)
        with self._lock:
            self.channel = midi_map.channel
            self.slots = midi_map.slots
            self._swap(midi_map.mappings)

    @property
    def midi_map(self) -> MidiMap:
        """The current map, with the parameters' current range settings and the files in the seed slots
        (as loaded now; "" for an empty slot before a loaded one), or the map's own slot list if none is."""
        loaded = [str(s.path) if s is not None else "" for s in self.params.slots]
        while loaded and not loaded[-1]:
            loaded.pop()
        return MidiMap(self._mappings, self.channel, self.params.specs(), tuple(loaded) or self.slots)

    @property
    def mappings(self) -> list[Mapping]:
        return list(self._mappings)

    def remove_mapping(self, mapping: Mapping) -> None:
        with self._lock:
            self._swap([m for m in self._mappings if m != mapping])

    def clear_mappings(self, param: str) -> None:
        with self._lock:
            self._swap([m for m in self._mappings if m.param != param])

    def set_channel(self, channel: int | None) -> None:
        """Only listen to ``channel`` (0..15); None = omni."""
        if channel is not None and not 0 <= channel <= 15:
            raise UserError(f"MIDI channel {channel + 1}: must be 1..16")
        self.channel = channel
        self.map_version = next_version()

    def _replacing(self, new: Mapping) -> list[Mapping]:
        def same_control(m: Mapping) -> bool:
            channels_meet = m.channel is None or new.channel is None or m.channel == new.channel
            return channels_meet and bool(m.controls() & new.controls())

        kept = [m for m in self._mappings if not same_control(m) and not (m.param == new.param and m.kind == new.kind)]
        return kept + [new]

    def save_map(self, path: str | Path | None = None) -> Path:
        """Save the current map (TOML, or JSON for .json) to ``path`` or ``map_path``; returns the path."""
        return save_map(self.midi_map, path or self.map_path)

    def load_map(self, path: str | Path) -> None:
        """Load a map file and use it (it becomes ``map_path``)."""
        self.set_map(load_map(path))
        self.map_path = Path(path)

    # -- learn -----------------------------------------------------------------------------------------
    def arm_learn(self, param: str, fourteen_bit: bool = False) -> None:
        """The next CC or note-on (on a heard channel) binds to ``param``; ``slot`` + a note binds the pads.

        ``fourteen_bit``: bind a CC 0..31 as the MSB of a 14-bit pair. Observe ``learning``,
        ``learn_version`` and ``last_bound``. The learning message itself changes nothing else.
        """
        self.params[param]  # a UserError naming the valid parameters
        self._learn = (param, fourteen_bit)
        self.learn_version = next_version()

    def cancel_learn(self) -> None:
        self._learn = None
        self.learn_version = next_version()

    @property
    def learning(self) -> str | None:
        learn = self._learn
        return learn[0] if learn else None

    def _bind(self, learn: tuple[str, bool], kind: int, channel: int, number: int) -> None:
        param, fourteen = learn
        if kind == 0xB0:
            mapping = Mapping(param, "cc", number, channel, fourteen and number < 32)
        elif param in PAD_PARAMS:
            mapping = Mapping(param, "pads", number, channel)
        else:
            mapping = Mapping(param, "note", number, channel)
        with self._lock:
            self._swap(self._replacing(mapping))
        self.last_bound = mapping
        self._learn = None
        self.learn_version = next_version()

    # -- messages --------------------------------------------------------------------------------------
    def feed(self, message: Sequence[int], time_s: float | None = None) -> None:
        """Handle one rtmidi message (a list of bytes) now, in this thread (tests; not while a port is open);
        ``time_s``: its timestamp for the clock (default: now)."""
        self._receive(message, time.monotonic() if time_s is None else time_s)
        self._flush()

    def _receive(self, message: Sequence[int], time_s: float = 0.0) -> None:
        if self._clock(message, time_s):
            return
        self.messages += 1
        try:
            for status, d1, d2 in self._parser.feed(message):
                self._handle(status, d1, d2)
        except Exception as e:  # never let one message stop the thread; count and say it once
            self.errors += 1
            self._parser = MidiParser()
            if self.errors == 1:
                self._set_status(f"MIDI: a message failed ({type(e).__name__}: {e}); going on")

    def _clock(self, message: Sequence[int], time_s: float) -> bool:
        """A clock, start, continue or stop message (to the tempo, if any): True; anything else: False."""
        if not isinstance(message, (list, tuple)) or len(message) != 1:
            return False
        status = message[0]
        if isinstance(status, bool) or not isinstance(status, int) or status not in CLOCK_MESSAGES:
            return False
        tempo = self.tempo
        if tempo is not None:
            self.clock_messages += 1
            tempo.feed_midi(status, time_s)
        return True

    def _handle(self, status: int, d1: int, d2: int) -> None:
        kind, ch = status & 0xF0, status & 0x0F
        if self.channel is not None and ch != self.channel:
            self.ignored += 1
            return
        if kind == 0x90 and d2 == 0:
            kind = 0x80  # note-on with velocity 0 is a note-off
        learn = self._learn
        if learn is not None and kind in (0xB0, 0x90):
            self._bind(learn, kind, ch, d1)
            return
        index = self._index
        hit = False
        if kind == 0xB0:
            prev = self._cc_last[ch * 128 + d1]
            self._cc_last[ch * 128 + d1] = d2
            for m in index.cc.get(d1, ()):
                if m.channel is None or m.channel == ch:
                    hit = True
                    if m.fourteen_bit:
                        self._msb[ch * 32 + d1] = d2  # a new MSB resets the LSB to 0 (MIDI 1.0 spec)
                        self._set(m.param, (d2 << 7) / 16383.0, prev < 64 <= d2)
                    else:
                        self._set(m.param, d2 / 127.0, prev < 64 <= d2)
            for m in index.lsb.get(d1, ()):
                if m.channel is None or m.channel == ch:
                    hit = True
                    msb = self._msb[ch * 32 + m.number]
                    self._set(m.param, ((msb << 7) | d2) / 16383.0, False, lsb=True)
        elif kind == 0x90:
            for m in index.note.get(d1, ()):
                if m.channel is None or m.channel == ch:
                    hit = True
                    self._note(m.param, d2)
            for m in index.pads:
                if (m.channel is None or m.channel == ch) and self.params.pad(m.param, d1 - m.number):
                    hit = True
        if not hit:
            self.ignored += 1

    def _set(self, name: str, u: float, rising: bool, lsb: bool = False) -> None:
        p = self.params.get(name)
        if p is None:
            return
        if isinstance(p, Trigger):
            if rising:
                p.fire()
        elif isinstance(p, SwitchParam) and lsb:
            return
        else:
            self._coalesce(name, u)  # knobs and switches: the batch's latest value wins

    def _note(self, name: str, velocity: int) -> None:
        p = self.params.get(name)
        if isinstance(p, Trigger):
            p.fire()
        elif isinstance(p, SwitchParam):
            self._flush()
            p.toggle()
        elif isinstance(p, (FloatParam, IndexParam)):
            self._coalesce(name, velocity / 127.0)

    def _coalesce(self, name: str, u: float) -> None:
        """Keep the latest write of ``name`` in this batch, ordered by when it came: a master temperature
        written after a voice's is applied after it (it sets that voice too), as the messages came."""
        self._pending.pop(name, None)
        self._pending[name] = u

    def _flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        for name, u in pending.items():
            p = self.params.get(name)
            if p is not None:
                p.set_normalized(u)

    # -- port ------------------------------------------------------------------------------------------
    def _set_status(self, text: str, warn: bool = True) -> None:
        self.status = text
        self.status_version = next_version()
        (log.warning if warn else log.info)("%s", text)

    def open(self, port: str | int = "virtual", api: int | str | None = None, virtual_name: str = VIRTUAL_PORT) -> str:
        """Listen to ``port`` ("virtual": a port named ``virtual_name``, an index or a name substring); returns
        what was opened.

        Any port already open is closed first. Errors (no such port, no MIDI API, no JACK server) are
        UserErrors that list the ports. Timing messages are let through (the clock, for a ``tempo``).
        """
        self.close_port()
        api_id = api if isinstance(api, int) else choose_api(api)
        midi_in = open_input(api_id)
        try:
            midi_in.ignore_types(sysex=True, timing=False, active_sense=True)
            midi_in.set_error_callback(self._rtmidi_error)
            if isinstance(port, str) and port.strip().lower() == "virtual":
                if api_id == api_ids()["winmm"]:
                    raise UserError(
                        "virtual MIDI ports are not supported on Windows (WinMM); install "
                        "loopMIDI and pass its port name"
                    )
                midi_in.open_virtual_port(virtual_name)
                self.port_name = None
                opened = f"virtual port {virtual_name!r}"
            else:
                ports = list(midi_in.get_ports())
                i = find_port(port, ports)
                midi_in.open_port(i, "midi_in")
                self.port_name = ports[i]
                opened = f"port {ports[i]!r}"
        except UserError:
            midi_in.delete()
            raise
        except Exception as e:
            midi_in.delete()
            raise UserError(f"MIDI port {port!r}: cannot open ({e})") from None
        self._midi_in, self.api, self.connected = midi_in, api_id, True
        self._parser = MidiParser()
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(midi_in,), name="rt-samplernn-midi", daemon=True)
        self._thread.start()
        self._set_status(f"MIDI: listening on {opened} ({api_name(api_id)})", warn=False)
        return opened

    def _rtmidi_error(self, etype: int, text: str, data: Any = None) -> None:
        self._set_status(f"MIDI ({api_name(self.api or 0)}): {text}")

    def _run(self, midi_in: MidiInput) -> None:
        get = midi_in.get_message
        next_check = time.monotonic() + self.port_check_s
        while not self._stop:
            n = 0
            try:
                while n < BATCH_MESSAGES:
                    item = get() if self.connected else None
                    if item is None:
                        break
                    n += 1
                    self._clock_s += item[1]  # seconds since the message before (0 for the first)
                    self._receive(item[0], self._clock_s)
                self._flush()
            except Exception as e:  # rtmidi trouble: report, keep the thread (and playback) alive
                self.errors += 1
                self._pending.clear()
                self._set_status(f"MIDI: {type(e).__name__}: {e}")
                time.sleep(0.05)
            if self.port_name is not None and time.monotonic() >= next_check:
                next_check = time.monotonic() + self.port_check_s
                self._check_port(midi_in)
            if n == 0:
                time.sleep(self.poll_s)

    def _check_port(self, midi_in: MidiInput) -> None:
        try:
            ports = list(midi_in.get_ports())
        except Exception as e:
            if self.connected:
                self.connected = False
                self._set_status(f"MIDI port {self.port_name!r}: lost ({e}); playback goes on")
            return
        if self.connected and self.port_name not in ports:
            self.connected = False
            try:
                midi_in.close_port()
            except Exception:
                pass
            self._set_status(
                f"MIDI port {self.port_name!r} vanished; playback goes on; it reconnects when the port comes back"
            )
        elif not self.connected and self.port_name in ports:
            try:
                midi_in.open_port(ports.index(self.port_name), "midi_in")
            except Exception as e:
                self._set_status(f"MIDI port {self.port_name!r}: cannot reopen ({e})")
                return
            self._parser = MidiParser()
            self.connected = True
            self._set_status(f"MIDI port {self.port_name!r} is back; listening again")

    def close_port(self) -> None:
        """Stop listening (the map and parameters stay)."""
        thread, self._thread = self._thread, None
        self._stop = True
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        midi_in, self._midi_in = self._midi_in, None
        if midi_in is not None:
            try:
                midi_in.close_port()
            finally:
                midi_in.delete()
            self.connected = False
            self._set_status("MIDI closed", warn=False)

    def close(self) -> None:
        """Close the port and the `LiveControl` given at construction."""
        self.close_port()
        if self.control is not None:
            self.control.close()

    def __enter__(self) -> MidiController:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
