"""The tempo panel: the BPM (typed or tapped), where the tempo comes from, the beat, the loop on the beat, where a
pad lands (quantize), and the MIDI clock to follow.

The tempo and the loop are the session's (`rt_samplernn.gui.session_fx.SessionFx`): the same `Tempo`,
`Loop` and `TempoLocked` producer `play --bpm --loop-beats --loop-variation --loop-align --quantize --midi-clock`
builds. The BPM field is the ``tempo.bpm`` knob: it writes it as OSC ``/tempo/bpm`` and a MIDI control do, and
shows what they asked for (or the followed clock's tempo); the variation box is the ``loop.variation`` knob the
same way (OSC ``/loop/variation``). A running MIDI clock (24 pulses a beat) takes the tempo over while it sends;
the source line says which one plays.
"""

from __future__ import annotations

import time

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
)

from rt_samplernn.errors import UserError
from rt_samplernn.gui.panels import Host
from rt_samplernn.gui.session_fx import VIRTUAL_CLOCK_CHOICE
from rt_samplernn.gui.session_midi import input_ports
from rt_samplernn.gui.widgets import BeatLights
from rt_samplernn.live.tempo import LOOP_ALIGNS, MAX_BPM, MIN_BPM, QUANTIZE_BEATS

MAX_LOOP_BEATS = 64
CLOCK_OFF = "no MIDI clock"
QUANTIZE_TIPS = {
    "beat": "a pad's recall or prime lands on the next beat",
    "bar": "a pad's recall or prime lands on the next bar (4 beats)",
    "off": "a pad's recall or prime lands at once (the next block)",
}
LOOP_ALIGN_TEXTS = {"onset": "attack on the beat", "start": "start on the beat"}
LOOP_ALIGN_TIPS = {
    "onset": "the loop's strongest attack falls on the beat: its first pass is heard and measured, then each "
    "recall comes that much early",
    "start": "each recall starts on the beat itself: the attack comes as late as the sound takes to build",
}


class TempoPanel(QGroupBox):
    """``bpm_spin`` and ``tap_button``; ``source_label``; ``beat_lights``; the loop's ``beats_spin``,
    ``variation_spin``, ``align_combo`` (what lands on the beat) and ``loop_button`` (start/stop);
    ``quantize_combo``; ``clock_combo`` (the clock's port)."""

    def __init__(self, host: Host) -> None:
        super().__init__("Tempo")
        self.host = host
        fx = host.session.fx
        self.bpm_spin = QDoubleSpinBox()
        self.bpm_spin.setRange(MIN_BPM, MAX_BPM)
        self.bpm_spin.setDecimals(1)
        self.bpm_spin.setSingleStep(0.5)
        self.bpm_spin.setSuffix(" BPM")
        self.bpm_spin.setKeyboardTracking(False)  # a typed tempo applies on Enter, not at each digit
        self.bpm_spin.setToolTip(
            "the tempo by hand (tempo.bpm: OSC /tempo/bpm, MIDI learn); a running MIDI clock overrides it"
        )
        self.bpm_spin.valueChanged.connect(self.set_bpm)
        self.tap_button = QPushButton("Tap")
        self.tap_button.setToolTip("tap the beat: the tempo of the last taps")
        self.tap_button.clicked.connect(lambda: self.tap(time.monotonic()))
        self.source_label = QLabel(fx.tempo_text())
        self.source_label.setObjectName("latencyLabel")
        self.beat_lights = BeatLights(4)
        self.beat_label = QLabel("—")
        self.beat_label.setObjectName("latencyLabel")
        self.beats_spin = QSpinBox()
        self.beats_spin.setRange(1, MAX_LOOP_BEATS)
        self.beats_spin.setSuffix(" beats")
        self.beats_spin.setToolTip("the loop goes back to the state of its first beat every this many beats")
        self.variation_spin = QDoubleSpinBox()
        self.variation_spin.setRange(0.0, 1.0)
        self.variation_spin.setSingleStep(0.05)
        self.variation_spin.setDecimals(2)
        self.variation_spin.setToolTip(
            "the chance a due recall is skipped, so the voice drifts on (0: every recall); "
            "loop.variation: OSC /loop/variation, MIDI learn"
        )
        self.align_combo = QComboBox()
        for i, align in enumerate(LOOP_ALIGNS):
            self.align_combo.addItem(LOOP_ALIGN_TEXTS[align], align)
            self.align_combo.setItemData(i, LOOP_ALIGN_TIPS[align], Qt.ItemDataRole.ToolTipRole)
        self.align_combo.setToolTip(
            "what of the loop lands on the beat: its strongest attack (a recall comes early by the time the sound "
            "takes to hit), or its start"
        )
        self.loop_button = QPushButton("▶  Loop")
        self.loop_button.setObjectName("startButton")
        self.loop_button.setCheckable(True)
        self.loop_button.setToolTip("start or stop the loop on the beat (starting takes the state of the next beat)")
        self.quantize_combo = QComboBox()
        for i, name in enumerate(QUANTIZE_BEATS):
            self.quantize_combo.addItem(name)
            self.quantize_combo.setItemData(i, QUANTIZE_TIPS[name], Qt.ItemDataRole.ToolTipRole)
        self.quantize_combo.setToolTip("where a pad's bookmark recall or seed prime lands while playing")
        self.clock_combo = QComboBox()
        self.clock_combo.setToolTip("follow the tempo of another program's MIDI clock on this port")
        self.clock_combo.activated.connect(lambda i: self.open_clock(None if i <= 0 else self.clock_combo.itemText(i)))
        clock_refresh = QPushButton("↻")
        clock_refresh.setFixedWidth(30)
        clock_refresh.setToolTip("rescan MIDI ports")
        clock_refresh.clicked.connect(self.refresh_clock_ports)
        self.show_settings()
        self.loop_button.toggled.connect(lambda _: self.apply_loop())
        self.beats_spin.valueChanged.connect(lambda _: self.apply_loop())
        self.variation_spin.valueChanged.connect(lambda _: self.apply_loop())
        self.align_combo.currentIndexChanged.connect(lambda _: self.apply_loop())
        self.quantize_combo.currentTextChanged.connect(self.set_quantize)

        grid = QGridLayout(self)
        grid.setVerticalSpacing(6)
        row = QHBoxLayout()
        row.addWidget(self.bpm_spin)
        row.addWidget(self.tap_button)
        row.addStretch(1)
        row.addWidget(self.beat_lights)
        row.addWidget(self.beat_label)
        grid.addLayout(row, 0, 0, 1, 2)
        grid.addWidget(self.source_label, 1, 0, 1, 2)
        loop = QHBoxLayout()
        loop.addWidget(QLabel("Loop every"))
        loop.addWidget(self.beats_spin)
        loop.addWidget(QLabel("variation"))
        loop.addWidget(self.variation_spin)
        grid.addLayout(loop, 2, 0, 1, 2)
        lands = QHBoxLayout()
        lands.addWidget(QLabel("Loop lands"))
        lands.addWidget(self.align_combo, 1)
        grid.addLayout(lands, 3, 0, 1, 2)
        grid.addWidget(self.loop_button, 4, 0, 1, 2)
        pads = QHBoxLayout()
        pads.addWidget(QLabel("Pads land"))
        pads.addWidget(self.quantize_combo)
        pads.addWidget(self.clock_combo, 1)
        pads.addWidget(clock_refresh)
        grid.addLayout(pads, 5, 0, 1, 2)
        grid.setRowStretch(6, 1)

    def show_settings(self) -> None:
        """The session's tempo, loop, quantize and clock in the controls (at the start and after a bundle opens:
        the flags' and the session file's), without writing them back."""
        fx = self.host.session.fx
        widgets = (self.beats_spin, self.variation_spin, self.align_combo, self.loop_button, self.quantize_combo)
        for widget in widgets:
            widget.blockSignals(True)
        self.beats_spin.setValue(fx.loop_beats)
        self.variation_spin.setValue(fx.loop_variation)
        self.align_combo.setCurrentIndex(self.align_combo.findData(fx.loop_align))
        self.loop_button.setChecked(fx.loop_on)
        self.quantize_combo.setCurrentText(fx.quantize)
        for widget in widgets:
            widget.blockSignals(False)
        self._show_bpm()
        self._show_loop()
        self.refresh_clock_ports()

    # ------------------------------------------------------------------ the tempo
    def set_bpm(self, bpm: float) -> None:
        try:
            self.host.session.fx.set_bpm(bpm)
        except UserError as e:
            self.host.show_error(str(e))
            return
        self.source_label.setText(self.host.session.fx.tempo_text())

    @staticmethod
    def _follow(spin: QDoubleSpinBox, value: float) -> None:
        """``spin`` shows its knob's ``value`` (a write from OSC, MIDI), unless the performer is typing in it."""
        shown = round(value, spin.decimals())
        if spin.hasFocus() or spin.value() == shown:
            return
        spin.blockSignals(True)  # showing is not asking: no write back
        spin.setValue(shown)
        spin.blockSignals(False)

    def _show_bpm(self) -> None:
        """The field follows ``tempo.bpm`` (OSC, MIDI) or the clock."""
        self._follow(self.bpm_spin, self.host.session.fx.shown_bpm())

    def tap(self, time_s: float) -> None:
        """One tap at ``time_s`` (seconds on any steady clock): from the second on, the tempo of the taps."""
        if self.host.session.fx.tap(time_s) is not None:
            self._show_bpm()
            self.source_label.setText(self.host.session.fx.tempo_text())

    def set_quantize(self, quantize: str) -> None:
        try:
            self.host.session.fx.set_quantize(quantize)
        except UserError as e:
            self.host.show_error(str(e))
            return
        self.host.set_status(QUANTIZE_TIPS.get(quantize, quantize))

    # ------------------------------------------------------------------ the MIDI clock
    def refresh_clock_ports(self) -> None:
        """The clock menu: none, our virtual port, the MIDI inputs there are; the port followed selected."""
        port = self.host.session.fx.clock_port
        current = VIRTUAL_CLOCK_CHOICE if port == "virtual" else port
        self.clock_combo.clear()
        self.clock_combo.addItem(CLOCK_OFF)
        self.clock_combo.addItem(VIRTUAL_CLOCK_CHOICE)
        for name in input_ports():
            self.clock_combo.addItem(name)
        if current and self.clock_combo.findText(current) < 0:
            self.clock_combo.addItem(current)
        self.clock_combo.setCurrentIndex(max(self.clock_combo.findText(current), 0) if current else 0)

    def open_clock(self, port: str | None) -> bool:
        """Follow the MIDI clock on ``port`` (a name, or the virtual port), or stop following (None)."""
        fx = self.host.session.fx
        try:
            opened = fx.open_clock(port)
        except UserError as e:
            self.host.show_error(str(e))
            fx.open_clock(None)
            self.refresh_clock_ports()
            return False
        self.refresh_clock_ports()
        self.host.set_status(f"MIDI clock: following {opened}" if opened else "MIDI clock off")
        return True

    # ------------------------------------------------------------------ the loop
    def apply_loop(self) -> None:
        """The loop's switch, count, variation and alignment to the session (a running loop follows at its next
        beat)."""
        try:
            self.host.session.fx.set_loop(
                self.loop_button.isChecked(),
                self.beats_spin.value(),
                self.variation_spin.value(),
                str(self.align_combo.currentData()),
            )
        except UserError as e:
            self.host.show_error(str(e))
        self._show_loop()

    def _show_loop(self) -> None:
        on = self.host.session.fx.loop_on
        self.loop_button.setText("■  Stop loop" if on else "▶  Loop")
        self.beat_lights.set_count(min(self.beats_spin.value(), 8) if on else 4)

    def poll_fast(self) -> None:
        beat = self.host.session.fx.beat()
        self.beat_lights.set_beat(beat)
        self.beat_label.setText("—" if beat is None else f"beat {beat + 1}")
        self._show_bpm()
        self._follow(self.variation_spin, self.host.session.fx.shown_variation())

    def poll_slow(self) -> None:
        self.source_label.setText(self.host.session.fx.tempo_text())
