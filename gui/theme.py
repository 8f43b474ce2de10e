"""The window's look: a dark, high-contrast stage theme (a Fusion palette plus a small style sheet)."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication

ICONS = Path(__file__).parent / "icons"  # the spin boxes' arrows (a styled spin box draws none of its own)

STYLE_SHEET = """
QWidget { font-size: 10pt; }
QMainWindow, QWidget#root { background: #1b2027; }
QGroupBox {
    border: 1px solid #313a46; border-radius: 6px; margin-top: 14px; padding: 8px 6px 6px 6px;
    background: #20262e;
}
QGroupBox::title {
    subcontrol-origin: margin; left: 10px; padding: 0 4px; color: #f0a030;
    font-weight: bold; letter-spacing: 1px; text-transform: uppercase;
}
QFrame#transport { background: #151a20; border: 1px solid #313a46; border-radius: 6px; }
QLabel#bundleName { font-size: 13pt; font-weight: bold; color: #f3f3f3; padding-left: 8px; }
QLabel#dialTitle { font-weight: bold; color: #d8dee6; }
QLabel#dialValue {
    font-family: monospace; font-size: 12pt; color: #5ad1c8; background: #12161c;
    border: 1px solid #2c3440; border-radius: 3px; padding: 1px 6px;
}
QLabel#mappingLabel { color: #8a96a8; font-size: 9pt; }
QLabel#placeholder { font-size: 14pt; color: #8a96a8; }
QLabel#midiActivity, QLabel#latencyLabel { color: #8a96a8; font-size: 9pt; }
QLabel#seedTitle { font-weight: bold; color: #d8dee6; }
QLabel#seedName { color: #8a96a8; font-size: 9pt; }
QPushButton {
    background: #2b333e; color: #e6e6e6; border: 1px solid #3b4552; border-radius: 4px; padding: 4px 10px;
}
QPushButton:hover { background: #343e4b; }
QPushButton:disabled { color: #5c6675; background: #232a33; }
QPushButton#learnButton { padding: 2px 8px; font-size: 9pt; }
QPushButton#learnButton:checked { background: #f0a030; color: #15191f; border-color: #f0a030; }
QPushButton#startButton { font-weight: bold; min-width: 90px; }
QPushButton#startButton:checked { background: #2e7d4a; border-color: #4cc26a; }
QPushButton#recordButton { min-width: 110px; }
QPushButton#recordButton:checked { background: #a3302a; border-color: #e0483e; }
QPushButton#primeButton { color: #f0a030; }
QPushButton#bookmarkRecall { min-width: 28px; color: #5c6675; }
QPushButton#bookmarkRecall[filled="true"] { color: #15191f; background: #4aa3df; border-color: #4aa3df; }
QPushButton#bookmarkSave { padding: 2px 4px; font-size: 9pt; }
QPushButton#primeButton:disabled { color: #5c6675; }
QFrame[active="true"] { border: 1px solid #f0a030; }
QComboBox, QSpinBox, QDoubleSpinBox {
    background: #12161c; color: #e6e6e6; border: 1px solid #3b4552; border-radius: 3px; padding: 2px 6px;
}
QSpinBox, QDoubleSpinBox { padding-right: 18px; }
QSpinBox::up-button, QDoubleSpinBox::up-button, QSpinBox::down-button, QDoubleSpinBox::down-button {
    subcontrol-origin: border; width: 16px; background: #2b333e; border-left: 1px solid #3b4552;
}
QSpinBox::up-button, QDoubleSpinBox::up-button { subcontrol-position: top right; border-top-right-radius: 3px; }
QSpinBox::down-button, QDoubleSpinBox::down-button {
    subcontrol-position: bottom right; border-bottom-right-radius: 3px;
}
QSpinBox::up-button:hover, QDoubleSpinBox::up-button:hover,
QSpinBox::down-button:hover, QDoubleSpinBox::down-button:hover { background: #3b4552; }
QSpinBox::up-arrow, QDoubleSpinBox::up-arrow { image: url(ICONS/up-light.svg); width: 8px; height: 5px; }
QSpinBox::down-arrow, QDoubleSpinBox::down-arrow { image: url(ICONS/down-light.svg); width: 8px; height: 5px; }
QSpinBox::up-arrow:disabled, QDoubleSpinBox::up-arrow:disabled,
QSpinBox::up-arrow:off, QDoubleSpinBox::up-arrow:off { image: url(ICONS/up-dim.svg); }
QSpinBox::down-arrow:disabled, QDoubleSpinBox::down-arrow:disabled,
QSpinBox::down-arrow:off, QDoubleSpinBox::down-arrow:off { image: url(ICONS/down-dim.svg); }
QTableWidget { background: #12161c; color: #d8dee6; gridline-color: #2c3440; border: 1px solid #2c3440; }
QHeaderView::section { background: #20262e; color: #8a96a8; border: 0; padding: 3px; }
QStatusBar { background: #151a20; color: #b8c0cc; }
QMenuBar { background: #151a20; color: #d8dee6; }
QMenuBar::item:selected, QMenu::item:selected { background: #343e4b; }
QMenu { background: #20262e; color: #e6e6e6; }
"""


def apply_theme(app: QApplication) -> None:
    """Fusion style, a dark palette, and the style sheet above."""
    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#1b2027",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#12161c",
        QPalette.ColorRole.AlternateBase: "#20262e",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#2b333e",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.Highlight: "#f0a030",
        QPalette.ColorRole.HighlightedText: "#15191f",
        QPalette.ColorRole.ToolTipBase: "#20262e",
        QPalette.ColorRole.ToolTipText: "#e6e6e6",
        QPalette.ColorRole.Light: "#3b4552",
        QPalette.ColorRole.Midlight: "#313a46",
        QPalette.ColorRole.Dark: "#12161c",
        QPalette.ColorRole.Mid: "#2c3440",
        QPalette.ColorRole.Shadow: "#0b0e12",
    }
    for role, color in roles.items():
        pal.setColor(role, QColor(color))
    app.setPalette(pal)
    app.setStyleSheet(STYLE_SHEET.replace("ICONS", ICONS.as_posix()))
