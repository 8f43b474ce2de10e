"""The transport bar: the bundle, the output device, the latency setting, Start/Stop and Record."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PyQt6.QtWidgets import QComboBox, QFileDialog, QFrame, QHBoxLayout, QLabel, QPushButton, QSpinBox

from rt_samplernn.errors import UserError
from rt_samplernn.gui.panels import Host
from rt_samplernn.gui.settings import LATENCY_MS_RANGE


class TransportBar(QFrame):
    """Open, output device, latency, Start/Stop, Record; ``toggle_running``/``toggle_recording`` do the work."""

    def __init__(self, host: Host, on_open: Callable[[], object]) -> None:
        super().__init__()
        self.host = host
        self.setObjectName("transport")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        self.open_button = QPushButton("Open bundle…")
        self.open_button.clicked.connect(on_open)
        self.bundle_label = QLabel("no model")
        self.bundle_label.setObjectName("bundleName")
        self.device_combo = QComboBox()
        self.device_combo.setMinimumWidth(220)
        self.device_combo.setToolTip("audio output device")
        refresh = QPushButton("↻")
        refresh.setFixedWidth(30)
        refresh.setToolTip("rescan audio devices (while stopped)")
        refresh.clicked.connect(lambda: self.refresh_devices(rescan=True))
        self.latency_spin = QSpinBox()
        self.latency_spin.setRange(*LATENCY_MS_RANGE)
        self.latency_spin.setSingleStep(10)
        self.latency_spin.setSuffix(" ms")
        self.latency_spin.setValue(host.settings.latency_ms)
        self.latency_spin.setToolTip(
            "ring fill target: how far generation runs ahead of the speaker; a knob is "
            "heard about this plus half a chunk plus the device's latency later (the "
            "meters show that figure); applied at the next start"
        )
        self.start_button = QPushButton("▶  Start")
        self.start_button.setObjectName("startButton")
        self.start_button.setToolTip("start or stop the audio (Space)")
        self.start_button.setCheckable(True)
        self.start_button.clicked.connect(self.toggle_running)
        self.record_button = QPushButton("●  Record")
        self.record_button.setObjectName("recordButton")
        self.record_button.setToolTip("record the output to a WAV file in the recording folder (Ctrl+R)")
        self.record_button.setCheckable(True)
        self.record_button.clicked.connect(lambda on: self.toggle_recording(on))
        lay.addWidget(self.open_button)
        lay.addWidget(self.bundle_label, 1)
        lay.addWidget(QLabel("Output"))
        lay.addWidget(self.device_combo)
        lay.addWidget(refresh)
        lay.addSpacing(10)
        lay.addWidget(QLabel("Latency"))
        lay.addWidget(self.latency_spin)
        lay.addSpacing(10)
        lay.addWidget(self.start_button)
        lay.addWidget(self.record_button)

    # ------------------------------------------------------------------ devices
    def refresh_devices(self, rescan: bool = False) -> None:
        """Fill the output list (``rescan``: ask PortAudio again, for devices that appeared; while stopped)."""
        current = self.device_combo.currentText() or self.host.settings.device
        self.device_combo.clear()
        self.device_combo.addItem("default output", None)
        for index, name in self.host.session.audio_devices(rescan=rescan):
            self.device_combo.addItem(name, index)
        i = self.device_combo.findText(current)
        self.device_combo.setCurrentIndex(max(i, 0))

    def select_device(self, device: str | int) -> bool:
        """Pick the output by index or name substring; False and a message naming the choices if none matches."""
        combo = self.device_combo
        matchers: tuple[Callable[[int], bool], ...] = (
            lambda i: str(device) == str(combo.itemData(i)),
            lambda i: str(device).lower() in combo.itemText(i).lower(),
        )
        for match in matchers:
            for i in range(1, combo.count()):
                if match(i):
                    combo.setCurrentIndex(i)
                    return True
        names = ", ".join(combo.itemText(i) for i in range(1, combo.count()))
        self.host.show_error(f"device {device!r} not found; outputs: {names or 'none'}")
        return False

    # ------------------------------------------------------------------ start / stop
    def toggle_running(self, on: bool) -> None:
        """Start (on) or stop the audio; the button follows what really happened."""
        session = self.host.session
        if on and not session.running:
            if not session.has_model:
                self.host.show_error("open a bundle first")
            else:
                try:
                    session.start(self.device_combo.currentData(), float(self.latency_spin.value()))
                    self.host.set_status(f"playing on {self.device_combo.currentText()}")
                except UserError as e:
                    self.host.show_error(str(e))
        elif not on and session.running:
            if session.recording:
                self.toggle_recording(False)
            session.stop()
            self.host.set_status("stopped")
        self.sync_running()
        self.host.settings.device = self.device_combo.currentText()
        self.host.settings.latency_ms = self.latency_spin.value()

    def sync_running(self) -> None:
        """Show what the session is doing (the player may have stopped by itself: device lost, error)."""
        on = self.host.session.running
        self.start_button.setChecked(on)
        self.start_button.setText("■  Stop" if on else "▶  Start")
        if not self.host.session.recording:
            self.record_button.setChecked(False)
            self.record_button.setText("●  Record")

    # ------------------------------------------------------------------ recording
    def choose_record_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Record into", self.host.settings.record_dir)
        if path:
            self.host.settings.record_dir = path

    def toggle_recording(self, on: bool, path: str | Path | None = None) -> None:
        """Start recording the output to a WAV file (default: a timestamped name in the record folder), or stop."""
        session = self.host.session
        if on and not session.recording:
            if not session.running:
                self.host.show_error("start the audio first, then record")
            else:
                path = (
                    Path(path)
                    if path
                    else (Path(self.host.settings.record_dir) / time.strftime("rt-samplernn-%Y%m%d-%H%M%S.wav"))
                )
                try:
                    session.start_recording(path)
                    self.host.set_status(f"recording to {path}")
                except UserError as e:
                    self.host.show_error(str(e))
        elif not on and session.recording:
            path, seconds = session.stop_recording()
            self.host.set_status(f"recorded {seconds:.1f} s to {path}")
        rec = session.recording
        self.record_button.setChecked(rec)
        self.record_button.setText("■  Stop rec" if rec else "●  Record")

    def poll_slow(self) -> None:
        seconds = self.host.session.recording_seconds
        if seconds:
            self.record_button.setText(f"■  Stop rec  {seconds:.0f} s")
        if self.start_button.isChecked() != self.host.session.running:
            self.sync_running()
