"""Effect chains on the worker thread: one per voice and one on the master, with a safety limiter at its end.

No torch, no Qt. Spotify's pedalboard runs the effects (its built-ins need no files; `load_plugin` hosts a
VST3). The player's worker (rt_samplernn/live/player.py) calls `Rack.process_voices` on each generated
block (voices, n) after the watchdog has heard the model, and `Rack.process_master` on the mix (n, 1 or 2)
after the output gain, before resampling and the ring; `rt-samplernn generate` calls the same two on the
same blocks, so a render equals a performance. The audio callback never runs an effect.

Streaming: every plugin is called with ``reset=False``, so reverb and delay tails carry across blocks. A
plugin with latency (the limiter's lookahead) hands back a shorter block at first; the chain pads the front
with zeros so that every block keeps its length, and the sum of those pads is the chain's ``latency_frames``.

Faults: an effect that raises in ``process``, returns NaN or infinity, or changes the block length once it
has settled is removed from its chain with one notice line (``on_notice``), and the block goes on with that
effect's input: the stream never stops for an effect. A bypassed chain (or one with nothing in it) returns
its input array itself, bit-exact.

Parameters: each effect parameter is a `Declaration` (kind "float") and a `FloatParam` cell named
``fx.<chain>.<effect>.<parameter>`` (``fx.master.reverb.room_size``, ``fx.voice2.lowpass.cutoff_frequency_hz``;
a second reverb in a chain is ``reverb2``), OSC address ``/fx/master/reverb/room_size``. Any thread writes
the cell; the chain ramps it (its ``smoothing_ms``) and sets the plugin at the next block, on the worker.
`Rack.cells` lists them for `Parameters.add_cells` (MIDI, OSC, the window, bookmarks).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pedalboard

from rt_samplernn.errors import UserError, one_line
from rt_samplernn.live.declarations import DEFAULT_CEILING_DB, Declaration, FloatSpec
from rt_samplernn.live.params import FloatParam

log = logging.getLogger("rt_samplernn.live.effects")
MASTER = "master"
LIMITER_LOOKAHEAD_MS = 5.0
MAX_LATENCY_S = 1.0  # an effect that withholds more audio than this is treated as one that changed the length
AVERAGE = 0.05  # weight of the newest block in the running cost average (about the last 20 blocks)
Notice = Callable[[str], None]


@dataclass(frozen=True)
class EffectParam:
    """One parameter of a built-in effect: the plugin attribute, its range, unit and help.

    ``below_nyquist``: the maximum is held under 0.45 x the sample rate (a filter's cutoff).
    """

    attr: str
    spec: FloatSpec
    unit: str = ""
    help: str = ""
    below_nyquist: bool = False

    def spec_at(self, sample_rate: int) -> FloatSpec:
        if not self.below_nyquist:
            return self.spec
        top = min(self.spec.maximum, 0.45 * sample_rate)
        return FloatSpec(
            self.spec.minimum,
            top,
            min(self.spec.default, top),
            self.spec.curve,
            self.spec.power,
            self.spec.smoothing_ms,
        )


@dataclass(frozen=True)
class EffectType:
    """A built-in effect by name: how to make it and the parameters it exposes."""

    name: str
    make: Callable[[], Any]
    params: tuple[EffectParam, ...]
    help: str


def _p(
    attr: str, lo: float, hi: float, default: float, unit: str = "", curve: str = "linear", **kw: Any
) -> EffectParam:
    smoothing_ms = kw.pop("smoothing_ms", 30.0)
    return EffectParam(attr, FloatSpec(lo, hi, default, curve, smoothing_ms=smoothing_ms), unit, **kw)


def _modulation(name: str, make: Callable[[], Any], depth: float, centre: EffectParam, help: str) -> EffectType:
    """A modulated effect (pedalboard's Chorus, Phaser): rate, depth (starting at ``depth``), its ``centre``,
    feedback and mix."""
    return EffectType(
        name,
        make,
        (
            _p("rate_hz", 0.05, 10.0, 1.0, "Hz", "log"),
            _p("depth", 0.0, 1.0, depth),
            centre,
            _p("feedback", -0.95, 0.95, 0.0),
            _p("mix", 0.0, 1.0, 0.5),
        ),
        help,
    )


def _limiter() -> Any:
    return pedalboard.BrickwallLimiter(ceiling_db=DEFAULT_CEILING_DB, lookahead_ms=LIMITER_LOOKAHEAD_MS)


EFFECTS: dict[str, EffectType] = {
    e.name: e
    for e in (
        EffectType(
            "reverb",
            pedalboard.Reverb,
            (
                _p("room_size", 0.0, 1.0, 0.5),
                _p("damping", 0.0, 1.0, 0.5),
                _p("wet_level", 0.0, 1.0, 0.33),
                _p("dry_level", 0.0, 1.0, 0.4),
                _p("width", 0.0, 1.0, 1.0),
            ),
            "a room (Freeverb): its tail carries across blocks",
        ),
        EffectType(
            "delay",
            pedalboard.Delay,
            (
                # a moving delay time is a pitch glide: it jumps at the next block instead
                _p("delay_seconds", 0.01, 2.0, 0.5, "s", smoothing_ms=0.0),
                _p("feedback", 0.0, 0.95, 0.3),
                _p("mix", 0.0, 1.0, 0.3),
            ),
            "an echo",
        ),
        _modulation("chorus", pedalboard.Chorus, 0.25, _p("centre_delay_ms", 1.0, 50.0, 7.0, "ms"), "a chorus"),
        _modulation(
            "phaser",
            pedalboard.Phaser,
            0.5,
            _p("centre_frequency_hz", 100.0, 8000.0, 1300.0, "Hz", "log", below_nyquist=True),
            "a phaser",
        ),
        EffectType(
            "compressor",
            lambda: pedalboard.Compressor(threshold_db=-12.0, ratio=4.0),
            (
                _p("threshold_db", -60.0, 0.0, -12.0, "dBFS"),
                _p("ratio", 1.0, 20.0, 4.0, "", "log"),
                _p("attack_ms", 0.1, 100.0, 1.0, "ms", "log"),
                _p("release_ms", 10.0, 1000.0, 100.0, "ms", "log"),
            ),
            "a compressor",
        ),
        EffectType(
            "highpass",
            lambda: pedalboard.HighpassFilter(cutoff_frequency_hz=80.0),
            (_p("cutoff_frequency_hz", 20.0, 8000.0, 80.0, "Hz", "log", below_nyquist=True),),
            "a high-pass filter (cuts the bass under the cutoff)",
        ),
        EffectType(
            "lowpass",
            lambda: pedalboard.LowpassFilter(cutoff_frequency_hz=3000.0),
            (_p("cutoff_frequency_hz", 100.0, 20000.0, 3000.0, "Hz", "log", below_nyquist=True),),
            "a low-pass filter (cuts the hiss over the cutoff)",
        ),
        EffectType(
            "distortion",
            lambda: pedalboard.Distortion(drive_db=12.0),
            (_p("drive_db", 0.0, 60.0, 12.0, "dB drive"),),
            "tanh distortion",
        ),
        EffectType("bitcrush", pedalboard.Bitcrush, (_p("bit_depth", 1.0, 16.0, 8.0, "bits"),), "fewer bits"),
        EffectType(
            "gain", lambda: pedalboard.Gain(gain_db=0.0), (_p("gain_db", -60.0, 24.0, 0.0, "dB gain"),), "a gain"
        ),
        EffectType(
            "limiter",
            _limiter,
            (
                _p("ceiling_db", -24.0, 0.0, DEFAULT_CEILING_DB, "dBFS"),
                _p("release_ms", 10.0, 1000.0, 100.0, "ms", "log"),
            ),
            "a brickwall limiter (lookahead; peaks never above the ceiling)",
        ),
    )
}


def effect_type(name: str) -> EffectType:
    """The built-in effect called ``name``, or a UserError listing them."""
    kind = EFFECTS.get(name)
    if kind is None:
        raise UserError(f"effect {name!r}: unknown; effects: {', '.join(EFFECTS)} (or --vst3 PATH)")
    return kind


def chain_name(voice: int | None) -> str:
    """'master', or 'voice1', 'voice2', ... (voices from 0 here, from 1 in the name)."""
    return MASTER if voice is None else f"voice{voice + 1}"


# -- one effect in a chain --------------------------------------------------------------------------------


@dataclass
class Knob:
    """One exposed parameter: the cell any thread writes and the plugin attribute the worker sets."""

    cell: FloatParam
    attr: str


@dataclass
class Slot:
    """One effect in a chain: the pedalboard plugin, its knobs and its streaming state."""

    name: str  # in the chain: 'reverb', 'reverb2', 'vst3:MyPlugin'
    plugin: Any
    knobs: list[Knob] = field(default_factory=list)
    latency_frames: int = 0  # the front padding so far (a plugin's lookahead)
    settled: bool = False  # once a block came back whole, every block must
    bypass: bool = False
    source: str = ""  # what made it: the built-in effect's name, or the VST3 file's path (a session file keeps it)


def _declare(prefix: str, param: EffectParam, spec: FloatSpec, label: str) -> Declaration:
    name = f"{prefix}.{param.attr}"
    return Declaration(
        name,
        f"{label} {param.attr.replace('_', ' ')}",
        "float",
        spec,
        unit=param.unit,
        help=param.help or f"{label}: {param.attr}",
        osc="/" + name.replace(".", "/"),
    )


# -- a chain ----------------------------------------------------------------------------------------------


class Chain:
    """The effects on one voice or on the master, run in order on (channels, n) float32 blocks.

    Build with `add` (a built-in by name) and `add_plugin` (a loaded VST3); `process` runs on the worker
    only. ``latency_frames`` (the sum of the effects' lookahead), ``cost_s`` (running average seconds per
    block) and ``cost_max_s`` are plain fields any thread reads.
    """

    def __init__(self, name: str, sample_rate: int, on_notice: Notice | None = None) -> None:
        self.name = name
        self.sample_rate = int(sample_rate)
        self.on_notice: Notice = on_notice or log.warning
        self.slots: tuple[Slot, ...] = ()
        self.bypass = False
        self.cost_s = 0.0
        self.cost_max_s = 0.0
        self.removed: tuple[str, ...] = ()  # what was removed, and why, one line each

    def _slot_name(self, base: str) -> str:
        names = {s.name for s in self.slots}
        if base not in names:
            return base
        return next(f"{base}{i}" for i in range(2, 10_000) if f"{base}{i}" not in names)

    def add(self, effect: str, values: Mapping[str, float] | None = None, name: str = "") -> Slot:
        """Append the built-in ``effect`` (EFFECTS) with starting ``values`` by parameter name; ``name``: its
        name in the chain (default: the effect's, numbered from 2 when the chain has one already)."""
        return self.insert(self.make(effect, values, name))

    def make(self, effect: str, values: Mapping[str, float] | None = None, name: str = "") -> Slot:
        """The slot `add` appends, not yet in the chain (for an owner that `insert`s it on the worker)."""
        kind = effect_type(effect)
        values = dict(values or {})
        known = {p.attr for p in kind.params}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(
                f"effect {effect}: no parameter {', '.join(unknown)}; parameters: {', '.join(sorted(known))}"
            )
        name = self._slot_name(name or effect)
        prefix, label = f"fx.{self.name}.{name}", f"{self.name.capitalize()} {name}"
        plugin = kind.make()
        knobs = []
        for param in kind.params:
            spec = param.spec_at(self.sample_rate)
            decl = _declare(prefix, param, spec, label)
            cell = FloatParam(decl, spec)
            if param.attr in values:
                value = values[param.attr]
                if not (math.isfinite(value) and spec.minimum <= value <= spec.maximum):
                    raise UserError(
                        f"{decl.name} = {value:g}: outside {spec.minimum:g}..{spec.maximum:g}; give a value in the range"
                    )
                cell.adopt(value)
            setattr(plugin, param.attr, cell.value)
            knobs.append(Knob(cell, param.attr))
        return Slot(name, plugin, knobs, source=kind.name)

    def add_plugin(self, plugin: Any, label: str) -> Slot:
        """Append a loaded plugin (a pedalboard `VST3Plugin`); its float parameters become knobs (0..1 raw)."""
        return self.insert(self.make_plugin(plugin, label))

    def make_plugin(self, plugin: Any, label: str) -> Slot:
        """The slot `add_plugin` appends, not yet in the chain."""
        name = self._slot_name(label)
        prefix = f"fx.{self.name}.{name}"
        knobs = []
        for attr, p in getattr(plugin, "parameters", {}).items():
            raw = getattr(p, "raw_value", None)
            if not isinstance(raw, float) or not attr.isidentifier():
                continue
            spec = FloatSpec(0.0, 1.0, min(max(raw, 0.0), 1.0))
            decl = Declaration(
                f"{prefix}.{attr}",
                f"{name} {attr.replace('_', ' ')}",
                "float",
                spec,
                help=f"{name}: {attr} (the plugin's own 0..1 range)",
                osc="/" + f"{prefix}.{attr}".replace(".", "/"),
            )
            knobs.append(Knob(FloatParam(decl, spec), f"raw:{attr}"))
        return Slot(name, plugin, knobs)

    def insert(self, slot: Slot) -> Slot:
        """Append a slot made by `make` or `make_plugin` (any thread; the worker sees the chain with it)."""
        self.slots = self.slots + (slot,)  # one assignment: the worker sees the old chain or the new one
        return slot

    def remove(self, name: str) -> None:
        """Take the effect ``name`` out of the chain (any thread; the worker sees the chain without it)."""
        self.slots = tuple(s for s in self.slots if s.name != name)

    def move(self, name: str, index: int) -> None:
        """Put the effect ``name`` at position ``index`` (reorder; any thread)."""
        slots = [s for s in self.slots if s.name != name]
        moved = [s for s in self.slots if s.name == name]
        if not moved:
            raise UserError(f"chain {self.name}: no effect {name!r}; effects: {', '.join(self.effect_names())}")
        slots.insert(min(max(index, 0), len(slots)), moved[0])
        self.slots = tuple(slots)

    def effect_names(self) -> list[str]:
        return [s.name for s in self.slots]

    @property
    def latency_frames(self) -> int:
        """Frames the chain delays its audio by (the lookaheads of its effects), at the model rate."""
        return sum(s.latency_frames for s in self.slots)

    def cells(self) -> Iterator[FloatParam]:
        for slot in self.slots:
            for knob in slot.knobs:
                yield knob.cell

    # -- the worker ----------------------------------------------------------------------------------

    def process(self, block: np.ndarray) -> np.ndarray:
        """(channels, n) float32 in, (channels, n) float32 out; the input itself when bypassed or empty."""
        slots = self.slots
        if self.bypass or not slots:
            return block
        t0 = time.perf_counter()
        seconds = block.shape[1] / self.sample_rate
        out = block
        for slot in slots:
            if slot.bypass:
                continue
            self._apply_knobs(slot, seconds)
            out = self._run(slot, out)
        cost = time.perf_counter() - t0
        self.cost_s += AVERAGE * (cost - self.cost_s)
        self.cost_max_s = max(self.cost_max_s, cost)
        return out

    def _apply_knobs(self, slot: Slot, seconds: float) -> None:
        for knob in slot.knobs:
            if knob.cell.step(seconds):
                value = knob.cell.value
                if knob.attr.startswith("raw:"):
                    slot.plugin.parameters[knob.attr[4:]].raw_value = value
                else:
                    setattr(slot.plugin, knob.attr, value)

    def _run(self, slot: Slot, block: np.ndarray) -> np.ndarray:
        n = block.shape[1]
        try:
            out = slot.plugin.process(block, self.sample_rate, reset=False)
        except Exception as e:  # a plugin's fault never stops the stream
            self._drop(slot, f"raised {type(e).__name__}: {one_line(e)}")
            return block
        out = np.asarray(out, dtype=np.float32)
        if out.ndim != 2 or out.shape[0] != block.shape[0]:
            self._drop(slot, f"returned shape {out.shape} for {block.shape}")
            return block
        if out.shape[1] != n:
            short = n - out.shape[1]
            if slot.settled or short < 0 or slot.latency_frames + short > MAX_LATENCY_S * self.sample_rate:
                self._drop(slot, f"changed the block length from {n} to {out.shape[1]} frames")
                return block
            slot.latency_frames += short  # a lookahead: the plugin keeps `short` frames back until the next block
            out = np.concatenate([np.zeros((out.shape[0], short), np.float32), out], axis=1)
        else:
            slot.settled = True
        if not np.isfinite(out).all():
            self._drop(slot, "returned NaN or infinite samples")
            return block
        return out

    def _drop(self, slot: Slot, why: str) -> None:
        self.remove(slot.name)
        line = f"effect {slot.name} on {self.name} {why}: removed from the chain, the stream goes on without it"
        self.removed = self.removed + (line,)
        self.on_notice(line)


# -- the master limiter ---------------------------------------------------------------------------------


class Limiter:
    """The brickwall limiter at the end of the master chain: peaks never above ``ceiling_db``.

    pedalboard's `BrickwallLimiter` (lookahead, no makeup gain) held the ceiling on a full-scale burst in
    our tests, but its lookahead is a few ms and a float rounding can sit one step over: a hard clip at
    the ceiling follows it, which is the guarantee. (pedalboard's `Limiter` is a loudness maximizer with
    makeup gain and a clip at 0 dBFS only: not used here.) ``gain_reduction_db``: how far the last block's
    peak was brought down (0 when nothing was over), for a meter; ``peak_reduction_db`` the most since start.
    """

    def __init__(
        self, sample_rate: int, ceiling_db: float = DEFAULT_CEILING_DB, on_notice: Notice | None = None
    ) -> None:
        if not (math.isfinite(ceiling_db) and -60.0 <= ceiling_db <= 0.0):
            raise UserError(f"--limiter {ceiling_db:g}: the ceiling must be -60..0 dBFS (e.g. -1), or 'off'")
        self.chain = Chain(MASTER, sample_rate, on_notice)  # its knobs: fx.master.brickwall.ceiling_db, ...
        self.slot = self.chain.add("limiter", {"ceiling_db": ceiling_db}, name="brickwall")
        self.ceiling_db = float(ceiling_db)
        self.gain_reduction_db = 0.0
        self.peak_reduction_db = 0.0

    @property
    def cells(self) -> list[FloatParam]:
        return list(self.chain.cells())

    def process(self, block: np.ndarray) -> np.ndarray:
        """(channels, n) float32 -> the same, limited to the ceiling (its current value, a knob)."""
        peak_in = float(np.max(np.abs(block))) if block.size else 0.0
        out = self.chain.process(block)
        ceiling = np.float32(10.0 ** (self.slot.knobs[0].cell.value / 20.0))  # as the plugin has it now
        if out is block:  # the limiter was removed after a fault: the clip alone holds the ceiling
            out = block.copy()
        np.clip(out, -ceiling, ceiling, out=out)
        peak_out = float(np.max(np.abs(out))) if out.size else 0.0
        reduction = 20.0 * math.log10(peak_in / max(peak_out, 1e-9)) if peak_in > ceiling else 0.0
        self.gain_reduction_db = max(0.0, reduction)
        self.peak_reduction_db = max(self.peak_reduction_db, self.gain_reduction_db)
        return out


# -- the rack: every chain of a stream -------------------------------------------------------------------


@dataclass(frozen=True)
class RackStats:
    """What the bench and the window read: latency, cost per block, the limiter's meter."""

    latency_frames: int
    latency_ms: float
    cost_ms: float  # running average per block, all chains
    cost_max_ms: float
    gain_reduction_db: float
    removed: tuple[str, ...]


class Rack:
    """The effect chains of one stream: ``voice_chains[v]`` for voice v, ``master``, and the ``limiter``.

    ``process_voices(audio)``: (voices, n) -> (voices, n), each voice through its chain (mono).
    ``process_master(mix)``: (n, channels) -> (n, channels), the master chain then the limiter.
    Both return the input array itself when nothing is in the way (bit-exact with no rack).
    """

    def __init__(
        self, sample_rate: int, voices: int, limiter_ceiling_db: float | None = None, on_notice: Notice | None = None
    ) -> None:
        self.sample_rate = int(sample_rate)
        self.voices = int(voices)
        self.on_notice = on_notice
        self.voice_chains = [Chain(chain_name(v), sample_rate, on_notice) for v in range(voices)]
        self.master = Chain(MASTER, sample_rate, on_notice)
        self.limiter = None if limiter_ceiling_db is None else Limiter(sample_rate, limiter_ceiling_db, on_notice)

    def chain(self, name: str) -> Chain:
        """'master' or 'voiceN' (N from 1), or a UserError naming the chains."""
        for c in self.chains():
            if c.name == name:
                return c
        names = ", ".join(c.name for c in self.chains())
        raise UserError(f"effect chain {name!r}: unknown; chains: {names}")

    def chains(self) -> list[Chain]:
        return [*self.voice_chains, self.master]

    def set_voices(self, voices: int) -> None:
        """Fit the voice chains to ``voices`` (an engine reopened): the first ones kept, new ones empty; call
        while no worker runs the rack."""
        kept = self.voice_chains[:voices]
        new = [Chain(chain_name(v), self.sample_rate, self.on_notice) for v in range(len(kept), voices)]
        self.voice_chains = kept + new
        self.voices = int(voices)

    def cells(self) -> list[FloatParam]:
        """Every effect parameter's cell (for `Parameters.add_cells`: MIDI, OSC, the window, bookmarks)."""
        cells = [c for chain in self.chains() for c in chain.cells()]
        return cells + (self.limiter.cells if self.limiter else [])

    @property
    def active(self) -> bool:
        return self.limiter is not None or any(c.slots for c in self.chains())

    def process_voices(self, audio: np.ndarray) -> np.ndarray:
        if not any(c.slots and not c.bypass for c in self.voice_chains):
            return audio
        out = audio.copy()
        for v, chain in enumerate(self.voice_chains):
            out[v : v + 1] = chain.process(audio[v : v + 1])
        return out

    def process_master(self, mix: np.ndarray) -> np.ndarray:
        if self.limiter is None and (self.master.bypass or not self.master.slots):
            return mix
        block = np.ascontiguousarray(mix.T)  # pedalboard: (channels, n)
        block = self.master.process(block)
        if self.limiter is not None:
            block = self.limiter.process(block)
        return np.ascontiguousarray(block.T)

    def stats(self) -> RackStats:
        chains = self.chains() + ([self.limiter.chain] if self.limiter else [])
        worst_voice = max((c.latency_frames for c in self.voice_chains), default=0)
        latency = worst_voice + sum(c.latency_frames for c in chains if c not in self.voice_chains)
        return RackStats(
            latency_frames=latency,
            latency_ms=latency / self.sample_rate * 1000.0,
            cost_ms=sum(c.cost_s for c in chains) * 1000.0,
            cost_max_ms=sum(c.cost_max_s for c in chains) * 1000.0,
            gain_reduction_db=self.limiter.gain_reduction_db if self.limiter else 0.0,
            removed=tuple(line for c in chains for line in c.removed),
        )


# -- real plugins ---------------------------------------------------------------------------------------


def load_vst3(path: str | Path) -> Any:
    """A VST3 plugin loaded with pedalboard, or a UserError line naming the file and the fix."""
    p = Path(path).expanduser()
    if not p.exists():
        raise UserError(f"--vst3 {path}: no such plugin; give a .vst3 file or bundle (look in ~/.vst3, /usr/lib/vst3)")
    try:
        plugin = pedalboard.load_plugin(str(p))
    except Exception as e:  # pedalboard raises ImportError, RuntimeError, ValueError by format and OS
        raise UserError(f"--vst3 {path}: it did not load ({one_line(e)}); check it is a VST3 for this system") from None
    if not getattr(plugin, "is_effect", True):
        raise UserError(f"--vst3 {path}: an instrument, not an effect; give an effect plugin")
    return plugin


def installed_vst3(folders: Sequence[Path] = (Path("/usr/lib/vst3"), Path.home() / ".vst3")) -> list[Path]:
    """The .vst3 bundles in the usual folders (for a test that needs one, and the window's picker)."""
    return sorted(p for folder in folders if folder.is_dir() for p in folder.glob("*.vst3"))
