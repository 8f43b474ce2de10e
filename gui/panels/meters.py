"""The meters panel: one bar per declared meter (rt_samplernn.live.meters.METERS) and the watchdog switch.

Readings come from `LiveSession.meters()`; a new meter declared there gets a bar here with no change.
"""

from __future__ import annotations

from PyQt6.QtWidgets import QCheckBox, QGroupBox, QHBoxLayout, QVBoxLayout

from rt_samplernn.gui.panels import Host, learn_button
from rt_samplernn.gui.widgets import LevelMeter
from rt_samplernn.live.meters import METERS


class MetersPanel(QGroupBox):
    """Bars for every meter (``bars`` by meter name); fast meters redraw at the scope's rate, others once a second."""

    def __init__(self, host: Host) -> None:
        super().__init__("Meters")
        self.host = host
        lay = QVBoxLayout(self)
        lay.setSpacing(5)
        self.bars: dict[str, LevelMeter] = {}
        for m in METERS:
            bar = LevelMeter(m.label, warn=m.warn, alarm=m.alarm, invert=m.low_is_bad)
            bar.setToolTip(m.tip)
            self.bars[m.name] = bar
            lay.addWidget(bar)
        row = QHBoxLayout()
        self.watchdog_check = QCheckBox("watchdog: re-prime when the output collapses")
        self.watchdog_check.setChecked(host.session.switch("watchdog"))
        self.watchdog_check.toggled.connect(lambda on: host.session.set_switch("watchdog", on))
        row.addWidget(self.watchdog_check, 1)
        self.learn_buttons = {"watchdog": learn_button(host, "watchdog")}
        row.addWidget(self.learn_buttons["watchdog"])
        lay.addLayout(row)
        lay.addStretch(1)

    def show_readings(self, fast_only: bool) -> None:
        for name, reading in self.host.session.meters(fast_only).items():
            self.bars[name].set_level(reading.fraction, reading.text)

    def poll_fast(self) -> None:
        self.show_readings(fast_only=True)
        on = self.host.session.switch("watchdog")
        if self.watchdog_check.isChecked() != on:
            self.watchdog_check.blockSignals(True)
            self.watchdog_check.setChecked(on)
            self.watchdog_check.blockSignals(False)

    def poll_slow(self) -> None:
        self.show_readings(fast_only=False)
