"""The window's bookmarks (saved with the session file), hot-swap from the open action, and OSC into the window."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from pythonosc.udp_client import SimpleUDPClient

from tests.test_gui_window import bundle, jack_module, make_window, start  # noqa: F401  (pytest fixtures, used by name)


@pytest.fixture(scope="module")
def other_bundle(tmp_path_factory) -> Path:
    """Another tiny bundle (2 tiers) to swap to."""
    from tests.bundle_helpers import tiny_bundle

    return tiny_bundle(tmp_path_factory.mktemp("other") / "other", seed=5, frame_sizes=(16, 64))[1]


def test_bookmarks_survive_a_save_and_load_of_the_session_file(qtbot, make_window, bundle, tmp_path):  # noqa: F811  (the imported fixtures, as arguments)
    ini = tmp_path / "rig.ini"
    w = make_window(bundle, voices=2, settings=ini)
    assert not any(b.property("filled") for b in w.bookmarks.recall_buttons)
    w.bookmarks.save_buttons[2].click()  # stopped: the engine is idle, saved at once
    saved = w.session.params.bookmarks[2]
    assert saved is not None and w.session.bookmark_filled(2)
    w.close()  # writes the session's bookmarks file beside the settings
    assert (tmp_path / "rig-bookmarks.npz").is_file()

    w2 = make_window(bundle, settings=ini)
    assert w2.bookmarks.recall_buttons[2].property("filled") and not w2.bookmarks.recall_buttons[1].property("filled")
    loaded = w2.session.params.bookmarks[2]
    assert loaded is not None and loaded.bundle_id == saved.bundle_id and loaded.voices == 2
    assert all(np.array_equal(a, b) for a, b in zip(loaded.states[0], saved.states[0], strict=True))
    w2.activateWindow()
    qtbot.waitUntil(w2.isActiveWindow, timeout=2000)  # window shortcuts need the active window
    qtbot.keyClick(w2, Qt.Key.Key_F3)  # the stage key of bookmark 3
    assert "back to bookmark 3" in w2.status.text()
    w2.bookmarks.recall_buttons[0].click()
    assert "bookmark 1 is empty" in w2.last_error


def test_a_damaged_bookmarks_file_is_a_notice_and_leaves_the_slots_as_they_were(qtbot, make_window, bundle, tmp_path):  # noqa: F811  (the imported fixtures, as arguments)
    ini = tmp_path / "rig.ini"
    w = make_window(bundle, settings=ini)
    w.bookmarks.save_buttons[1].click()
    w.close()
    marks = tmp_path / "rig-bookmarks.npz"
    with np.load(marks) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["1/levels"] = arrays["1/levels"] + 10**6  # levels no quantizer has: onnxruntime's Gather would fail
    np.savez(marks, **arrays)

    w2 = make_window(bundle, settings=ini)
    assert w2.last_error.startswith(f"{marks}: member 1/levels holds ") and "\n" not in w2.last_error
    assert not any(w2.session.bookmark_filled(i) for i in range(w2.session.bookmark_count))
    w2.bookmarks.save_buttons[0].click()  # the window goes on: a new bookmark is saved and recalled
    w2.bookmarks.recall_buttons[0].click()
    assert "back to bookmark 1" in w2.status.text()


def test_bookmarks_hot_swap_and_osc_while_playing(qtbot, make_window, bundle, other_bundle, jack_module, tmp_path):  # noqa: F811  (the imported fixtures, as arguments)
    w = make_window(bundle, settings=tmp_path / "live.ini")
    w.session.open_osc(0, "127.0.0.1")
    start(qtbot, w)
    session = w.session
    w.bookmarks.save_buttons[0].click()  # taken by the worker between two blocks
    qtbot.waitUntil(lambda: session.bookmark_filled(0), timeout=5000)
    w.bookmarks.recall_buttons[0].click()  # and put back at the next block
    qtbot.waitUntil(lambda: session.control.recalls == 1, timeout=5000)

    client = SimpleUDPClient("127.0.0.1", session.osc_port)
    client.send_message("/bookmark/save", 4)
    qtbot.waitUntil(lambda: session.bookmark_filled(3), timeout=5000)
    qtbot.waitUntil(lambda: w.bookmarks.recall_buttons[3].property("filled"), timeout=5000)

    broken = tmp_path / "broken"
    shutil.copytree(other_bundle, broken)
    (broken / "frame.onnx").write_bytes(b"not a graph")
    assert w.open_bundle(broken)  # while playing: loaded in the background, refused, the old one plays on
    qtbot.waitUntil(lambda: "not swapped in" in w.last_error, timeout=30000)
    assert session.running and session.bundle == bundle and w.windowTitle().endswith(bundle.name)

    client.send_message("/bundle", str(other_bundle))  # over OSC: the window opens it, crossfaded in
    qtbot.waitUntil(lambda: session.bundle == other_bundle, timeout=30000)
    assert session.running and session.player.error is None
    qtbot.waitUntil(lambda: w.windowTitle().endswith("other"), timeout=5000)
    assert w.transport.bundle_label.text() == "other"
    w.bookmarks.recall_buttons[0].click()  # a bookmark of the other bundle: refused with a notice
    qtbot.waitUntil(lambda: "another bundle" in w.last_error, timeout=5000)
    assert session.running
