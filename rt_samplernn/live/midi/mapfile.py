"""MIDI maps: `Mapping`, `MidiMap`, the default map, and reading and writing map files (TOML or JSON)."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rt_samplernn.atomic import write_atomically, write_error
from rt_samplernn.errors import UserError
from rt_samplernn.live.declarations import declared
from rt_samplernn.live.params import DECLARATIONS, MAX_VOICE_CONTROLS, PARAMETERS, FloatSpec, is_voice_name
from rt_samplernn.structured import read_structured

MAP_VERSION = 2  # 2: voices named from 1 (temperature.1 is the first voice); 1: from 0 (still read)
SUPPORTED_VERSIONS = (1, 2)
KINDS = ("cc", "note", "pads")
PAD_PARAMS = tuple(d.name for d in PARAMETERS if d.kind in ("index", "pick"))  # what a row of pads can choose


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
        if self.kind == "pads" and self.param not in PAD_PARAMS:
            raise UserError(
                f"pads choose seed slots or bookmarks: param must be one of {', '.join(PAD_PARAMS)}, got {self.param!r}"
            )

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
        what = "" if self.param == "slot" else f" ({DECLARATIONS[self.param].label.lower()})"
        return f"pads from note {self.number}{ch}{what}"

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
    """The map used when none is saved: each declared parameter's default binding (rt_samplernn.live.params),
    and per-voice knobs for up to `MAX_VOICE_CONTROLS` voices when there are several."""
    m = []
    for d in declared():
        if d.midi is not None:
            m.append(Mapping(d.name, *d.midi))
        if d.per_voice and d.voice_cc is not None and voices > 1:
            m += [
                Mapping(d.voice_name(v), "cc", d.voice_cc + v - 1)
                for v in range(1, min(voices, MAX_VOICE_CONTROLS) + 1)
            ]
    return MidiMap(tuple(m))


def describe_default_map() -> str:
    """The default map in words, for --help: 'CC 1 temperature, CC 21.. voice temperatures, ...'."""
    words = []
    for d in declared():
        if d.midi is not None:
            kind, number = d.midi
            pads = f"pads from note {number}" + ("" if d.name == "slot" else f" {d.name}")
            words.append(pads if kind == "pads" else f"{kind.upper()} {number} {d.name}")
        if d.per_voice and d.voice_cc is not None:
            words.append(f"CC {d.voice_cc}.. {d.name} of voice 1..")
    return ", ".join(words)


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
            name: {
                "minimum": s.minimum,
                "maximum": s.maximum,
                "default": s.default,
                "curve": s.curve,
                "power": s.power,
                "smoothing_ms": s.smoothing_ms,
            }
            for name, s in m.specs.items()
        }
    out["mapping"] = [
        {
            "param": x.param,
            x.kind: x.number,
            "channel": _channel_out(x.channel, "any"),
            **({"fourteen_bit": True} if x.fourteen_bit else {}),
        }
        for x in m.mappings
    ]
    return out


def map_from_dict(d: Any, where: str = "MIDI map") -> MidiMap:
    """Check and convert the file form; errors name the file, the entry and the valid choices."""
    if not isinstance(d, dict):
        raise UserError(f"{where}: expected a table of settings")
    version = d.get("version", MAP_VERSION)
    if version not in SUPPORTED_VERSIONS:
        raise UserError(
            f"{where}: version {version!r} not supported; supported: {', '.join(map(str, SUPPORTED_VERSIONS))}"
        )
    rename = _voices_from_one if version == 1 else (lambda name: name)
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
            vals: dict[str, Any] = {
                k: (float(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in s.items()
            }
            if "default" not in vals and "minimum" in vals and "maximum" in vals:
                lo, hi = vals["minimum"], vals["maximum"]
                vals["default"] = (lo + hi) / 2 if isinstance(lo, float) and isinstance(hi, float) else lo
            specs[rename(name)] = FloatSpec(**vals)
        except TypeError as err:
            raise UserError(f"{where}: params.{name}: {err}; keys: {', '.join(spec_keys)}") from None
        except UserError as err:
            raise UserError(f"{where}: params.{name}: {err}") from None
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
            raise UserError(
                f'{here}: needs param = "name" and exactly one of cc / note / pads (optional: channel, fourteen_bit)'
            )
        fourteen = e.get("fourteen_bit", False)
        if not isinstance(fourteen, bool):
            raise UserError(f"{here}: fourteen_bit must be true or false")
        try:
            mappings.append(
                Mapping(
                    rename(e["param"]),
                    kinds[0],
                    e[kinds[0]],
                    _channel_in(e.get("channel", "any"), here, ("any", "omni")),
                    fourteen,
                )
            )
        except UserError as err:
            raise UserError(f"{here}: {err}") from None
    return MidiMap(tuple(mappings), channel, specs, tuple(slots))


def _voices_from_one(name: str) -> str:
    """A version-1 file's voice name (from 0: 'temperature.0') as it is named now ('temperature.1')."""
    base, dot, voice = name.partition(".")
    if dot and voice.isdigit() and is_voice_name(f"{base}.1"):
        return f"{base}.{int(voice) + 1}"
    return name


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


def _toml_header() -> str:
    names = ", ".join(d.name + (f", {d.name}.N (voice N, from 1)" if d.per_voice else "") for d in declared())
    ranges = ", ".join(d.name for d in declared() if d.kind == "float")
    return f"""\
# rt-samplernn MIDI map: `rt-samplernn play --midi PORT --midi-map THIS_FILE`. Edit freely.
# channel: "omni" or 1..16 (only that channel is heard). Each [[mapping]]: param = a parameter
# ({names}), one of cc = N / note = N /
# pads = N (notes N, N+1, ... select seed slots 1, 2, ... and prime), channel = "any" or 1..16, and
# fourteen_bit = true to pair CC N (0..31) with its LSB CC N+32.
# [params.NAME] ({ranges}): range (minimum, maximum), default, curve ("linear" or "log"), power
# (knob position u -> u**power), smoothing_ms (ramp time of a full-range jump). slots: seed files.
"""


def dumps_toml(d: dict[str, Any]) -> str:
    """The tiny TOML writer for map dicts: scalars and lists, tables of tables, arrays of tables."""
    lines = [_toml_header().rstrip("\n")]
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(path, "the MIDI map", e) from None
    write_atomically(path, text.encode("utf-8"), "the MIDI map")
    return path


def load_map(path: str | Path) -> MidiMap:
    """Read a map file (TOML, or JSON for .json); a UserError names the file and the problem."""
    d = read_structured(path, "MIDI map file")
    return map_from_dict(d, str(path))
