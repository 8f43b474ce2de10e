"""The live rig behind the window, without Qt: bundle, engine, player, parameters, MIDI, seeds, recording.

The window owns one `LiveSession` and talks only to it; this is the one place that knows the engine,
streaming and MIDI modules' APIs. Everything here is callable from the GUI thread and returns quickly:
the engine runs in the player's worker thread, MIDI arrives on rtmidi's thread and lands in the parameter
objects, and the window reads counters back by polling `stats()` and `scope()` from its timers.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rt_samplernn.errors import UserError

SEED_SLOTS = 8  # pads; MIDI notes select them too (rt_samplernn.params)
VIRTUAL_PORT = "virtual port (rt-samplernn)"


@dataclass
class Stats:
    """One poll of the live counters (what the meters show)."""

    running: bool = False
    realtime_factor: float = 0.0  # generated seconds per wall-clock second of generation work
    ring_fill_ms: float = 0.0
    ring_capacity_ms: float = 0.0
    target_ms: float = 0.0
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
        self.info: Any = None  # rt_samplernn.bundle.Bundle
        self.engine: Any = None
        self.params: Any = None  # rt_samplernn.params.Parameters
        self.control: Any = None  # rt_samplernn.params.LiveControl
        self.player: Any = None
        self.midi: Any = None
        self._midi_port: str | None = None
        self.map_path: Path | None = None  # the map file to start from (the window passes the remembered one)
        self._cpu = _CpuClock()
        self._errors: list[str] = []
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

    def open_bundle(self, path: Path) -> None:
        """Load a bundle into a new engine (UserError if it cannot); keeps seeds, MIDI map and knob values."""
        from rt_samplernn.engine import Engine
        from rt_samplernn.params import LiveControl, Parameters

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
        if was_running:
            self.start(*self._last_start)

    @staticmethod
    def _voice_targets(params: Any) -> list[float]:
        cells = params.voice_temperatures or [params.temperature]
        return [c.target for c in cells]

    def bundle_name(self) -> str:
        if self.bundle is None:
            return "no model"
        source = (self.info.manifest.get("source") or "") if self.info is not None else ""
        return self.bundle.name + (f"  ·  {Path(source).name}" if source else "")

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
        return self.player is not None and bool(getattr(self.player, "running", False))

    @property
    def recording(self) -> bool:
        return False

    def audio_devices(self) -> list[tuple[int, str]]:
        """(index, name) of every output device PortAudio lists now."""
        try:
            import sounddevice
        except (ImportError, OSError):
            return []
        out = []
        for i, d in enumerate(sounddevice.query_devices()):
            if d.get("max_output_channels", 0) > 0:
                api = sounddevice.query_hostapis(d["hostapi"])["name"]
                out.append((i, f"{d['name']} ({api})"))
        return out

    def start(self, device: int | None, latency_ms: float) -> None:
        raise UserError("streaming is not available yet (rt_samplernn.stream)")

    def stop(self) -> None:
        pass

    def stats(self) -> Stats:
        return Stats(process_cpu=self._cpu.poll())

    def scope(self, n: int) -> np.ndarray | None:
        return None

    def start_recording(self, path: Path) -> None:
        raise UserError("recording is not available yet (rt_samplernn.stream)")

    def stop_recording(self) -> tuple[Path, float]:
        return Path(), 0.0

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
        from rt_samplernn.midi import list_input_ports

        try:
            return [p for p in list_input_ports() if not p.startswith(f"{self._client_prefix()}")]
        except UserError:
            return []

    @staticmethod
    def _client_prefix() -> str:
        from rt_samplernn.midi import CLIENT_NAME

        return f"{CLIENT_NAME}:"  # our own virtual port, listed by JACK: not an input to choose

    def _controller(self) -> Any:
        """The MidiController for the current parameters, made on first use (keeps the map across bundles)."""
        from rt_samplernn.midi import MidiController, default_map, load_map

        if self.params is None:
            return None
        if self.midi is not None and self.midi.params is self.params:
            return self.midi
        old = self.midi
        if old is not None:
            midi_map, map_path = old.midi_map, old.map_path
            old.close_port()
        else:
            map_path = self.map_path
            midi_map = load_map(map_path) if map_path is not None and map_path.is_file() else default_map(self.voices)
        self.midi = MidiController(self.params, midi_map, map_path=map_path or self._default_map_path())
        return self.midi

    @staticmethod
    def _default_map_path() -> Path:
        from rt_samplernn.midi import default_map_path

        return default_map_path()

    def _attach_midi(self) -> None:
        """After a bundle (re)opens: a controller on the new parameters, listening where the old one did."""
        if self.midi is None and self._midi_port is None:
            return
        self._controller()
        if self._midi_port is not None:
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
        self._midi_port = port

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
