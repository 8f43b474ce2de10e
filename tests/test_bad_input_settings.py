"""Settings that would lock the window (class 4 of issue 22): checked once at start, bad values dropped with a
notice naming the file and the key, the old file kept beside the new one, and the window starts (Qt offscreen).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rt_samplernn.gui.app import create_window
from rt_samplernn.gui.session import LiveSession
from rt_samplernn.gui.settings import MAX_VOICES, open_settings
from tests.stream_helpers import tiny_bundle

GOOD = "[General]\nlatency_ms=120\nseed=7\nscope_mode=spectrum\n"


@pytest.fixture
def window_from(keep_window):
    """window_from(ini_path) -> the window started with that settings file (no bundle remembered is opened)."""

    def make(ini: Path):
        settings = open_settings(ini)
        return keep_window(create_window(None, settings, session=LiveSession(provider="cpu"), use_default=False))

    return make


def kept_copies(ini: Path) -> list[Path]:
    return sorted(ini.parent.glob(f"{ini.name}.bad-*"))


@pytest.mark.parametrize(
    "line,key,words",
    [
        ("voices=many", "voices", f"'many' is not a whole number 1..{MAX_VOICES}"),
        ("voices=100000", "voices", f"'100000' is not a whole number 1..{MAX_VOICES}"),
        ("latency_ms=-5", "latency_ms", "'-5' is not a whole number 10..2000"),
        ("seed=١٢", "seed", "is not a whole number 0.."),  # Arabic-Indic digits
        ("scope_mode=waterfall", "scope_mode", "'waterfall' is not one of scope, spectrum"),
        ("fx_session=not json", "fx_session", "'not json' is not a JSON object"),
    ],
)
def test_a_bad_value_is_dropped_with_a_notice_and_the_window_starts(window_from, tmp_path, qtbot, line, key, words):
    ini = tmp_path / "gui.ini"
    text = GOOD.replace(f"{key}=", f"old_{key}=") + line + "\n"
    ini.write_text(text, encoding="utf-8")
    w = window_from(ini)
    assert w.isVisible()
    notices = w.settings.notices
    assert len(notices) == 1 and notices[0].startswith(f"{ini}: {key}: ") and words in notices[0], notices
    assert "dropped (the old file is kept as gui.ini.bad-" in notices[0]
    [copy] = kept_copies(ini)
    assert copy.read_text(encoding="utf-8") == text  # the file as the user left it
    qtbot.waitUntil(lambda: words in w.status.text(), timeout=5000)  # the status line says so
    reopened = open_settings(ini)
    assert reopened.notices == [] and key not in reopened.qsettings.allKeys()  # the next start is clean
    if key != "seed":
        assert reopened.seed == 7  # the good values stay


def test_a_remembered_map_that_cannot_be_parsed_is_dropped(window_from, tmp_path, qtbot):
    bad_map = tmp_path / "live.toml"
    bad_map.write_text("[[[[ not toml")
    ini = tmp_path / "gui.ini"
    ini.write_text(GOOD + f"map_path={bad_map}\n")
    w = window_from(ini)
    assert w.isVisible() and w.session.midi.map_path is None
    [notice] = w.settings.notices
    assert notice.startswith(f"{ini}: map_path: the MIDI map does not load ({bad_map}: not valid TOML")
    assert open_settings(ini).map_path == ""


def test_a_settings_file_of_garbage_is_set_aside_and_the_window_starts(window_from, tmp_path):
    ini = tmp_path / "gui.ini"
    ini.write_bytes(b"\x00\xff[General\nvoices=\x00\x01\n" * 50)
    w = window_from(ini)
    assert w.isVisible()
    assert w.settings.notices and all(n.startswith(f"{ini}: ") for n in w.settings.notices)
    assert kept_copies(ini)


def test_a_bundle_with_bad_settings_still_opens(window_from, tmp_path):
    bundle = tiny_bundle(tmp_path / "b")
    ini = tmp_path / "gui.ini"
    ini.write_text(GOOD + "voices=zero\n")
    settings = open_settings(ini)
    w = create_window(bundle, settings, session=LiveSession(provider="cpu"), use_default=False)
    try:
        assert w.session.engine is not None and w.session.voices == 1
    finally:
        w.close()


@pytest.mark.parametrize(
    "flag,value,words",
    [("--voices", "20", "--voices 20: the window plays 1..8 voices"), ("--latency-ms", "5000", "10..2000 ms")],
)
def test_gui_flags_past_the_windows_limits_are_one_line(capsys, monkeypatch, flag, value, words):
    from rt_samplernn.cli import main

    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert main(["gui", flag, value]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
