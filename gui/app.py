"""Starting the performance window: the QApplication, settings, the bundle to open, signals, the event loop.

`create_window()` is what tests and `rt-samplernn gui` share; `main()` adds the event loop. Ctrl-C
(SIGINT) and SIGTERM close the window the way File > Quit does (settings saved, audio and MIDI closed):
`main()` then returns 130 after Ctrl-C and 0 after SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from rt_samplernn.errors import UserError
from rt_samplernn.gui.session import LiveSession
from rt_samplernn.gui.settings import ORGANIZATION, Settings, open_settings
from rt_samplernn.gui.theme import apply_theme
from rt_samplernn.gui.window import PerformanceWindow

SIGNAL_POLL_MS = 200  # Python runs signal handlers only between bytecodes: wake the interpreter this often
_app: QApplication | None = None  # the one QApplication, kept alive here


def default_bundle() -> Path | None:
    """The demo bundle shipped in the package, if it has been trained and exported; else None."""
    from rt_samplernn.models import DEMO_BUNDLE

    return DEMO_BUNDLE if (Path(DEMO_BUNDLE) / "model.json").is_file() else None


def application(argv: list[str] | None = None) -> QApplication:
    """The running QApplication, created (and themed) on first use."""
    global _app
    app = QApplication.instance()
    if app is None:
        app = _app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setOrganizationName(ORGANIZATION)
        app.setApplicationName("rt-samplernn")
    if not isinstance(app, QApplication):
        raise RuntimeError("a QCoreApplication without widgets is running; the window needs a QApplication")
    apply_theme(app)
    return app


def create_window(
    bundle: str | Path | None = None,
    settings: Settings | None = None,
    session: LiveSession | None = None,
    voices: int | None = None,
    use_default: bool = True,
) -> PerformanceWindow:
    """A shown window with `bundle` open: else the last bundle used, else the demo, else none (asks)."""
    application()
    settings = settings if settings is not None else open_settings()
    session = session if session is not None else LiveSession()
    session.voices_wanted = voices or settings.voices
    window = PerformanceWindow(session, settings)
    if bundle is None and use_default:
        last = settings.bundle
        bundle = last if last and (Path(last) / "model.json").is_file() else default_bundle()
    if bundle is not None:
        window.open_bundle(bundle)
    for notice in settings.notices:  # values dropped from the settings file: shown after "opened ..."
        session.post_notice(notice)
    window.show()
    return window


class _Signals:
    """SIGINT and SIGTERM close the window cleanly instead of killing the process mid-stream."""

    def __init__(self, app: QApplication) -> None:
        self.app = app
        self.window: PerformanceWindow | None = None
        self.received: int | None = None
        main = threading.current_thread() is threading.main_thread()  # only the main thread may set handlers
        self.old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)} if main else {}
        self.timer = QTimer()
        self.timer.timeout.connect(lambda: None)  # gives Python a chance to run the handler
        self.timer.start(SIGNAL_POLL_MS)

    def _handle(self, signum: int, frame: object) -> None:
        if self.received is None:
            self.received = signum
        if self.window is not None:
            QTimer.singleShot(0, self.window.close)
        else:
            QTimer.singleShot(0, self.app.quit)

    def exit_code(self, rc: int) -> int:
        codes: dict[int | None, int] = {signal.SIGINT: 130, signal.SIGTERM: 0}
        return codes.get(self.received, rc)

    def restore(self) -> None:
        self.timer.stop()
        for s, handler in self.old.items():
            signal.signal(s, handler)


def main(
    bundle: str | Path | None = None,
    settings_path: str | Path | None = None,
    device: str | None = None,
    latency_ms: float | None = None,
    midi: str | None = None,
    voices: int | None = None,
    provider: str = "auto",
    force: bool = False,
    seeds: list[str] | None = None,
    start: bool = False,
    osc: tuple[int, str] | None = None,
    screenshot: str | Path | None = None,
    quit_after_s: float | None = None,
    min_p: float | None = None,
    cold: bool = False,
    full_range: bool = False,
    effects: argparse.Namespace | None = None,
) -> int:
    """Run the window until it is closed; with `screenshot`, save a picture of it after `quit_after_s` and exit.
    ``osc``: (port, host) to listen for OSC on. ``effects``: `play`'s effect and tempo flags (--fx, --vst3,
    --limiter, --bpm, --loop-beats, --loop-variation; rt_samplernn.gui.session_fx.effect_options).

    Returns the exit status: 0, or 130 after Ctrl-C.
    """
    app = application()
    signals = _Signals(app)
    try:
        settings = open_settings(settings_path)
        for notice in settings.notices:
            print(f"rt-samplernn gui: {notice}", file=sys.stderr)
        session = LiveSession(provider=provider, force=force, fit_voices=True, effects=effects)  # the voices that fit
        session.min_p_wanted, session.cold, session.full_range = min_p, cold, full_range
        window = create_window(bundle, settings, session=session, voices=voices)
        signals.window = window
        if signals.received is not None:  # a signal came while the model was loading
            window.close()
            return signals.exit_code(0)
        if device is not None:
            window.transport.select_device(device)
        if latency_ms is not None:
            window.transport.latency_spin.setValue(int(latency_ms))
        if midi is not None:
            window.midi.open_midi(midi)
        else:
            window.restore_midi()
        if osc is not None:
            try:
                window.session.open_osc(*osc)
                window.set_status(f"OSC: listening on udp {osc[1]}:{window.session.osc_port}")
            except UserError as e:
                window.show_error(str(e))
        if window.session.has_model:
            for i, path in enumerate(seeds or []):
                window.seeds.load_seed(i, path)
            if start:
                if seeds:
                    window.seeds.prime(0)
                window.transport.toggle_running(True)
        if quit_after_s is not None:

            def finish() -> None:
                if screenshot:
                    window.grab().save(str(screenshot))
                window.close()

            QTimer.singleShot(int(quit_after_s * 1000), finish)
        return signals.exit_code(app.exec())
    finally:
        signals.restore()
