"""The window's settings in one place: every key, its type, default and limits, and where they are kept.

QSettings ("rt-samplernn", "gui") unless a file is given (tests and several rigs on one machine pass an
INI file). The default latency is the player's (rt_samplernn.live.player.DEFAULT_LATENCY_MS), the same
as `rt-samplernn play`'s.

The file is checked once, when it is opened, before the window applies anything (`Settings.validate`):
a value of the wrong type or outside its limits (the same limits as the window's own controls), a file
the settings reader cannot parse, or a remembered MIDI map that does not load is dropped; the file as it
was is kept beside it as NAME.bad-YYYYMMDD-HHMMSS, and `notices` says what was dropped (the window shows
it on its status line). The window always starts.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QByteArray, QSettings

from rt_samplernn.live.player import DEFAULT_LATENCY_MS

ORGANIZATION = "rt-samplernn"
APPLICATION = "gui"
MAX_VOICES = 8  # the window's voice count (its spin box and the settings file)
LATENCY_MS_RANGE = (10, 2000)  # the latency spin box, ms
SEED_RANGE = (0, 2**31 - 1)  # the noise seed spin box
SCOPE_MODES = ("scope", "spectrum")


@dataclass(frozen=True)
class Check:
    """What one remembered value must be: its type and a test, in the user's words for the notice."""

    kind: type
    allowed: Callable[[Any], bool]
    what: str


def _whole(low: int, high: int) -> Check:
    return Check(int, lambda v: low <= v <= high, f"a whole number {low}..{high}")


def _json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


ANY_TEXT = Check(str, lambda v: True, "text")
CHECKS: dict[str, Check] = {  # every key the window keeps (seeds/N are text too)
    "bundle": ANY_TEXT,
    "voices": _whole(1, MAX_VOICES),
    "seed": _whole(*SEED_RANGE),
    "device": ANY_TEXT,
    "latency_ms": _whole(*LATENCY_MS_RANGE),
    "record_dir": ANY_TEXT,
    "midi_port": ANY_TEXT,
    "map_path": ANY_TEXT,
    "scope_mode": Check(str, lambda v: v in SCOPE_MODES, f"one of {', '.join(SCOPE_MODES)}"),
    "fx_session": Check(str, _json_object, "a JSON object"),
}


def _convert(raw: Any, kind: type) -> Any:
    """A stored value as kind; ValueError when it is not one (ASCII digits only for numbers)."""
    if kind is int:
        if isinstance(raw, bool) or not isinstance(raw, (int, str)) or not str(raw).strip().isascii():
            raise ValueError(raw)
        return int(str(raw).strip())
    if not isinstance(raw, str):
        raise ValueError(raw)
    return raw


class Settings:
    """Typed access to what the window remembers between runs (``qsettings`` underneath)."""

    def __init__(self, qsettings: QSettings) -> None:
        self.qsettings = qsettings
        self.notices: list[str] = []  # what `validate` dropped, for the window's status line

    def validate(self) -> list[str]:
        """Drop every value that would fail when applied; keep the file as it was beside it; say what went.

        Returns (and keeps in ``notices``) one line per dropped value, naming the file and the key.
        """
        path = Path(self.qsettings.fileName())
        bad: list[tuple[str, str]] = []  # (key, why)
        if self.qsettings.status() != QSettings.Status.NoError:
            bad = [(key, "the file could not be parsed") for key in self.qsettings.allKeys()] or [("*", "unreadable")]
        for key in self.qsettings.allKeys():
            check = CHECKS.get(key, ANY_TEXT if key.startswith("seeds/") else None)
            if check is None:
                continue
            raw = self.qsettings.value(key)
            try:
                ok = check.allowed(_convert(raw, check.kind))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                bad.append((key, f"{str(raw)[:40]!r} is not {check.what}"))
        map_file = self.qsettings.value("map_path", "")
        if isinstance(map_file, str) and map_file and Path(map_file).is_file():
            from rt_samplernn.errors import UserError
            from rt_samplernn.live.midi import load_map

            try:
                load_map(map_file)
            except UserError as e:
                bad.append(("map_path", f"the MIDI map does not load ({str(e)[:120]})"))
        if not bad:
            return []
        kept = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            shutil.copy2(path, kept)
            where = f"the old file is kept as {kept.name}"
        except OSError as e:
            where = f"the old file could not be kept ({e.strerror})"
        for key, _ in bad:
            if key == "*":
                self.qsettings.clear()
            else:
                self.qsettings.remove(key)
        self.qsettings.sync()
        self.notices = [f"{path}: {key}: {why}; dropped ({where})" for key, why in bad]
        return self.notices

    def _get(self, key: str, default: Any, kind: type) -> Any:
        return self.qsettings.value(key, default, type=kind)

    def _set(self, key: str, value: Any) -> None:
        self.qsettings.setValue(key, value)

    # the model
    bundle = property(
        lambda s: s._get("bundle", "", str), lambda s, v: s._set("bundle", str(v)), doc="the bundle folder opened last"
    )
    voices = property(
        lambda s: s._get("voices", 1, int), lambda s, v: s._set("voices", int(v)), doc="voices of the model"
    )
    seed = property(
        lambda s: s._get("seed", 0, int), lambda s, v: s._set("seed", int(v)), doc="the noise seed Reset uses"
    )
    # audio
    device = property(
        lambda s: s._get("device", "", str), lambda s, v: s._set("device", str(v)), doc="the output device's label"
    )
    latency_ms = property(
        lambda s: s._get("latency_ms", int(DEFAULT_LATENCY_MS), int),
        lambda s, v: s._set("latency_ms", int(v)),
        doc="the ring's fill target, ms",
    )
    record_dir = property(
        lambda s: s._get("record_dir", str(Path.home()), str),
        lambda s, v: s._set("record_dir", str(v)),
        doc="where recordings go",
    )
    # MIDI
    midi_port = property(
        lambda s: s._get("midi_port", "", str),
        lambda s, v: s._set("midi_port", str(v or "")),
        doc="the MIDI input used last ('' for none)",
    )
    map_path = property(
        lambda s: s._get("map_path", "", str),
        lambda s, v: s._set("map_path", str(v)),
        doc="the MIDI map file saved or loaded last",
    )
    # the look
    scope_mode = property(
        lambda s: s._get("scope_mode", "scope", str), lambda s, v: s._set("scope_mode", v), doc="'scope' or 'spectrum'"
    )

    @property
    def fx_session(self) -> dict[str, Any] | None:
        """The effects, their knob values, the tempo and the loop of the last session
        (rt_samplernn.gui.session_fx.SessionFx.session_state), or None."""
        text = self._get("fx_session", "", str)
        return json.loads(text) if text else None  # checked to be a JSON object when the file was opened

    @fx_session.setter
    def fx_session(self, state: dict[str, Any]) -> None:
        self._set("fx_session", json.dumps(state, sort_keys=True))

    @property
    def geometry(self) -> QByteArray | None:
        value = self.qsettings.value("geometry")
        return value if isinstance(value, QByteArray) else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._set("geometry", value)

    def seed_file(self, index: int) -> str:
        """The audio file seed slot ``index`` (from 0) held last time, or ''."""
        return str(self._get(f"seeds/{index}", "", str))

    def set_seed_file(self, index: int, path: str | Path) -> None:
        self._set(f"seeds/{index}", str(path))

    @property
    def bookmarks_path(self) -> Path:
        """The session's bookmark slots, beside the settings file: gui.conf -> gui-bookmarks.npz."""
        where = Path(self.qsettings.fileName())
        return where.with_name(f"{where.stem}-bookmarks.npz")

    def sync(self) -> None:
        self.qsettings.sync()


def open_settings(path: str | Path | None = None) -> Settings:
    """The user's settings, or an INI file at `path` (for tests and for several rigs on one machine), checked
    (see `Settings.validate`: bad values dropped, ``notices`` says which)."""
    settings = Settings(
        QSettings(str(path), QSettings.Format.IniFormat) if path is not None else QSettings(ORGANIZATION, APPLICATION)
    )
    settings.validate()  # once, before the window applies anything
    return settings
