"""The seeds panel: the seed slots (load, drop, prime), the noise seed, Reset and Re-prime, their learn buttons.

Slots are indexed from 0 in code and shown from 1 ("Seed 1", key 1); the count is the session's.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
)

from rt_samplernn.errors import UserError
from rt_samplernn.gui.panels import Host, learn_button
from rt_samplernn.gui.settings import SEED_RANGE
from rt_samplernn.gui.widgets import SeedSlotWidget

AUDIO_FILTER = "Audio files (*.wav *.flac *.ogg *.aiff *.aif *.mp3 *.oga *.opus);;All files (*)"


class SeedsPanel(QGroupBox):
    """``slots``: the `SeedSlotWidget` widgets; ``learn_buttons`` for reset, prime and the pads."""

    def __init__(self, host: Host) -> None:
        super().__init__("Seeds")
        self.host = host
        self.slots: list[SeedSlotWidget] = []
        self._version = -1
        lay = QHBoxLayout(self)
        pads = QGridLayout()
        pads.setSpacing(6)
        count = host.session.slot_count
        cols = (count + 1) // 2
        for i in range(count):
            slot = SeedSlotWidget(i)
            slot.loadRequested.connect(self.choose_seed)
            slot.fileDropped.connect(self.load_seed)
            slot.primeRequested.connect(self.prime)
            self.slots.append(slot)
            pads.addWidget(slot, i // cols, i % cols)
        lay.addLayout(pads, 1)
        side = QGridLayout()
        side.setVerticalSpacing(4)
        self.seed_label = QLabel("Noise seed")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(*SEED_RANGE)
        self.seed_spin.setToolTip("noise seed used by Reset: same seed, same priming -> the same audio")
        self.seed_spin.setValue(host.settings.seed)
        self.seed_label.setBuddy(self.seed_spin)
        self.seed_label.setToolTip(self.seed_spin.toolTip())
        self.reset_button = QPushButton("Reset")
        self.reset_button.setObjectName("resetButton")
        self.reset_button.setToolTip("back to the model's initial state, noise restarted from this seed")
        self.reset_button.clicked.connect(self.reset)
        self.reprime_button = QPushButton("Re-prime")
        self.reprime_button.setToolTip("prime again from the selected seed slot")
        self.reprime_button.clicked.connect(lambda: self.prime(host.session.selected_slot))
        self.pads_label = QLabel("Pads")
        self.pads_label.setToolTip("learn a note: that note and the ones above it select and prime slots 1, 2, …")
        side.addWidget(self.seed_label, 0, 0)
        side.addWidget(self.seed_spin, 0, 1)
        self.learn_buttons = {}
        for r, (name, widget) in enumerate(
            (("reset", self.reset_button), ("prime", self.reprime_button), ("slot", self.pads_label)), start=1
        ):
            side.addWidget(widget, r, 0)
            self.learn_buttons[name] = learn_button(host, name)
            side.addWidget(self.learn_buttons[name], r, 1)
        self.input_label = QLabel("Live input")
        self.input_combo = QComboBox()
        self.input_combo.setToolTip(
            f"call and response: keep the last seconds of this input in seed slot {host.session.slot_count}; "
            "its Prime, key, pad or /prime primes the model from what was just played into it"
        )
        self.input_label.setBuddy(self.input_combo)
        self.input_combo.activated.connect(lambda i: self.choose_input(self.input_combo.itemData(i)))
        side.addWidget(self.input_label, 4, 0)
        side.addWidget(self.input_combo, 4, 1)
        side.setRowStretch(5, 1)
        lay.addLayout(side)
        self.refresh_inputs()

    def refresh_inputs(self) -> None:
        """List the audio inputs in the picker, the one in use selected."""
        session = self.host.session
        current = session.live_input.device.index if session.live_input is not None else None
        self.input_combo.clear()
        for device, label in session.input_devices():
            self.input_combo.addItem(label, device)
            if device == current:
                self.input_combo.setCurrentIndex(self.input_combo.count() - 1)

    def choose_input(self, device: int | str | None) -> bool:
        """Keep this input (None: none) in the last seed slot; False (and a message) if it cannot be opened."""
        session = self.host.session
        try:
            session.set_input(device)
        except UserError as e:
            self.host.show_error(str(e))
            self.refresh_inputs()
            return False
        live = session.live_input
        self.host.set_status(
            f"{live.name}: seed slot {session.input_slot + 1} keeps its last {live.seconds:g} s"
            if live is not None
            else "no live input"
        )
        self.restore()
        return True

    def choose_seed(self, index: int) -> None:
        start = self.host.settings.seed_file(index)
        path, _ = QFileDialog.getOpenFileName(self, f"Audio for seed {index + 1}", start, AUDIO_FILTER)
        if path:
            self.load_seed(index, path)

    def load_seed(self, index: int, path: str | Path) -> bool:
        """Read an audio file into seed slot `index` and draw it; False (and a message) if unreadable."""
        try:
            clip = self.host.session.load_seed(index, Path(path))
        except UserError as e:
            self.host.show_error(str(e))
            return False
        self.slots[index].set_clip(clip.name, clip.audio, clip.seconds, clip.file_seconds)
        self.host.settings.set_seed_file(index, clip.path)
        self.host.set_status(f"seed {index + 1}: {clip.name}")
        return True

    def load_dropped(self, paths: list[Path]) -> None:
        """Audio files dropped on the window fill the empty slots in order."""
        session = self.host.session
        free = [i for i in range(len(self.slots)) if session.seed_clip(i) is None]
        for index, path in zip(free, paths):
            self.load_seed(index, path)
        if len(paths) > len(free):
            self.host.show_error(f"{len(paths) - len(free)} file(s) left over: all seed slots are full")

    def restore(self) -> None:
        """Fill the slots from the session (carried over) or else from the files remembered last time."""
        session = self.host.session
        for i, slot in enumerate(self.slots):
            clip = session.seed_clip(i)
            path = self.host.settings.seed_file(i)
            if clip is None and path and Path(path).is_file():
                try:
                    clip = session.load_seed(i, Path(path))
                except UserError:
                    clip = None
            if clip is None:
                slot.set_clip(None, None)
            elif clip.live is not None:
                self.show_live(i)
            else:
                slot.set_clip(clip.name, clip.audio, clip.seconds, clip.file_seconds)
        self._version = session.seeds_version

    def show_live(self, index: int) -> None:
        """Redraw a live-input slot with what its input holds now."""
        clip = self.host.session.seed_clip(index)
        if clip is not None and clip.live is not None:
            audio = clip.take()
            self.slots[index].set_live(clip.name, audio, len(audio) / clip.sample_rate, clip.file_seconds)

    def poll_slow(self) -> None:
        """Once a second: the live input's slot shows what it has heard."""
        for i in range(len(self.slots)):
            self.show_live(i)

    def prime(self, index: int) -> None:
        """Select seed slot `index` and prime the engine from it (in the background; audio goes on)."""
        try:
            self.host.session.prime(index)
        except UserError as e:
            self.host.show_error(str(e))
            return
        self.host.set_status(f"priming from seed {index + 1}")

    def reset(self) -> None:
        seed = self.seed_spin.value()
        self.host.session.reset(seed)
        self.host.settings.seed = seed
        self.host.set_status(f"reset, seed {seed}")

    def poll_fast(self) -> None:
        session = self.host.session
        selected = session.selected_slot
        for i, slot in enumerate(self.slots):
            if slot.property("active") != (i == selected):
                slot.set_active(i == selected)
        if session.seeds_version != self._version:
            self.restore()
