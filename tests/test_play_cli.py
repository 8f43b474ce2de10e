"""`rt-samplernn play` and `rt-samplernn devices` as a user runs them (subprocesses; JACK dummy server)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile

from tests.stream_helpers import tiny_bundle

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "rt_samplernn"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    pytest.importorskip("torch")
    return tiny_bundle(tmp_path_factory.mktemp("cli"))


def no_audio_env() -> dict[str, str]:
    """An environment in which PortAudio finds no output: JACK points at a server that does not exist."""
    return dict(os.environ, JACK_DEFAULT_SERVER="rtsrnn-no-such-server", JACK_NO_START_SERVER="1")


def cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, env=env or dict(os.environ), cwd=ROOT, timeout=timeout)


def last_line(stderr: bytes) -> str:
    return stderr.decode(errors="replace").strip().splitlines()[-1]


@pytest.mark.parametrize("voices,channels", [(1, 1), (2, 2)])
def test_stdout_gives_exactly_the_expected_bytes(bundle, voices, channels):
    flags = ["--stdout", "--seconds", "1.5", "--voices", str(voices), "--force-voices", "-q"]  # forced: a test of bytes
    proc = cli("play", str(bundle), *flags, env=no_audio_env())
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert len(proc.stdout) == 24000 * channels * 2  # 1.5 s at 16 kHz, s16le
    assert f"raw s16le, 16000 Hz, {channels} ch" in proc.stderr.decode()


def test_sigint_mid_recording_leaves_a_valid_wav(jack, bundle, tmp_path):
    out = tmp_path / "take.wav"
    proc = subprocess.Popen(
        CLI + ["play", str(bundle), "--record", str(out), "--latency-ms", "200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (out.exists() and out.stat().st_size > 16000 * 2 * 2):
            time.sleep(0.1)  # the sink flushes (and rewrites the header) once a second of audio
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = err.decode()
    assert proc.returncode == 0, err[-2000:]
    assert "stopped after" in err
    info = soundfile.info(str(out))
    assert info.samplerate == 16000 and info.channels == 2 and info.frames >= 16000
    audio, _ = soundfile.read(str(out), dtype="int16")
    assert len(audio) == info.frames  # header and data agree: the file was closed properly
    assert out.stat().st_size == 44 + info.frames * 2 * 2


def test_no_sound_card_writes_a_wav_instead_and_says_where(bundle, tmp_path):
    proc = subprocess.run(
        CLI + ["play", str(bundle), "--seconds", "1.5", "--voices", "2", "--force-voices", "-q"],
        capture_output=True,
        env=no_audio_env(),
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    err = proc.stderr.decode()
    out = tmp_path / "rt-samplernn-play.wav"
    assert f"no sound card here; writing 1.5 s to {out}" in err and "--record" in err and "--stdout" in err
    assert f"wrote {out}" in last_line(proc.stderr)
    audio, rate = soundfile.read(str(out))
    assert rate == 16000 and audio.shape == (24000, 2) and abs(audio).max() > 0
    again = subprocess.run(
        CLI + ["play", str(bundle), "--seconds", "0.5", "-q"],
        capture_output=True,
        env=no_audio_env(),
        cwd=tmp_path,
        timeout=120,
    )
    assert again.returncode == 0 and (tmp_path / "rt-samplernn-play-1.wav").exists()  # never overwrites


def test_record_without_a_sound_card_plays_to_the_file(bundle, tmp_path):
    out = tmp_path / "nocard.wav"
    proc = cli("play", str(bundle), "--record", str(out), "--seconds", "1", "-q", env=no_audio_env())
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert "no sound card; recording only" in proc.stderr.decode()
    info = soundfile.info(str(out))
    assert (info.frames, info.samplerate, info.channels) == (16000, 16000, 1)


def test_existing_recording_needs_force(bundle, tmp_path):
    out = tmp_path / "exists.wav"
    out.write_bytes(b"keep me")
    proc = cli("play", str(bundle), "--record", str(out), "--device", "none", "--seconds", "1")
    assert proc.returncode == 1
    assert "exists; pass --force" in last_line(proc.stderr)
    assert out.read_bytes() == b"keep me"


def test_unknown_device_lists_the_outputs(jack, bundle):
    proc = cli("play", str(bundle), "--device", "no-such-card", "--seconds", "1")
    assert proc.returncode == 1
    line = last_line(proc.stderr)
    assert "device 'no-such-card' not found" in line and "system" in line and "rt-samplernn devices" in line


def test_devices_lists_jack_output_and_midi_inputs(jack):
    proc = cli("devices")
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    out = proc.stdout.decode()
    assert "audio outputs:" in out and "system" in out and "JACK Audio Connection Kit" in out
    inputs = out[out.index("audio inputs:") : out.index("MIDI inputs:")]
    assert "system" in inputs and "play --input" in inputs  # the dummy server's capture ports


def test_input_needs_a_control_and_an_existing_device(jack, bundle):
    proc = cli("play", str(bundle), "--input", "system", "--seconds", "1")
    assert proc.returncode == 1
    line = last_line(proc.stderr)
    assert "--input system:" in line and "--midi" in line and "--osc" in line
    proc = cli("play", str(bundle), "--input", "no-such-input", "--midi", "virtual", "--seconds", "1")
    assert proc.returncode == 1
    line = last_line(proc.stderr)
    assert "device 'no-such-input' not found; inputs:" in line and "system" in line


def test_input_becomes_the_seed_slot_after_the_files(jack, bundle, tmp_path):
    seed = tmp_path / "seed.wav"
    soundfile.write(str(seed), [0.1, -0.1] * 8000, 16000)
    proc = cli(
        "play", str(bundle), "--midi", "virtual", "--seed-slot", str(seed), "--input", "system", "--seconds", "1.5"
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert "input: system: its last 8 s are seed slot 2 (its pad: note 37; /prime 2)" in proc.stderr.decode()


def test_devices_without_any_output_says_so():
    proc = cli("devices", env=no_audio_env())
    assert proc.returncode == 0
    out = proc.stdout.decode()
    assert "none (no sound card or audio server)" in out and "--record" in out


def test_audio_server_killed_mid_play_ends_with_a_clear_error(bundle):
    from tests.stream_helpers import private_jack, stop_server_under

    with private_jack(16000) as (name, jackd):
        env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
        proc = subprocess.Popen(
            CLI + ["play", str(bundle), "--latency-ms", "200"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        line = b""
        while b"Ctrl-C stops" not in line:  # playing
            line = proc.stderr.readline()
            assert line, "play exited before it started"
        _, err = stop_server_under(proc, jackd)
    assert proc.returncode == 1
    assert "stopped (the audio server went away or the device was unplugged)" in last_line(err)


def test_status_line_shows_temperature_gain_and_no_rtf_before_a_measurement(bundle):
    import re

    from rt_samplernn.commands.play import format_status
    from rt_samplernn.live.engine import Engine
    from rt_samplernn.live.player import Player

    engine = Engine(bundle, voices=2, seed=0, provider="cpu")
    engine.set_temperature(0.8)
    engine.set_temperature(1.2, voice=1)
    engine.set_gain(0.5)
    player = Player(engine, device="none", seconds=0.6, watchdog=False)
    line = format_status(player.metrics())
    assert "T 0.80-1.20" in line and "gain 0.50" in line
    assert re.search(r"RTF\s+--", line) and "0.00x" not in line, line  # nothing measured yet
    player.start()
    try:
        assert player.wait(30)
    finally:
        player.stop()
    assert re.search(r"RTF\s+\d+\.\d\dx", format_status(player.metrics()))
