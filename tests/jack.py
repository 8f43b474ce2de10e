"""A real JACK server with the dummy driver for tests: paced like a sound card, no hardware needed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager


def jack_available() -> bool:
    return shutil.which("jackd") is not None and shutil.which("jack_wait") is not None


def _rescan_portaudio() -> None:
    """sounddevice scans devices once at import; rescan so it sees the server just started."""
    import sounddevice

    sounddevice._terminate()
    sounddevice._initialize()


def start_jackd(name: str, rate: int, period: int, wait_s: int = 10, check: bool = True) -> subprocess.Popen:
    """`jackd -d dummy` under `name`, returned once it accepts clients."""
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    proc = subprocess.Popen(
        ["jackd", "-n", name, "-d", "dummy", "-r", str(rate), "-p", str(period)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        subprocess.run(["jack_wait", "-s", name, "-w", "-t", str(wait_s)], check=check, capture_output=True, env=env)
    except BaseException:
        stop_jackd(proc)
        raise
    return proc


def stop_jackd(proc: subprocess.Popen) -> None:
    """SIGTERM (a SIGKILLed jackd keeps its slot in JACK's 8-server registry), SIGKILL only if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def jack_server(rate: int = 16000, period: int = 256) -> Iterator[str]:
    """Start `jackd -d dummy` under a unique name, point clients at it, and stop it cleanly afterwards."""
    name = f"rtsrnn-{uuid.uuid4().hex[:8]}"
    proc = start_jackd(name, rate, period)
    old = os.environ.get("JACK_DEFAULT_SERVER")
    try:
        os.environ["JACK_DEFAULT_SERVER"] = name
        _rescan_portaudio()
        yield name
    finally:
        import sounddevice

        sounddevice._terminate()  # before jackd goes, or PortAudio aborts at exit
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old
        stop_jackd(proc)
        time.sleep(0.2)
        sounddevice._initialize()
