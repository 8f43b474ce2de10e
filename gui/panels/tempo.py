"""The tempo panel: the BPM (typed or tapped), where the tempo comes from, the beat, and the loop on the beat.

The tempo and the loop are the session's (`rt_samplernn.gui.session_fx.SessionFx`): the same `Tempo`,
`Loop` and `TempoLocked` producer `play --bpm --loop-beats --loop-variation` builds. A running MIDI clock
(24 pulses a beat) takes the tempo over while it sends; the source line says which one plays.
"""

from __future__ import annotations

import time

from PyQt6.QtWidgets import QDoubleSpinBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSpinBox

from rt_samplernn.errors import UserError
from rt_samplernn.gui.panels import Host
from rt_samplernn.gui.widgets import BeatLights
from rt_samplernn.live.tempo import MAX_BPM, MIN_BPM

MAX_LOOP_BEATS = 64


class TempoPanel(QGroupBox):
    """``bpm_spin`` and ``tap_button``; ``source_label``; ``beat_lights``; the loop's ``beats_spin``,
    ``variation_spin`` and ``loop_button`` (start/stop)."""

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
        self.bpm_spin.setValue(fx.tempo.manual_bpm)
        self.bpm_spin.setToolTip("the tempo by hand; a running MIDI clock overrides it while it sends")
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
        self.beats_spin.setValue(fx.loop_beats)
        self.beats_spin.setSuffix(" beats")
        self.beats_spin.setToolTip("the loop goes back to the state of its first beat every this many beats")
        self.variation_spin = QDoubleSpinBox()
        self.variation_spin.setRange(0.0, 1.0)
        self.variation_spin.setSingleStep(0.05)
        self.variation_spin.setDecimals(2)
        self.variation_spin.setValue(fx.loop_variation)
        self.variation_spin.setToolTip("the chance a due recall is skipped, so the voice drifts on (0: every recall)")
        self.loop_button = QPushButton("▶  Loop")
        self.loop_button.setObjectName("startButton")
        self.loop_button.setCheckable(True)
        self.loop_button.setChecked(fx.loop_on)
        self.loop_button.setToolTip("start or stop the loop on the beat (starting takes the state of the next beat)")
        self.loop_button.toggled.connect(lambda _: self.apply_loop())
        self.beats_spin.valueChanged.connect(lambda _: self.apply_loop())
        self.variation_spin.valueChanged.connect(lambda _: self.apply_loop())

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
        grid.addWidget(self.loop_button, 3, 0, 1, 2)
        grid.setRowStretch(4, 1)
        self._show_loop()

    def set_bpm(self, bpm: float) -> None:
        try:
            self.host.session.fx.set_bpm(bpm)
        except UserError as e:
            self.host.show_error(str(e))
            return
        self.source_label.setText(self.host.session.fx.tempo_text())

    def tap(self, time_s: float) -> None:
        """One tap at ``time_s`` (seconds on any steady clock): from the second on, the tempo of the taps."""
        bpm = self.host.session.fx.tap(time_s)
        if bpm is not None:
            self.bpm_spin.blockSignals(True)
            self.bpm_spin.setValue(self.host.session.fx.tempo.manual_bpm)
            self.bpm_spin.blockSignals(False)
            self.source_label.setText(self.host.session.fx.tempo_text())

    def apply_loop(self) -> None:
        """The loop's switch, count and variation to the session (a running loop follows at its next beat)."""
        try:
            self.host.session.fx.set_loop(
                self.loop_button.isChecked(), self.beats_spin.value(), self.variation_spin.value()
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

    def poll_slow(self) -> None:
        fx = self.host.session.fx
        self.source_label.setText(fx.tempo_text())
