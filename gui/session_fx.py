"""The effects and tempo part of the live session (no Qt): the rack and tempo `play` builds, edited from the window.

`rt_samplernn.gui.session.LiveSession` owns one `SessionFx` (``session.fx``). It builds the rack and the
tempo from the same flags as `play` (rt_samplernn.commands.fx_options: ``build_rack``, ``build_tempo``) and
hands them to the rig's player (`Rig.start(effects=, producer=)`), so the window plays what `play` plays.

Threads: every method is for the Qt thread. While a player runs, chain edits (add, remove, move, bypass,
the limiter) are queued and applied by the player's worker between two blocks (`drain`, a block hook: a
deque append on one side, popleft on the other; nothing blocks); while stopped they apply at once. Effect
knobs are lock-free `FloatParam` cells, added to the rig's parameters so MIDI learn finds them by name; the
tempo is a `Tempo` (a float store) and the loop's settings plain attributes the worker reads per beat.
"""

from __future__ import annotations

import argparse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rt_samplernn.commands.fx_options import (
    add_effect_arguments,
    build_rack,
    build_tempo,
    parse_limiter,
    plugin_name,
)
from rt_samplernn.errors import UserError, one_line
from rt_samplernn.live.effects import DEFAULT_CEILING_DB, MASTER, Chain, Limiter, Rack, Slot, load_vst3
from rt_samplernn.live.params import FloatParam
from rt_samplernn.live.player import DEFAULT_CHUNK_FRAMES
from rt_samplernn.live.tempo import Loop, Tempo, TempoLocked, check_bpm

if TYPE_CHECKING:
    from rt_samplernn.live.player import Player
    from rt_samplernn.live.rig import Rig

TAP_GAP_S = 2.0  # a tap this long after the last one starts a new count
TAP_COUNT = 5  # the tempo is the mean interval of the last this many taps


def effect_options(argv: list[str] | None = None) -> argparse.Namespace:
    """The effect and tempo flags as `play` parses them (``argv``: e.g. ['--fx', 'reverb']; None: none given)."""
    parser = argparse.ArgumentParser(add_help=False)
    add_effect_arguments(  # --fx, --vst3, --limiter, --bpm, --loop-*: as `play`
        parser,
        limiter_default=f"{DEFAULT_CEILING_DB:g}",
        limiter_help=f"default: {DEFAULT_CEILING_DB:g} dBFS, as play (it delays the sound by its 5 ms lookahead)",
    )
    return parser.parse_args(argv or [])


@dataclass(frozen=True)
class KnobInfo:
    """A float parameter the window draws as a dial (the session's and each effect's): its cell's name (MIDI
    learn, `LiveSession.knob`), caption and tooltip."""

    name: str
    title: str
    tooltip: str


@dataclass(frozen=True)
class SlotView:
    """One effect as the chain editor lists it: its name in the chain, bypass, and its knobs."""

    name: str
    bypass: bool
    knobs: tuple[KnobInfo, ...]
    fixed: bool = False  # the master limiter: not moved or removed here (its own switch)


def _view(slot: Slot, fixed: bool = False) -> SlotView:
    knobs = tuple(
        KnobInfo(
            k.cell.name,
            k.cell.name.rsplit(".", 1)[-1].replace("_", " "),
            f"{k.cell.label}: {k.cell.spec.minimum:g} … {k.cell.spec.maximum:g} {k.cell.decl.unit}. {k.cell.decl.help}",
        )
        for k in slot.knobs
    )
    return SlotView(slot.name, slot.bypass, knobs, fixed)


@dataclass(frozen=True)
class FxReading:
    """What the meters show: the limiter's gain reduction (None: no limiter), latency and cost per chain."""

    gain_reduction_db: float | None
    latency_ms: float
    voice_cost_ms: tuple[float, ...]
    master_cost_ms: float
    block_ms: float


class TapTempo:
    """Tap tempo: the BPM of the mean interval between the last taps (None until two taps)."""

    def __init__(self) -> None:
        self.times: deque[float] = deque(maxlen=TAP_COUNT)

    def tap(self, time_s: float) -> float | None:
        times = self.times
        if times and time_s - times[-1] > TAP_GAP_S:
            times.clear()
        times.append(time_s)
        span = times[-1] - times[0]
        if len(times) < 2 or span <= 0:
            return None
        try:
            return check_bpm(60.0 * (len(times) - 1) / span, "tap tempo")
        except UserError:
            return None


class SessionFx:
    """The window's rack and tempo (see the module docstring). ``errors``: the session's notice list.

    ``options``: the effect and tempo flags (`effect_options`; `rt-samplernn gui` passes its own). The rack
    and the flags' tempo are built when the first bundle opens (`attach`); the rack is kept across bundles
    of the same rate (its voice chains fitted to the voice count), the tempo and loop settings always.
    """

    def __init__(self, rig: Rig, errors: list[str], options: argparse.Namespace | None = None) -> None:
        self.rig = rig
        self.errors = errors
        self.options = options if options is not None else effect_options()
        self.rack: Rack | None = None
        self.tempo = Tempo()
        self.loop_beats = 4
        self.loop_variation = 0.0
        self.loop_on = False
        self.producer: TempoLocked | None = None  # the player's producer while playing
        self.taps = TapTempo()
        self._built = False  # the flags' tempo taken (once: the window's settings win after)
        self._player: Player | None = None  # whose worker drains the edits
        self._edits: deque[Callable[[], None]] = deque()
        self._cells: set[str] = set()  # effect cells added to the rig's parameters
        self._pending: dict[int, list[FloatParam]] = {}  # the cells of queued adds, by edit (the worker pops)
        self._edit_count = 0

    # ------------------------------------------------------------------ the bundle and the player
    def attach(self) -> None:
        """After a bundle opens: the rack for its rate and voices (from the flags at first), cells to MIDI."""
        engine = self.rig.engine
        if engine is None:
            return
        rate, voices = int(engine.sample_rate), int(engine.voices)
        if self.rack is None or self.rack.sample_rate != rate:
            self.rack = Rack(rate, voices, None, self.errors.append)
            try:
                self.rack = build_rack(self.options, rate, voices, self.errors.append) or self.rack
            except UserError as e:
                self.errors.append(str(e))
        else:
            self.rack.set_voices(voices)
        if not self._built:
            self._built = True
            vars(self.options).setdefault("seed", self.rig.seed)
            try:
                locked = build_tempo(self.options, engine)
            except UserError as e:
                self.errors.append(str(e))
                locked = None
            if locked is not None:
                self.tempo = locked.grid.tempo
                if locked.loop is not None:
                    self.loop_beats, self.loop_variation, self.loop_on = locked.loop.beats, locked.loop.variation, True
        self._cells.clear()  # the rig's parameters are new
        self.sync_cells()

    def start_parts(self) -> tuple[Rack | None, TempoLocked | None]:
        """The rack and a fresh tempo-locked producer (beat 0 at the start) for `Rig.start`."""
        engine = self.rig.engine
        self.producer = None if engine is None else TempoLocked(engine, self.tempo, self._loop())
        return self.rack, self.producer

    def started(self, player: Player) -> None:
        """The player is running: from now on its worker applies the edits, between blocks."""
        player.add_block_hook(self.drain)
        self._player = player

    def stopped(self) -> None:
        """The player stopped (its worker has ended): edits apply at once again, those queued now."""
        self._player = None
        self.producer = None
        self.drain()

    def drain(self, frames: int = 0) -> None:
        """Apply the queued edits (the worker's block hook, before a block; or the Qt thread when stopped)."""
        while self._edits:
            action = self._edits.popleft()
            try:
                action()
            except Exception as e:  # an edit never stops the stream
                self.errors.append(f"effects: an edit failed ({type(e).__name__}: {one_line(e)})")

    def _edit(self, action: Callable[[], object], cells: list[FloatParam] | None = None) -> None:
        """Run ``action`` on the worker between blocks (at once when stopped); ``cells``: the knobs it brings,
        in the parameters (MIDI learn) from now on."""
        self._settle()
        key = self._edit_count = self._edit_count + 1
        if cells:
            self._pending[key] = cells
            self.sync_cells()

        def apply() -> None:
            try:
                action()
            finally:
                self._pending.pop(key, None)

        if self._player is None:
            apply()
        else:
            self._edits.append(apply)

    # ------------------------------------------------------------------ the chains
    def _rack(self) -> Rack:
        if self.rack is None:
            raise UserError("open a bundle first, then add effects")
        return self.rack

    def chain_names(self) -> list[str]:
        """'voice1', 'voice2', ..., 'master' (empty before a bundle is open)."""
        return [] if self.rack is None else [c.name for c in self.rack.chains()]

    def slots(self, chain: str) -> list[SlotView]:
        """The effects of ``chain`` as they are now (the master's limiter last, fixed)."""
        rack = self._rack()
        c = rack.chain(chain)
        views = [_view(s) for s in c.slots]
        limiter = rack.limiter
        if c.name == MASTER and limiter is not None:
            views.append(_view(limiter.slot, fixed=True))
        return views

    def layout(self) -> tuple[object, ...]:
        """Changes whenever an effect, a bypass or the limiter changes (the window polls it to redraw)."""
        rack = self.rack
        if rack is None:
            return ()
        return (
            tuple((c.name, c.bypass, tuple((s.name, s.bypass) for s in c.slots)) for c in rack.chains()),
            rack.limiter is not None,
        )

    def chain_bypass(self, chain: str) -> bool:
        return self._rack().chain(chain).bypass

    def add(self, chain: str, effect: str) -> str:
        """Add the built-in ``effect`` at the end of ``chain``; returns its name in the chain."""
        c = self._rack().chain(chain)
        slot = c.make(effect, name=self._free_name(c, effect))
        self._edit(lambda: c.insert(slot), [k.cell for k in slot.knobs])
        return slot.name

    def add_plugin(self, chain: str, path: str | Path) -> str:
        """Load a VST3 effect (the same loader as `--vst3`) into ``chain``; UserError (one line) if it fails."""
        c = self._rack().chain(chain)
        plugin = load_vst3(path)
        slot = c.make_plugin(plugin, self._free_name(c, plugin_name(str(path))))
        self._edit(lambda: c.insert(slot), [k.cell for k in slot.knobs])
        return slot.name

    def _free_name(self, chain: Chain, base: str) -> str:
        """``base``, numbered from 2 if the chain has it or an add still queued for it takes it."""
        prefix = f"fx.{chain.name}."
        queued = {c.name[len(prefix) :].split(".")[0] for c in self._pending_cells() if c.name.startswith(prefix)}
        taken = {*chain.effect_names(), *queued}
        if base not in taken:
            return base
        return next(f"{base}{i}" for i in range(2, 10_000) if f"{base}{i}" not in taken)

    def _pending_cells(self) -> list[FloatParam]:
        return [c for cells in list(self._pending.values()) for c in cells]

    def remove(self, chain: str, name: str) -> None:
        c = self._rack().chain(chain)
        self._edit(lambda: c.remove(name))

    def move(self, chain: str, name: str, step: int) -> None:
        """Move effect ``name`` ``step`` places (-1: earlier, +1: later)."""
        c = self._rack().chain(chain)

        def apply() -> None:
            names = c.effect_names()
            if name in names:
                c.move(name, names.index(name) + step)

        self._edit(apply)

    def set_bypass(self, chain: str, name: str, on: bool) -> None:
        """Bypass one effect (``on``): the chain runs as without it, bit-exact when it is the only one."""
        c = self._rack().chain(chain)

        def apply() -> None:
            for slot in c.slots:
                if slot.name == name:
                    slot.bypass = bool(on)

        self._edit(apply)

    def set_chain_bypass(self, chain: str, on: bool) -> None:
        c = self._rack().chain(chain)
        self._edit(lambda: setattr(c, "bypass", bool(on)))

    @property
    def limiter_on(self) -> bool:
        return self.rack is not None and self.rack.limiter is not None

    def set_limiter(self, on: bool) -> None:
        """The brickwall limiter at the end of the master chain on (at the flags' ceiling, else -1 dBFS) or off."""
        rack = self._rack()
        if on == (rack.limiter is not None):
            return
        limiter = None
        if on:
            try:
                ceiling = parse_limiter(self.options.limiter)
            except UserError:
                ceiling = None
            limiter = Limiter(rack.sample_rate, DEFAULT_CEILING_DB if ceiling is None else ceiling, self.errors.append)
        self._edit(lambda: setattr(rack, "limiter", limiter), limiter.cells if limiter is not None else None)

    def sync_cells(self) -> None:
        """Keep the rig's parameters holding the effect cells there are, and those of queued adds (MIDI learn)."""
        params = self.rig.params
        if params is None or self.rack is None:
            return
        cells = {c.name: c for c in [*self.rack.cells(), *self._pending_cells()]}
        params.remove_cells(self._cells - set(cells))
        params.add_cells(cells.values())
        self._cells = set(cells)

    def _settle(self) -> None:
        """A player that stopped by itself (device lost, an error): its worker joined, what waits applies now."""
        if self._player is not None and not self._player.running:
            self._player.stop()
            self.stopped()

    def poll(self) -> None:
        """The window's timer: edits landed or an effect the worker removed (it failed): the cells follow."""
        self._settle()
        self.sync_cells()

    # ------------------------------------------------------------------ tempo and loop
    def set_bpm(self, bpm: float) -> None:
        """The tempo by hand (UserError outside 20..400); a running MIDI clock overrides it while it sends."""
        self.tempo.set_bpm(bpm)

    def tap(self, time_s: float) -> float | None:
        """One tap of tap tempo at ``time_s``; sets and returns the tempo once two taps came."""
        bpm = self.taps.tap(time_s)
        if bpm is not None:
            self.set_bpm(round(bpm, 1))
        return bpm

    def tempo_text(self) -> str:
        """Where the tempo comes from now: 'internal · 120.0 BPM' or 'following MIDI clock at 120.0 BPM'."""
        t = self.tempo
        if t.following:
            return f"following MIDI clock at {t.bpm:.1f} BPM"
        return f"internal · {t.bpm:.1f} BPM" + (" (MIDI clock stopped)" if t.clock.bpm is not None else "")

    def _loop(self) -> Loop | None:
        if not self.loop_on:
            return None
        return Loop(self.loop_beats, self.loop_variation, int(self.rig.seed))

    def set_loop(self, on: bool, beats: int, variation: float) -> None:
        """Loop on or off (on: recall the state of its first beat every ``beats`` beats, each recall skipped with
        probability ``variation``). Turned on while playing, the loop starts at the next beat; a new count or
        variation applies to the running loop from its next beat."""
        loop = Loop(beats, variation, int(self.rig.seed))  # UserError for a bad count or variation
        self.loop_beats, self.loop_variation = loop.beats, loop.variation
        producer = self.producer
        if producer is not None:
            running = producer.loop
            if not on:
                producer.loop = None
            elif running is None or not self.loop_on:
                producer.loop = loop
            else:
                running.beats, running.variation = loop.beats, loop.variation  # plain stores: read per beat
        self.loop_on = bool(on)

    def beat(self) -> int | None:
        """The beat being heard now (from 0 at the start), or None while stopped."""
        producer, player = self.producer, self._player
        if producer is None or player is None:
            return None
        heard = producer.position - player.knob_latency_s() * producer.sample_rate
        return max(0, int(producer.grid.beat_at(heard)))

    # ------------------------------------------------------------------ meters
    def reading(self) -> FxReading | None:
        """The limiter's gain reduction and the chains' latency and cost (None before a bundle is open)."""
        rack = self.rack
        if rack is None:
            return None
        stats = rack.stats()
        limiter = rack.limiter
        master = rack.master.cost_s + (limiter.chain.cost_s if limiter is not None else 0.0)
        player = self._player
        chunk = player.chunk_frames if player is not None else DEFAULT_CHUNK_FRAMES
        return FxReading(
            gain_reduction_db=None if limiter is None else limiter.gain_reduction_db,
            latency_ms=stats.latency_ms,
            voice_cost_ms=tuple(c.cost_s * 1000.0 for c in rack.voice_chains),
            master_cost_ms=master * 1000.0,
            block_ms=chunk / rack.sample_rate * 1000.0,
        )
