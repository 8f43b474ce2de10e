"""Live parameters a performer steers, and the one place that applies them to an Engine and a Player.

No torch, no Qt, no locks on the audio path.

What there is to steer
----------------------
``Parameters(voices=2, slot_count=8)`` holds one cell per parameter, by name:

================  ==============  =============================================================
name              class           meaning
================  ==============  =============================================================
``temperature``   FloatParam      sampling temperature of every voice (default 0.5..1.5, 1.0)
``temperature.N`` FloatParam      voice N's temperature (only when voices > 1; N from 0)
``gain``          FloatParam      output gain, linear factor (default 0..2, 1.0; knob curve u**2)
``slot``          IndexParam      selected seed slot (0..slot_count-1); priming uses it
``prime``         Trigger         re-prime the engine from the selected slot's audio
``reset``         Trigger         reset the engine to its initial state
``watchdog``      SwitchParam     the Player's watchdog on/off
================  ==============  =============================================================

Moving ``temperature`` also moves every ``temperature.N`` to the same value (last writer wins), so a
master knob and per-voice knobs can coexist. Seed slots (``Parameters.slots``) are audio files, like a
sampler's pads: ``load_slot(i, path)`` reads one with `rt_samplernn.audio.read_audio` (in the caller's
thread, never the MIDI or audio thread); a MIDI note-on selects a slot and fires ``prime``.

Ranges and curves
-----------------
A `FloatSpec` maps a knob position ``u`` in [0, 1] to a value: ``u ** power`` then linear or ``log``
(equal ratios per turn; needs minimum > 0) between ``minimum`` and ``maximum``. ``smoothing_ms`` is the
time a full-range jump takes to ramp through (a slew limit applied once per block), so a knob sweep or a
jump does not click; 0 jumps at the next block.

Threads (who may call what)
---------------------------
* Writers -- the MIDI thread, the Qt thread, anything: ``param.set(value)``, ``param.set_normalized(u)``,
  ``trigger.fire()``. A write is a few attribute stores (atomic under the GIL) and one ``next()`` on a
  shared ``itertools.count``: no locks, never blocks. Out-of-range values are clamped, NaN is ignored.
* The puller -- the producer thread: ``LiveControl.tick(frames)`` once per block, before generating
  ``frames`` samples. It ramps each float toward its target and calls ``engine.set_temperature`` /
  ``engine.set_gain`` only when a value changed, so a write lands in the very next block. With the
  streaming Player: ``player.add_block_hook(control.tick)``; elsewhere `ControlledProducer` wraps an
  engine so its ``generate(n)`` ticks first. ``watchdog`` goes to ``player.set_watchdog`` there too.
* ``prime`` and ``reset`` run on `LiveControl`'s own helper thread (priming runs the frame tiers over the
  whole clip; generation must not wait for it). Repeated fires coalesce: only the latest request runs.
* Observers -- the GUI polls from a QTimer: every parameter has ``version`` (changes on each write of its
  target), ``target`` (what the performer asked for), ``value`` (what the engine got at the last block)
  and ``normalized`` (the target as a knob position). ``Parameters.version`` changes when any does.
  Keep the last version seen; when it differs, move the widget with its signals blocked.

Example::

    params = Parameters(voices=engine.voices)
    params.load_slot(0, "seeds/kick.wav")
    control = LiveControl(params, engine, player)     # initial values are read from the engine
    player.add_block_hook(control.tick)               # (without a Player: ControlledProducer(engine, control))
    params["temperature"].set_normalized(0.75)        # from any thread -> 1.25 at the next block
    params.select_and_prime(0)                        # a pad: slot 0, prime (on the helper thread)
    control.close()                                   # stops the helper thread
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from rt_samplernn.audio import read_audio
from rt_samplernn.errors import UserError

log = logging.getLogger(__name__)

CURVES = ("linear", "log")

# One counter for every write: next() on an itertools.count is atomic in CPython, so two writers never
# hand out the same version, and a version also orders writes across parameters.
_versions = itertools.count(1)


def next_version() -> int:
    """A fresh version number (thread-safe, increasing): for any counter the GUI polls."""
    return next(_versions)


def as_number(value: object) -> float | None:
    """float(value), or None for anything that is not a number (NaN included): odd input is ignored, never raised."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return None if math.isnan(number) else number


@dataclass(frozen=True)
class FloatSpec:
    """Range, knob curve, default and smoothing of a continuous parameter.

    ``from_normalized(u)``: u in [0, 1] -> ``u ** power`` -> linear (or geometric for ``curve="log"``)
    between ``minimum`` and ``maximum``. ``smoothing_ms``: ramp time of a full-range jump (0 = none).
    """

    minimum: float
    maximum: float
    default: float
    curve: str = "linear"
    power: float = 1.0
    smoothing_ms: float = 30.0

    def __post_init__(self) -> None:
        for field_name in ("minimum", "maximum", "default", "power", "smoothing_ms"):
            v = getattr(self, field_name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise UserError(f"{field_name} = {v!r}: must be a finite number")
        if not self.minimum < self.maximum:
            raise UserError(f"range {self.minimum}..{self.maximum}: minimum must be below maximum")
        if self.curve not in CURVES:
            raise UserError(f"curve {self.curve!r}: unknown; curves: {', '.join(CURVES)}")
        if self.curve == "log" and self.minimum <= 0:
            raise UserError(f"curve 'log' needs minimum > 0, got {self.minimum}; use curve 'linear'")
        if self.power <= 0:
            raise UserError(f"power {self.power}: must be > 0 (1 = straight)")
        if self.smoothing_ms < 0:
            raise UserError(f"smoothing_ms {self.smoothing_ms}: must be >= 0 (0 = no smoothing)")
        if not self.minimum <= self.default <= self.maximum:
            raise UserError(f"default {self.default}: outside {self.minimum}..{self.maximum}")

    def clamp(self, value: float) -> float:
        return min(max(float(value), self.minimum), self.maximum)

    def from_normalized(self, u: float) -> float:
        """Knob position u in [0, 1] (clamped) -> value in [minimum, maximum]."""
        u = min(max(float(u), 0.0), 1.0) ** self.power
        if self.curve == "log":
            return self.clamp(self.minimum * (self.maximum / self.minimum) ** u)
        return self.clamp(self.minimum + (self.maximum - self.minimum) * u)

    def to_normalized(self, value: float) -> float:
        """Value -> knob position in [0, 1]; the inverse of `from_normalized`."""
        value = self.clamp(value)
        if self.curve == "log":
            u = math.log(value / self.minimum) / math.log(self.maximum / self.minimum)
        else:
            u = (value - self.minimum) / (self.maximum - self.minimum)
        return min(max(u, 0.0), 1.0) ** (1.0 / self.power)


TEMPERATURE = FloatSpec(0.5, 1.5, 1.0)
GAIN = FloatSpec(0.0, 2.0, 1.0, power=2.0)  # a fader: finer near silence; u = 0.707 is unity


def _check_engine_range(kind: str, spec: FloatSpec) -> None:
    """The engine takes temperatures > 0 and gains >= 0: refuse ranges that reach outside."""
    if kind == "temperature" and spec.minimum <= 0:
        raise UserError(f"temperature range {spec.minimum}..{spec.maximum}: the minimum must be > 0")
    if kind == "gain" and spec.minimum < 0:
        raise UserError(f"gain range {spec.minimum}..{spec.maximum}: the minimum must be >= 0")


class Param:
    """Base of every parameter cell: a name, a label for the GUI, and a version bumped on each write."""

    kind = "param"

    def __init__(self, name: str, label: str | None = None) -> None:
        self.name = name
        self.label = label or name
        self.version = next_version()

    def _touch(self) -> None:
        self.version = next_version()

    def set_normalized(self, u: float) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def normalized(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class FloatParam(Param):
    """A continuous parameter: ``target`` (asked for), ``value`` (applied at the last block)."""

    kind = "float"

    def __init__(self, name: str, spec: FloatSpec, label: str | None = None, unit: str = "") -> None:
        super().__init__(name, label)
        self.spec = spec
        self.unit = unit
        self.target = spec.default
        self.value = spec.default
        self.followers: tuple[FloatParam, ...] = ()

    def set(self, value: float) -> None:
        """Ask for ``value`` (clamped to the range; NaN ignored). Any thread; never blocks."""
        value = as_number(value)
        if value is None:
            return
        self.target = self.spec.clamp(value)
        self._touch()
        for f in self.followers:
            f.set(self.target)

    def set_normalized(self, u: float) -> None:
        """Ask for the value at knob position u in [0, 1] (clamped; NaN ignored)."""
        u = as_number(u)
        if u is not None:
            self.set(self.spec.from_normalized(u))

    @property
    def normalized(self) -> float:
        """The target as a knob position in [0, 1] (for the GUI)."""
        return self.spec.to_normalized(self.target)

    def set_spec(self, spec: FloatSpec) -> None:
        """Change range/curve/smoothing (any thread); the target is clamped into the new range."""
        self.spec = spec
        self.target = spec.clamp(self.target)
        self._touch()
        for f in self.followers:
            f.set_spec(spec)

    def step(self, seconds: float) -> bool:
        """Move ``value`` toward ``target`` by at most a full range per ``smoothing_ms``; True if it moved.

        Called by the one puller (`LiveControl.tick`) once per block of ``seconds``.
        """
        target, value, spec = self.target, self.value, self.spec
        if value == target:
            return False
        if spec.smoothing_ms <= 0:
            self.value = target
            return True
        max_delta = (spec.maximum - spec.minimum) * seconds * 1000.0 / spec.smoothing_ms
        delta = target - value
        self.value = target if abs(delta) <= max_delta else value + math.copysign(max_delta, delta)
        return True

    def format(self, value: float | None = None) -> str:
        """A short display string of ``value`` (default: the target), e.g. '1.25' or '-3.5 dB'."""
        v = self.target if value is None else value
        if self.unit == "dB":
            return "-inf dB" if v <= 1e-5 else f"{20 * math.log10(v):+.1f} dB"
        return f"{v:.2f}"


class IndexParam(Param):
    """An integer choice 0..count-1 (the seed slot). ``target`` and ``value`` are the same int."""

    kind = "index"

    def __init__(self, name: str, count: int, label: str | None = None) -> None:
        super().__init__(name, label)
        if count < 1:
            raise UserError(f"{name}: count {count} must be at least 1")
        self.count = count
        self.target = 0

    @property
    def value(self) -> int:
        return self.target

    def set(self, index: int) -> None:
        try:
            index = int(index)
        except (TypeError, ValueError, OverflowError):
            return
        self.target = min(max(index, 0), self.count - 1)
        self._touch()

    def set_normalized(self, u: float) -> None:
        u = as_number(u)
        if u is not None:
            self.set(round(min(max(u, 0.0), 1.0) * (self.count - 1)))

    @property
    def normalized(self) -> float:
        return self.target / (self.count - 1) if self.count > 1 else 0.0


class SwitchParam(Param):
    """On/off (the watchdog). ``set_normalized(u)``: on when u >= 0.5."""

    kind = "switch"

    def __init__(self, name: str, default: bool, label: str | None = None) -> None:
        super().__init__(name, label)
        self.target = bool(default)

    @property
    def value(self) -> bool:
        return self.target

    def set(self, on: bool) -> None:
        self.target = bool(on)
        self._touch()

    def toggle(self) -> None:
        self.set(not self.target)

    def set_normalized(self, u: float) -> None:
        u = as_number(u)
        if u is not None:
            self.set(u >= 0.5)

    @property
    def normalized(self) -> float:
        return 1.0 if self.target else 0.0


class Trigger(Param):
    """A momentary action (prime, reset): ``fire()`` bumps ``version``; the puller acts once per change.

    ``set_normalized(u)`` fires when u >= 0.5 (a button's press; edge detection is the MIDI side's job).
    """

    kind = "trigger"

    def fire(self) -> None:
        self._touch()

    def set_normalized(self, u: float) -> None:
        u = as_number(u)
        if u is not None and u >= 0.5:
            self.fire()

    @property
    def normalized(self) -> float:
        return 0.0


@dataclass(frozen=True)
class SeedSlot:
    """One pad: the file and its audio as read (float32 (frames, channels) at the file's rate)."""

    path: Path
    audio: np.ndarray
    sample_rate: int

    @property
    def seconds(self) -> float:
        return self.audio.shape[0] / float(self.sample_rate)

    @property
    def name(self) -> str:
        return self.path.name


class Parameters:
    """Every live parameter, by name (see the module docstring); plus the seed slots.

    ``voices``: the engine's voice count (> 1 adds ``temperature.0`` ...). ``slot_count``: number of
    seed slots (pads). ``temperature`` / ``gain``: their `FloatSpec`. ``watchdog``: initial state.
    """

    def __init__(
        self,
        voices: int = 1,
        slot_count: int = 8,
        temperature: FloatSpec = TEMPERATURE,
        gain: FloatSpec = GAIN,
        watchdog: bool = True,
    ) -> None:
        if voices < 1:
            raise UserError(f"voices {voices}: must be at least 1")
        _check_engine_range("temperature", temperature)
        _check_engine_range("gain", gain)
        self.voices = voices
        self.temperature = FloatParam("temperature", temperature, "temperature")
        self.voice_temperatures = [
            FloatParam(f"temperature.{v}", temperature, f"temperature voice {v}") for v in range(voices)
        ] if voices > 1 else []
        self.temperature.followers = tuple(self.voice_temperatures)
        self.gain = FloatParam("gain", gain, "gain", unit="dB")
        self.slot = IndexParam("slot", slot_count, "seed slot")
        self.prime = Trigger("prime", "re-prime")
        self.reset = Trigger("reset", "reset")
        self.watchdog = SwitchParam("watchdog", watchdog, "watchdog")
        self._params: dict[str, Param] = {
            p.name: p
            for p in (self.temperature, *self.voice_temperatures, self.gain, self.slot, self.prime,
                      self.reset, self.watchdog)
        }
        self.slots: list[SeedSlot | None] = [None] * slot_count
        self.slots_version = next_version()

    # -- lookup --------------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Param:
        try:
            return self._params[name]
        except KeyError:
            raise UserError(f"parameter {name!r}: unknown; parameters: {', '.join(self._params)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._params

    def __iter__(self) -> Iterator[Param]:
        return iter(self._params.values())

    def names(self) -> list[str]:
        return list(self._params)

    def get(self, name: str) -> Param | None:
        return self._params.get(name)

    @property
    def version(self) -> int:
        """Changes whenever any parameter's target or the slots change (poll this from a QTimer)."""
        return max(self.slots_version, max(p.version for p in self._params.values()))

    def float_params(self) -> list[FloatParam]:
        return [p for p in self._params.values() if isinstance(p, FloatParam)]

    # -- convenience for any thread ------------------------------------------------------------------
    def set(self, name: str, value: Any) -> None:
        """``params[name].set(value)`` for float, index and switch parameters; fires a trigger."""
        p = self[name]
        if isinstance(p, Trigger):
            p.fire()
        else:
            p.set(value)  # type: ignore[attr-defined]

    def set_specs(self, specs: dict[str, FloatSpec]) -> None:
        """Apply range/curve settings by name (e.g. from a MIDI map file); voices follow temperature."""
        for name, spec in specs.items():
            p = self[name]
            if not isinstance(p, FloatParam):
                raise UserError(f"parameter {name!r}: not continuous, so it has no range")
            _check_engine_range(name.split(".")[0], spec)
            p.set_spec(spec)

    def specs(self) -> dict[str, FloatSpec]:
        """Range settings of the parameters a performer configures: temperature and gain."""
        return {"temperature": self.temperature.spec, "gain": self.gain.spec}

    # -- seed slots ----------------------------------------------------------------------------------
    def load_slot(self, index: int, path: str | Path) -> SeedSlot:
        """Read an audio file into slot ``index`` (reads the file: call from the GUI/main thread)."""
        if not 0 <= index < len(self.slots):
            raise UserError(f"slot {index}: out of range; slots: 0..{len(self.slots) - 1}")
        audio, rate = read_audio(path)
        slot = SeedSlot(Path(path), audio, rate)
        self.slots[index] = slot
        self.slots_version = next_version()
        return slot

    def load_slots(self, paths: Sequence[str | Path], first: int = 0) -> None:
        """Fill slots ``first``, ``first + 1``, ... from ``paths``."""
        if first + len(paths) > len(self.slots):
            raise UserError(f"{len(paths)} seed files: only {len(self.slots) - first} slots are free "
                            f"(slot_count {len(self.slots)})")
        for i, p in enumerate(paths):
            self.load_slot(first + i, p)

    def clear_slot(self, index: int) -> None:
        if 0 <= index < len(self.slots):
            self.slots[index] = None
            self.slots_version = next_version()

    def select_and_prime(self, index: int) -> None:
        """Select slot ``index`` and fire ``prime`` (what a pad does; any thread)."""
        self.slot.set(index)
        self.prime.fire()


def _player_watchdog(player: Any) -> bool | None:
    """The Player's watchdog state, or None if it has none we know of."""
    if player is None:
        return None
    for attr in ("watchdog_enabled", "watchdog"):
        v = getattr(player, attr, None)
        if isinstance(v, bool):
            return v
        enabled = getattr(v, "enabled", None)
        if isinstance(enabled, bool):
            return enabled
    return None


def _set_player_watchdog(player: Any, on: bool) -> bool:
    """Turn the Player's watchdog on/off through the first hook it has; False if it has none."""
    setter = getattr(player, "set_watchdog", None)
    if callable(setter):
        setter(on)
        return True
    if isinstance(getattr(player, "watchdog_enabled", None), bool):
        player.watchdog_enabled = on
        return True
    wd = getattr(player, "watchdog", None)
    if wd is not None and isinstance(getattr(wd, "enabled", None), bool):
        wd.enabled = on
        return True
    return False


class LiveControl:
    """Applies `Parameters` to an engine (and the watchdog switch to a player).

    ``tick(frames)``: call once per block from the producer thread, before ``engine.generate(frames)``;
    cheap, never blocks. ``prime``/``reset`` run on a helper thread started here (``close()`` stops it).
    Counters for the GUI: ``blocks`` (ticks so far), ``primes``, ``resets`` (done), ``message`` and
    ``message_version`` (the last notice, e.g. "slot 3 is empty").

    The engine needs ``set_temperature(value, voice=None)``, ``set_gain``, ``prime(audio, rate)``,
    ``reset()`` and ``sample_rate``; ``temperatures``/``gain`` are read once to start from the engine's
    current settings. The player (optional) may have ``set_watchdog(on)`` (or ``watchdog_enabled``, or
    ``watchdog.enabled``) and ``set_seed(audio, rate)`` (after a pad primes, the watchdog re-primes from
    that slot); to get ticks, register ``control.tick`` with ``player.add_block_hook``.
    ``poll_ms``: how often the helper thread looks for prime/reset requests.
    """

    def __init__(self, params: Parameters, engine: Any, player: Any = None, poll_ms: float = 5.0,
                 start: bool = True) -> None:
        self.params = params
        self.engine = engine
        self._player = player
        self.sample_rate = int(getattr(engine, "sample_rate", 16000))
        self.blocks = 0
        self.primes = 0
        self.resets = 0
        self.message = ""
        self.message_version = 0
        self._poll_s = poll_ms / 1000.0
        self._adopt_engine_state()
        self._seen = {p.name: p.version for p in params}  # trigger versions already acted on
        self._watchdog_applied = _player_watchdog(player)
        if self._watchdog_applied is not None and params.watchdog.target != self._watchdog_applied:
            params.watchdog.target = self._watchdog_applied
            params.watchdog._touch()
            self._seen["watchdog"] = params.watchdog.version
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if start:
            self._thread = threading.Thread(target=self._actions, name="rt-samplernn-actions", daemon=True)
            self._thread.start()

    @property
    def player(self) -> Any:
        """The player the watchdog switch and pad seeds go to; may be set (or swapped) at any time."""
        return self._player

    @player.setter
    def player(self, player: Any) -> None:
        self._watchdog_applied = None  # the next tick sends the switch to the new player
        self._player = player

    def _adopt_engine_state(self) -> None:
        """Start from the engine's temperatures and gain, so attaching changes nothing audible."""
        p = self.params
        temps = getattr(self.engine, "temperatures", None)
        if temps is not None:
            temps = np.asarray(temps, dtype=np.float64).reshape(-1)
            if temps.size:
                for cell, t in [(p.temperature, float(temps.mean()))] + list(zip(p.voice_temperatures, temps)):
                    cell.target = cell.value = cell.spec.clamp(float(t))
                    cell._touch()
        gain = getattr(self.engine, "gain", None)
        if isinstance(gain, (int, float)) and not isinstance(gain, bool):
            p.gain.target = p.gain.value = p.gain.spec.clamp(float(gain))
            p.gain._touch()

    def notice(self, text: str) -> None:
        """Record a notice for the GUI (and the log)."""
        self.message = text
        self.message_version = next_version()
        log.warning("%s", text)

    # -- the producer thread ---------------------------------------------------------------------------
    def tick(self, frames: int) -> None:
        """Apply the parameters for the next block of ``frames`` samples (producer thread, per block)."""
        p, engine = self.params, self.engine
        seconds = frames / float(self.sample_rate)
        try:
            if p.voice_temperatures:
                p.temperature.step(seconds)
                for v, cell in enumerate(p.voice_temperatures):
                    if cell.step(seconds):
                        engine.set_temperature(cell.value, voice=v)
            elif p.temperature.step(seconds):
                engine.set_temperature(p.temperature.value)
            if p.gain.step(seconds):
                engine.set_gain(p.gain.value)
            wd = p.watchdog.target
            if self.player is not None and wd != self._watchdog_applied:
                self._watchdog_applied = wd
                if not _set_player_watchdog(self.player, wd):
                    self.notice("this player has no watchdog switch; the watchdog setting is ignored")
        except Exception as e:  # generation goes on with the previous values
            self.notice(f"applying parameters failed: {type(e).__name__}: {e}")
        self.blocks += 1

    # -- the helper thread -----------------------------------------------------------------------------
    def _actions(self) -> None:
        while not self._stop.wait(self._poll_s):
            self.run_pending()

    def run_pending(self) -> None:
        """Do pending prime/reset requests, oldest first (the helper thread; or tests with start=False).

        Only the latest fire of each trigger counts; a failure becomes a notice, never an exception.
        """
        p = self.params
        pending = [(t.version, t) for t in (p.reset, p.prime) if t.version != self._seen[t.name]]
        for version, t in sorted(pending, key=lambda vt: vt[0]):
            self._seen[t.name] = version
            try:
                if t is p.prime:
                    self._prime()
                else:
                    self.engine.reset()
                    self.resets += 1
            except UserError as e:
                self.notice(str(e))
            except Exception as e:  # the live path goes on; say what failed
                self.notice(f"{t.name} failed: {type(e).__name__}: {e}")

    def _prime(self) -> None:
        index = self.params.slot.target
        slot = self.params.slots[index] if index < len(self.params.slots) else None
        if slot is None:
            raise UserError(f"seed slot {index} is empty; load an audio file into it first")
        self.engine.prime(slot.audio, slot.sample_rate)
        set_seed = getattr(self.player, "set_seed", None)
        if callable(set_seed):  # the Player's watchdog re-primes from the slot played last
            set_seed(slot.audio, slot.sample_rate)
        self.primes += 1

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> LiveControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ControlledProducer:
    """A streaming producer (``sample_rate``, ``voices``, ``generate(n)``) that ticks `LiveControl` first.

    Every other attribute is the engine's, so it can stand in for the engine wherever a producer goes.
    """

    def __init__(self, engine: Any, control: LiveControl) -> None:
        self.engine = engine
        self.control = control

    @property
    def sample_rate(self) -> int:
        return self.engine.sample_rate

    @property
    def voices(self) -> int:
        return self.engine.voices

    def generate(self, n: int) -> np.ndarray:
        self.control.tick(n)
        return self.engine.generate(n)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


__all__ = [
    "CURVES", "next_version", "FloatSpec", "TEMPERATURE", "GAIN", "Param", "FloatParam", "IndexParam", "SwitchParam",
    "Trigger", "SeedSlot", "Parameters", "LiveControl", "ControlledProducer",
]
