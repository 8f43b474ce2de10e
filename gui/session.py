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

SEED_SLOTS = 4
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
class SeedClip:
    path: Path
    audio: np.ndarray  # mono float32 at the model's rate
    sample_rate: int

    @property
    def seconds(self) -> float:
        return self.audio.size / float(self.sample_rate)


def read_manifest(bundle: str | Path) -> dict[str, Any]:
    """The bundle's model.json as a dict, or a UserError naming the folder and the fix."""
    path = Path(bundle)
    manifest = path / "model.json" if path.is_dir() else path
    if not manifest.exists():
        raise UserError(f"{bundle}: not a bundle (no model.json); `rt-samplernn export` makes one")
    try:
        return json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"{manifest}: cannot read the manifest ({e})") from None


def _cpu_seconds() -> float:
    return time.process_time()


@dataclass
class _CpuClock:
    last_wall: float = field(default_factory=time.monotonic)
    last_cpu: float = field(default_factory=_cpu_seconds)
    value: float = 0.0

    def poll(self) -> float:
        wall, cpu = time.monotonic(), _cpu_seconds()
        if wall - self.last_wall >= 0.5:
            self.value = (cpu - self.last_cpu) / (wall - self.last_wall)
            self.last_wall, self.last_cpu = wall, cpu
        return self.value


@dataclass(frozen=True)
class ControlSpec:
    """How the window draws one parameter as a dial."""

    name: str
    title: str
    minimum: float
    maximum: float
    unit: str = ""
    decimals: int = 2
    log: bool = False
