"""The window's building blocks: a dial with its value and a learn button, meters, beat lights, a scope/spectrum
view, waveform thumbnails and seed slots.

Widgets here know nothing about engines or MIDI: the window feeds them numbers from its timers and
listens to their signals. Drawing data comes from `rt_samplernn.gui.analysis` (pure NumPy).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QFont,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygonF,
    QResizeEvent,
)
from PyQt6.QtWidgets import (
    QDial,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from rt_samplernn.gui.analysis import Spectrum, envelope, log_bins, trigger_offset

ACCENT = QColor("#f0a030")
GRID = QColor("#2c3440")
TRACE = QColor("#5ad1c8")
BACKGROUND = QColor("#12161c")


def dropped_paths(event: QDragEnterEvent | QDropEvent) -> list[Path]:
    """Local file paths carried by a drag (empty when it carries none)."""
    mime = event.mimeData()
    if mime is None or not mime.hasUrls():
        return []
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]


def accept_file_drag(event: QDragEnterEvent | None) -> None:
    """Take a drag that carries local files (a seed slot and the window take dropped files)."""
    if event is not None and dropped_paths(event):
        event.acceptProposedAction()


class KnobDial(QDial):
    """A QDial drawn like a synth knob: a dark cap, a pointer and an accent arc from the minimum to the value."""

    def paintEvent(self, event: QPaintEvent | None) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        side = min(self.width(), self.height()) - 8
        r = QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)
        span = self.maximum() - self.minimum()
        frac = (self.value() - self.minimum()) / span if span else 0.0
        track = QPen(GRID, max(3.0, side * 0.07))
        track.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(track)
        p.drawArc(r, 225 * 16, -270 * 16)  # Qt angles: 1/16 degree, counter-clockwise from 3 o'clock
        arc = QPen(ACCENT if self.isEnabled() else GRID, max(3.0, side * 0.07))
        arc.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(arc)
        p.drawArc(r, 225 * 16, int(-270 * 16 * frac))
        cap = r.adjusted(side * 0.16, side * 0.16, -side * 0.16, -side * 0.16)
        p.setPen(QPen(QColor("#0b0e12"), 1))
        p.setBrush(QColor("#2f3844") if not self.isSliderDown() else QColor("#3a4452"))
        p.drawEllipse(cap)
        angle = math.radians(225 - 270 * frac)
        c = cap.center()
        rad = cap.width() / 2
        p.setPen(QPen(QColor("#f3f3f3"), max(2.0, side * 0.04), cap=Qt.PenCapStyle.RoundCap))
        p.drawLine(
            QPointF(c.x() + 0.35 * rad * math.cos(angle), c.y() - 0.35 * rad * math.sin(angle)),
            QPointF(c.x() + 0.85 * rad * math.cos(angle), c.y() - 0.85 * rad * math.sin(angle)),
        )
        p.end()


class ParamDial(QWidget):
    """A labelled knob for one parameter: title, knob, value text, MIDI learn button and its mapping.

    The knob works in knob positions u in [0, 1] (`steps` integer steps), the same unit a MIDI CC is
    mapped through (`FloatParam.set_normalized`), so a drag and a controller knob land alike.
    `moved(u)` fires only for the performer's own drags, wheel and keys; `set_position()` (a MIDI knob or
    a preset changed the parameter) moves the knob silently and is ignored while the performer holds it.
    """

    moved = pyqtSignal(float)
    learnToggled = pyqtSignal(bool)

    def __init__(
        self,
        name: str,
        title: str,
        position: float = 0.0,
        text: str = "",
        steps: int = 1000,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.name = name
        self.steps = steps
        self.setObjectName(f"dial_{name}")
        self.title = QLabel(title)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setObjectName("dialTitle")
        self.dial = KnobDial()
        self.dial.setRange(0, steps)
        self.dial.setPageStep(max(1, steps // 20))
        self.dial.setWrapping(False)
        self.dial.setMinimumSize(QSize(64, 64))
        self.dial.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.value_label = QLabel(text)
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.value_label.setObjectName("dialValue")
        self.learn_button = QPushButton("learn")
        self.learn_button.setCheckable(True)
        self.learn_button.setObjectName("learnButton")
        self.learn_button.setToolTip("MIDI learn: click, then move a knob on your controller")
        self.mapping_label = QLabel("—")
        self.mapping_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.mapping_label.setObjectName("mappingLabel")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(2)
        lay.addWidget(self.title)
        lay.addWidget(self.dial, 1)
        lay.addWidget(self.value_label)
        row = QHBoxLayout()
        row.setSpacing(4)
        row.addWidget(self.learn_button)
        row.addWidget(self.mapping_label, 1)
        lay.addLayout(row)

        self.dial.setValue(self._to_step(position))
        self.dial.valueChanged.connect(self._on_dial)
        self.learn_button.toggled.connect(self.learnToggled)

    def _to_step(self, u: float) -> int:
        return int(round(min(max(float(u), 0.0), 1.0) * self.steps))

    def position(self) -> float:
        """The knob position in [0, 1]."""
        return self.dial.value() / self.steps

    def set_position(self, u: float, text: str | None = None) -> None:
        """Show a position set elsewhere (MIDI, preset); emits nothing; ignored while the knob is held."""
        if self.dial.isSliderDown():
            return
        step = self._to_step(u)
        if step != self.dial.value():
            self.dial.blockSignals(True)
            self.dial.setValue(step)
            self.dial.blockSignals(False)
            self.dial.update()
        if text is not None:
            self.set_text(text)

    def set_text(self, text: str) -> None:
        if text != self.value_label.text():
            self.value_label.setText(text)

    def set_mapping_text(self, text: str) -> None:
        self.mapping_label.setText(text or "—")
        self.mapping_label.setToolTip(text)

    def _on_dial(self, step: int) -> None:
        self.moved.emit(step / self.steps)


class LevelMeter(QWidget):
    """A horizontal bar meter with a caption and a value text; colors by thresholds on the fill fraction.

    invert=True for meters where low is bad (ring fill): the bar turns red when the fraction is low.
    """

    def __init__(
        self, caption: str, warn: float = 0.8, alarm: float = 0.95, invert: bool = False, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.caption, self.warn, self.alarm, self.invert = caption, warn, alarm, invert
        self.fraction, self.text = 0.0, "—"
        self.setMinimumHeight(22)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_level(self, fraction: float, text: str) -> None:
        fraction = 0.0 if not math.isfinite(fraction) else min(max(fraction, 0.0), 1.0)
        if abs(fraction - self.fraction) > 1e-3 or text != self.text:
            self.fraction, self.text = fraction, text
            self.update()

    def color(self) -> QColor:
        f = 1.0 - self.fraction if self.invert else self.fraction
        if f >= self.alarm:
            return QColor("#e0483e")
        if f >= self.warn:
            return QColor("#e8b53a")
        return QColor("#4cc26a")

    def paintEvent(self, event: QPaintEvent | None) -> None:
        p = QPainter(self)
        r = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        p.setPen(QPen(GRID))
        p.setBrush(BACKGROUND)
        p.drawRoundedRect(r, 3, 3)
        bar = QRectF(r.x() + 1, r.y() + 1, (r.width() - 2) * self.fraction, r.height() - 2)
        c = self.color()
        c.setAlpha(170)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(c)
        p.drawRoundedRect(bar, 2, 2)
        p.setPen(QColor("#e6e6e6"))
        f = p.font()
        f.setPointSizeF(9)
        p.setFont(f)
        p.drawText(r.adjusted(6, 0, -6, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self.caption)
        p.drawText(r.adjusted(6, 0, -6, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, self.text)
        p.end()


class BeatLights(QWidget):
    """A row of lights, one per beat of a bar: the beat being heard lit (the first of the bar in the accent)."""

    def __init__(self, count: int = 4, parent: QWidget | None = None):
        super().__init__(parent)
        self.lit: int | None = None
        self.set_count(count)

    def set_count(self, count: int) -> None:
        """Show ``count`` lights (a bar of that many beats)."""
        self.count = max(1, int(count))
        self.lit = None
        self.setFixedSize(QSize(22 * self.count, 20))
        self.update()

    def set_beat(self, beat: int | None) -> None:
        """Light beat ``beat`` (counted from 0; shown modulo the lights), or none."""
        lit = None if beat is None else beat % self.count
        if lit != self.lit:
            self.lit = lit
            self.update()

    def paintEvent(self, event: QPaintEvent | None) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        side = min(self.height() - 4, self.width() / self.count - 6)
        for i in range(self.count):
            r = QRectF(3 + i * self.width() / self.count, (self.height() - side) / 2, side, side)
            on = QColor(ACCENT if i == 0 else TRACE)
            p.setPen(QPen(GRID, 1))
            p.setBrush(on if i == self.lit else BACKGROUND)
            p.drawEllipse(r)
        p.end()


class ScopeView(QWidget):
    """Live view of the output: a triggered oscilloscope or a log-frequency spectrum (click to switch).

    `show_audio(block)` takes the newest output samples (float32, any length >= a few hundred); the widget
    keeps only what it draws. It never touches the audio thread: the window's timer hands it snapshots.
    """

    MODES = ("scope", "spectrum")

    def __init__(self, sample_rate: int = 16000, span: int = 512, parent: QWidget | None = None):
        super().__init__(parent)
        self.span = span
        self.mode = "scope"
        self.set_sample_rate(sample_rate)
        self._trace = np.zeros(span, np.float32)
        self._bars = np.full(64, -100.0, np.float32)
        self.setMinimumSize(QSize(240, 120))
        self.setToolTip("click to switch between oscilloscope and spectrum")

    def set_sample_rate(self, sample_rate: int) -> None:
        self.sample_rate = int(sample_rate)
        self.spectrum = Spectrum(2048, self.sample_rate)

    def set_mode(self, mode: str) -> None:
        if mode not in self.MODES:
            raise ValueError(f"mode {mode!r}: one of {self.MODES}")
        self.mode = mode
        self.update()

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        self.set_mode("spectrum" if self.mode == "scope" else "scope")

    def show_audio(self, block: np.ndarray) -> None:
        x = np.asarray(block, dtype=np.float32).reshape(-1)
        if self.mode == "scope":
            start = trigger_offset(x[-2 * self.span :], self.span)
            seg = x[-2 * self.span :][start : start + self.span]
            if seg.size < self.span:
                seg = np.concatenate([np.zeros(self.span - seg.size, np.float32), seg])
            self._trace = seg
        else:
            db = self.spectrum(x)
            self._bars = log_bins(self.spectrum.freqs, db, 64)[1]
        self.update()

    def paintEvent(self, event: QPaintEvent | None) -> None:
        # No antialiasing and a cosmetic 1-px pen: an antialiased wide polyline costs ~15 ms a frame in
        # Qt's raster engine, CPU the generator needs on a small machine; this costs well under 1 ms.
        p = QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), BACKGROUND)
        p.setPen(QPen(GRID, 0))
        for i in range(1, 4):
            p.drawLine(QPointF(0, h * i / 4), QPointF(w, h * i / 4))
        for i in range(1, 8):
            p.drawLine(QPointF(w * i / 8, 0), QPointF(w * i / 8, h))
        f = QFont(p.font())
        f.setPointSizeF(8)
        p.setFont(f)
        if self.mode == "scope":
            y = self._trace
            xs = np.linspace(0, w - 1, y.size)
            ys = h / 2 - np.clip(y, -1, 1) * (h / 2 - 4)
            p.setPen(QPen(TRACE, 0))
            p.drawPolyline(QPolygonF(list(map(QPointF, xs.tolist(), ys.tolist()))))
            p.setPen(QColor("#8a96a8"))
            ms = 1000.0 * self.span / self.sample_rate
            p.drawText(6, 14, f"oscilloscope · {ms:.0f} ms · click for spectrum")
        else:
            n = self._bars.size
            bw = w / n
            axis = 16  # px at the bottom for the frequency labels
            top = h - axis
            frac = np.clip((self._bars + 90.0) / 90.0, 0.0, 1.0)
            c = QColor(TRACE)
            c.setAlpha(200)
            for i, fr in enumerate(frac.tolist()):
                p.fillRect(QRectF(i * bw + 1, top - fr * (top - 18), bw - 2, fr * (top - 18)), c)
            p.fillRect(QRectF(0, top, w, axis), BACKGROUND)
            p.setPen(QColor("#8a96a8"))
            f_max = self.sample_rate / 2
            for hz, text in ((100, "100 Hz"), (1000, "1 kHz"), (4000, "4 kHz"), (10000, "10 kHz")):
                if hz < f_max:
                    x = w * math.log(hz / 30.0) / math.log(f_max / 30.0)
                    p.drawLine(QPointF(x, top), QPointF(x, top + 4))
                    p.drawText(QPointF(x + 3, h - 3), text)
            p.drawText(6, 14, f"spectrum · 30 Hz – {f_max / 1000:g} kHz · 90 dB · click for scope")
        p.end()


class WaveformThumb(QWidget):
    """A clip's waveform drawn as min/max columns; recomputed only when the clip or the width changes."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._audio: np.ndarray | None = None
        self._cols: tuple[np.ndarray, np.ndarray] | None = None
        self.setMinimumSize(QSize(120, 44))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_audio(self, audio: np.ndarray | None) -> None:
        self._audio = None if audio is None else np.asarray(audio, dtype=np.float32)
        self._cols = None
        self.update()

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        self._cols = None
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent | None) -> None:
        p = QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), BACKGROUND)
        if self._audio is None:
            p.setPen(QColor("#5c6675"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "drop audio here")
            p.end()
            return
        if self._cols is None:
            self._cols = envelope(self._audio, max(1, w))
        mins, maxs = self._cols
        mid = h / 2
        p.setPen(QPen(ACCENT, 1))
        for x, (lo, hi) in enumerate(zip(mins.tolist(), maxs.tolist())):
            p.drawLine(QPointF(x + 0.5, mid - hi * (mid - 2)), QPointF(x + 0.5, mid - lo * (mid - 2)))
        p.end()


class SeedSlotWidget(QFrame):
    """One seed slot: a waveform thumbnail, the file's name, Load and Prime buttons; accepts dropped files.

    Signals carry the slot's index: loadRequested(i) for the file dialog, fileDropped(i, path) for a drop,
    primeRequested(i) to prime the engine with the slot's clip.
    """

    loadRequested = pyqtSignal(int)
    fileDropped = pyqtSignal(int, str)
    primeRequested = pyqtSignal(int)

    def __init__(self, index: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.index = index
        self.setObjectName(f"seed_{index}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAcceptDrops(True)
        self.title = QLabel(f"Seed {index + 1}")
        self.title.setObjectName("seedTitle")
        self.name_label = QLabel("empty")
        self.name_label.setObjectName("seedName")
        self.thumb = WaveformThumb()
        self.load_button = QPushButton("Load…")
        self.prime_button = QPushButton("Prime")
        self.prime_button.setToolTip(f"prime the model with this clip (key {index + 1})")
        self.prime_button.setObjectName("primeButton")
        self.prime_button.setEnabled(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(3)
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addWidget(self.name_label, 1, Qt.AlignmentFlag.AlignRight)
        lay.addLayout(top)
        lay.addWidget(self.thumb, 1)
        row = QHBoxLayout()
        row.addWidget(self.load_button)
        row.addWidget(self.prime_button)
        lay.addLayout(row)
        self.load_button.clicked.connect(lambda: self.loadRequested.emit(self.index))
        self.prime_button.clicked.connect(lambda: self.primeRequested.emit(self.index))

    def set_clip(
        self, name: str | None, audio: np.ndarray | None, seconds: float = 0.0, file_seconds: float | None = None
    ) -> None:
        """Show a clip; `file_seconds` longer than `seconds`: the slot holds only the end of a longer file."""
        self.thumb.set_audio(audio)
        cut = file_seconds is not None and file_seconds > seconds + 0.05
        text = f"{name} · last {seconds:.0f} of {file_seconds:.0f} s" if cut else f"{name} · {seconds:.1f} s"
        self.name_label.setText(text if name else "empty")
        tip = f"{name}: primes from the last {seconds:.0f} s only (a longer seed buys little)" if cut else name
        self.name_label.setToolTip(tip or "")
        self.prime_button.setEnabled(audio is not None)

    def set_live(self, name: str, audio: np.ndarray, held_s: float, seconds: float) -> None:
        """Show a live input: what it holds now (``audio``, ``held_s`` long, oldest first) of the ``seconds`` it
        keeps."""
        self.thumb.set_audio(audio if len(audio) else None)
        self.name_label.setText(f"{name} · live {held_s:.0f}/{seconds:.0f} s")
        self.name_label.setToolTip(f"{name}: Prime (its key, pad or /prime) primes from the last {seconds:g} s heard")
        self.prime_button.setEnabled(True)

    def set_active(self, on: bool) -> None:
        self.setProperty("active", on)
        style = self.style()
        if style is not None:  # re-read the style sheet's [active=...] rules
            style.unpolish(self)
            style.polish(self)

    def dragEnterEvent(self, event: QDragEnterEvent | None) -> None:
        accept_file_drag(event)

    def dropEvent(self, event: QDropEvent | None) -> None:
        paths = dropped_paths(event) if event is not None else []
        if event is not None and paths:
            self.fileDropped.emit(self.index, str(paths[0]))
            event.acceptProposedAction()
