"""The performance window: model, audio, voices, seeds, MIDI, meters and a live scope on one screen.

Threads: everything here runs in the Qt main thread. The engine generates in the player's worker thread,
MIDI lands in the parameter cells (rt_samplernn.live.params) on the MIDI thread, and neither ever calls Qt.
The window polls: a fast timer (DRAW_MS) moves each dial when its parameter's version changed, follows
MIDI learn and the selected seed slot, fills the ring meter and redraws the scope; a slow timer
(TEXT_MS) updates the counters' text, the mapping list and the status line. A dial drag calls the same
`FloatParam.set_normalized` a MIDI knob calls, so both reach the engine the same way (at the next block).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QSettings, Qt, QTimer
from PyQt6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShortcut,
)
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from rt_samplernn.gui.session import SEED_SLOTS, VIRTUAL_PORT, LiveSession
from rt_samplernn.gui.widgets import (
    LevelMeter,
    ParamDial,
    ScopeView,
    SeedSlot,
    dropped_paths,
)

from rt_samplernn.errors import UserError

DRAW_MS = 16  # dials, learn state, ring meter, scope
TEXT_MS = 1000  # counters' text, mapping list, status line
SCOPE_SAMPLES = 4096
MIDI_OFF = "MIDI off"
AUDIO_FILTER = "Audio files (*.wav *.flac *.ogg *.aiff *.aif *.mp3 *.oga *.opus);;All files (*)"
MAP_FILTER = "MIDI maps (*.toml *.json);;All files (*)"
LEARNABLE_ACTIONS = {"prime": "Re-prime", "reset": "Reset", "slot": "Pads", "watchdog": "Watchdog"}


def _learn_button() -> QPushButton:
    b = QPushButton("learn")
    b.setCheckable(True)
    b.setObjectName("learnButton")
    b.setToolTip("MIDI learn: click, then move a knob or press a key on your controller")
    return b


class PerformanceWindow(QMainWindow):
    """The main window. Pass the session it drives and the QSettings it remembers things in."""

    def __init__(self, session: LiveSession, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self.dials: dict[str, ParamDial] = {}
        self.slots: list[SeedSlot] = []
        self.learn_buttons: dict[str, QPushButton] = {}
        self._extra_learn: dict[str, QPushButton] = {}
        self._param_versions: dict[str, int] = {}
        self._slots_version = -1
        self._mapping_snapshot: list[tuple[str, str]] | None = None
        self._last_error = ""
        self.setWindowTitle("rt-samplernn")
        self.setAcceptDrops(True)
        map_path = self.settings.value("map_path", "", type=str)
        if map_path and Path(map_path).is_file() and session.map_path is None:
            session.map_path = Path(map_path)
        self._build_menu()
        self._build()
        self._build_shortcuts()
        self._restore_settings()
        self.draw_timer = QTimer(self)
        self.draw_timer.setInterval(DRAW_MS)
        self.draw_timer.timeout.connect(self.poll_fast)
        self.text_timer = QTimer(self)
        self.text_timer.setInterval(TEXT_MS)
        self.text_timer.timeout.connect(self.poll_slow)
        self.draw_timer.start()
        self.text_timer.start()

    # ================================================================ layout
    def _build_menu(self) -> None:
        m = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open bundle…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.choose_bundle)
        m.addAction(self.open_action)
        a = QAction("Recording &folder…", self)
        a.triggered.connect(self.choose_record_dir)
        m.addAction(a)
        m.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        m.addAction(quit_action)
        mm = self.menuBar().addMenu("&MIDI")
        for text, slot in (("&Save map…", self.save_map), ("&Load map…", self.load_map),
                           ("&Clear map", self.clear_map)):
            a = QAction(text, self)
            a.triggered.connect(lambda _=False, f=slot: f())
            mm.addAction(a)

    def _build_shortcuts(self) -> None:
        """Stage keys: Space start/stop, Ctrl+R record, 1-8 prime that seed slot, Esc cancel MIDI learn.

        A focused text or number field keeps its own keys (Qt lets it override shortcuts it uses).
        """
        keys = [("Space", lambda: self.toggle_running(not self.session.running)),
                ("Ctrl+R", lambda: self.toggle_recording(not self.session.recording)),
                ("Escape", lambda: self.learn(None))]
        keys += [(str(i + 1), lambda i=i: self.prime(i)) for i in range(min(SEED_SLOTS, 9))]
        # Buttons take no keyboard focus, so Space always means start/stop (not "click the last button").
        for button in self.findChildren(QPushButton):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.shortcuts = []
        for key, action in keys:
            sc = QShortcut(QKeySequence(key), self)
            sc.activated.connect(action)
            self.shortcuts.append(sc)

    def _build(self) -> None:
        root = QWidget()
        root.setObjectName("root")
        outer = QVBoxLayout(root)
        outer.setContentsMargins(10, 8, 10, 6)
        outer.setSpacing(8)
        outer.addWidget(self._build_transport())
        body = QHBoxLayout()
        body.setSpacing(10)
        left = QVBoxLayout()
        left.setSpacing(10)
        left.addWidget(self._build_model_box())
        left.addWidget(self._build_midi_box(), 1)
        body.addLayout(left, 0)
        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_placeholder())
        self.stack.addWidget(self._build_performance())
        body.addWidget(self.stack, 1)
        outer.addLayout(body, 1)
        self.setCentralWidget(root)
        self.status = QLabel()
        self.statusBar().addWidget(self.status, 1)

    def _build_transport(self) -> QWidget:
        bar = QFrame()
        bar.setObjectName("transport")
        lay = QHBoxLayout(bar)
        lay.setContentsMargins(8, 6, 8, 6)
        self.open_button = QPushButton("Open bundle…")
        self.open_button.clicked.connect(self.choose_bundle)
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
        self.latency_spin.setRange(10, 2000)
        self.latency_spin.setSingleStep(10)
        self.latency_spin.setSuffix(" ms")
        self.latency_spin.setValue(100)
        self.latency_spin.setToolTip("ring fill target: how far generation runs ahead of the speaker; a knob is "
                                     "heard about this plus half a chunk plus the device's latency later (the "
                                     "meters show that figure); applied at the next start")
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
        return bar

    def _build_model_box(self) -> QWidget:
        box = QGroupBox("Model")
        box.setFixedWidth(300)
        lay = QVBoxLayout(box)
        self.config_form = QFormLayout()
        self.config_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.config_form.setVerticalSpacing(2)
        lay.addLayout(self.config_form)
        row = QHBoxLayout()
        row.addWidget(QLabel("Voices"))
        self.voices_spin = QSpinBox()
        self.voices_spin.setRange(1, 8)
        self.voices_spin.setToolTip("voices generated at once, batched in one engine (one temperature dial each)")
        self.voices_spin.setValue(self.session.voices_wanted)
        self.voices_spin.editingFinished.connect(self._on_voices)
        row.addWidget(self.voices_spin)
        row.addStretch(1)
        lay.addLayout(row)
        return box

    def _build_midi_box(self) -> QWidget:
        box = QGroupBox("MIDI")
        box.setFixedWidth(300)
        lay = QVBoxLayout(box)
        row = QHBoxLayout()
        self.midi_combo = QComboBox()
        self.midi_combo.setToolTip("MIDI input: a controller's port, or a virtual port other programs connect to")
        self.midi_combo.activated.connect(self._on_midi_port)
        midi_refresh = QPushButton("↻")
        midi_refresh.setFixedWidth(30)
        midi_refresh.setToolTip("rescan MIDI ports")
        midi_refresh.clicked.connect(self.refresh_midi_ports)
        row.addWidget(self.midi_combo, 1)
        row.addWidget(midi_refresh)
        lay.addLayout(row)
        self.midi_activity = QLabel("MIDI input off")
        self.midi_activity.setObjectName("midiActivity")
        self.midi_activity.setWordWrap(True)
        lay.addWidget(self.midi_activity)
        self.map_table = QTableWidget(0, 2)
        self.map_table.setHorizontalHeaderLabels(["Control", "MIDI"])
        self.map_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.map_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.map_table.verticalHeader().setVisible(False)
        self.map_table.verticalHeader().setDefaultSectionSize(22)
        self.map_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.map_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        lay.addWidget(self.map_table, 1)
        grid = QGridLayout()
        grid.setSpacing(4)
        for i, (text, slot) in enumerate((("Save map…", self.save_map), ("Load map…", self.load_map),
                                          ("Remove", self.remove_selected_mapping), ("Clear", self.clear_map))):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, f=slot: f())
            grid.addWidget(b, i // 2, i % 2)
        lay.addLayout(grid)
        return box

    def _build_placeholder(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addStretch(1)
        msg = QLabel("No model loaded.\n\nOpen a bundle (a folder made by `rt-samplernn export`)\n"
                     "with the button, or drop its folder onto this window.")
        msg.setAlignment(Qt.AlignmentFlag.AlignCenter)
        msg.setObjectName("placeholder")
        lay.addWidget(msg)
        b = QPushButton("Open bundle…")
        b.clicked.connect(self.choose_bundle)
        lay.addWidget(b, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(2)
        return page

    def _build_performance(self) -> QWidget:
        page = QWidget()
        grid = QGridLayout(page)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(10)
        self.voice_box = QGroupBox("Voices")
        self.dial_row = QHBoxLayout(self.voice_box)
        self.dial_row.setSpacing(6)
        grid.addWidget(self.voice_box, 0, 0)
        grid.addWidget(self._build_meters(), 0, 1)
        scope_box = QGroupBox("Output")
        sl = QVBoxLayout(scope_box)
        self.scope = ScopeView()
        sl.addWidget(self.scope)
        grid.addWidget(scope_box, 1, 0, 1, 2)
        grid.addWidget(self._build_seeds(), 2, 0, 1, 2)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setRowStretch(0, 4)
        grid.setRowStretch(1, 3)
        grid.setRowStretch(2, 4)
        return page

    def _build_meters(self) -> QWidget:
        box = QGroupBox("Meters")
        lay = QVBoxLayout(box)
        lay.setSpacing(5)
        self.rtf_meter = LevelMeter("real-time factor", warn=0.6, alarm=0.75, invert=True)
        self.ring_meter = LevelMeter("ring fill / target", warn=0.5, alarm=0.8, invert=True)
        self.underrun_meter = LevelMeter("underruns", warn=0.01, alarm=0.5)
        self.watchdog_meter = LevelMeter("watchdog events", warn=0.01, alarm=0.5)
        self.cpu_meter = LevelMeter("audio callback CPU", warn=0.5, alarm=0.8)
        self.proc_meter = LevelMeter("process CPU (cores)", warn=0.7, alarm=0.9)
        for m in (self.rtf_meter, self.ring_meter, self.underrun_meter, self.watchdog_meter,
                  self.cpu_meter, self.proc_meter):
            lay.addWidget(m)
        row = QHBoxLayout()
        self.watchdog_check = QCheckBox("watchdog: re-prime on silence or noise")
        self.watchdog_check.setChecked(True)
        self.watchdog_check.toggled.connect(self._on_watchdog)
        row.addWidget(self.watchdog_check, 1)
        b = _learn_button()
        b.toggled.connect(lambda on: self.learn("watchdog" if on else None))
        self._extra_learn["watchdog"] = b
        row.addWidget(b)
        lay.addLayout(row)
        self.latency_label = QLabel("latency: —")
        self.latency_label.setObjectName("latencyLabel")
        lay.addWidget(self.latency_label)
        lay.addStretch(1)
        return box

    def _build_seeds(self) -> QWidget:
        box = QGroupBox("Seeds")
        lay = QHBoxLayout(box)
        pads = QGridLayout()
        pads.setSpacing(6)
        cols = (SEED_SLOTS + 1) // 2
        for i in range(SEED_SLOTS):
            slot = SeedSlot(i)
            slot.loadRequested.connect(self.choose_seed)
            slot.fileDropped.connect(self.load_seed)
            slot.primeRequested.connect(self.prime)
            self.slots.append(slot)
            pads.addWidget(slot, i // cols, i % cols)
        lay.addLayout(pads, 1)
        side = QGridLayout()
        side.setVerticalSpacing(4)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setPrefix("seed ")
        self.seed_spin.setToolTip("noise seed used by Reset: same seed, same priming -> the same audio")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setObjectName("resetButton")
        self.reset_button.setToolTip("back to the model's initial state, noise restarted from this seed")
        self.reset_button.clicked.connect(self.reset)
        self.reprime_button = QPushButton("Re-prime")
        self.reprime_button.setToolTip("prime again from the selected seed slot")
        self.reprime_button.clicked.connect(lambda: self.prime(self.session.params.slot.target)
                                            if self.session.params else None)
        self.pads_label = QLabel("Pads")
        self.pads_label.setToolTip("learn a note: that note and the ones above it select and prime slots 1, 2, …")
        side.addWidget(self.seed_spin, 0, 0, 1, 2)
        for r, (name, widget) in enumerate((("reset", self.reset_button), ("prime", self.reprime_button),
                                            ("slot", self.pads_label)), start=1):
            side.addWidget(widget, r, 0)
            b = _learn_button()
            b.toggled.connect(lambda on, n=name: self.learn(n if on else None))
            self._extra_learn[name] = b
            side.addWidget(b, r, 1)
        side.setRowStretch(4, 1)
        lay.addLayout(side)
        return box

    # ================================================================ model
    def choose_bundle(self) -> None:
        start = self.settings.value("bundle", "", type=str)
        path = QFileDialog.getExistingDirectory(self, "Open a bundle (folder with model.json)", start)
        if path:
            self.open_bundle(path)

    def open_bundle(self, path: str | Path) -> bool:
        """Load a bundle and build the dials for its voices; False (and a message) if it cannot be opened."""
        try:
            was_running = self.session.open_bundle(Path(path))
        except UserError as e:
            self.show_error(str(e))
            return False
        self.settings.setValue("bundle", str(Path(path).resolve()))
        self._show_model()
        self._build_dials()
        self.scope.set_sample_rate(self.session.sample_rate)
        self.stack.setCurrentIndex(1)
        self._restore_seeds()
        self._mapping_snapshot = None
        self.refresh_mappings()
        self.watchdog_check.setChecked(bool(self.session.params.watchdog.target))
        self.set_status(f"opened {Path(path).name}")
        if was_running:
            try:
                self.session.restart()
            except UserError as e:
                self.show_error(str(e))
        self._sync_running()
        return True

    def _show_model(self) -> None:
        while self.config_form.rowCount():
            self.config_form.removeRow(0)
        for key, value in self.session.config_items():
            label = QLabel(str(value))
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.config_form.addRow(key, label)
        self.bundle_label.setText(self.session.bundle_name())
        self.setWindowTitle(f"rt-samplernn · {self.session.bundle.name}")
        self.bundle_label.setToolTip(str(self.session.bundle))

    def _build_dials(self) -> None:
        for dial in self.dials.values():
            dial.setParent(None)
            dial.deleteLater()
        self.dials.clear()
        self._param_versions.clear()
        for param in self.session.controls():
            dial = ParamDial(param.name, self.session.title(param), param.normalized, param.format())
            dial.setToolTip(f"{param.label}: {param.spec.minimum:g} … {param.spec.maximum:g}")
            dial.moved.connect(lambda u, p=param, d=dial: self._on_dial(p, d, u))
            dial.learnToggled.connect(lambda on, n=param.name: self.learn(n if on else None))
            self.dial_row.addWidget(dial)
            self.dials[param.name] = dial
            self._param_versions[param.name] = param.version
        self.learn_buttons = {name: d.learn_button for name, d in self.dials.items()}
        self.learn_buttons.update(self._extra_learn)

    def _on_dial(self, param: Any, dial: ParamDial, u: float) -> None:
        """A drag: the same write a MIDI knob makes (`set_normalized`), then show the value asked for."""
        param.set_normalized(u)
        self._param_versions[param.name] = param.version
        dial.set_text(param.format())

    def _on_voices(self) -> None:
        if self.voices_spin.value() != self.session.voices_wanted:
            self.set_voices(self.voices_spin.value())

    def set_voices(self, n: int) -> None:
        """Reopen the model with n voices (the audio restarts if it was running)."""
        self.session.voices_wanted = n
        self.voices_spin.setValue(n)
        self.settings.setValue("voices", n)
        if self.session.has_model:
            self.open_bundle(self.session.bundle)

    # ================================================================ audio
    def refresh_devices(self, rescan: bool = False) -> None:
        """Fill the output list (``rescan``: ask PortAudio again, for devices that appeared; while stopped)."""
        current = self.device_combo.currentText() or self.settings.value("device", "", type=str)
        self.device_combo.clear()
        self.device_combo.addItem("default output", None)
        for index, name in self.session.audio_devices(rescan=rescan):
            self.device_combo.addItem(name, index)
        i = self.device_combo.findText(current)
        self.device_combo.setCurrentIndex(max(i, 0))

    def select_device(self, device: str | int) -> bool:
        """Pick the output by index or name substring; False and a message naming the choices if none matches."""
        for i in range(1, self.device_combo.count()):
            if str(device) == str(self.device_combo.itemData(i)):
                self.device_combo.setCurrentIndex(i)
                return True
        for i in range(1, self.device_combo.count()):
            if str(device).lower() in self.device_combo.itemText(i).lower():
                self.device_combo.setCurrentIndex(i)
                return True
        names = ", ".join(self.device_combo.itemText(i) for i in range(1, self.device_combo.count()))
        self.show_error(f"device {device!r} not found; outputs: {names or 'none'}")
        return False

    def toggle_running(self, on: bool) -> None:
        """Start (on) or stop the audio; the button follows what really happened."""
        if on and not self.session.running:
            if not self.session.has_model:
                self.show_error("open a bundle first")
            else:
                try:
                    self.session.start(self.device_combo.currentData(), float(self.latency_spin.value()))
                    self.scope.set_sample_rate(self.session.output_rate)
                    self.set_status(f"playing on {self.device_combo.currentText()}")
                except UserError as e:
                    self.show_error(str(e))
        elif not on and self.session.running:
            if self.session.recording:
                self.toggle_recording(False)
            self.session.stop()
            self.set_status("stopped")
        self._sync_running()
        self.settings.setValue("device", self.device_combo.currentText())
        self.settings.setValue("latency_ms", self.latency_spin.value())

    def _sync_running(self) -> None:
        on = self.session.running
        self.start_button.setChecked(on)
        self.start_button.setText("■  Stop" if on else "▶  Start")
        if not self.session.recording:
            self.record_button.setChecked(False)
            self.record_button.setText("●  Record")

    # ================================================================ recording
    def choose_record_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Record into", self.record_dir())
        if path:
            self.settings.setValue("record_dir", path)

    def record_dir(self) -> str:
        return self.settings.value("record_dir", str(Path.home()), type=str)

    def toggle_recording(self, on: bool, path: str | Path | None = None) -> None:
        """Start recording the output to a WAV file (default: a timestamped name in the record folder), or stop."""
        if on and not self.session.recording:
            if not self.session.running:
                self.show_error("start the audio first, then record")
            else:
                path = Path(path) if path else Path(self.record_dir()) / time.strftime("rt-samplernn-%Y%m%d-%H%M%S.wav")
                try:
                    self.session.start_recording(path)
                    self.set_status(f"recording to {path}")
                except UserError as e:
                    self.show_error(str(e))
        elif not on and self.session.recording:
            path, seconds = self.session.stop_recording()
            self.set_status(f"recorded {seconds:.1f} s to {path}")
        rec = self.session.recording
        self.record_button.setChecked(rec)
        self.record_button.setText("■  Stop rec" if rec else "●  Record")

    # ================================================================ seeds
    def choose_seed(self, index: int) -> None:
        start = self.settings.value(f"seeds/{index}", "", type=str)
        path, _ = QFileDialog.getOpenFileName(self, f"Audio for seed {index + 1}", start, AUDIO_FILTER)
        if path:
            self.load_seed(index, path)

    def load_seed(self, index: int, path: str | Path) -> bool:
        """Read an audio file into seed slot `index` and draw it; False (and a message) if unreadable."""
        try:
            clip = self.session.load_seed(index, Path(path))
        except UserError as e:
            self.show_error(str(e))
            return False
        self.slots[index].set_clip(clip.name, clip.audio, clip.seconds)
        self.settings.setValue(f"seeds/{index}", str(clip.path))
        self.set_status(f"seed {index + 1}: {clip.name}")
        return True

    def _restore_seeds(self) -> None:
        """Fill the slots from the session (carried over) or else from the files remembered last time."""
        params = self.session.params
        for i, slot in enumerate(self.slots):
            clip = params.slots[i] if i < len(params.slots) else None
            if clip is None:
                path = self.settings.value(f"seeds/{i}", "", type=str)
                if path and Path(path).is_file():
                    try:
                        clip = self.session.load_seed(i, Path(path))
                    except UserError:
                        clip = None
            if clip is None:
                slot.set_clip(None, None)
            else:
                slot.set_clip(clip.name, clip.audio, clip.seconds)
        self._slots_version = params.slots_version

    def prime(self, index: int) -> None:
        """Select seed slot `index` and prime the engine from it (in the background; audio goes on)."""
        try:
            self.session.prime(index)
        except UserError as e:
            self.show_error(str(e))
            return
        self.set_status(f"priming from seed {index + 1}")

    def reset(self) -> None:
        self.session.reset(self.seed_spin.value())
        self.settings.setValue("seed", self.seed_spin.value())
        self.set_status(f"reset, seed {self.seed_spin.value()}")

    def _on_watchdog(self, on: bool) -> None:
        if self.session.params is not None and self.session.params.watchdog.target != on:
            self.session.params.watchdog.set(on)

    # ================================================================ MIDI
    def refresh_midi_ports(self) -> None:
        current = (self.session.midi_port or self.midi_combo.currentText()
                   or self.settings.value("midi_port", "", type=str))
        self.midi_combo.clear()
        self.midi_combo.addItem(MIDI_OFF)
        self.midi_combo.addItem(VIRTUAL_PORT)
        for name in self.session.midi_ports():
            self.midi_combo.addItem(name)
        i = self.midi_combo.findText(current) if current else 0
        self.midi_combo.setCurrentIndex(max(i, 0))

    def _on_midi_port(self, index: int) -> None:
        self.open_midi(None if index <= 0 else self.midi_combo.itemText(index))

    def open_midi(self, port: str | None) -> bool:
        """Listen on a port (a name substring, or VIRTUAL_PORT), or close MIDI input (None)."""
        try:
            self.session.open_midi(port)
        except UserError as e:
            self.show_error(str(e))
            self.midi_combo.setCurrentIndex(0)
            return False
        name = self.session.midi_port  # the port's full name (a substring may have been given)
        i = self.midi_combo.findText(name or MIDI_OFF)
        if i < 0 and name:
            self.midi_combo.addItem(name)
            i = self.midi_combo.count() - 1
        self.midi_combo.setCurrentIndex(max(i, 0))
        self.settings.setValue("midi_port", name or "")
        self.midi_activity.setText(self.session.midi_status())
        return True

    def learn(self, name: str | None) -> None:
        """Arm MIDI learn for one parameter (the next CC or note binds to it), or cancel with None."""
        if name is not None and not self.session.has_model:
            self.show_error("open a bundle first")
            name = None
        self.session.learn(name)
        self._show_learning(name)
        if name:
            hint = "" if self.session.midi_port else " (choose a MIDI input first)"
            self.set_status(f"MIDI learn: move a knob or press a key for “{self._title(name)}”{hint}")

    def _show_learning(self, name: str | None) -> None:
        for n, b in self.learn_buttons.items():
            if b.isChecked() != (n == name):
                b.blockSignals(True)
                b.setChecked(n == name)
                b.blockSignals(False)
            b.setText("learning…" if n == name else "learn")

    def _title(self, name: str) -> str:
        if name in self.dials:
            return self.dials[name].title.text()
        if name in LEARNABLE_ACTIONS:
            return LEARNABLE_ACTIONS[name]
        return name

    def save_map(self, path: str | Path | None = None) -> bool:
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Save MIDI map", self.settings.value("map_path", "", type=str),
                                                  MAP_FILTER)
        if not path:
            return False
        try:
            written = self.session.save_map(Path(path))
        except UserError as e:
            self.show_error(str(e))
            return False
        self.settings.setValue("map_path", str(written))
        self.set_status(f"saved MIDI map to {written}")
        return True

    def load_map(self, path: str | Path | None = None) -> bool:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Load MIDI map", self.settings.value("map_path", "", type=str),
                                                  MAP_FILTER)
        if not path:
            return False
        try:
            self.session.load_map(Path(path))
        except UserError as e:
            self.show_error(str(e))
            return False
        self.settings.setValue("map_path", str(path))
        self.refresh_mappings()
        self.set_status(f"loaded MIDI map {path}")
        return True

    def clear_map(self) -> None:
        self.session.clear_map()
        self.refresh_mappings()

    def remove_selected_mapping(self) -> None:
        rows = sorted({i.row() for i in self.map_table.selectedIndexes()}, reverse=True)
        for r in rows:
            self.session.remove_mapping(r)
        self.refresh_mappings()

    def refresh_mappings(self) -> None:
        """Redraw the mapping list and the mapping text under each dial, when the map changed."""
        rows = self.session.mappings()
        if rows == self._mapping_snapshot:
            return
        self._mapping_snapshot = rows
        self.map_table.setRowCount(len(rows))
        by_name: dict[str, list[str]] = {}
        for r, (name, source) in enumerate(rows):
            self.map_table.setItem(r, 0, QTableWidgetItem(self._title(name)))
            self.map_table.setItem(r, 1, QTableWidgetItem(source))
            by_name.setdefault(name, []).append(source)
        for name, dial in self.dials.items():
            dial.set_mapping_text(", ".join(by_name.get(name, [])))

    # ================================================================ polling
    def poll_fast(self) -> None:
        """Every DRAW_MS: dials follow their parameters, learn state, selected slot, ring meter, scope."""
        session = self.session
        params = session.params
        if params is None:
            return
        for param in session.controls():
            if self._param_versions.get(param.name) != param.version:
                self._param_versions[param.name] = param.version
                dial = self.dials.get(param.name)
                if dial is not None:
                    dial.set_position(param.normalized, param.format())
        learning = session.learning()
        if any(b.isChecked() != (n == learning) for n, b in self.learn_buttons.items()):
            self._show_learning(learning)
            self.refresh_mappings()
        selected = params.slot.target
        for i, slot in enumerate(self.slots):
            if slot.property("active") != (i == selected):
                slot.set_active(i == selected)
        if params.slots_version != self._slots_version:
            self._restore_seeds()
        if self.watchdog_check.isChecked() != bool(params.watchdog.target):
            self.watchdog_check.blockSignals(True)
            self.watchdog_check.setChecked(bool(params.watchdog.target))
            self.watchdog_check.blockSignals(False)
        st = session.stats()
        if st.ring_capacity_ms > 0:
            self.ring_meter.set_level(st.ring_fill_ms / st.ring_capacity_ms,
                                      f"{st.ring_fill_ms:.0f} / {st.ring_capacity_ms:.0f} ms")
        if st.running:
            block = session.scope(SCOPE_SAMPLES)
            if block is not None:
                self.scope.show_audio(block)

    def poll_slow(self) -> None:
        """Every TEXT_MS: counters' text, mappings, MIDI status, notices."""
        st = self.session.stats()
        rtf = st.realtime_factor
        self.rtf_meter.set_level(min(rtf / 4.0, 1.0), f"{rtf:.2f}×" if rtf else "—")
        self.underrun_meter.set_level(min(st.underruns / 10.0, 1.0), str(st.underruns))
        self.watchdog_meter.set_level(min(st.watchdog_events / 10.0, 1.0), str(st.watchdog_events))
        self.cpu_meter.set_level(st.cpu_load, f"{100 * st.cpu_load:.0f} %")
        self.proc_meter.set_level(st.process_cpu / 2.0, f"{st.process_cpu:.2f}")
        self.latency_label.setText(f"knob-to-sound latency ≈ {st.target_ms:.0f} ms (as play's status line)"
                                   if st.running else f"ring fill target: {self.latency_spin.value()} ms")
        self.midi_activity.setText(self.session.midi_status())
        self.refresh_mappings()
        if st.recording_s:
            self.record_button.setText(f"■  Stop rec  {st.recording_s:.0f} s")
        if self.start_button.isChecked() != st.running:  # the player stopped itself (device lost, error)
            self._sync_running()
        err = self.session.take_error()
        if err:
            self.show_error(err)

    # ================================================================ misc
    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def show_error(self, text: str) -> None:
        """Errors go to the status line (no modal dialogs on stage); the last one is kept in last_error."""
        self._last_error = text
        self.status.setText(f"⚠  {text}")

    @property
    def last_error(self) -> str:
        return self._last_error

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt's name)
        if dropped_paths(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        """A bundle folder (or its model.json) opens it; audio files fill the empty seed slots in order."""
        paths = dropped_paths(event)
        if not paths:
            return
        event.acceptProposedAction()
        first = paths[0]
        if first.is_dir() or first.name == "model.json":
            self.open_bundle(first.parent if first.name == "model.json" else first)
            return
        if not self.session.has_model:
            self.show_error("open a bundle first, then drop seed audio")
            return
        free = [i for i, clip in enumerate(self.session.params.slots) if clip is None][:len(self.slots)]
        for index, path in zip(free, paths):
            self.load_seed(index, path)
        if len(paths) > len(free):
            self.show_error(f"{len(paths) - len(free)} file(s) left over: all seed slots are full")

    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1320, 860)
        self.latency_spin.setValue(self.settings.value("latency_ms", 100, type=int))
        self.seed_spin.setValue(self.settings.value("seed", 0, type=int))
        mode = self.settings.value("scope_mode", "scope", type=str)
        self.scope.set_mode(mode if mode in ScopeView.MODES else "scope")
        self.refresh_devices()
        self.refresh_midi_ports()

    def restore_midi(self) -> None:
        """Reopen the MIDI port used last time, if any (called once the window is up)."""
        port = self.settings.value("midi_port", "", type=str)
        if port:
            self.open_midi(port)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.draw_timer.stop()
        self.text_timer.stop()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("scope_mode", self.scope.mode)
        self.settings.setValue("latency_ms", self.latency_spin.value())
        self.settings.setValue("voices", self.session.voices_wanted)
        self.settings.sync()
        self.session.close()
        super().closeEvent(event)
