"""MIDI with the streaming Player on a real JACK server: `start_from_args` wires MIDI into the Player the way
`rt-samplernn play` does, and a flood of 12,000 messages all arrives while the JACK stream plays and the
last values land. Whether the stream underruns meanwhile is timing: benchmarks/stream_timing.py."""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytest

from tests.midi_helpers import jack_sender, make_engine, midi_bundle, tone, wait_until

pytest.importorskip("rtmidi")

pytestmark = pytest.mark.jack


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return midi_bundle(tmp_path_factory)


def midi_args(*argv):
    from rt_samplernn.commands.midi_options import add_midi_arguments

    parser = argparse.ArgumentParser()
    add_midi_arguments(parser)
    return parser.parse_args(list(argv))


def test_cc_lands_within_one_block_of_the_players_worker(jack, bundle, tmp_path, monkeypatch):
    """The real Player on JACK: hooks around LiveControl's note, per block, which writes had landed before
    the block started and which temperature the engine then generated it with."""
    from rt_samplernn.live.player import Player
    from tests.midi_helpers import start_from_args

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    (tmp_path / "m.toml").write_text(
        "[params.temperature]\nminimum = 0.5\nmaximum = 1.5\ndefault = 1.0\n"
        'smoothing_ms = 0\n[[mapping]]\nparam = "temperature"\ncc = 74\n'
    )
    engine = make_engine(bundle)
    player = Player(engine, device="system", latency_ms=100.0)
    rows = []
    seen = [0]
    player.add_block_hook(lambda frames: seen.__setitem__(0, ctl.params.temperature.version))
    ctl = start_from_args(
        midi_args("--midi", "virtual", "--midi-api", "jack", "--midi-map", str(tmp_path / "m.toml")), engine, player
    )
    player.add_block_hook(lambda frames: rows.append((seen[0], float(engine.temperatures[0]))))
    try:
        player.start()
        with jack_sender("rt-samplernn") as out:
            wait_until(lambda: len(rows) >= 3, what="blocks")
            before = ctl.params.temperature.version
            out.send_message([0xB3, 74, 0])
            wait_until(lambda: ctl.params.temperature.version != before, what="the CC")
            written = ctl.params.temperature.version
            n = len(rows)
            wait_until(lambda: len(rows) >= n + 3, what="more blocks", info=player.metrics)
        got = list(rows)
        m = player.metrics()
    finally:
        ctl.close()
        player.stop()
    before_rows = [t for v, t in got if v < written]  # the last may have caught the new value early
    assert before_rows[0] == pytest.approx(1.0) and all(t in (1.0, 0.5) for t in before_rows)
    after = [t for v, t in got if v >= written]
    assert after[0] == pytest.approx(0.5) and all(t == pytest.approx(0.5) for t in after)
    assert m.error is None and m.seconds_played > 0


def test_a_midi_flood_all_arrives_while_the_jack_stream_plays(jack, bundle, tmp_path, monkeypatch):
    from rt_samplernn.live.player import Player
    from tests.midi_helpers import start_from_args

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no saved map: the default one
    engine = make_engine(bundle, voices=2)
    player = Player(engine, device="system", latency_ms=100.0)
    args = midi_args("--midi", "virtual", "--midi-api", "jack", "--seed-slot", str(tone(tmp_path / "a.wav")))
    ctl = start_from_args(args, engine, player)
    try:
        player.start()
        control = ctl.control
        wait_until(lambda: player.metrics().seconds_played > 0.3, what="playback")
        with jack_sender("rt-samplernn") as out:
            sent = dropped = 0  # dropped: what rtmidi itself filters out (clock, sysex)
            for burst in range(4):
                for i in range(3000):
                    k = burst * 3000 + i
                    if k % 100 == 7:
                        out.send_message([0xF8])  # clock
                        dropped += 1
                    elif k % 500 == 11:
                        out.send_message([0xF0, 0x7D, k % 128, 0xF7])  # sysex
                        dropped += 1
                    elif k % 1000 == 13:
                        out.send_message([0x90, 36, 100])  # a pad: prime from slot 0
                    elif k % 2 == 0:
                        out.send_message([0xB0, 1, k % 128])  # temperature
                    else:
                        out.send_message([0xB0, 21 + (k % 2), (k * 7) % 128])  # voice temperatures
                    sent += 1
                time.sleep(0.05)
            out.send_message([0xB0, 7, 100])  # the last words: gain
            out.send_message([0xB0, 1, 0])  # and the bottom of the temperature range for both voices
            sent += 2
            wait_until(lambda: ctl.messages >= sent - dropped, timeout_s=20, what="the flood to drain")
        wait_until(lambda: control.primes >= 1, what="a prime from the pads")
        blocks = control.blocks
        wait_until(lambda: control.blocks >= blocks + 20, what="blocks after the flood", info=player.metrics)
        m = player.metrics()
    finally:
        ctl.close()
        player.stop()
    assert ctl.messages == sent - dropped  # all of it arrived
    assert ctl.errors == 0
    assert m.error is None
    bottom = ctl.params.temperature.spec.minimum
    assert np.allclose(engine.temperatures, bottom) and engine.gain == pytest.approx(2.0 * (100 / 127) ** 2)


def test_play_command_with_midi(jack, bundle, tmp_path, monkeypatch, capsys):
    """`rt-samplernn play BUNDLE --midi virtual` opens the port and plays (software clock: no WAV needed)."""
    from rt_samplernn.cli import main
    from rt_samplernn.live.midi import Mapping, MidiMap, save_map

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    map_path = save_map(MidiMap((Mapping("gain", "cc", 9),), slots=("a.wav",)), tmp_path / "live.toml")
    tone(tmp_path / "a.wav")
    rc = main(
        [
            "play",
            str(bundle),
            "--device",
            "none",
            "--seconds",
            "0.3",
            "-q",
            "--midi",
            "virtual",
            "--midi-api",
            "jack",
            "--midi-map",
            str(map_path),
            "--midi-channel",
            "2",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "MIDI: listening on virtual port 'rt-samplernn'" in err and str(map_path) in err
    rc = main(
        [
            "play",
            str(bundle),
            "--device",
            "none",
            "--seconds",
            "0.3",
            "-q",
            "--midi",
            "nanokontrol",
            "--midi-api",
            "jack",
        ]
    )
    assert rc == 1 and "MIDI port 'nanokontrol' not found" in capsys.readouterr().err


def test_playback_goes_on_when_the_midi_port_vanishes(jack, bundle, tmp_path, monkeypatch):
    from rt_samplernn.live.player import Player
    from tests.midi_helpers import start_from_args

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    engine = make_engine(bundle)
    player = Player(engine, device="system", latency_ms=100.0)
    with jack_sender(None, client="knobs") as out:
        ctl = start_from_args(midi_args("--midi", "knobs", "--midi-api", "jack"), engine, player)
        ctl.port_check_s = 0.05
        player.start()
        out.send_message([0xB0, 7, 0])
        wait_until(lambda: ctl.params.gain.target == 0.0, what="a CC")
        v = ctl.status_version
    try:  # the controller is unplugged
        wait_until(lambda: ctl.status_version != v and not ctl.connected, what="the vanish report")
        played = player.metrics().seconds_played
        wait_until(
            lambda: player.metrics().seconds_played > played + 0.3, what="playback going on", info=player.metrics
        )
        with jack_sender(None, client="knobs") as out:  # and plugged back in
            wait_until(lambda: ctl.connected, what="the reconnect")
            out.send_message([0xB0, 7, 127])
            wait_until(lambda: ctl.params.gain.target == 2.0, what="a CC after the reconnect")
        m = player.metrics()
    finally:
        ctl.close()
        player.stop()
    assert m.running and m.error is None
