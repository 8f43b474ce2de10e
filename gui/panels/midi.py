"""The MIDI panel: the input port, its activity, the mapping list, and saving/loading/clearing the map."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from rt_samplernn.errors import UserError
from rt_samplernn.gui.panels import Host
from rt_samplernn.gui.session_midi import VIRTUAL_PORT_CHOICE

MIDI_OFF = "MIDI off"
MAP_FILTER = "MIDI maps (*.toml *.json);;All files (*)"


class MidiPanel(QGroupBox):
    """``on_mappings(by_name)`` is told each parameter's controls whenever the map changes (for the dials)."""

    def __init__(self, host: Host, on_mappings: Callable[[dict[str, list[str]]], None] | None = None) -> None:
        super().__init__("MIDI")
        self.host = host
        self.on_mappings = on_mappings or (lambda by_name: None)
        self._snapshot: list[tuple[str, str]] | None = None
        self.setFixedWidth(300)
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.midi_combo = QComboBox()
        self.midi_combo.setToolTip("MIDI input: a controller's port, or a virtual port other programs connect to")
        self.midi_combo.activated.connect(lambda i: self.open_midi(None if i <= 0 else self.midi_combo.itemText(i)))
        refresh = QPushButton("↻")
        refresh.setFixedWidth(30)
        refresh.setToolTip("rescan MIDI ports")
        refresh.clicked.connect(self.refresh_ports)
        row.addWidget(self.midi_combo, 1)
        row.addWidget(refresh)
        lay.addLayout(row)
        self.midi_activity = QLabel("MIDI input off")
        self.midi_activity.setObjectName("midiActivity")
        self.midi_activity.setWordWrap(True)
        lay.addWidget(self.midi_activity)
        self.map_table = QTableWidget(0, 2)
        self.map_table.setHorizontalHeaderLabels(["Control", "MIDI"])
        columns, rows = self.map_table.horizontalHeader(), self.map_table.verticalHeader()
        assert columns is not None and rows is not None  # a QTableWidget always has both
        columns.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        columns.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        rows.setVisible(False)
        rows.setDefaultSectionSize(22)
        self.map_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.map_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        lay.addWidget(self.map_table, 1)
        grid = QGridLayout()
        grid.setSpacing(4)
        for i, (text, slot) in enumerate(
            (
                ("Save map…", self.save_map),
                ("Load map…", self.load_map),
                ("Remove", self.remove_selected_mapping),
                ("Clear", self.clear_map),
            )
        ):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, f=slot: f())
            grid.addWidget(b, i // 2, i % 2)
        lay.addLayout(grid)

    # ------------------------------------------------------------------ ports
    def refresh_ports(self) -> None:
        session = self.host.session
        current = session.midi.port or self.midi_combo.currentText() or self.host.settings.midi_port
        self.midi_combo.clear()
        self.midi_combo.addItem(MIDI_OFF)
        self.midi_combo.addItem(VIRTUAL_PORT_CHOICE)
        for name in session.midi.ports():
            self.midi_combo.addItem(name)
        i = self.midi_combo.findText(current) if current else 0
        self.midi_combo.setCurrentIndex(max(i, 0))

    def open_midi(self, port: str | None) -> bool:
        """Listen on a port (a name substring, or the virtual port), or close MIDI input (None)."""
        session = self.host.session
        try:
            session.midi.open(port)
        except UserError as e:
            self.host.show_error(str(e))
            self.midi_combo.setCurrentIndex(0)
            return False
        name = session.midi.port  # the port's full name (a substring may have been given)
        i = self.midi_combo.findText(name or MIDI_OFF)
        if i < 0 and name:
            self.midi_combo.addItem(name)
            i = self.midi_combo.count() - 1
        self.midi_combo.setCurrentIndex(max(i, 0))
        self.host.settings.midi_port = name or ""
        self.midi_activity.setText(session.midi.status())
        return True

    # ------------------------------------------------------------------ the map
    def save_map(self, path: str | Path | None = None) -> bool:
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Save MIDI map", self.host.settings.map_path, MAP_FILTER)
        if not path:
            return False
        try:
            written = self.host.session.midi.save_map(Path(path))
        except UserError as e:
            self.host.show_error(str(e))
            return False
        self.host.settings.map_path = written
        self.host.set_status(f"saved MIDI map to {written}")
        return True

    def load_map(self, path: str | Path | None = None) -> bool:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Load MIDI map", self.host.settings.map_path, MAP_FILTER)
        if not path:
            return False
        try:
            self.host.session.midi.load_map(Path(path))
        except UserError as e:
            self.host.show_error(str(e))
            return False
        self.host.settings.map_path = path
        self.refresh_mappings()
        self.host.set_status(f"loaded MIDI map {path}")
        return True

    def clear_map(self) -> None:
        self.host.session.midi.clear_map()
        self.refresh_mappings()

    def remove_selected_mapping(self) -> None:
        for r in sorted({i.row() for i in self.map_table.selectedIndexes()}, reverse=True):
            self.host.session.midi.remove_mapping(r)
        self.refresh_mappings()

    def refresh_mappings(self, force: bool = False) -> None:
        """Redraw the mapping list (and tell the dials) when the map changed."""
        rows = self.host.session.midi.mappings()
        if rows == self._snapshot and not force:
            return
        self._snapshot = rows
        self.map_table.setRowCount(len(rows))
        by_name: dict[str, list[str]] = {}
        for r, (name, source) in enumerate(rows):
            self.map_table.setItem(r, 0, QTableWidgetItem(self.host.session.label(name)))
            self.map_table.setItem(r, 1, QTableWidgetItem(source))
            by_name.setdefault(name, []).append(source)
        self.on_mappings(by_name)

    def poll_slow(self) -> None:
        self.midi_activity.setText(self.host.session.midi.status())
        self.refresh_mappings()
