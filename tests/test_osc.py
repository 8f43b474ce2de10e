"""OSC from a real UDP client (python-osc) on localhost: parameters, bookmarks, triggers; junk never stalls it."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch
from pythonosc.udp_client import SimpleUDPClient

from rt_samplernn.live.control import LiveControl
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.osc import OscServer, Route, routes_for
from rt_samplernn.live.params import PARAMETERS, Parameters
from tests.bundle_helpers import tiny_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    torch.set_num_threads(1)
    return tiny_bundle(tmp_path_factory.mktemp("osc") / "b", frame_sizes=(4, 16))[1]


@pytest.fixture
def rig(bundle) -> Iterator[tuple[Engine, Parameters, LiveControl, OscServer, SimpleUDPClient, list[str]]]:
    engine = Engine(bundle, voices=2, seed=3)
    params = Parameters(voices=2)
    control = LiveControl(params, engine, start=False)
    opened: list[str] = []
    server = OscServer(params, 0, extra=[Route("/bundle", "s", lambda args: opened.append(str(args[0])))])
    server.start()
    client = SimpleUDPClient("127.0.0.1", server.port)
    try:
        yield engine, params, control, server, client, opened
    finally:
        server.close()
        control.close()


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """UDP on localhost arrives at once, but on another thread: poll (a functional wait, not a timing)."""
    deadline = time.monotonic() + 10.0
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.005)


def test_every_declared_parameter_has_an_address():
    addresses = {r.address for r in routes_for(Parameters(voices=3))}
    for d in PARAMETERS:
        assert d.osc_address in addresses, d.name
    assert {"/voice/1/temperature", "/voice/3/temperature", "/bookmark/save", "/bookmark/recall"} <= addresses
    assert "/voice/1/temperature" in {r.address for r in routes_for(Parameters(voices=1))}


def test_messages_from_a_real_client_change_the_parameters(rig):
    engine, params, control, server, client, opened = rig
    client.send_message("/temperature", 0.7)
    client.send_message("/voice/2/temperature", 0.3)
    client.send_message("/gain", 0.5)
    client.send_message("/watchdog", 0)
    client.send_message("/bundle", "/some/other-bundle")
    wait_for(lambda: server.messages == 5, "five messages applied")
    assert params.temperature.target == pytest.approx(0.7)
    assert params["temperature.2"].target == pytest.approx(0.3)
    assert params.gain.target == pytest.approx(0.5)
    assert params.watchdog.target is False
    assert opened == ["/some/other-bundle"]
    for _ in range(20):  # the knobs ramp in at block boundaries
        control.tick(256)
    assert np.allclose(engine.temperatures, [0.7, 0.3])
    assert engine.gain == pytest.approx(0.5)


def test_bookmarks_and_triggers_over_osc(rig, tmp_path):
    engine, params, control, server, client, _ = rig
    engine.generate(123)
    client.send_message("/bookmark/save", 2)
    wait_for(lambda: server.messages == 1, "save applied")
    control.tick(256)  # the producer takes the snapshot between blocks
    assert params.bookmarks[1] is not None
    after = engine.generate(700)
    client.send_message("/temperature", 0.2)
    client.send_message("/bookmark/recall", 2)
    wait_for(lambda: server.messages == 3, "recall applied")
    engine.generate(300)
    control.tick(256)
    assert np.array_equal(engine.generate(700), after)

    reset, prime = params.reset.version, params.prime.version
    client.send_message("/reset", [])
    client.send_message("/prime", 3)  # seed slot 3: selected, then primed (a pad)
    wait_for(lambda: server.messages == 5, "reset and prime applied")
    assert params.reset.version != reset and params.prime.version != prime
    assert params.slot.target == 2


def test_malformed_and_unknown_messages_are_ignored_counted_and_reported_once_a_second(rig, caplog):
    engine, params, control, server, client, _ = rig
    caplog.set_level(logging.WARNING, logger="rt_samplernn.live.osc")
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    junk = [b"", b"junk", b"/gain\x00\x00\x00,ff\x00" + b"\x00" * 4, b"#bundle\x00" + b"\xff" * 7]  # cut short
    for i in range(50):
        raw.sendto(junk[i % len(junk)], ("127.0.0.1", server.port))
    client.send_message("/nope", 1.0)  # unknown address
    client.send_message("/temperature", "hot")  # wrong argument type
    client.send_message("/bookmark/recall", 9)  # no bookmark 9
    client.send_message("/reset", 1)  # a trigger takes nothing
    client.send_message("/gain", 0.25)  # and the next good message still lands
    wait_for(lambda: server.messages == 1, "the good message applied")
    raw.close()
    assert server.ignored == 54
    assert params.gain.target == pytest.approx(0.25)
    assert params.temperature.target == pytest.approx(1.0)
    logged = [r for r in caplog.records if r.name == "rt_samplernn.live.osc"]
    assert 1 <= len(logged) <= 2  # the first, then at most a summary once the quiet second is over


def test_a_taken_port_is_a_one_line_error():
    from rt_samplernn.errors import UserError

    first = OscServer(Parameters(), 0)
    first.start()
    try:
        with pytest.raises(UserError, match=f"--osc {first.port} on 127.0.0.1: cannot listen") as e:
            OscServer(Parameters(), first.port).start()
        assert "\n" not in str(e.value)
    finally:
        first.close()


@pytest.mark.jack
def test_play_takes_osc_and_swaps_bundles_on_jack(jack, bundle, tmp_path):
    """`rt-samplernn play --osc PORT` as a user runs it: knobs, junk and /bundle from a real client."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.stream_helpers import tiny_bundle as other_bundle

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    other = other_bundle(tmp_path)
    root = Path(__file__).resolve().parent.parent
    args = [
        "play",
        str(bundle),
        "--osc",
        str(port),
        "--seconds",
        "8",
        "--latency-ms",
        "250",
        "--record",
        str(tmp_path / "t.wav"),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rt_samplernn", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        cwd=root,
        env=dict(os.environ),
    )
    try:
        client = SimpleUDPClient("127.0.0.1", port)
        assert proc.stderr is not None
        first = proc.stderr.readline().decode()  # play prints it once the socket listens
        while first.startswith("rt-samplernn play: ") and "OSC:" not in first:  # the voice plan's line before it
            first = proc.stderr.readline().decode()
        assert f"OSC: listening on udp 127.0.0.1:{port}" in first, first
        client.send_message("/temperature", 0.5)
        client.send_message("/gain", 0.8)
        client.send_message("/nope", [])
        client.send_message("/bundle", str(other))
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = err.decode(errors="replace")
    assert proc.returncode == 0, text[-2000:]
    assert "T 0.50" in text and "gain 0.80" in text
    assert "OSC 3 ok, 1 ignored" in text
    assert f"now playing {other.name}" in text
