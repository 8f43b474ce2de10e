"""The model box (the open model's config, the voice count) and the voices panel: one dial per knob.

The dials are built from the session's `knobs()` (the declared float parameters and their voices' cells):
a new float parameter in rt_samplernn.live.params.PARAMETERS gets a dial here with no change.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QCheckBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout

from rt_samplernn.gui.panels import Host
from rt_samplernn.gui.settings import MAX_VOICES
from rt_samplernn.gui.widgets import ParamDial


class ModelBox(QGroupBox):
    """The open model's config rows and the voice count (``on_voices(n)`` when the performer changes it)."""

    def __init__(self, host: Host, on_voices: Callable[[int], object]) -> None:
        super().__init__("Model")
        self.host = host
        self.setFixedWidth(300)
        lay = QVBoxLayout(self)
        self.config_form = QFormLayout()
        self.config_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.config_form.setVerticalSpacing(2)
        lay.addLayout(self.config_form)
        row = QHBoxLayout()
        row.addWidget(QLabel("Voices"))
        self.voices_spin = QSpinBox()
        self.voices_spin.setRange(1, MAX_VOICES)
        self.voices_spin.setToolTip("voices generated at once, batched in one engine (one temperature dial each)")
        self.voices_spin.setValue(host.session.voices_wanted)
        self.voices_spin.editingFinished.connect(
            lambda: (
                on_voices(self.voices_spin.value()) if self.voices_spin.value() != host.session.voices_wanted else None
            )
        )
        row.addWidget(self.voices_spin)
        self.full_range_box = QCheckBox("Full range")
        self.full_range_box.setToolTip(
            "temperature and tail-cut knobs over their whole declared ranges; off: over the range the bundle "
            "measured as musical (`export` writes it)"
        )
        self.full_range_box.setChecked(host.session.full_range)
        self.full_range_box.toggled.connect(host.session.set_full_range)
        row.addWidget(self.full_range_box)
        row.addStretch(1)
        lay.addLayout(row)

    def show_model(self) -> None:
        while self.config_form.rowCount():
            self.config_form.removeRow(0)
        for key, value in self.host.session.config_items():
            label = QLabel(str(value))
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.config_form.addRow(key, label)


class VoicesPanel(QGroupBox):
    """One `ParamDial` per knob; ``poll_fast`` moves a dial when its parameter changed elsewhere (MIDI)."""

    def __init__(self, host: Host) -> None:
        super().__init__("Voices")
        self.host = host
        self.dials: dict[str, ParamDial] = {}
        self._versions: dict[str, int] = {}
        self.row = QHBoxLayout(self)
        self.row.setSpacing(6)

    def build(self) -> None:
        """(Re)build the dials for the open model's knobs."""
        for dial in self.dials.values():
            dial.setParent(None)
            dial.deleteLater()
        self.dials.clear()
        self._versions.clear()
        session = self.host.session
        for knob in session.knobs():
            state = session.knob(knob.name)
            dial = ParamDial(knob.name, knob.title, state.position, state.text)
            dial.setToolTip(knob.tooltip)
            dial.moved.connect(lambda u, n=knob.name: self._on_dial(n, u))
            dial.learnToggled.connect(lambda on, n=knob.name: self.host.learn(n if on else None))
            self.row.addWidget(dial)
            self.dials[knob.name] = dial
            self._versions[knob.name] = state.version

    def _on_dial(self, name: str, u: float) -> None:
        """A drag: the same write a MIDI knob makes, then show the value asked for."""
        state = self.host.session.turn(name, u)
        self._versions[name] = state.version
        self.dials[name].set_text(state.text)

    def poll_fast(self) -> None:
        session = self.host.session
        for name, dial in self.dials.items():
            state = session.knob(name)
            if self._versions.get(name) != state.version:
                self._versions[name] = state.version
                dial.set_position(state.position, state.text)

    def show_mappings(self, by_name: dict[str, list[str]]) -> None:
        for name, dial in self.dials.items():
            dial.set_mapping_text(", ".join(by_name.get(name, [])))
