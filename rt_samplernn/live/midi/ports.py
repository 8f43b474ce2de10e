"""MIDI ports: which rtmidi API to use, listing input ports, finding one by name, index or 'virtual'."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Protocol

from rt_samplernn.errors import UserError

log = logging.getLogger("rt_samplernn.live.midi")

CLIENT_NAME = "rt-samplernn"
VIRTUAL_PORT = "rt-samplernn"
API_NAMES = ("auto", "alsa", "jack", "coremidi", "winmm")
QUEUE_MESSAGES = 16384  # rtmidi's input queue (messages); a 10k/s flood never fills it while we drain


class MidiInput(Protocol):
    """The part of rtmidi.MidiIn this package uses (python-rtmidi ships no type information)."""

    def get_ports(self) -> list[str]: ...
    def get_message(self) -> tuple[list[int], float] | None: ...
    def open_port(self, port: int = 0, name: str | None = None) -> object: ...
    def open_virtual_port(self, name: str | None = None) -> object: ...
    def close_port(self) -> None: ...
    def delete(self) -> None: ...
    def ignore_types(self, sysex: bool = True, timing: bool = True, active_sense: bool = True) -> None: ...
    def set_error_callback(self, func: Callable[[int, str, object], None], data: object = None) -> None: ...


def _rtmidi() -> ModuleType:
    try:
        import rtmidi
    except ImportError as e:  # pragma: no cover - a dependency
        raise UserError(f"python-rtmidi is not installed ({e}); pip install python-rtmidi") from None
    module: ModuleType = rtmidi
    return module


def api_ids() -> dict[str, int]:
    """rtmidi's API id of each API name."""
    rtmidi = _rtmidi()
    return {
        "alsa": rtmidi.API_LINUX_ALSA,
        "jack": rtmidi.API_UNIX_JACK,
        "coremidi": rtmidi.API_MACOSX_CORE,
        "winmm": rtmidi.API_WINDOWS_MM,
    }


def api_name(api: int) -> str:
    return {v: k for k, v in api_ids().items()}.get(api, f"api {api}")


def alsa_sequencer_present() -> bool:
    return os.path.exists("/dev/snd/seq")


def choose_api(name: str | None = None) -> int:
    """The rtmidi API to use: ``name`` (alsa/jack/coremidi/winmm/auto), else $RT_SAMPLERNN_MIDI_API, else
    the platform's own (ALSA only where the sequencer exists; JACK otherwise)."""
    rtmidi = _rtmidi()
    ids = api_ids()
    compiled = set(rtmidi.get_compiled_api())
    name = (name or os.environ.get("RT_SAMPLERNN_MIDI_API") or "auto").lower()
    if name != "auto":
        if name not in ids:
            raise UserError(f"MIDI API {name!r}: unknown; APIs: {', '.join(API_NAMES)}")
        if ids[name] not in compiled:
            have = ", ".join(api_name(a) for a in sorted(compiled)) or "none"
            raise UserError(f"MIDI API {name!r}: not in this python-rtmidi build; it has: {have}")
        return ids[name]
    if sys.platform == "darwin" and ids["coremidi"] in compiled:
        return ids["coremidi"]
    if sys.platform == "win32" and ids["winmm"] in compiled:
        return ids["winmm"]
    if ids["alsa"] in compiled and alsa_sequencer_present():
        return ids["alsa"]
    if ids["jack"] in compiled:
        return ids["jack"]
    raise UserError(
        "no MIDI API: no ALSA sequencer (/dev/snd/seq; `modprobe snd-seq`) and python-rtmidi has no JACK support here"
    )


def open_input(api: int, client_name: str = CLIENT_NAME) -> MidiInput:
    """A new rtmidi input on ``api``, its queue sized for floods; a UserError (with the JACK hint) if it cannot open."""
    rtmidi = _rtmidi()
    try:
        midi_in: MidiInput = rtmidi.MidiIn(api, client_name, queue_size_limit=QUEUE_MESSAGES)
        return midi_in
    except (rtmidi.RtMidiError, RuntimeError) as e:
        hint = ""
        if api == rtmidi.API_UNIX_JACK:
            hint = (
                "; MIDI goes through JACK here (no ALSA sequencer): start jackd first, e.g. `jackd -d dummy -r 16000 &`"
            )
        raise UserError(f"cannot open MIDI ({api_name(api)}): {e}{hint}") from None


def list_input_ports(api: int | str | None = None) -> list[str]:
    """Names of the MIDI ports we can listen to, in index order."""
    api_id = api if isinstance(api, int) else choose_api(api)
    midi_in = open_input(api_id, f"{CLIENT_NAME}-list")
    try:
        return list(midi_in.get_ports())
    finally:
        midi_in.delete()


def find_port(spec: str | int, ports: Sequence[str]) -> int:
    """Index of the port named by ``spec``: an index, an exact name, or a case-insensitive substring."""
    listing = "; ".join(f"{i}: {p}" for i, p in enumerate(ports)) or "none"
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        i = int(spec)
        if 0 <= i < len(ports):
            return i
        raise UserError(f"MIDI port {i}: out of range; ports: {listing}; or use --midi virtual")
    if spec in ports:
        return list(ports).index(spec)
    matches = [i for i, p in enumerate(ports) if spec.lower() in p.lower()]
    if not matches:
        raise UserError(f"MIDI port {spec!r} not found; ports: {listing}; or use --midi virtual")
    return matches[0]
