"""The effects and tempo part of the live session (no Qt): the rack and tempo `play` builds, edited from the window.

`rt_samplernn.gui.session.LiveSession` owns one `SessionFx` (``session.fx``). It builds the rack and the
tempo from the same flags as `play` (rt_samplernn.commands.fx_options: ``build_rack``, ``build_tempo``) and
keeps them with the rig (`Rig.use`), which joins their knobs to the parameters (`Rig.sync_cells`: the
effects', ``tempo.bpm``, ``loop.variation``) and hands them to each player (`Rig.start(effects=, producer=)`),
so the window plays what `play` plays: MIDI, OSC, bookmarks and the window's dials reach the same cells.

Threads: every method is for the Qt thread. While a player runs, chain edits (add, remove, move, bypass,
the limiter) are queued and applied by the player's worker between two blocks (`drain`, a block hook: a
deque append on one side, popleft on the other; nothing blocks); while stopped they apply at once. The
tempo is a `Tempo` (a float store; a MIDI clock writes it from the MIDI thread) behind one `TempoLocked`
producer per bundle, rewound at each start; its knobs are lock-free `FloatParam` cells the worker applies
at each block (the Qt thread, while stopped). What a session file keeps is `session_state`, read back by
`attach` at the first bundle (``saved``).
"""

from __future__ import annotations

import argparse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rt_samplernn.commands.fx_options import (
    build_rack,
    build_tempo,
    parse_limiter,
    plugin_name,
)
from rt_samplernn.errors import UserError, one_line
from rt_samplernn.live.declarations import DEFAULT_CEILING_DB
from rt_samplernn.live.effects import EFFECTS, MASTER, Chain, Limiter, Rack, Slot, load_vst3
from rt_samplernn.live.player import DEFAULT_CHUNK_FRAMES
from rt_samplernn.live.tempo import QUANTIZE_BEATS, Loop, Tempo, TempoLocked, check_bpm

if TYPE_CHECKING:
    from rt_samplernn.live.hotswap import HotSwap
    from rt_samplernn.live.player import Player
    from rt_samplernn.live.rig import Rig

VIRTUAL_CLOCK_CHOICE = "virtual port (rt-samplernn clock)"  # the clock menu's entry for our own virtual port
TAP_GAP_S = 2.0  # a tap this long after the last one starts a new count
TAP_COUNT = 5  # the tempo is the mean interval of the last this many taps


def effect_options(argv: list[str] | None = None) -> argparse.Namespace:
    """The effect and tempo flags as `rt-samplernn gui` parses them (``argv``: e.g. ['--fx', 'reverb']; None:
    none given): `play`'s, --quantize and --midi-clock included."""
    from rt_samplernn.commands.gui import add_window_effect_arguments

    parser = argparse.ArgumentParser(add_help=False)
    add_window_effect_arguments(parser)
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
    of the same rate (its voice chains fitted to the voice count), the tempo, loop, quantize and clock always.
    ``saved``: a session file's `session_state`, applied at the first bundle where the flags say nothing else.
    """

    def __init__(self, rig: Rig, errors: list[str], options: argparse.Namespace | None = None) -> None:
        self.rig = rig
        self.errors = errors
        self.options = options if options is not None else effect_options()
        self.rack: Rack | None = None
        self.tempo = Tempo()
        self.locked: TempoLocked | None = None  # the open engine's tempo-locked producer, kept between starts
        self.loop_beats = 4
        self.loop_variation = 0.0
        self.loop_align: str = self.options.loop_align  # LOOP_ALIGNS: 'onset' (strongest onset on the beat), 'start'
        self.loop_on = False
        self.quantize = "off"  # when a pad lands: QUANTIZE_BEATS' 'beat', 'bar' or 'off' (at once)
        self.clock_port: str | None = getattr(self.options, "midi_clock", None)  # 'virtual' or a port's name
        self.saved: dict[str, Any] | None = None
        self.taps = TapTempo()
        self._built = False  # the flags' tempo taken (once: the window's settings win after)
        self._player: Player | None = None  # whose worker drains the edits
        self._edits: deque[Callable[[], None]] = deque()
        self._queued: dict[int, tuple[str, str]] = {}  # (chain, effect) of each queued add, by edit (for names)
        self._edit_count = 0
        self._synced: tuple[object, ...] | None = None  # the layout the parameters last took the cells of

    # ------------------------------------------------------------------ the bundle and the player
    def attach(self) -> None:
        """After a bundle opens: the rack for its rate and voices (from the flags, or the session file, at
        first), a tempo-locked producer for its engine, their knobs in the parameters (`Rig.use`)."""
        engine = self.rig.engine
        if engine is None:
            return
        rate, voices = int(engine.sample_rate), int(engine.voices)
        first = not self._built
        saved = self.saved if first and self.saved is not None else {}
        if self.rack is None or self.rack.sample_rate != rate:
            self.rack = Rack(rate, voices, None, self.errors.append)
            try:
                self.rack = build_rack(self.options, rate, voices, self.errors.append) or self.rack
            except UserError as e:
                self.errors.append(str(e))
            if not (self.options.fx or self.options.vst3):  # the flags' chains win over the file's
                self._restore_effects(saved.get("effects", []), saved.get("bypassed", []))
        else:
            self.rack.set_voices(voices)
        if first:
            self._built = True
            self._take_flags(engine, saved)
        old = self.locked
        if old is not None:
            old.apply_cells(0.0)  # a write to the last bundle's knobs while stopped
            self.loop_variation = old.variation.target  # the knob's, OSC's or MIDI's last write
        self.locked = TempoLocked(engine, self.tempo, self._loop(), quantize=self.quantize)
        self.locked.variation.adopt(self.loop_variation)
        self.rig.use(self.rack, self.locked)
        self._synced = self.layout()
        if first:
            controls = dict(saved.get("controls") or {})
            if self.options.bpm is not None:
                controls.pop("tempo.bpm", None)  # --bpm wins over the file's tempo
            self._restore_controls(controls)
        if self.clock_port is not None and self.rig.clock is None:
            try:
                self.open_clock(self.clock_port)
            except UserError as e:
                self.errors.append(str(e))

    def _take_flags(self, engine: HotSwap, saved: dict[str, Any]) -> None:
        """The tempo, loop and quantize from the flags (`play`'s `build_tempo`), else from the session file (a loop
        kept before loops had an alignment takes --loop-align's: 'onset' unless given)."""
        options = self.options
        vars(options).setdefault("seed", self.rig.seed)
        try:
            locked = build_tempo(options, engine)
        except UserError as e:
            self.errors.append(str(e))
            locked = None
        if locked is not None:
            self.tempo = locked.grid.tempo
            if locked.loop is not None:
                self.loop_beats, self.loop_variation, self.loop_on = locked.loop.beats, locked.loop.variation, True
                self.loop_align = locked.loop.align
        loop = saved.get("loop")
        if options.loop_beats is None and isinstance(loop, dict):
            try:
                kept = Loop(loop.get("beats", 4), loop.get("variation", 0.0), align=loop.get("align", self.loop_align))
                self.loop_beats, self.loop_variation, self.loop_on = kept.beats, kept.variation, bool(loop.get("on"))
                self.loop_align = kept.align
            except UserError as e:
                self.errors.append(f"session file: the loop not restored ({e})")
        flag, kept_quantize = getattr(options, "quantize", None), saved.get("quantize")
        if flag is not None:
            self.quantize = str(flag)
        elif kept_quantize in QUANTIZE_BEATS:
            self.quantize = str(kept_quantize)
        else:  # as play: on the beat with a tempo from the flags, else at once
            self.quantize = "beat" if locked is not None else "off"
        if self.clock_port is None and isinstance(saved.get("clock"), str) and saved["clock"]:
            self.clock_port = saved["clock"]

    def start_parts(self) -> tuple[Rack | None, TempoLocked | None]:
        """The rack and the tempo-locked producer, rewound to beat 0 at the start, for `Rig.start`."""
        locked = self.locked
        if locked is not None:
            locked.apply_cells(0.0)  # knob writes while stopped (OSC, MIDI)
            locked.rewind()
        return self.rack, locked

    def started(self, player: Player) -> None:
        """The player is running: from now on its worker applies the edits, between blocks."""
        player.add_block_hook(self.drain)
        self._player = player

    def stopped(self) -> None:
        """The player stopped (its worker has ended): edits apply at once again, those queued now."""
        self._player = None
        self.drain()
        self.sync()

    def drain(self, frames: int = 0) -> None:
        """Apply the queued edits (the worker's block hook, before a block; or the Qt thread when stopped)."""
        while self._edits:
            action = self._edits.popleft()
            try:
                action()
            except Exception as e:  # an edit never stops the stream
                self.errors.append(f"effects: an edit failed ({type(e).__name__}: {one_line(e)})")

    def _edit(self, action: Callable[[], object], adds: tuple[str, str] | None = None) -> None:
        """Run ``action`` on the worker between blocks (at once when stopped); ``adds``: the (chain, effect)
        it inserts, its name taken meanwhile. The knobs follow the chains at the next `sync`."""
        self._settle()
        key = self._edit_count = self._edit_count + 1
        if adds is not None:
            self._queued[key] = adds

        def apply() -> None:
            try:
                action()
            finally:
                self._queued.pop(key, None)

        if self._player is None:
            apply()
            self.sync()
        else:
            self._edits.append(apply)

    def sync(self) -> None:
        """The parameters take the knobs of the effects there are now (`Rig.sync_cells`), if the chains changed."""
        layout = self.layout()
        if layout != self._synced:
            self._synced = layout
            self.rig.sync_cells()

    # ------------------------------------------------------------------ the chains
    def _rack(self) -> Rack:
        if self.rack is None:
            raise UserError("open a bundle first, then add effects")
        return self.rack

    def chain_names(self) -> list[str]:
        """'voice1', 'voice2', ..., 'master' (empty before a bundle is open)."""
        return [] if self.rack is None else [c.name for c in self.rack.chains()]

    def slots(self, chain: str) -> list[SlotView]:
        """The effects of ``chain`` as they are now (the master's limiter last, fixed); their knobs are in
        the parameters (synced after reading: an effect the worker inserted meanwhile is in both)."""
        rack = self._rack()
        c = rack.chain(chain)
        views = [_view(s) for s in c.slots]
        limiter = rack.limiter
        if c.name == MASTER and limiter is not None:
            views.append(_view(limiter.slot, fixed=True))
        self.sync()
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
        self._edit(lambda: c.insert(slot), (c.name, slot.name))
        return slot.name

    def add_plugin(self, chain: str, path: str | Path) -> str:
        """Load a VST3 effect (the same loader as `--vst3`) into ``chain``; UserError (one line) if it fails."""
        c = self._rack().chain(chain)
        plugin = load_vst3(path)
        slot = c.make_plugin(plugin, self._free_name(c, plugin_name(str(path))))
        slot.source = str(path)
        self._edit(lambda: c.insert(slot), (c.name, slot.name))
        return slot.name

    def _free_name(self, chain: Chain, base: str) -> str:
        """``base``, numbered from 2 if the chain has it or an add still queued for it takes it."""
        queued = {name for c, name in list(self._queued.values()) if c == chain.name}
        taken = {*chain.effect_names(), *queued}
        if base not in taken:
            return base
        return next(f"{base}{i}" for i in range(2, 10_000) if f"{base}{i}" not in taken)

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
        self._edit(lambda: setattr(rack, "limiter", limiter))

    def _settle(self) -> None:
        """A player that stopped by itself (device lost, an error): its worker joined, what waits applies now."""
        if self._player is not None and not self._player.running:
            self.rig.stop()
            self.stopped()

    def poll(self) -> None:
        """The window's timer: edits landed or an effect the worker removed (it failed): the knobs follow;
        while stopped, a knob write of the tempo (OSC, MIDI) reaches the tempo."""
        self._settle()
        self.sync()
        if self._player is None and self.locked is not None:
            self.locked.apply_cells(0.0)

    # ------------------------------------------------------------------ tempo, loop, quantize, clock
    def set_bpm(self, bpm: float) -> None:
        """The tempo by hand (UserError outside 20..400): the write OSC /tempo/bpm and a MIDI knob make to
        ``tempo.bpm``; a running MIDI clock overrides it while it sends."""
        check_bpm(bpm, "tempo")
        locked = self.locked
        if locked is None:  # no bundle yet: the tempo the first one starts at
            self.tempo.set_bpm(bpm)
            return
        locked.bpm.set(bpm)
        if self._player is None:
            locked.apply_cells(0.0)

    def shown_bpm(self) -> float:
        """The BPM to show: a followed clock's, else what ``tempo.bpm`` asks for (its knob, OSC, MIDI, the field)."""
        if self.tempo.following or self.locked is None:
            return self.tempo.bpm
        return self.locked.bpm.target

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
        stopped = " (MIDI clock stopped)" if t.clock.bpm is not None else ""
        waiting = " (waiting for the MIDI clock)" if self.rig.clock is not None and not stopped else ""
        return f"internal · {self.shown_bpm():.1f} BPM{stopped}{waiting}"

    def _loop(self) -> Loop | None:
        if not self.loop_on:
            return None
        return Loop(self.loop_beats, self.loop_variation, int(self.rig.seed), align=self.loop_align)

    def shown_variation(self) -> float:
        """The loop variation to show: what ``loop.variation`` asks for (its knob: OSC, MIDI, the box)."""
        return self.loop_variation if self.locked is None else self.locked.variation.target

    def set_loop(self, on: bool, beats: int, variation: float, align: str) -> None:
        """Loop on or off (on: recall the state of its first beat every ``beats`` beats, each recall skipped with
        probability ``variation``: the ``loop.variation`` knob; ``align``: 'onset' puts the loop's strongest onset
        on the beat, 'start' recalls on the beat). Turned on while playing, the loop starts at the next beat; a new
        count or variation applies to the running loop from its next beat; a new alignment starts the loop afresh
        at its next beat (the state of that beat, its first pass measured again for 'onset')."""
        loop = Loop(beats, variation, int(self.rig.seed), align=align)  # UserError for a bad count, variation, align
        realign = align != self.loop_align
        self.loop_beats, self.loop_variation, self.loop_align = loop.beats, loop.variation, loop.align
        locked = self.locked
        if locked is not None:
            running = locked.loop
            if not on:
                locked.loop = None
            elif running is None or not self.loop_on or realign:
                locked.loop = loop
            else:
                running.beats, running.variation = loop.beats, loop.variation  # plain stores: read per beat
            if locked.variation.target != loop.variation:
                locked.variation.set(loop.variation)  # the knob agrees (applied at the next block)
        self.loop_on = bool(on)
        self.rig.sync_cells()  # loop.variation is a knob while the loop is on

    def set_quantize(self, quantize: str) -> None:
        """Where a pad's bookmark recall or seed prime lands while playing: 'beat', 'bar' or 'off' (at once)."""
        if quantize not in QUANTIZE_BEATS:
            raise UserError(f"quantize {quantize!r}: give one of {', '.join(QUANTIZE_BEATS)}")
        self.quantize = quantize
        if self.locked is not None:
            self.locked.launch_beats = QUANTIZE_BEATS[quantize]  # a plain store: `launch` reads it
            self.rig.sync_cells()  # the control loop hands pads to the tempo, or acts at once

    def open_clock(self, port: str | None) -> str:
        """Follow the MIDI clock on ``port`` (a port's name or substring, 'virtual' or VIRTUAL_CLOCK_CHOICE: a
        port named 'rt-samplernn clock'), or stop following (None). Returns what was opened ('' for none, or
        before a bundle is open: opened with it); UserError if it cannot be."""
        if port is None:
            self.rig.close_midi_clock()
            self.clock_port = None
            return ""
        spec = "virtual" if port in ("virtual", VIRTUAL_CLOCK_CHOICE) else port
        if self.locked is None:
            self.clock_port = spec
            return ""
        opened = self.rig.open_midi_clock(spec)
        self.clock_port = "virtual" if spec == "virtual" else opened
        return opened

    def beat(self) -> int | None:
        """The beat being heard now (from 0 at the start), or None while stopped."""
        locked, player = self.locked, self._player
        if locked is None or player is None:
            return None
        heard = locked.position - player.knob_latency_s() * locked.sample_rate
        return max(0, int(locked.grid.beat_at(heard)))

    # ------------------------------------------------------------------ the session file
    def session_state(self) -> dict[str, Any]:
        """What the session file keeps (plain JSON types): the effects the chains hold, in order, with their
        bypass (the master's limiter is on again at each start: a safety), every added knob's value
        (`Parameters.values(everything=True)`: the effects', ``tempo.bpm``, ``loop.variation``), the loop (its
        switch, count, variation and alignment), the quantize and the clock port. Before a bundle is open: what
        was read (``saved``), unchanged."""
        rack, params = self.rack, self.rig.params
        if rack is None or params is None:
            return dict(self.saved or {})
        effects = [
            {"chain": c.name, "name": s.name, "source": s.source, "bypass": s.bypass}
            for c in rack.chains()
            for s in c.slots
            if s.source
        ]
        return {
            "effects": effects,
            "bypassed": [c.name for c in rack.chains() if c.bypass],
            "controls": params.values(everything=True),
            "loop": {
                "on": self.loop_on,
                "beats": self.loop_beats,
                "variation": self.loop_variation,
                "align": self.loop_align,
            },
            "quantize": self.quantize,
            "clock": self.clock_port or "",
        }

    def _restore_effects(self, effects: object, bypassed: object) -> None:
        """A session file's effects into the new rack (stopped: at once); one notice for each that cannot be."""
        rack = self._rack()
        for e in effects if isinstance(effects, list) else []:
            try:
                chain = rack.chain(str(e["chain"]))
                source, name = str(e["source"]), str(e["name"])
                if source in EFFECTS:
                    slot = chain.make(source, name=name)
                else:
                    slot = chain.make_plugin(load_vst3(source), name)
                    slot.source = source
                slot.bypass = bool(e.get("bypass", False))
                chain.insert(slot)
            except (UserError, KeyError, TypeError, AttributeError) as err:
                self.errors.append(f"session file: an effect not restored ({one_line(err)})")
        for name in bypassed if isinstance(bypassed, list) else []:
            try:
                rack.chain(str(name)).bypass = True
            except UserError as err:
                self.errors.append(f"session file: {err}")

    def _restore_controls(self, controls: dict[str, object]) -> None:
        """A session file's knob values (names of no knob here are left out), the tempo's reaching it at once."""
        params = self.rig.params
        if params is None:
            return
        params.set_values(
            {k: v for k, v in controls.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        )
        if self.locked is not None:
            self.locked.apply_cells(0.0)
            self.loop_variation = self.locked.variation.target if self.loop_on else self.loop_variation

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
