"""Monitoring that failed silently (class 7 of issue 22): a seed file that disappears while playing.

Every watchdog re-prime then fails to read the seed: it falls back to a reset (the model is not left
collapsed), says so in the player's metrics, on play's status line and in the window, and is never counted
as a re-prime from the seed.
"""

from __future__ import annotations

import numpy as np
import soundfile

from rt_samplernn.audio import FileClip
from rt_samplernn.commands.play import format_status
from rt_samplernn.live.devices import NO_DEVICE
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.watchdog import Reprimer
from tests.stream_helpers import tiny_bundle


def seed_file(path):
    soundfile.write(str(path), (0.5 * np.sin(np.arange(8000) / 5.0)).astype(np.float32), 16000)
    return FileClip(path)


def test_a_reprime_from_a_vanished_seed_file_resets_instead_and_says_so(tmp_path):
    bundle = tiny_bundle(tmp_path / "b")
    clip = seed_file(tmp_path / "seed.wav")
    engine, expected = Engine(bundle, seed=1), Engine(bundle, seed=1)
    engine.generate(500)  # somewhere along, as a collapsed voice would be
    reprimer = Reprimer(engine, seed=(clip, clip.rate), reset_seed_base=2)
    (tmp_path / "seed.wav").unlink()
    assert reprimer.request(wait=True)
    assert reprimer.fallbacks == 1 and reprimer.failures == 0 and reprimer.recoveries == 1
    assert "re-prime from the seed failed" in reprimer.last_error and "seed.wav" in reprimer.last_error
    assert reprimer.last_error.endswith("reset instead")
    expected.reset(2 * 1_000_003 + 1)  # what the fallback did: a reset with that recovery's fresh noise seed
    assert np.array_equal(engine.generate_levels(200), expected.generate_levels(200))


def test_the_status_line_and_the_window_tell_of_failed_reprimes(tmp_path, qtbot):
    from rt_samplernn.gui.session import LiveSession

    bundle = tiny_bundle(tmp_path / "b")
    clip = seed_file(tmp_path / "seed.wav")
    session = LiveSession(provider="cpu")
    session.open_bundle(bundle)
    session.start(NO_DEVICE, latency_ms=100.0)
    try:
        player = session.player
        player.set_seed(clip)
        (tmp_path / "seed.wav").unlink()
        assert player.reprime(wait=True)
        m = player.metrics()
        assert m.reprime_failures == 1 and "seed.wav" in (m.reprime_error or "")
        assert "(1 re-prime failed: reset instead)" in format_status(m)
        session.meters()  # what the window's timer calls: the failure becomes a notice for the status line
        notice = session.take_error()
        assert notice.startswith("watchdog: re-prime from the seed failed") and "reset instead" in notice
    finally:
        session.close()
