"""Starting the performance window: the QApplication, settings, the bundle to open, and the event loop.

`create_window()` is what tests and `rt-samplernn gui` share; `main()` adds the event loop. Settings live
in QSettings ("rt-samplernn", "gui") unless a file is given (tests pass a temporary INI file).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PyQt6.QtCore import QSettings, QTimer
from PyQt6.QtWidgets import QApplication
from rt_samplernn.gui.session import LiveSession
from rt_samplernn.gui.theme import apply_theme
from rt_samplernn.gui.window import PerformanceWindow

ORGANIZATION = "rt-samplernn"
APPLICATION = "gui"


def default_bundle() -> Path | None:
    """The demo bundle shipped in the package, if it has been trained and exported; else None."""
    from rt_samplernn.models import DEMO_BUNDLE

    return DEMO_BUNDLE if (Path(DEMO_BUNDLE) / "model.json").is_file() else None


def open_settings(path: str | Path | None = None) -> QSettings:
    """The user's settings, or an INI file at `path` (for tests and for several rigs on one machine)."""
    if path is not None:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


def application(argv: list[str] | None = None) -> QApplication:
    """The running QApplication, created (and themed) on first use."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setOrganizationName(ORGANIZATION)
        app.setApplicationName("rt-samplernn")
    apply_theme(app)
    return app  # type: ignore[return-value]


def create_window(bundle: str | Path | None = None, settings: QSettings | None = None,
                  session: LiveSession | None = None, voices: int | None = None,
                  use_default: bool = True) -> PerformanceWindow:
    """A shown window with `bundle` open: else the last bundle used, else the demo, else none (asks)."""
    application()
    settings = settings if settings is not None else open_settings()
    session = session if session is not None else LiveSession()
    if voices:
        session.voices_wanted = voices
    else:
        session.voices_wanted = settings.value("voices", 1, type=int)
    window = PerformanceWindow(session, settings)
    if bundle is None and use_default:
        last = settings.value("bundle", "", type=str)
        bundle = last if last and (Path(last) / "model.json").is_file() else default_bundle()
    if bundle is not None:
        window.open_bundle(bundle)
    window.show()
    return window


def main(bundle: str | Path | None = None, settings_path: str | Path | None = None, device: str | None = None,
         latency_ms: float | None = None, midi: str | None = None, voices: int | None = None,
         provider: str = "auto", seeds: list[str] | None = None, start: bool = False,
         screenshot: str | Path | None = None, quit_after_s: float | None = None) -> int:
    """Run the window until it is closed; with `screenshot`, save a picture of it after `quit_after_s` and exit."""
    app = application()
    window = create_window(bundle, open_settings(settings_path), session=LiveSession(provider=provider),
                           voices=voices)
    if device is not None:
        window.select_device(device)
    if latency_ms is not None:
        window.latency_spin.setValue(int(latency_ms))
    if midi is not None:
        window.open_midi(midi)
    else:
        window.restore_midi()
    if window.session.has_model:
        for i, path in enumerate(seeds or []):
            window.load_seed(i, path)
        if start:
            if seeds:
                window.prime(0)
            window.toggle_running(True)
    if quit_after_s is not None:
        def finish() -> None:
            if screenshot:
                window.grab().save(str(screenshot))
            window.close()
        QTimer.singleShot(int(quit_after_s * 1000), finish)
    return app.exec()
