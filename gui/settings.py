"""The window's settings in one place: every key, its type and default, and where they are kept.

QSettings ("rt-samplernn", "gui") unless a file is given (tests and several rigs on one machine pass an
INI file). The default latency is the player's (rt_samplernn.live.player.DEFAULT_LATENCY_MS), the same
as `rt-samplernn play`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import QByteArray, QSettings

from rt_samplernn.live.player import DEFAULT_LATENCY_MS

ORGANIZATION = "rt-samplernn"
APPLICATION = "gui"


class Settings:
    """Typed access to what the window remembers between runs (``qsettings`` underneath)."""

    def __init__(self, qsettings: QSettings) -> None:
        self.qsettings = qsettings

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
    """The user's settings, or an INI file at `path` (for tests and for several rigs on one machine)."""
    if path is not None:
        return Settings(QSettings(str(path), QSettings.Format.IniFormat))
    return Settings(QSettings(ORGANIZATION, APPLICATION))
