"""MIDI control with python-rtmidi: ports, a CC map, MIDI learn, saved maps. No torch, no Qt.

Messages land in `rt_samplernn.params.Parameters` cells; `LiveControl` applies those to the engine at
block boundaries. Nothing here takes a lock the audio path or the producer could wait on.

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
A `Mapping` binds one control to one parameter (see `rt_samplernn.params` for the names):

* ``cc``: a control change; 0..127 -> the knob range (``fourteen_bit``: CC N (0..31) is the MSB and
  CC N+32 the LSB, 0..16383); a trigger fires when the value crosses 64 upward, a switch is on >= 64.
* ``note``: a note-on fires a trigger, toggles a switch, or sets a knob to velocity/127.
* ``pads`` (param ``slot``): notes N, N+1, ... select seed slot 0, 1, ... and prime from it.

`MidiMap` holds the mappings, the channel filter (None = omni, else 0..15: only that channel is heard),
the float parameters' `FloatSpec` (range, curve, smoothing) and seed slot files. `default_map(voices)`
is CC 1 temperature, CC 7 gain, CC 21.. per-voice temperatures, CC 102/103/104 prime/reset/watchdog,
pads from note 36. Files: TOML (read with tomllib, written by a small writer here) or JSON, by
extension; ``default_map_path()`` is ``$XDG_CONFIG_HOME/rt-samplernn/midi-map.toml`` on Linux
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
    ctl.mappings, ctl.mappings_for("gain"), ctl.remove_mapping(m), ctl.add_mapping(m), ctl.map_version
    ctl.save_map()  /  ctl.load_map(path)   # default path: ctl.map_path
    ctl.status, ctl.status_version, ctl.connected, ctl.port_name, ctl.messages (a count: activity LED)
    ctl.set_channel(None or 0..15), ctl.channel, ctl.params, ctl.control
    ctl.feed([0xB0, 1, 64])             # handle one message now, in this thread (tests; no port open)

A saved map that cannot be read makes ``MidiController(params)`` raise a UserError naming the file.

For ``rt-samplernn play``: ``add_midi_arguments(parser)`` and ``start_from_args(args, engine, player)``
(returns the `MidiController`, or None without --midi; ``close()`` it before stopping the player).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from rt_samplernn.errors import UserError
from rt_samplernn.params import (
    FloatParam,
    FloatSpec,
    IndexParam,
    LiveControl,
    Parameters,
    SwitchParam,
    Trigger,
    next_version,
)

log = logging.getLogger(__name__)

CLIENT_NAME = "rt-samplernn"
VIRTUAL_PORT = "rt-samplernn"
MAP_VERSION = 1
BATCH_MESSAGES = 512  # messages drained per pass before the coalesced writes are flushed
QUEUE_MESSAGES = 16384  # rtmidi's input queue (messages); a 10k/s flood never fills it while we drain
KINDS = ("cc", "note", "pads")
API_NAMES = ("auto", "alsa", "jack", "coremidi", "winmm")


# --------------------------------------------------------------------------------------------------
# APIs and ports
# --------------------------------------------------------------------------------------------------
def _rtmidi():
    try:
        import rtmidi
    except ImportError as e:  # pragma: no cover - a dependency
        raise UserError(f"python-rtmidi is not installed ({e}); pip install python-rtmidi") from None
    return rtmidi


def _api_ids() -> dict[str, int]:
    rtmidi = _rtmidi()
    return {"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK,
            "coremidi": rtmidi.API_MACOSX_CORE, "winmm": rtmidi.API_WINDOWS_MM}


def api_name(api: int) -> str:
    return {v: k for k, v in _api_ids().items()}.get(api, f"api {api}")


def alsa_sequencer_present() -> bool:
    return os.path.exists("/dev/snd/seq")


def choose_api(name: str | None = None) -> int:
    """The rtmidi API to use: ``name`` (alsa/jack/coremidi/winmm/auto), else $RT_SAMPLERNN_MIDI_API, else
    the platform's own (ALSA only where the sequencer exists; JACK otherwise)."""
    rtmidi = _rtmidi()
    ids = _api_ids()
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
    raise UserError("no MIDI API: no ALSA sequencer (/dev/snd/seq; `modprobe snd-seq`) and python-rtmidi "
                    "has no JACK support here")


def _make_input(api: int, client_name: str = CLIENT_NAME):
    rtmidi = _rtmidi()
    try:
        return rtmidi.MidiIn(api, client_name, queue_size_limit=QUEUE_MESSAGES)
    except (rtmidi.RtMidiError, RuntimeError) as e:
        hint = ""
        if api == rtmidi.API_UNIX_JACK:
            hint = ("; MIDI goes through JACK here (no ALSA sequencer): start jackd first, e.g. "
                    "`jackd -d dummy -r 16000 &`")
        raise UserError(f"cannot open MIDI ({api_name(api)}): {e}{hint}") from None


def list_input_ports(api: int | str | None = None) -> list[str]:
    """Names of the MIDI ports we can listen to, in index order."""
    api_id = api if isinstance(api, int) else choose_api(api)
    midi_in = _make_input(api_id, f"{CLIENT_NAME}-list")
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


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------
_DATA_BYTES = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_COMMON_DATA_BYTES = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF4: 0, 0xF5: 0, 0xF6: 0}


class MidiParser:
    """Bytes -> channel messages ``(status, data1, data2)``, tolerant of anything.

    Running status (data bytes after an earlier channel status) is honoured, also across rtmidi
    messages; sysex (``F0 .. F7``, possibly split) and system common messages are skipped and cancel
    running status; real-time bytes (``F8``-``FF``: clock, active sensing, ...) are skipped anywhere;
    a status byte in the middle of a message drops the unfinished one; values that are not ints in
    0..255 are skipped. One-data-byte messages (program change, channel pressure) get ``data2 = 0``.
    """

    def __init__(self) -> None:
        self._running = 0  # channel status in force (0: none)
        self._need = 0  # data bytes the current message needs
        self._data: list[int] = []
        self._skip = 0  # data bytes of a system common message still to skip
        self._in_sysex = False

    def feed(self, data: Iterable[Any]) -> Iterator[tuple[int, int, int]]:
        for b in data:
            if not isinstance(b, int) or isinstance(b, bool) or not 0 <= b <= 0xFF:
                continue
            if b >= 0xF8:  # real-time: anywhere, no effect on running status
                continue
            if b >= 0x80:
                self._data.clear()
                self._skip = 0
                if b == 0xF0:
                    self._in_sysex, self._running = True, 0
                elif b == 0xF7:
                    self._in_sysex, self._running = False, 0
                elif b >= 0xF0:  # system common (or undefined F4/F5)
                    self._in_sysex, self._running = False, 0
                    self._skip = _COMMON_DATA_BYTES.get(b, 0)
                else:
                    self._in_sysex = False
                    self._running = b
                    self._need = _DATA_BYTES[b & 0xF0]
                continue
            # a data byte
            if self._in_sysex:
                continue
            if self._skip:
                self._skip -= 1
                continue
            if not self._running:
                continue  # stray data with no status in force
            self._data.append(b)
            if len(self._data) == self._need:
                d1 = self._data[0]
                d2 = self._data[1] if self._need == 2 else 0
                self._data.clear()
                yield self._running, d1, d2


# --------------------------------------------------------------------------------------------------
# Maps
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mapping:
    """One control bound to one parameter.

    ``kind``: ``"cc"``, ``"note"`` or ``"pads"``; ``number``: the CC number (14-bit: the MSB, 0..31; the
    LSB is ``number + 32``), the note, or the first pad's note. ``channel``: 0..15, or None for any.
    """

    param: str
    kind: str
    number: int
    channel: int | None = None
    fourteen_bit: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UserError(f"mapping kind {self.kind!r}: unknown; kinds: {', '.join(KINDS)}")
        if not isinstance(self.number, int) or isinstance(self.number, bool) or not 0 <= self.number <= 127:
            raise UserError(f"{self.kind} {self.number!r}: must be an integer 0..127")
        if self.channel is not None and (not isinstance(self.channel, int) or not 0 <= self.channel <= 15):
            raise UserError(f"channel {self.channel!r}: must be 0..15 (None = any)")
        if self.fourteen_bit and (self.kind != "cc" or self.number > 31):
            raise UserError(f"14-bit needs a CC 0..31 (its LSB is CC+32), got {self.kind} {self.number}")
        if self.kind == "pads" and self.param != "slot":
            raise UserError(f"pads select seed slots: param must be 'slot', got {self.param!r}")

    @property
    def lsb(self) -> int | None:
        return self.number + 32 if self.fourteen_bit else None

    def describe(self) -> str:
        """Short text for the GUI, e.g. 'CC 74 ch 1', 'CC 1/33 (14-bit)', 'pads from note 36'."""
        ch = "" if self.channel is None else f" ch {self.channel + 1}"
        if self.kind == "cc":
            return f"CC {self.number}/{self.lsb} (14-bit){ch}" if self.fourteen_bit else f"CC {self.number}{ch}"
        if self.kind == "note":
            return f"note {self.number}{ch}"
        return f"pads from note {self.number}{ch}"

    def controls(self) -> set[tuple[str, int]]:
        """The (kind, number) controls this mapping listens to."""
        if self.kind == "cc":
            return {("cc", self.number)} | ({("cc", self.number + 32)} if self.fourteen_bit else set())
        return {(self.kind, self.number)}


@dataclass(frozen=True)
class MidiMap:
    """What a performer saves: mappings, channel filter (None = omni, else 0..15), float parameter
    settings by name, and seed slot files in slot order (as written; relative paths are relative to the
    map file; "" leaves a slot empty)."""

    mappings: tuple[Mapping, ...] = ()
    channel: int | None = None
    specs: dict[str, FloatSpec] = field(default_factory=dict)
    slots: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.channel is not None and (not isinstance(self.channel, int) or not 0 <= self.channel <= 15):
            raise UserError(f"channel {self.channel!r}: must be 0..15 (None = omni)")


def default_map(voices: int = 1) -> MidiMap:
    """The map used when none is saved (see the module docstring)."""
    m = [Mapping("temperature", "cc", 1), Mapping("gain", "cc", 7)]
    if voices > 1:
        m += [Mapping(f"temperature.{v}", "cc", 21 + v) for v in range(min(voices, 8))]
    m += [Mapping("prime", "cc", 102), Mapping("reset", "cc", 103), Mapping("watchdog", "cc", 104),
          Mapping("slot", "pads", 36)]
    return MidiMap(tuple(m))


def config_dir() -> Path:
    """The user's config folder for rt-samplernn (XDG on Linux; platform equivalents elsewhere)."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_CONFIG_HOME", "")
        base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".config"
    return base / "rt-samplernn"


def default_map_path() -> Path:
    return config_dir() / "midi-map.toml"


def _channel_out(ch: int | None, none_word: str) -> str | int:
    return none_word if ch is None else ch + 1


def _channel_in(v: Any, where: str, none_words: tuple[str, ...]) -> int | None:
    if isinstance(v, str) and v.lower() in none_words:
        return None
    if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 16:
        return v - 1
    raise UserError(f"{where}: channel {v!r}: must be 1..16 or {' / '.join(repr(w) for w in none_words)}")


def map_to_dict(m: MidiMap) -> dict[str, Any]:
    """The file form of a map (channels 1..16)."""
    out: dict[str, Any] = {"version": MAP_VERSION, "channel": _channel_out(m.channel, "omni")}
    if m.slots:
        out["slots"] = list(m.slots)
    if m.specs:
        out["params"] = {
            name: {"minimum": s.minimum, "maximum": s.maximum, "default": s.default, "curve": s.curve,
                   "power": s.power, "smoothing_ms": s.smoothing_ms}
            for name, s in m.specs.items()
        }
    out["mapping"] = [
        {"param": x.param, x.kind: x.number, "channel": _channel_out(x.channel, "any"),
         **({"fourteen_bit": True} if x.fourteen_bit else {})}
        for x in m.mappings
    ]
    return out


def map_from_dict(d: Any, where: str = "MIDI map") -> MidiMap:
    """Check and convert the file form; errors name the file, the entry and the valid choices."""
    if not isinstance(d, dict):
        raise UserError(f"{where}: expected a table of settings")
    version = d.get("version", MAP_VERSION)
    if version != MAP_VERSION:
        raise UserError(f"{where}: version {version!r} not supported; supported: {MAP_VERSION}")
    known = {"version", "channel", "slots", "params", "mapping"}
    extra = set(d) - known
    if extra:
        raise UserError(f"{where}: unknown key(s) {', '.join(sorted(extra))}; keys: {', '.join(sorted(known))}")
    channel = _channel_in(d.get("channel", "omni"), where, ("omni", "any"))
    slots = d.get("slots", [])
    if not isinstance(slots, list) or not all(isinstance(s, str) for s in slots):
        raise UserError(f"{where}: slots must be a list of audio file paths")
    specs: dict[str, FloatSpec] = {}
    params = d.get("params", {})
    if not isinstance(params, dict):
        raise UserError(f"{where}: params must be a table of parameter settings")
    spec_keys = ("minimum", "maximum", "default", "curve", "power", "smoothing_ms")
    for name, s in params.items():
        if not isinstance(s, dict) or set(s) - set(spec_keys):
            raise UserError(f"{where}: params.{name}: keys: {', '.join(spec_keys)}")
        try:
            vals = {k: (float(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in s.items()}
            if "default" not in vals and "minimum" in vals and "maximum" in vals:
                lo, hi = vals["minimum"], vals["maximum"]
                vals["default"] = (lo + hi) / 2 if isinstance(lo, float) and isinstance(hi, float) else lo
            specs[name] = FloatSpec(**vals)
        except TypeError as e:
            raise UserError(f"{where}: params.{name}: {e}; keys: {', '.join(spec_keys)}") from None
        except UserError as e:
            raise UserError(f"{where}: params.{name}: {e}") from None
    entries = d.get("mapping", [])
    if not isinstance(entries, list):
        raise UserError(f"{where}: mapping must be a list of tables")
    mappings = []
    for i, e in enumerate(entries, 1):
        here = f"{where}: mapping {i}"
        if not isinstance(e, dict):
            raise UserError(f"{here}: expected a table")
        kinds = [k for k in KINDS if k in e]
        allowed = {"param", "channel", "fourteen_bit", *KINDS}
        if len(kinds) != 1 or set(e) - allowed or not isinstance(e.get("param"), str):
            raise UserError(f"{here}: needs param = \"name\" and exactly one of cc / note / pads "
                            f"(optional: channel, fourteen_bit)")
        fourteen = e.get("fourteen_bit", False)
        if not isinstance(fourteen, bool):
            raise UserError(f"{here}: fourteen_bit must be true or false")
        try:
            mappings.append(Mapping(e["param"], kinds[0], e[kinds[0]],
                                    _channel_in(e.get("channel", "any"), here, ("any", "omni")), fourteen))
        except UserError as err:
            raise UserError(f"{here}: {err}") from None
    return MidiMap(tuple(mappings), channel, specs, tuple(slots))


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_value(k)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"cannot write {v} to TOML")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # JSON string escapes are valid TOML basic strings
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


_TOML_HEADER = """\
# rt-samplernn MIDI map: `rt-samplernn play --midi PORT --midi-map THIS_FILE`. Edit freely.
# channel: "omni" or 1..16 (only that channel is heard). Each [[mapping]]: param = a parameter
# (temperature, temperature.N, gain, slot, prime, reset, watchdog), one of cc = N / note = N /
# pads = N (notes N, N+1, ... select seed slots and prime), channel = "any" or 1..16, and
# fourteen_bit = true to pair CC N (0..31) with its LSB CC N+32.
# [params.NAME]: range (minimum, maximum), default, curve ("linear" or "log"), power (knob
# position u -> u**power), smoothing_ms (ramp time of a full-range jump). slots: seed files.
"""


def dumps_toml(d: dict[str, Any]) -> str:
    """The tiny TOML writer for map dicts: scalars and lists, tables of tables, arrays of tables."""
    lines = [_TOML_HEADER.rstrip("\n")]
    for k, v in d.items():
        if not isinstance(v, (dict, list)) or (isinstance(v, list) and not any(isinstance(x, dict) for x in v)):
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for k, v in d.items():
        if isinstance(v, dict):
            for sub, table in v.items():
                lines += ["", f"[{_toml_key(k)}.{_toml_key(sub)}]"]
                lines += [f"{_toml_key(a)} = {_toml_value(b)}" for a, b in table.items()]
        elif isinstance(v, list) and any(isinstance(x, dict) for x in v):
            for table in v:
                lines += ["", f"[[{_toml_key(k)}]]"]
                lines += [f"{_toml_key(a)} = {_toml_value(b)}" for a, b in table.items()]
    return "\n".join(lines) + "\n"


def save_map(m: MidiMap, path: str | Path) -> Path:
    """Write ``m`` as TOML (or JSON for a .json path), atomically, creating the folder."""
    path = Path(path)
    d = map_to_dict(m)
    text = json.dumps(d, indent=2) + "\n" if path.suffix.lower() == ".json" else dumps_toml(d)
    tmp = path.with_name(f".{path.name}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write the MIDI map ({e.strerror or e})") from None
    return path


def load_map(path: str | Path) -> MidiMap:
    """Read a map file (TOML, or JSON for .json); a UserError names the file and the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such MIDI map file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read ({e})") from None
    if path.suffix.lower() == ".json":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise UserError(f"{path}: not valid JSON ({e})") from None
    else:
        try:
            import tomllib
        except ImportError:  # Python 3.10
            raise UserError(f"{path}: reading TOML needs Python 3.11+; save the map as .json") from None
        try:
            d = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise UserError(f"{path}: not valid TOML ({e})") from None
    return map_from_dict(d, str(path))


# --------------------------------------------------------------------------------------------------
# The controller
# --------------------------------------------------------------------------------------------------
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
        freeze = lambda d: {k: tuple(v) for k, v in d.items()}  # noqa: E731
        return _Index(freeze(cc), freeze(lsb), freeze(note), tuple(pads))


_VOICE_PARAM = re.compile(r"temperature\.\d+")


class MidiController:
    """Turns MIDI messages into parameter writes; owns the input port and its thread.

    ``params``: the cells to write. ``midi_map``: the starting map (default: the saved one at
    ``map_path`` if it exists, else `default_map`). ``control``: the `LiveControl` to close with this.
    ``map_path``: where `save_map()` writes by default (default: `default_map_path()`). ``poll_ms``: how
    often the MIDI thread looks at rtmidi's queue when it was empty; ``port_check_s``: how often it checks
    that the opened port still exists.
    """

    def __init__(self, params: Parameters, midi_map: MidiMap | None = None, control: LiveControl | None = None,
                 map_path: str | Path | None = None, poll_ms: float = 2.0, port_check_s: float = 0.5) -> None:
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
        self._midi_in = None
        self._thread: threading.Thread | None = None
        self._stop = False
        self.set_map(midi_map)

    # -- map -------------------------------------------------------------------------------------------
    def _check_names(self, mappings: Iterable[Mapping]) -> None:
        for m in mappings:
            if m.param not in self.params and not _VOICE_PARAM.fullmatch(m.param):
                raise UserError(f"MIDI map: parameter {m.param!r} unknown; parameters: "
                                f"{', '.join(self.params.names())}")

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
            if name not in floats and not _VOICE_PARAM.fullmatch(name):
                raise UserError(f"MIDI map: [params.{name}]: no such continuous parameter; "
                                f"ranges exist for: {', '.join(floats)}")
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

    def mappings_for(self, param: str) -> list[Mapping]:
        return [m for m in self._mappings if m.param == param]

    def add_mapping(self, mapping: Mapping) -> None:
        """Add a mapping; it replaces mappings on the same control, and the param's same-kind mapping."""
        self._check_names([mapping])
        with self._lock:
            self._swap(self._replacing(mapping))

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

        kept = [m for m in self._mappings
                if not same_control(m) and not (m.param == new.param and m.kind == new.kind)]
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
        elif param == "slot":
            mapping = Mapping(param, "pads", number, channel)
        else:
            mapping = Mapping(param, "note", number, channel)
        with self._lock:
            self._swap(self._replacing(mapping))
        self.last_bound = mapping
        self._learn = None
        self.learn_version = next_version()

    # -- messages --------------------------------------------------------------------------------------
    def feed(self, message: Sequence[int]) -> None:
        """Handle one rtmidi message (a list of bytes) now, in this thread (tests; not while a port is open)."""
        self._receive(message)
        self._flush()

    def _receive(self, message: Sequence[int]) -> None:
        self.messages += 1
        try:
            for status, d1, d2 in self._parser.feed(message):
                self._handle(status, d1, d2)
        except Exception as e:  # never let one message stop the thread; count and say it once
            self.errors += 1
            self._parser = MidiParser()
            if self.errors == 1:
                self._set_status(f"MIDI: a message failed ({type(e).__name__}: {e}); going on")

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
                if (m.channel is None or m.channel == ch) and 0 <= d1 - m.number < len(self.params.slots):
                    hit = True
                    self.params.select_and_prime(d1 - m.number)
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
            self._pending[name] = u  # knobs and switches: the batch's latest value wins

    def _note(self, name: str, velocity: int) -> None:
        p = self.params.get(name)
        if isinstance(p, Trigger):
            p.fire()
        elif isinstance(p, SwitchParam):
            self._flush()
            p.toggle()
        elif isinstance(p, (FloatParam, IndexParam)):
            self._pending[name] = velocity / 127.0

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

    def open(self, port: str | int = "virtual", api: int | str | None = None) -> str:
        """Listen to ``port`` ("virtual", an index or a name substring); returns what was opened.

        Any port already open is closed first. Errors (no such port, no MIDI API, no JACK server) are
        UserErrors that list the ports.
        """
        self.close_port()
        api_id = api if isinstance(api, int) else choose_api(api)
        midi_in = _make_input(api_id)
        try:
            midi_in.ignore_types(sysex=True, timing=True, active_sense=True)
            midi_in.set_error_callback(self._rtmidi_error)
            if isinstance(port, str) and port.strip().lower() == "virtual":
                if api_id == _api_ids()["winmm"]:
                    raise UserError("virtual MIDI ports are not supported on Windows (WinMM); install "
                                    "loopMIDI and pass its port name")
                midi_in.open_virtual_port(VIRTUAL_PORT)
                self.port_name = None
                opened = f"virtual port {VIRTUAL_PORT!r}"
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
        self._thread = threading.Thread(target=self._run, name="rt-samplernn-midi", daemon=True)
        self._thread.start()
        self._set_status(f"MIDI: listening on {opened} ({api_name(api_id)})", warn=False)
        return opened

    def _rtmidi_error(self, etype: int, text: str, data: Any = None) -> None:
        self._set_status(f"MIDI ({api_name(self.api or 0)}): {text}")

    def _run(self) -> None:
        midi_in = self._midi_in
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
                    self._receive(item[0])
                self._flush()
            except Exception as e:  # rtmidi trouble: report, keep the thread (and playback) alive
                self.errors += 1
                self._pending.clear()
                self._set_status(f"MIDI: {type(e).__name__}: {e}")
                time.sleep(0.05)
            if self.port_name is not None and time.monotonic() >= next_check:
                next_check = time.monotonic() + self.port_check_s
                self._check_port()
            if n == 0:
                time.sleep(self.poll_s)

    def _check_port(self) -> None:
        try:
            ports = list(self._midi_in.get_ports())
        except Exception as e:
            if self.connected:
                self.connected = False
                self._set_status(f"MIDI port {self.port_name!r}: lost ({e}); playback goes on")
            return
        if self.connected and self.port_name not in ports:
            self.connected = False
            try:
                self._midi_in.close_port()
            except Exception:
                pass
            self._set_status(f"MIDI port {self.port_name!r} vanished; playback goes on; it reconnects "
                             "when the port comes back")
        elif not self.connected and self.port_name in ports:
            try:
                self._midi_in.open_port(ports.index(self.port_name), "midi_in")
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


# --------------------------------------------------------------------------------------------------
# `rt-samplernn play`
# --------------------------------------------------------------------------------------------------
def add_midi_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --midi, --midi-map, --midi-channel, --midi-api and --seed-slot to a command's parser."""
    g = parser.add_argument_group("MIDI control")
    g.add_argument("--midi", metavar="PORT", default=None,
                   help="MIDI input: a port name substring, an index, or 'virtual' (a port named "
                        f"{VIRTUAL_PORT!r} for other programs to connect to)")
    g.add_argument("--midi-map", metavar="FILE", default=None,
                   help=f"MIDI map (TOML or JSON); without it: {default_map_path()} if it exists, else "
                        "CC 1 temperature, CC 7 gain, CC 21.. voice temperatures, CC 102/103/104 "
                        "prime/reset/watchdog, pads from note 36")
    g.add_argument("--midi-channel", metavar="N", type=int, default=None,
                   help="only listen to MIDI channel N (1..16); without it: the map's channel (omni)")
    g.add_argument("--midi-api", choices=API_NAMES, default="auto",
                   help="rtmidi API (auto: CoreMIDI, WinMM, ALSA; JACK where there is no ALSA sequencer)")
    g.add_argument("--seed-slot", metavar="FILE", action="append", default=[],
                   help="an audio file for the next seed slot (repeatable): pads/notes select and prime")


def attach(control: LiveControl, player: Any) -> None:
    """Make ``player`` call ``control.tick(frames)`` on its worker before every block."""
    hook = getattr(player, "add_block_hook", None)
    if not callable(hook):
        raise UserError("this player has no add_block_hook(fn); MIDI control needs one (rt_samplernn.stream.Player)")
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
    params = Parameters(voices=voices, slot_count=max(8, len(slot_files)))
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
    print(f"MIDI: listening on {opened}; map: {map_path if map_arg or map_path.exists() else 'default'}",
          file=sys.stderr)
    return controller


__all__ = [
    "CLIENT_NAME", "VIRTUAL_PORT", "API_NAMES", "choose_api", "api_name", "list_input_ports", "find_port",
    "MidiParser", "Mapping", "MidiMap", "default_map", "config_dir", "default_map_path", "map_to_dict",
    "map_from_dict", "dumps_toml", "save_map", "load_map", "MidiController", "add_midi_arguments",
    "attach", "start_from_args",
]
