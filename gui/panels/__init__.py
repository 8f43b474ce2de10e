"""The window's panels, one per file: transport, model and voices (knobs), seeds, MIDI, meters.

Each panel builds its widgets and does its own work through the `Host` (the window): the session, the
settings, the status line and MIDI learn. Panels never touch the engine, the player or parameter cells.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from PyQt6.QtWidgets import QPushButton

if TYPE_CHECKING:
    from rt_samplernn.gui.session import LiveSession
    from rt_samplernn.gui.settings import Settings


class Host(Protocol):
    """What a panel may ask of the window."""

    session: LiveSession
    settings: Settings

    def set_status(self, text: str) -> None: ...
    def show_error(self, text: str) -> None: ...
    def learn(self, name: str | None) -> None: ...


def learn_button(host: Host, name: str) -> QPushButton:
    """A checkable 'learn' button that arms MIDI learn for parameter ``name`` (unchecked: cancels)."""
    b = QPushButton("learn")
    b.setCheckable(True)
    b.setObjectName("learnButton")
    b.setToolTip("MIDI learn: click, then move a knob or press a key on your controller")
    b.toggled.connect(lambda on: host.learn(name if on else None))
    return b
