"""The performance window: the panels on one screen, the menus and stage keys, the two polling timers.

Threads: everything here runs in the Qt main thread. The engine generates in the player's worker thread,
MIDI lands in the parameter cells on the MIDI thread, and neither ever calls Qt. The window polls its
`LiveSession`: a fast timer (DRAW_MS) moves the dials, follows MIDI learn and the selected seed slot,
draws the fast meters and the scope; a slow timer (TEXT_MS) updates the other meters, the mapping list
and the status line. Panels (rt_samplernn.gui.panels) hold their own widgets and work; settings are
rt_samplernn.gui.settings.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMenuBar,
    QPushButton,
    QStackedWidget,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from rt_samplernn.errors import UserError
from rt_samplernn.gui.panels.bookmarks import BookmarksPanel
from rt_samplernn.gui.panels.effects import EffectsPanel
from rt_samplernn.gui.panels.meters import MetersPanel
from rt_samplernn.gui.panels.midi import MidiPanel
from rt_samplernn.gui.panels.seeds import SeedsPanel
from rt_samplernn.gui.panels.tempo import TempoPanel
from rt_samplernn.gui.panels.transport import TransportBar
from rt_samplernn.gui.panels.voices import ModelBox, VoicesPanel
from rt_samplernn.gui.session import LiveSession
from rt_samplernn.gui.settings import Settings
from rt_samplernn.gui.widgets import ScopeView, accept_file_drag, dropped_paths

DRAW_MS = 16  # dials, learn state, fast meters, scope
TEXT_MS = 1000  # other meters, mapping list, status line
SCOPE_SAMPLES = 4096


class PerformanceWindow(QMainWindow):
    """The main window. Pass the session it drives and the `Settings` it remembers things in.

    Panels: ``transport``, ``model``, ``voices``, ``seeds``, ``midi``, ``meters``, ``effects``, ``tempo`` (and
    ``scope``).
    """

    def __init__(self, session: LiveSession, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self._last_error = ""
        self.setWindowTitle("rt-samplernn")
        self.setAcceptDrops(True)
        if settings.map_path and Path(settings.map_path).is_file() and session.midi.map_path is None:
            session.midi.map_path = Path(settings.map_path)
        if session.fx.saved is None:  # the chains, knob values, tempo and loop of the last session
            session.fx.saved = settings.fx_session
        self.transport = TransportBar(self, self.choose_bundle)
        self.model = ModelBox(self, self.set_voices)
        self.voices = VoicesPanel(self)
        self.seeds = SeedsPanel(self)
        self.bookmarks = BookmarksPanel(self)
        self.midi = MidiPanel(self, on_mappings=self.show_mappings)
        self.meters = MetersPanel(self)
        self.effects = EffectsPanel(self)
        self.tempo = TempoPanel(self)
        self.scope = ScopeView()
        self._build()
        self._build_menu()
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
    def _build(self) -> None:
        root = QWidget()
        root.setObjectName("root")
        outer = QVBoxLayout(root)
        outer.setContentsMargins(10, 8, 10, 6)
        outer.setSpacing(8)
        outer.addWidget(self.transport)
        body = QHBoxLayout()
        body.setSpacing(10)
        left = QVBoxLayout()
        left.setSpacing(10)
        left.addWidget(self.model)
        left.addWidget(self.midi, 1)
        body.addLayout(left, 0)
        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_placeholder())
        self.stack.addWidget(self._build_performance())
        body.addWidget(self.stack, 1)
        outer.addLayout(body, 1)
        self.setCentralWidget(root)
        self.status = QLabel()
        status_bar = QStatusBar()
        self.setStatusBar(status_bar)
        status_bar.addWidget(self.status, 1)

    def _build_placeholder(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addStretch(1)
        msg = QLabel(
            "No model loaded.\n\nOpen a bundle (a folder made by `rt-samplernn export`)\n"
            "with the button, or drop its folder onto this window."
        )
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
        grid.addWidget(self.voices, 0, 0)
        grid.addWidget(self.meters, 0, 1, 2, 1)
        scope_box = QGroupBox("Output")
        QVBoxLayout(scope_box).addWidget(self.scope)
        grid.addWidget(scope_box, 1, 0)
        grid.addWidget(self.effects, 2, 0)
        grid.addWidget(self.tempo, 2, 1)
        grid.addWidget(self.seeds, 3, 0, 1, 2)
        grid.addWidget(self.bookmarks, 4, 0, 1, 2)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setRowStretch(0, 4)
        grid.setRowStretch(1, 3)
        grid.setRowStretch(2, 3)
        grid.setRowStretch(3, 4)
        return page

    def _build_menu(self) -> None:
        menu_bar = QMenuBar()
        self.setMenuBar(menu_bar)
        m = QMenu("&File", self)
        menu_bar.addMenu(m)
        self.open_action = QAction("&Open bundle…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.choose_bundle)
        m.addAction(self.open_action)
        a = QAction("Recording &folder…", self)
        a.triggered.connect(self.transport.choose_record_dir)
        m.addAction(a)
        m.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        m.addAction(quit_action)
        mm = QMenu("&MIDI", self)
        menu_bar.addMenu(mm)
        for text, slot in (
            ("&Save map…", self.midi.save_map),
            ("&Load map…", self.midi.load_map),
            ("&Clear map", self.midi.clear_map),
        ):
            a = QAction(text, self)
            a.triggered.connect(lambda _=False, f=slot: f())
            mm.addAction(a)

    def _build_shortcuts(self) -> None:
        """Stage keys: Space start/stop, Ctrl+R record, 1-9 prime that seed slot, F1-F8 recall that bookmark
        (Shift+F1-F8 save it), Esc cancel MIDI learn.

        A focused text or number field keeps its own keys (Qt lets it override shortcuts it uses).
        """
        t = self.transport
        keys = [
            ("Space", lambda: t.toggle_running(not self.session.running)),
            ("Ctrl+R", lambda: t.toggle_recording(not self.session.recording)),
            ("Escape", lambda: self.learn(None)),
        ]
        keys += [(str(i + 1), functools.partial(self.seeds.prime, i)) for i in range(min(len(self.seeds.slots), 9))]
        for i in range(min(len(self.bookmarks.recall_buttons), 12)):
            keys += [(f"F{i + 1}", functools.partial(self.bookmarks.recall, i))]
            keys += [(f"Shift+F{i + 1}", functools.partial(self.bookmarks.save, i))]
        # Buttons take no keyboard focus, so Space always means start/stop (not "click the last button").
        for button in self.findChildren(QPushButton):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.shortcuts = []
        for key, action in keys:
            sc = QShortcut(QKeySequence(key), self)
            sc.activated.connect(action)
            self.shortcuts.append(sc)

    @property
    def learn_buttons(self) -> dict[str, QPushButton]:
        """Every learn button, by parameter name: the dials' (the voices' and the effects'), the seeds panel's,
        the bookmarks panel's and the meters panel's."""
        buttons = {name: d.learn_button for name, d in self.voices.dials.items()}
        buttons.update({name: d.learn_button for name, d in self.effects.dials.items()})
        buttons.update(self.seeds.learn_buttons)
        buttons.update(self.bookmarks.learn_buttons)
        buttons.update(self.meters.learn_buttons)
        return buttons

    # ================================================================ model
    def choose_bundle(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a bundle (folder with model.json)", self.settings.bundle)
        if path:
            self.open_bundle(path)

    def open_bundle(self, path: str | Path) -> bool:
        """Load a bundle and build the dials for its voices; False (and a message) if it cannot be opened.
        While playing, another bundle is loaded in the background and crossfaded in (`session.swap_bundle`):
        the audio goes on, and the window shows the new model once it is in (`poll_slow`)."""
        if self.session.bundle is not None and Path(path).resolve() != self.session.bundle.resolve():
            if self.session.can_swap(Path(path)):
                self.session.swap_bundle(Path(path))
                self.set_status(f"loading {Path(path).name} while playing…")
                return True
        first = not self.session.has_model
        try:
            was_running = self.session.open_bundle(Path(path))
        except UserError as e:
            self.show_error(str(e))
            return False
        if first:
            self.bookmarks.load()
        self.show_model()
        self.voices.build()
        self.effects.build()
        self.tempo.show_settings()
        self.seeds.restore()
        self.midi.refresh_mappings(force=True)
        self.set_status(f"opened {Path(path).name}")
        if was_running:
            try:
                self.session.restart()
            except UserError as e:
                self.show_error(str(e))
        self.transport.sync_running()
        return True

    def show_model(self) -> None:
        """The open model in the header, the Model box and the title (after an open or a hot-swap)."""
        path = self.session.bundle
        if path is None:
            return
        self.settings.bundle = path.resolve()
        self.model.show_model()
        self.transport.bundle_label.setText(self.session.bundle_name())
        self.transport.bundle_label.setToolTip(self.session.bundle_details())
        self.setWindowTitle(f"rt-samplernn · {path.name}")
        self.scope.set_sample_rate(self.session.sample_rate)
        self.stack.setCurrentIndex(1)

    def set_voices(self, n: int) -> None:
        """Reopen the model with n voices (the audio restarts if it was running)."""
        self.session.voices_wanted = n
        self.model.voices_spin.setValue(n)
        self.settings.voices = n
        if self.session.bundle is not None:  # a model is open: reopen it with n voices
            self.open_bundle(self.session.bundle)

    # ================================================================ MIDI learn
    def show_mappings(self, by_name: dict[str, list[str]]) -> None:
        """Each dial's MIDI mappings under it (the voices' and the effects')."""
        self.voices.show_mappings(by_name)
        self.effects.show_mappings(by_name)

    def learn(self, name: str | None) -> None:
        """Arm MIDI learn for one parameter (the next CC or note binds to it), or cancel with None."""
        if name is not None and not self.session.has_model:
            self.show_error("open a bundle first")
            name = None
        self.session.midi.learn(name)
        self._show_learning(name)
        if name:
            hint = "" if self.session.midi.port else " (choose a MIDI input first)"
            self.set_status(f"MIDI learn: move a knob or press a key for “{self.session.label(name)}”{hint}")

    def _show_learning(self, name: str | None) -> None:
        for n, b in self.learn_buttons.items():
            if b.isChecked() != (n == name):
                b.blockSignals(True)
                b.setChecked(n == name)
                b.blockSignals(False)
            b.setText("learning…" if n == name else "learn")

    # ================================================================ polling
    def poll_fast(self) -> None:
        """Every DRAW_MS: dials follow their parameters, learn state, selected slot, fast meters, scope."""
        if not self.session.has_model:
            return
        self.voices.poll_fast()
        learning = self.session.midi.learning()
        if any(b.isChecked() != (n == learning) for n, b in self.learn_buttons.items()):
            self._show_learning(learning)
            self.midi.refresh_mappings()
        self.seeds.poll_fast()
        self.meters.poll_fast()
        self.effects.poll_fast()
        self.tempo.poll_fast()
        block = self.session.scope(SCOPE_SAMPLES)
        if block is not None:
            if self.scope.sample_rate != self.session.output_rate:
                self.scope.set_sample_rate(self.session.output_rate)
            self.scope.show_audio(block)

    def poll_slow(self) -> None:
        """Every TEXT_MS: the other meters, MIDI status and mappings, the transport, notices."""
        self.meters.poll_slow()
        self.seeds.poll_slow()
        self.midi.poll_slow()
        self.transport.poll_slow()
        self.bookmarks.poll_slow()
        if self.session.has_model:
            self.effects.poll_slow()
        self.tempo.poll_slow()
        if self.session.swapped():  # a bundle crossfaded in while playing
            self.show_model()
        wanted = self.session.take_bundle_request()  # /bundle over OSC
        if wanted is not None:
            self.open_bundle(wanted)
        err = self.session.take_error()
        if err:
            self.show_error(err)

    # ================================================================ status line
    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def show_error(self, text: str) -> None:
        """Errors go to the status line (no modal dialogs on stage); the last one is kept in last_error."""
        self._last_error = text
        self.status.setText(f"⚠  {text}")

    @property
    def last_error(self) -> str:
        return self._last_error

    # ================================================================ drops, settings, closing
    def dragEnterEvent(self, event: QDragEnterEvent | None) -> None:
        accept_file_drag(event)

    def dropEvent(self, event: QDropEvent | None) -> None:
        """A bundle folder (or its model.json) opens it; audio files fill the empty seed slots in order."""
        paths = dropped_paths(event) if event is not None else []
        if event is None or not paths:
            return
        event.acceptProposedAction()
        first = paths[0]
        if first.is_dir() or first.name == "model.json":
            self.open_bundle(first.parent if first.name == "model.json" else first)
        elif not self.session.has_model:
            self.show_error("open a bundle first, then drop seed audio")
        else:
            self.seeds.load_dropped(paths)

    def _restore_settings(self) -> None:
        geometry = self.settings.geometry
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1320, 860)
        mode = self.settings.scope_mode
        self.scope.set_mode(mode if mode in ScopeView.MODES else "scope")
        self.transport.refresh_devices()
        self.midi.refresh_ports()

    def restore_midi(self) -> None:
        """Reopen the MIDI port used last time, if any (called once the window is up)."""
        if self.settings.midi_port:
            self.midi.open_midi(self.settings.midi_port)

    def closeEvent(self, event: QCloseEvent | None) -> None:
        """Save the settings, then stop audio and MIDI (File > Quit, the close button, Ctrl-C, SIGTERM)."""
        self.draw_timer.stop()
        self.text_timer.stop()
        self.settings.geometry = self.saveGeometry()
        self.settings.scope_mode = self.scope.mode
        self.settings.latency_ms = self.transport.latency_spin.value()
        self.settings.voices = self.session.voices_wanted
        self.settings.fx_session = self.session.fx.session_state()
        self.settings.sync()
        self.bookmarks.poll_slow()  # a bookmark saved in the last moment is written too
        self.session.close()
        super().closeEvent(event)
