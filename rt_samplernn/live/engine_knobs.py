"""The engine's knobs: per-voice temperature and tail cut, the gain, and the declared knobs by name (torch-free).

`EngineKnobs` is the part of rt_samplernn.live.engine.Engine that any thread may call: each setter checks its
value, builds the new per-voice array off to the side and publishes it with one reference assignment, which
the producer picks up at its next generate() call; the declared knobs (rt_samplernn.live.declarations'
`engine_knobs`) are set and read through the setters their declarations name.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from rt_samplernn.block_features import MANIFEST_KEY
from rt_samplernn.errors import UserError
from rt_samplernn.live.bundle import Bundle
from rt_samplernn.live.declarations import DECLARATIONS, declaration, engine_knobs

MIN_TEMPERATURE = 1e-3
_MIN_P = DECLARATIONS["min_p"].spec
assert _MIN_P is not None  # a float's declaration has its range
MAX_MIN_P = _MIN_P.maximum  # the declared range, the one every front end and the engine hold it to
# The ranges a restored state's knobs must be in (what the setters accept).
KNOB_RANGES = {"temperature": (MIN_TEMPERATURE, np.inf), "min_p": (0.0, MAX_MIN_P), "gain": (0.0, np.inf)}


def knob_range(name: str) -> tuple[float, float]:
    """The range a restored state's knob must be in: the setters' (KNOB_RANGES), else its declaration's."""
    if name in KNOB_RANGES:
        return KNOB_RANGES[name]
    declared = declaration(name)
    spec = None if declared is None else declared.spec
    return (-np.inf, np.inf) if spec is None else (float(spec.minimum), float(spec.maximum))


class EngineKnobs:
    """The knob state and setters of an engine of `voices` voices over `bundle` (thread-safe, see the module)."""

    bundle: Bundle
    voices: int

    def __init__(self) -> None:
        v = self.voices
        self._temps = np.ones(v, dtype=np.float32)
        self._min_p = np.zeros(v, dtype=np.float32)
        self._gain = 1.0
        self._param_lock = threading.Lock()  # serializes parameter writers; generate() never takes it

    # -------------------------------------------------------------------------------------------------
    # Live parameters (any thread)
    # -------------------------------------------------------------------------------------------------

    @property
    def temperatures(self) -> np.ndarray:
        return self._temps.copy()

    def set_temperature(self, value: float, voice: int | None = None) -> None:
        """Sampling temperature (> 0; lower is more conservative) of one voice, or of all when voice is None."""
        value = float(value)
        if not np.isfinite(value) or value <= 0:
            raise UserError(f"temperature must be a positive number, got {value}")
        if voice is not None and not 0 <= voice < self.voices:
            raise UserError(f"voice {voice} does not exist; this engine has voices 0..{self.voices - 1}")
        with self._param_lock:  # writers only: copy, change, publish
            temps = self._temps.copy()
            temps[slice(None) if voice is None else voice] = max(value, MIN_TEMPERATURE)
            self._temps = temps  # one reference assignment: the producer sees the old or the new array

    @property
    def has_min_p(self) -> bool:
        """Whether the bundle's sample graph takes the tail cut (bundles exported before it play with it off)."""
        return "min_p" in self.bundle.sample.input_names()

    @property
    def min_p(self) -> np.ndarray:
        """The tail cut of every voice (a copy): levels less likely than min_p times the most likely are never drawn."""
        return self._min_p.copy()

    def set_min_p(self, value: float, voice: int | None = None) -> None:
        """Tail cut (0 = off, up to `MAX_MIN_P`, the declared range) of one voice, or of all when voice is None.

        A bundle whose sample graph has no `min_p` input keeps the value and plays with the cut off."""
        value = float(value)
        if not np.isfinite(value) or not 0.0 <= value <= MAX_MIN_P:
            raise UserError(f"min_p must be a number from 0 (off) to {MAX_MIN_P:g}, got {value}")
        if voice is not None and not 0 <= voice < self.voices:
            raise UserError(f"voice {voice} does not exist; this engine has voices 0..{self.voices - 1}")
        with self._param_lock:
            cuts = self._min_p.copy()
            cuts[slice(None) if voice is None else voice] = value
            self._min_p = cuts  # one reference assignment, as set_temperature

    @property
    def gain(self) -> float:
        return self._gain

    @property
    def audio_stats(self) -> Mapping[str, Any] | None:
        """The bundle's `audio_stats` (statistics of the training audio: the watchdog's thresholds), or None."""
        stats = self.bundle.manifest.get(MANIFEST_KEY)
        return stats if isinstance(stats, dict) else None

    def set_gain(self, gain: float) -> None:
        gain = float(gain)
        if not np.isfinite(gain) or gain < 0:
            raise UserError(f"gain must be a non-negative number, got {gain}")
        self._gain = gain

    def set_knob(self, name: str, value: float, voice: int | None = None) -> None:
        """Set a declared knob (rt_samplernn.live.declarations.engine_knobs) through the setter its
        declaration names: of one voice, or of all when voice is None (a knob without voices takes no voice)."""
        d = declaration(name)
        if d is None or d.name != name or d not in engine_knobs():
            raise UserError(f"{name!r} is no knob of the engine; knobs: {', '.join(k.name for k in engine_knobs())}")
        setter = getattr(self, d.engine)
        if voice is None:
            setter(value)
        else:
            setter(value, voice=voice)

    def knob_values(self) -> dict[str, np.ndarray]:
        """The declared knobs' values by parameter name, as a snapshot keeps them: per voice (voices,) float32,
        or one value () float64."""
        return {
            d.name: np.array(getattr(self, d.reads), np.float32 if d.per_voice else np.float64) for d in engine_knobs()
        }

    def set_knob_values(self, values: Mapping[str, np.ndarray]) -> None:
        """Put back `knob_values` (a snapshot's, another engine's): each voice's value of a per-voice knob."""
        for d in engine_knobs():
            value = np.asarray(values[d.name], np.float64)
            if d.per_voice:
                for v, x in enumerate(value.reshape(-1)):
                    self.set_knob(d.name, float(x), voice=v)
            else:
                self.set_knob(d.name, float(value))
