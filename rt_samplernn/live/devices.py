"""Audio devices: listing and finding outputs and inputs (sounddevice), opening and closing an output stream,
the software clock, and voice-to-channel mixing."""

from __future__ import annotations

import atexit
import ctypes
import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rt_samplernn.errors import UserError

NO_DEVICE = "none"
MAX_DEVICE_CHANNELS = 64


class NoOutputDevice(UserError):
    """No audio output at all (no sound card, no audio server)."""


JACK_CLIENT_NAME = b"rt-samplernn"  # what JACK (qjackctl, jack_lsp) shows instead of PortAudio's "PortAudio"
_jack_named = False


def load_sounddevice() -> Any:
    """The sounddevice module (PortAudio), its JACK client named; NoOutputDevice if PortAudio is missing."""
    try:
        import sounddevice
    except OSError as e:  # the PortAudio library is missing
        raise NoOutputDevice(
            f"PortAudio is not available ({e}); install it (apt-get install libportaudio2), "
            "or play without a sound card with --record OUT.wav or --stdout"
        ) from None
    _name_jack_client(sounddevice)
    return sounddevice


def _name_jack_client(sd: Any) -> None:
    """Once per process, before any stream: PortAudio's JACK client takes our name (PaJack_SetClientName).

    PortAudio reads the name when it initialises its JACK host API, which sounddevice did at import, so
    PortAudio is re-initialised once when JACK is among its host APIs. Other platforms: nothing happens.
    """
    global _jack_named
    if _jack_named:
        return
    _jack_named = True
    try:
        set_name = ctypes.CDLL(sd._libname).PaJack_SetClientName  # the library sounddevice loaded
    except (OSError, AttributeError):
        return  # a PortAudio built without JACK
    set_name.argtypes = [ctypes.c_char_p]
    if set_name(JACK_CLIENT_NAME) != 0:  # PortAudio keeps the pointer: JACK_CLIENT_NAME lives as long as we do
        return
    try:
        has_jack = any("JACK" in api["name"] for api in sd.query_hostapis())
    except sd.PortAudioError:
        has_jack = False
    if has_jack:
        sd._terminate()
        sd._initialize()


# -- devices ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AudioDevice:
    """An output or an input: ``index`` None is the software clock (no sound card); ``channels`` in the
    direction it was listed for."""

    index: int | None
    name: str
    hostapi: str
    channels: int
    sample_rate: int
    is_default: bool = False

    @property
    def label(self) -> str:
        return self.name if self.index is None else f"[{self.index}] {self.name} ({self.hostapi})"


OutputDevice = AudioDevice  # the name the player and the window use for outputs


def _list_devices(direction: str, rescan: bool) -> list[AudioDevice]:
    """PortAudio's devices with at least one channel in ``direction`` ("output" or "input")."""
    sd = load_sounddevice()
    if rescan:
        sd._terminate()
        sd._initialize()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        default = sd.default.device[1 if direction == "output" else 0]
    except sd.PortAudioError:
        return []
    if default is None or default < 0:
        default = next((a[f"default_{direction}_device"] for a in apis if a[f"default_{direction}_device"] >= 0), -1)
    out = []
    for d in devices:
        if d[f"max_{direction}_channels"] > 0:
            out.append(
                AudioDevice(
                    index=int(d["index"]),
                    name=str(d["name"]),
                    hostapi=str(apis[d["hostapi"]]["name"]),
                    channels=int(d[f"max_{direction}_channels"]),
                    sample_rate=int(round(d["default_samplerate"])),
                    is_default=int(d["index"]) == default,
                )
            )
    return out


def list_output_devices(rescan: bool = False) -> list[OutputDevice]:
    """PortAudio's outputs (devices with at least one output channel); empty when there are none.

    PortAudio lists devices once, when sounddevice is imported; ``rescan`` re-initializes it to see
    devices (or a JACK server) that appeared since. Only while no stream of this process is open.
    """
    return _list_devices("output", rescan)


def list_input_devices(rescan: bool = False) -> list[AudioDevice]:
    """PortAudio's inputs (devices with at least one input channel), as `list_output_devices` lists outputs."""
    return _list_devices("input", rescan)


def _no_device_message() -> str:
    return (
        "no audio output device found (no sound card or audio server); "
        "play into a file with --record OUT.wav or pipe raw PCM with --stdout (e.g. into ffmpeg)"
    )


def _pick(spec: int | str | None, devices: list[AudioDevice], what: str) -> AudioDevice:
    """``spec`` (None: the default; an index; a name substring) among ``devices`` (not empty); UserError when it
    matches none or several, naming them. ``what``: "output" or "input", for the messages."""
    names = "; ".join(d.label for d in devices)
    if spec is None or spec == "":
        return next((d for d in devices if d.is_default), devices[0])
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().lstrip("-").isdigit()):
        index = int(spec)
        for d in devices:
            if d.index == index:
                return d
        raise UserError(f"device {index} is not an audio {what}; {what}s: {names} (`rt-samplernn devices` lists them)")
    matches = [d for d in devices if spec.lower() in d.name.lower()]
    exact = [d for d in matches if d.name.lower() == spec.lower()]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0]
    if not matches:
        raise UserError(f"device {spec!r} not found; {what}s: {names} (`rt-samplernn devices` lists them)")
    raise UserError(
        f"device {spec!r} matches several {what}s: {'; '.join(d.label for d in matches)}; "
        "give its index or a longer name"
    )


def find_output_device(spec: int | str | None = None) -> OutputDevice:
    """Resolve ``spec`` (None: the default output; an index; a name substring) to an `OutputDevice`.

    Raises `NoOutputDevice` when there is no output at all and UserError when ``spec`` matches none
    or several (the message lists them).
    """
    devices = list_output_devices()
    if not devices:
        raise NoOutputDevice(_no_device_message())
    return _pick(spec, devices, "output")


def find_input_device(spec: int | str | None = None) -> AudioDevice:
    """Resolve ``spec`` (None: the default input; an index; a name substring) to an input `AudioDevice`;
    UserError when there is no input or ``spec`` matches none or several (the message lists them)."""
    devices = list_input_devices()
    if not devices:
        raise UserError(
            f"--input {spec}: no audio input found (no sound card with an input, no audio server); "
            "`rt-samplernn devices` lists the inputs"
        )
    return _pick(spec, devices, "input")


def clock_device(sample_rate: int, voices: int) -> OutputDevice:
    """The software-clock output used with ``NO_DEVICE``: the model rate; mono for one voice, else stereo."""
    return OutputDevice(None, "software clock (no sound card)", "none", 1 if voices == 1 else 2, int(sample_rate))


# -- mixing -------------------------------------------------------------------------------------------


def mix_matrix(voices: int, channels: int) -> np.ndarray:
    """(voices, 1 or 2) float32 gains: mono sums, stereo spreads the voices from left to right.

    Each voice is scaled by 1/sqrt(voices) (independent voices keep about the same loudness); a single
    voice goes to both stereo channels at full level; with several, positions run from -0.8 (left) to
    +0.8 (right) under a balance law (centre = both channels at full gain).
    """
    g = 1.0 / math.sqrt(voices)
    if channels <= 1:
        return np.full((voices, 1), g, np.float32)
    pos = np.zeros(voices) if voices == 1 else np.linspace(-0.8, 0.8, voices)
    left = np.minimum(1.0, 1.0 - pos) * g
    right = np.minimum(1.0, 1.0 + pos) * g
    return np.stack([left, right], axis=1).astype(np.float32)


def channel_map(mix_channels: int, device_channels: int) -> np.ndarray:
    """Which mix channel feeds each device channel: L, R, L, R, ... (all 0 for a mono mix)."""
    return np.arange(device_channels) % mix_channels


# -- running an output: a PortAudio stream, or the software clock -----------------------------------------

Callback = Callable[[np.ndarray, int, Any, Any], None]  # (outdata, frames, time_info, status), sounddevice's


class ClockStatus:
    """What the software clock passes as the callback's ``status``."""

    output_underflow = False


def run_clock(callback: Callback, block_frames: int, channels: int, sample_rate: int, stop: Callable[[], bool]) -> None:
    """No device: call ``callback`` in real time from this thread, one block at a time, until ``stop()``."""
    out = np.zeros((block_frames, channels), np.float32)
    period = block_frames / sample_rate
    status = ClockStatus()
    next_t = time.perf_counter()
    while not stop():
        next_t += period
        delay = next_t - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        elif delay < -20 * period:  # stalled (suspend, debugger): go on from now, no burst
            next_t = time.perf_counter()
        callback(out, block_frames, None, status)


def open_stream(device: OutputDevice, sample_rate: int, block_frames: int, channels: int, callback: Callback) -> Any:
    """A started PortAudio output stream on ``device`` that calls ``callback``; a UserError naming the device
    if it cannot open."""
    sd = load_sounddevice()
    stream = None
    try:
        stream = sd.OutputStream(
            samplerate=sample_rate,
            blocksize=block_frames,
            device=device.index,
            channels=channels,
            dtype="float32",
            latency="low",
            callback=callback,
        )
        stream.start()
        return stream
    except sd.PortAudioError as e:
        if stream is not None:
            stream.close(ignore_errors=True)
        raise UserError(
            f"cannot open audio device {device.label} at {sample_rate} Hz, "
            f"{channels} channels: {e}; `rt-samplernn devices` lists the outputs"
        ) from None


def close_stream(stream: Any, timeout_s: float) -> bool:
    """Stop and close a PortAudio stream on a helper thread (if the device died, that call can hang); False
    when it did not finish within ``timeout_s``: it is left behind on its daemon thread and PortAudio is
    abandoned (`abandon_portaudio`)."""

    def close() -> None:
        try:
            stream.stop(ignore_errors=True)
            stream.close(ignore_errors=True)
        except Exception:
            pass

    t = threading.Thread(target=close, name="rt-samplernn-close", daemon=True)
    t.start()
    t.join(timeout=timeout_s)
    if t.is_alive():
        abandon_portaudio()
        return False
    return True


def abandon_portaudio() -> None:
    """After a device loss any PortAudio call may hang, the one at interpreter exit included: unregister it."""
    sd = sys.modules.get("sounddevice")
    if sd is not None and hasattr(sd, "_exit_handler"):
        atexit.unregister(sd._exit_handler)
