"""Shared fixtures: a real JACK dummy server, Qt offscreen, quiet onnxruntime, the windows a test opens."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.jack import jack_available, jack_server

JACK_FIXTURES = ("jack", "jack48k", "jack_module")  # fixtures that start a JACK dummy server


@pytest.hookimpl(tryfirst=True)  # before -m selects: `-m "not jack"` then runs without a JACK server
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that starts a JACK server through a fixture carries the `jack` marker (honest markers)."""
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in JACK_FIXTURES):
            item.add_marker(pytest.mark.jack)


@pytest.fixture
def jack():
    """A JACK dummy server at 16 kHz, block 256; yields its name (JACK_DEFAULT_SERVER is set to it)."""
    if not jack_available():
        pytest.skip("jackd not installed (apt-get install jackd2)")
    with jack_server(16000, 256) as name:
        yield name


@pytest.fixture
def jack48k():
    """A JACK dummy server at 48 kHz, block 256."""
    if not jack_available():
        pytest.skip("jackd not installed (apt-get install jackd2)")
    with jack_server(48000, 256) as name:
        yield name


@pytest.fixture(scope="session")
def music_dir(tmp_path_factory):
    """A folder of real recorded music excerpts at 16 kHz mono (6 s of two tracks) plus a held-out one."""
    from tests.audio_fixtures import drascula_track, write_excerpt

    root = tmp_path_factory.mktemp("music")
    (root / "train").mkdir()
    (root / "val").mkdir()
    write_excerpt(drascula_track(2), root / "train" / "a.wav", 10.0, 3.0)
    write_excerpt(drascula_track(5), root / "train" / "b.wav", 10.0, 3.0)
    write_excerpt(drascula_track(7), root / "val" / "c.wav", 10.0, 2.0)
    return root


@pytest.fixture
def one_torch_thread():
    """Torch on one thread, as the benchmarks and the live engine run: deterministic and fair on 2 cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def keep_window(qtbot, tmp_path, monkeypatch) -> Iterator[Callable[[Any], Any]]:
    """keep(window) -> window: held by qtbot and closed after the test. The windows' files go under tmp_path,
    never the user's: the MIDI map's default folder (XDG_CONFIG_HOME) and QSettings' user scope."""
    from PyQt6.QtCore import QSettings

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for settings_format in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(settings_format, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    windows = []

    def keep(window: Any) -> Any:
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield keep
    for window in windows:
        window.close()
