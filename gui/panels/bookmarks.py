"""The bookmarks panel: eight slots of the exact state, each with Save and a recall button, and learn buttons.

Save takes the engine's exact state between two blocks; a slot's button goes back to it at the next block
(rt_samplernn.live.control.LiveControl does both on the worker). The slots are written to the session's
bookmarks file (`Settings.bookmarks_path`) whenever they change, and read back when the window opens a model.
Slots are indexed from 0 in code and shown from 1.
"""

from __future__ import annotations

from PyQt6.QtWidgets import QGridLayout, QGroupBox, QLabel, QPushButton

from rt_samplernn.errors import UserError
from rt_samplernn.gui.panels import Host, learn_button


class BookmarksPanel(QGroupBox):
    """``recall_buttons`` and ``save_buttons`` per slot; ``learn_buttons`` for the save and recall pads."""

    def __init__(self, host: Host) -> None:
        super().__init__("Bookmarks")
        self.host = host
        self._version = -1
        self.loaded_from = ""  # the bookmarks file read last (for the status line)
        grid = QGridLayout(self)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(4)
        self.recall_buttons: list[QPushButton] = []
        self.save_buttons: list[QPushButton] = []
        count = host.session.bookmark_count
        for i in range(count):
            recall = QPushButton(str(i + 1))
            recall.setObjectName("bookmarkRecall")
            recall.setToolTip(f"go back to bookmark {i + 1} exactly as saved (at the next block)")
            recall.clicked.connect(lambda _=False, i=i: self.recall(i))
            save = QPushButton("save")
            save.setObjectName("bookmarkSave")
            save.setToolTip(f"save the exact state now into bookmark {i + 1}")
            save.clicked.connect(lambda _=False, i=i: self.save(i))
            grid.addWidget(recall, 0, i)
            grid.addWidget(save, 1, i)
            self.recall_buttons.append(recall)
            self.save_buttons.append(save)
        self.learn_buttons = {}
        for row, (name, text) in enumerate((("bookmark_recall", "Recall pads"), ("bookmark_save", "Save pads"))):
            label = QLabel(text)
            label.setToolTip(
                f"learn a note: that note and the ones above it {text.split()[0].lower()} bookmarks 1, 2, …"
            )
            grid.addWidget(label, row, count)
            self.learn_buttons[name] = learn_button(host, name)
            grid.addWidget(self.learn_buttons[name], row, count + 1)
        self.show_slots()

    def save(self, index: int) -> None:
        try:
            self.host.session.save_bookmark(index)
        except UserError as e:
            self.host.show_error(str(e))
            return
        self.host.set_status(f"bookmark {index + 1} saved")

    def recall(self, index: int) -> None:
        if not self.host.session.bookmark_filled(index):
            self.host.show_error(f"bookmark {index + 1} is empty; save one first")
            return
        try:
            self.host.session.recall_bookmark(index)
        except UserError as e:
            self.host.show_error(str(e))
            return
        self.host.set_status(f"back to bookmark {index + 1}")

    def show_slots(self) -> None:
        """A filled slot's recall button is lit; an empty one is dimmed."""
        session = self.host.session
        for i, button in enumerate(self.recall_buttons):
            filled = session.bookmark_filled(i)
            if button.property("filled") != filled:
                button.setProperty("filled", filled)
                style = button.style()
                if style is not None:  # the theme draws a filled slot brighter: apply it again
                    style.unpolish(button)
                    style.polish(button)
        self._version = session.bookmarks_version

    def load(self) -> None:
        """Read the session's bookmarks file, if there is one (a model has just been opened)."""
        path = self.host.settings.bookmarks_path
        if path.is_file():
            try:
                self.host.session.load_bookmarks(path)
                self.loaded_from = str(path)
            except UserError as e:
                self.host.show_error(str(e))
        self.show_slots()

    def poll_slow(self) -> None:
        """The slots changed (saved from here, MIDI or OSC): show them and write the bookmarks file."""
        session = self.host.session
        if session.bookmarks_version == self._version:
            return
        self.show_slots()
        try:
            session.save_bookmarks(self.host.settings.bookmarks_path)
        except UserError as e:
            self.host.show_error(str(e))
