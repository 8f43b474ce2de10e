"""The meters panel: one bar per declared meter (rt_samplernn.live.meters.METERS), the limiter, the watchdog switch.

Readings come from `LiveSession.meters()`; a new meter declared there gets a bar here with no change. The
limiter's gain reduction and the effect chains' latency and cost per voice come from the session's effects
(`rt_samplernn.gui.session_fx.SessionFx.reading`).
"""

from __future__ import annotations

from PyQt6.QtWidgets import QCheckBox, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout

from rt_samplernn.gui.panels import Host, learn_button
from rt_samplernn.gui.widgets import LevelMeter
from rt_samplernn.live.meters import METERS

LIMITER_FULL_DB = 12.0  # the limiter bar's full scale: this much gain reduction
LIMITER_WARN_DB = 3.0


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
        self.limiter_bar = LevelMeter("Limiter", warn=LIMITER_WARN_DB / LIMITER_FULL_DB, alarm=0.5)
        self.limiter_bar.setToolTip(
            "how far the master limiter brought the last block's peak down (dB); off: no limiter on the master"
        )
        lay.addWidget(self.limiter_bar)
        self.fx_label = QLabel("effects: —")
        self.fx_label.setObjectName("latencyLabel")
        self.fx_label.setWordWrap(True)
        self.fx_label.setToolTip("the effect chains: the delay they add, and their time per block, per chain")
        lay.addWidget(self.fx_label)
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
        fx = self.host.session.fx.reading()
        reduction = None if fx is None else fx.gain_reduction_db
        if reduction is None:
            self.limiter_bar.set_level(0.0, "off")
        else:
            self.limiter_bar.set_level(reduction / LIMITER_FULL_DB, f"-{reduction:.1f} dB" if reduction else "0.0 dB")
        if fx is not None and not fast_only:
            voices = "/".join(f"{ms:.2f}" for ms in fx.voice_cost_ms)
            self.fx_label.setText(
                f"effects: latency {fx.latency_ms:.1f} ms · voices {voices} · master {fx.master_cost_ms:.2f}"
                f" ms per {fx.block_ms:.0f} ms block"
            )

    def poll_fast(self) -> None:
        self.show_readings(fast_only=True)
        on = self.host.session.switch("watchdog")
        if self.watchdog_check.isChecked() != on:
            self.watchdog_check.blockSignals(True)
            self.watchdog_check.setChecked(on)
            self.watchdog_check.blockSignals(False)

    def poll_slow(self) -> None:
        self.show_readings(fast_only=False)
