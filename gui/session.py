"""The live rig behind the window, without Qt: bundle, engine, player, parameters, MIDI, seeds, recording.

The window owns one `LiveSession` and talks only to it; this is the one place that knows the engine,
streaming and MIDI modules' APIs. Everything here is callable from the GUI thread and returns quickly:
the engine runs in the player's worker thread, MIDI arrives on rtmidi's thread and lands in the parameter
objects, and the window reads counters back by polling `stats()` and `scope()` from its timers.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rt_samplernn.errors import UserError

SEED_SLOTS = 8  # pads; MIDI notes select them too (rt_samplernn.live.params)
VIRTUAL_PORT = "virtual port (rt-samplernn)"


@dataclass
class Stats:
    """One poll of the live counters (what the meters show)."""

    running: bool = False
    realtime_factor: float = 0.0  # generated seconds per wall-clock second of generation work
    ring_fill_ms: float = 0.0
    ring_capacity_ms: float = 0.0  # the fill target: a full bar is on target
    target_ms: float = 0.0  # knob-to-sound latency: PlayerMetrics.knob_latency_ms, the status line's figure
    underruns: int = 0
    watchdog_events: int = 0
    cpu_load: float = 0.0  # audio callback's share of its time budget, 0..1
    process_cpu: float = 0.0  # this process's CPU use, in cores
    recording_s: float = 0.0


@dataclass
class _CpuClock:
    """This process's CPU use in cores, averaged over at least half a second."""

    last_wall: float = field(default_factory=time.monotonic)
    last_cpu: float = field(default_factory=time.process_time)
    value: float = 0.0

    def poll(self) -> float:
        wall, cpu = time.monotonic(), time.process_time()
        if wall - self.last_wall >= 0.5:
            self.value = (cpu - self.last_cpu) / (wall - self.last_wall)
            self.last_wall, self.last_cpu = wall, cpu
        return self.value


class OutputTap:
    """A `rt_samplernn.live.sinks` sink that keeps the newest output for the scope and records on demand.

    The player's recorder thread calls `write` with exactly what was played. It always keeps the last
    `keep` frames (mono) in a preallocated NumPy ring for `snapshot` (the GUI thread reads a copy; a torn
    read only smears a scope frame). Recording is switched from the GUI thread: `start_recording` opens a
    `WavSink`, `stop_recording` closes it; a small lock keeps the recorder thread from writing into a file
    being closed (it is not the audio callback: the callback only copies into the player's tap ring).
    """

    def __init__(self, keep: int = 16384):
        self._scope = np.zeros(keep, np.float32)
        self._pos = 0  # frames ever written (the writer's counter)
        self._lock = threading.Lock()
        self._wav: Any = None
        self.path: Path | None = None  # the file being (or last) recorded
        self.sample_rate = 0
        self.channels = 1
        self.recorded_frames = 0

    # the player's recorder thread
    def open(self, sample_rate: int, channels: int) -> None:
        self.sample_rate, self.channels = int(sample_rate), int(channels)

    def write(self, frames: np.ndarray) -> None:
        mono = frames[:, 0] if frames.shape[1] == 1 else frames.mean(axis=1)
        n, keep = len(mono), self._scope.size
        if n >= keep:
            self._scope[:] = mono[-keep:]
            self._pos = (self._pos // keep + 1) * keep  # any multiple of keep: the ring is aligned
        else:
            i = self._pos % keep
            first = min(n, keep - i)
            self._scope[i:i + first] = mono[:first]
            self._scope[:n - first] = mono[first:]
            self._pos += n
        if self._wav is not None:
            with self._lock:
                if self._wav is not None:
                    self._wav.write(frames)
                    self.recorded_frames += len(frames)

    def close(self) -> None:
        self.stop_recording()

    # the GUI thread
    def snapshot(self, n: int) -> np.ndarray:
        """A copy of the newest n mono frames (n <= keep), oldest first."""
        keep = self._scope.size
        n = min(n, keep)
        end = self._pos % keep
        idx = (np.arange(end - n, end)) % keep
        return self._scope[idx]

    @property
    def recording(self) -> bool:
        return self._wav is not None

    @property
    def recorded_seconds(self) -> float:
        return self.recorded_frames / self.sample_rate if self.sample_rate else 0.0

    def start_recording(self, path: Path, sample_rate: int, channels: int) -> None:
        from rt_samplernn.live.sinks import WavSink

        self.stop_recording()
        sink = WavSink(path)  # UserError: exists, bad extension, missing folder
        sink.open(sample_rate, channels)
        self.recorded_frames = 0
        self.path = Path(path)
        self._wav = sink

    def stop_recording(self) -> tuple[Path, float]:
        with self._lock:
            sink, self._wav = self._wav, None
        if sink is None:
            return Path(), 0.0
        sink.close()
        return sink.path, sink.frames / float(sink.sample_rate or 1)


class LiveSession:
    """One performer's rig: the open bundle and everything live around it (see the module docstring).

    ``voices_wanted``: voices of the next opened engine. ``slot_count``: seed pads. ``provider``,
    ``threads``: passed to the engine. Nothing is running until `open_bundle` and `start`.
    """

    def __init__(self, slot_count: int = SEED_SLOTS, provider: str = "auto", threads: int = 1, seed: int = 0):
        self.slot_count = slot_count
        self.provider, self.threads, self.seed = provider, threads, seed
        self.voices_wanted = 1
        self.bundle: Path | None = None
        self.info: Any = None  # rt_samplernn.live.bundle.Bundle
        self.engine: Any = None
        self.params: Any = None  # rt_samplernn.live.params.Parameters
        self.control: Any = None  # rt_samplernn.live.params.LiveControl
        self.player: Any = None
        self.midi: Any = None
        self._midi_port: str | None = None
        self.map_path: Path | None = None  # the map file to start from (the window passes the remembered one)
        self._cpu = _CpuClock()
        self._errors: list[str] = []
        self._player_error: str | None = None
        self._last_start: tuple[Any, float] = (None, 100.0)
        self.tap: OutputTap | None = None
        self._message_seen = 0

    # ------------------------------------------------------------------ model
    @property
    def has_model(self) -> bool:
        return self.engine is not None

    @property
    def sample_rate(self) -> int:
        return int(self.engine.sample_rate) if self.engine is not None else 16000

    @property
    def voices(self) -> int:
        return int(self.engine.voices) if self.engine is not None else self.voices_wanted

    def open_bundle(self, path: Path) -> bool:
        """Load a bundle into a new engine (UserError if it cannot); keeps seeds, MIDI map and knob values.

        Stops the audio; returns True if it was playing (the caller restarts it with `restart`).
        """
        from rt_samplernn.live.engine import Engine
        from rt_samplernn.live.params import LiveControl, Parameters

        engine = Engine(path, voices=self.voices_wanted, seed=self.seed, provider=self.provider,
                        threads=self.threads)
        was_running = self.running
        old = self.params
        self.stop()
        if self.control is not None:
            self.control.close()
        params = Parameters(voices=engine.voices, slot_count=self.slot_count)
        if old is not None:  # carry over what the performer set up
            params.slots = list(old.slots)
            params.slots_version += 1
            params.set_specs(old.specs())  # ranges and curves from a loaded MIDI map
            params.temperature.set(old.temperature.target)
            for cell, prev in zip(params.voice_temperatures, old.voice_temperatures):
                cell.set(prev.target)
            params.gain.set(old.gain.target)
            params.watchdog.set(old.watchdog.target)
            engine.set_gain(params.gain.target)
            for v, t in enumerate(self._voice_targets(params)):
                engine.set_temperature(t, voice=v)
        self.bundle, self.info, self.engine, self.params = Path(path), engine.bundle, engine, params
        self.control = LiveControl(params, engine)
        self._attach_midi()
        return was_running

    def restart(self) -> None:
        """Start again on the device and latency of the last start."""
        self.start(*self._last_start)

    @staticmethod
    def _voice_targets(params: Any) -> list[float]:
        cells = params.voice_temperatures or [params.temperature]
        return [c.target for c in cells]

    def bundle_name(self) -> str:
        if self.bundle is None:
            return "no model"
        source = (self.info.manifest.get("source") or "") if self.info is not None else ""
        checkpoint = Path(source.split(" sha256:")[0]).name  # the manifest's source: "NAME sha256:HEX"
        return self.bundle.name + (f"  ·  {checkpoint}" if checkpoint else "")

    def config_items(self) -> list[tuple[str, str]]:
        """(label, text) rows describing the open model, for the Model panel."""
        if self.engine is None:
            return []
        cfg = self.engine.config
        m = self.info.manifest if self.info is not None else {}
        rnn = f"{cfg.rnn_type.upper()} × {cfg.rnn_layers}" + (" + skip" if cfg.skip_connections else "")
        rows = [
            ("tiers", f"{cfg.n_tiers}  (frames {', '.join(map(str, cfg.frame_sizes))})"),
            ("frame RNN", f"{rnn}, dim {cfg.dim}"),
            ("sample MLP", f"{cfg.mlp_layers} × {cfg.sample_dim}"),
            ("quantization", f"{cfg.q_type}, {cfg.q_levels} levels"),
            ("sample rate", f"{cfg.sample_rate} Hz"),
            ("engine", f"onnxruntime {getattr(self.engine, 'provider', 'cpu')}"),
        ]
        exporter = m.get("exporter") or {}
        if exporter:
            rows.append(("exported by", f"{exporter.get('name', '?')} {exporter.get('version', '')}"))
        rows.append(("bundle", f"format v{m.get('version', '?')}"))
        return rows

    def controls(self) -> list[Any]:
        """The FloatParams drawn as dials: temperature (all voices), one per voice when several, gain."""
        if self.params is None:
            return []
        p = self.params
        return [p.temperature, *p.voice_temperatures, p.gain]

    @staticmethod
    def title(param: Any) -> str:
        """A dial's caption for a parameter."""
        if param.name == "temperature":
            return "Temperature"
        if param.name.startswith("temperature."):
            return f"Voice {int(param.name.split('.')[1]) + 1} temp"
        return param.label.capitalize()

    # ------------------------------------------------------------------ audio
    @property
    def running(self) -> bool:
        return self.player is not None and bool(self.player.running)

    @property
    def recording(self) -> bool:
        return self.tap is not None and self.tap.recording

    def audio_devices(self, rescan: bool = False) -> list[tuple[Any, str]]:
        """(device, label) of every output, plus the software clock (no sound card).

        ``rescan``: ask PortAudio again (a device plugged in, a JACK server started); only while stopped.
        """
        from rt_samplernn.live.devices import NO_DEVICE, list_output_devices

        try:
            devices = [(d.index, d.label) for d in list_output_devices(rescan=rescan and not self.running)]
        except UserError:
            devices = []
        return devices + [(NO_DEVICE, "no sound card (software clock)")]

    def start(self, device: Any, latency_ms: float) -> None:
        """Stream the engine to `device` (index, name, NO_DEVICE or None: the default) with this fill target."""
        from rt_samplernn.live.player import Player

        if self.engine is None:
            raise UserError("open a bundle first")
        self.stop()
        tap = OutputTap()
        player = Player(self.engine, device=device, latency_ms=latency_ms,
                        watchdog=bool(self.params.watchdog.target), sinks=[tap])
        player.add_block_hook(self.control.tick)  # parameters land at block boundaries, on the worker
        slot = self.params.slots[self.params.slot.target]
        if self.control.primes and slot is not None:
            player.set_seed(slot.audio, slot.sample_rate)  # the watchdog re-primes from the current seed
        self.control.player = player  # the watchdog switch and pad primes now reach this player
        player.start()  # UserError (device busy or gone) leaves nothing running
        self.player, self.tap = player, tap
        self._last_start = (device, latency_ms)

    def stop(self) -> None:
        """Stop the audio (and a recording); idempotent."""
        player, self.player = self.player, None
        if player is not None:
            player.stop()
            if self.tap is not None and self.tap.recording:
                self.tap.stop_recording()
        if self.control is not None:
            self.control.player = None

    def stats(self) -> Stats:
        """The meters' numbers now (cheap; the window calls this from its timers)."""
        player = self.player
        if player is None:
            return Stats(process_cpu=self._cpu.poll())
        m = player.metrics()
        if m.error:
            if m.error != self._player_error:
                self._player_error = m.error
                self._errors.append(m.error)
        return Stats(
            running=m.running, realtime_factor=m.worker_rtf, ring_fill_ms=m.ring_fill_ms,
            ring_capacity_ms=m.target_latency_ms, target_ms=m.knob_latency_ms, underruns=m.underruns,
            watchdog_events=m.watchdog_events, cpu_load=m.cpu_load, process_cpu=m.process_cpu,
            recording_s=self.tap.recorded_seconds if self.tap is not None and self.tap.recording else 0.0,
        )

    @property
    def output_rate(self) -> int:
        """The rate of what the scope shows (the device's)."""
        return int(self.player.device_rate) if self.player is not None else self.sample_rate

    def scope(self, n: int) -> np.ndarray | None:
        """The newest `n` output frames, mono (a copy), or None when not playing."""
        return self.tap.snapshot(n) if self.tap is not None and self.player is not None else None

    def start_recording(self, path: Path) -> None:
        """Record what is played from now on into a 16-bit WAV at `path` (UserError: exists, cannot write)."""
        if not self.running or self.tap is None:
            raise UserError("start the audio first, then record")
        self.tap.start_recording(Path(path), self.player.device_rate, self.player.channels)

    def stop_recording(self) -> tuple[Path, float]:
        """Finish the file; returns (path, seconds written)."""
        if self.tap is None:
            return Path(), 0.0
        return self.tap.stop_recording()

    # ------------------------------------------------------------------ seeds
    def load_seed(self, index: int, path: Path) -> Any:
        """Read an audio file into seed slot `index` (UserError if unreadable); returns the params SeedSlot."""
        if self.params is None:
            raise UserError("open a bundle first, then load seeds")
        return self.params.load_slot(index, path)

    def prime(self, index: int) -> None:
        """Select slot `index` and prime the engine from it (runs on LiveControl's helper thread)."""
        if self.params is None:
            raise UserError("open a bundle first")
        if self.params.slots[index] is None:
            raise UserError(f"seed slot {index + 1} is empty; load an audio file into it first")
        self.params.select_and_prime(index)

    def reset(self, seed: int | None = None) -> None:
        """Back to the model's initial state; with a seed, the noise stream restarts from it."""
        if self.engine is None:
            return
        if seed is not None:
            self.seed = int(seed)
            self.engine.reset(self.seed)
        else:
            self.params.reset.fire()

    # ------------------------------------------------------------------ MIDI
    def midi_ports(self) -> list[str]:
        """MIDI input ports there are now ([] when MIDI is unavailable, e.g. no JACK server here)."""
        from rt_samplernn.live.midi import list_input_ports

        try:
            return [p for p in list_input_ports() if not p.startswith(f"{self._client_prefix()}")]
        except UserError:
            return []

    @staticmethod
    def _client_prefix() -> str:
        from rt_samplernn.live.midi import CLIENT_NAME

        return f"{CLIENT_NAME}:"  # our own virtual port, listed by JACK: not an input to choose

    def _controller(self) -> Any:
        """The MidiController, made on first use and kept across bundles, so its port stays open."""
        from rt_samplernn.live.midi import MidiController, default_map, load_map

        if self.params is None:
            return None
        ctl = self.midi
        if ctl is None:
            map_path = self.map_path
            midi_map = load_map(map_path) if map_path is not None and map_path.is_file() else default_map(self.voices)
            self.midi = MidiController(self.params, midi_map, map_path=map_path or self._default_map_path())
        elif ctl.params is not self.params:
            # A new bundle or voice count: point the open controller at the new parameter cells (one
            # reference store; the MIDI thread looks cells up by name per message). A default map is
            # swapped for the default of the new voice count; a performer's own map is kept.
            still_default = ctl.midi_map.mappings == default_map(ctl.params.voices).mappings
            ctl.params = self.params
            if still_default:
                ctl.set_map(default_map(self.voices), apply_specs=False)
        return self.midi

    @staticmethod
    def _default_map_path() -> Path:
        from rt_samplernn.live.midi import default_map_path

        return default_map_path()

    def _attach_midi(self) -> None:
        """After a bundle (re)opens: the controller writes the new parameters; its port stays open."""
        if self.midi is not None:
            self._controller()
        elif self._midi_port is not None:  # a port was asked for before any bundle was open
            port, self._midi_port = self._midi_port, None
            try:
                self.open_midi(port)
            except UserError as e:
                self._errors.append(str(e))

    def open_midi(self, port: str | None) -> None:
        """Listen on a port (a name, or VIRTUAL_PORT), or stop listening (None); UserError if it cannot."""
        if port is None:
            if self.midi is not None:
                self.midi.close_port()
            self._midi_port = None
            return
        ctl = self._controller()
        if ctl is None:
            self._midi_port = port  # opened once a bundle is loaded
            return
        ctl.open("virtual" if port == VIRTUAL_PORT else port)
        self._midi_port = VIRTUAL_PORT if port == VIRTUAL_PORT else (ctl.port_name or port)  # the full name

    @property
    def midi_port(self) -> str | None:
        return self._midi_port

    def learn(self, name: str | None) -> None:
        """Arm MIDI learn for a parameter (the next CC or note binds to it), or cancel it (None)."""
        ctl = self._controller()
        if ctl is None:
            return
        if name is None:
            ctl.cancel_learn()
        else:
            ctl.arm_learn(name)

    def learning(self) -> str | None:
        return self.midi.learning if self.midi is not None else None

    def mappings(self) -> list[tuple[str, str]]:
        """(parameter name, 'CC 74 ch 1') for every mapping, in map order."""
        ctl = self.midi if self.midi is not None else (self._controller() if self.params is not None else None)
        return [(m.param, m.describe()) for m in ctl.mappings] if ctl is not None else []

    def save_map(self, path: Path) -> Path:
        ctl = self._controller()
        if ctl is None:
            raise UserError("open a bundle first: a MIDI map belongs to its parameters")
        return ctl.save_map(path)

    def load_map(self, path: Path) -> None:
        self.map_path = Path(path)
        ctl = self._controller()
        if ctl is not None:
            ctl.load_map(path)

    def clear_map(self) -> None:
        ctl = self._controller()
        if ctl is not None:
            for name in {m.param for m in ctl.mappings}:
                ctl.clear_mappings(name)

    def remove_mapping(self, row: int) -> None:
        ctl = self._controller()
        if ctl is not None and 0 <= row < len(ctl.mappings):
            ctl.remove_mapping(ctl.mappings[row])

    def midi_status(self) -> str:
        ctl = self.midi
        if ctl is None or self._midi_port is None:
            return "MIDI input off"
        return f"{ctl.status} · {ctl.messages} messages"

    # ------------------------------------------------------------------ errors and notices
    def take_error(self) -> str:
        """The oldest notice not yet shown (LiveControl's, the player's, MIDI's), or ''."""
        c = self.control
        if c is not None and c.message_version != self._message_seen:
            self._message_seen = c.message_version
            self._errors.append(c.message)
        return self._errors.pop(0) if self._errors else ""

    def close(self) -> None:
        """Stop audio and MIDI, close the helper thread (the window calls this when it closes)."""
        self.stop()
        self.open_midi(None)
        if self.control is not None:
            self.control.close()
            self.control = None
