"""One bundle's whole live life, built once for every front end (torch-free, no Qt).

A `Rig` owns what plays a bundle live: the engine (always behind a `HotSwap`, so any front end can
crossfade another bundle in), where its knobs start and the music it starts from (the bundle's clip, or a
seed clip), the parameter cells and the `LiveControl` that applies them per block, the `Player` and its
sinks, MIDI, OSC and a live input. `rt-samplernn play` is its flags -> a rig -> a status loop
(rt_samplernn/commands/play.py); the window's session is a Qt-side view of one
(rt_samplernn/gui/session.py). What one of them can do, the other can, because both call this.

    rig = Rig(voices=2, seed=1, temperature=0.9)
    rig.open("my-bundle")                  # engine, start settings, clip, parameters, control loop
    rig.open_midi("virtual")               # knobs from MIDI (the default map), or open_osc(9000, "127.0.0.1")
    rig.start(device=None, latency_ms=80)  # the player: worker, audio callback, sinks
    ...
    rig.close()                            # MIDI, OSC, input, the swap loader, the control loop, the player

Where it grows: `plan_voices` is where the rig decides how many voices this machine plays (a CPU plan).
The effect chains (a `Rack`) and the tempo (a `TempoLocked` producer) come in `prepare`; their knobs join
the parameters there (`sync_cells`: MIDI, OSC, bookmarks, the window, with no wiring per effect), a pad's
recall or prime then lands on the beat (``--quantize``), and `open_midi_clock` follows another program's
MIDI clock.

Threads: every method is for one owner thread (the command's main thread, the window's GUI thread); the
engine runs on the player's worker, MIDI and OSC write the lock-free cells from their own threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, Unpack

from rt_samplernn.audio import Clip
from rt_samplernn.errors import UserError
from rt_samplernn.live.bundle import Bundle
from rt_samplernn.live.control import LiveControl
from rt_samplernn.live.declarations import DECLARATIONS, SEED_SLOTS, FloatSpec
from rt_samplernn.live.music import USABLE_KNOBS, ClipPrimer, knob_specs, start_from_music, start_settings
from rt_samplernn.live.params import Parameters
from rt_samplernn.live.player import DEFAULT_CHUNK_FRAMES, DEFAULT_LATENCY_MS

if TYPE_CHECKING:
    from rt_samplernn.live.effects import Rack
    from rt_samplernn.live.engine import Engine
    from rt_samplernn.live.hotswap import HotSwap
    from rt_samplernn.live.input import LiveInput
    from rt_samplernn.live.midi.controller import MidiController
    from rt_samplernn.live.midi.mapfile import MidiMap
    from rt_samplernn.live.osc import Handler, OscServer
    from rt_samplernn.live.plan import VoicePlan
    from rt_samplernn.live.player import Player
    from rt_samplernn.live.producer import Producer
    from rt_samplernn.live.sinks import Sink
    from rt_samplernn.live.tempo import TempoLocked

CLOCK_PORT = "rt-samplernn clock"  # the virtual port `open_midi_clock` opens for 'virtual'
Device = int | str | None  # an output: an index, a name substring, NO_DEVICE ("none"), or None (the default)


class PlayerOptions(TypedDict, total=False):
    """What `Rig.prepare` and `Rig.start` make a player with, besides its device and fill target: ``seconds``
    (None: until stopped), ``chunk_frames`` (None: DEFAULT_CHUNK_FRAMES), ``sinks``, ``effects`` (the voice and
    master chains and the limiter, live/effects.py, the worker runs on each block) and ``producer`` (what the
    player drives instead of the engine itself: live/tempo.py's TempoLocked around it, looping on the beat)."""

    seconds: float | None
    chunk_frames: int | None
    sinks: Sequence[Sink]
    effects: Rack | None
    producer: Producer | None


class Rig:
    """A bundle's live rig (see the module docstring). Nothing runs until `open` and `start`.

    ``voices``: voices asked for (`plan_voices` decides). ``seed``, ``provider``, ``threads``: the engine's.
    ``slot_count``: seed slots. ``temperature``, ``min_p``: where the knobs start (None: the bundle's usable
    defaults, else the declared ones); ``gain``: the output gain to start at (None: the engine's, 1.0). ``fit_voices``: start with
    the voices this CPU plays live (`plan_voices`); ``force``: the voices asked for even so.
    ``seed_audio``: a clip every voice is primed from at `open`, and the watchdog re-primes from (None: the
    bundle's music clip, unless ``cold``: the model's initial state). ``full_range``: knobs over the whole
    declared ranges, not the bundle's usable range. ``watchdog``: the watchdog switch's first state.
    """

    def __init__(
        self,
        voices: int = 1,
        seed: int = 0,
        provider: str = "auto",
        threads: int = 1,
        slot_count: int = SEED_SLOTS,
        *,
        temperature: float | None = None,
        min_p: float | None = None,
        gain: float | None = None,
        seed_audio: Clip | None = None,
        cold: bool = False,
        full_range: bool = False,
        watchdog: bool = True,
        fit_voices: bool = False,
        force: bool = False,
    ) -> None:
        self.voices_wanted = int(voices)
        self.fit_voices, self.force = bool(fit_voices), bool(force)
        self.voice_plan: VoicePlan | None = None  # the calibration behind the voice count (plan_voices)
        self.notices: list[str] = []  # for the user after `open`: a graph replaced at its self-check, the plan
        self.seed, self.provider, self.threads = int(seed), provider, int(threads)
        self.slot_count = int(slot_count)
        self.temperature, self.min_p, self.gain = temperature, min_p, gain
        self.seed_audio = seed_audio
        self.cold, self.full_range, self.watchdog = bool(cold), bool(full_range), bool(watchdog)
        self.path: Path | None = None  # the bundle folder opened last (a hot-swap moves `engine.path`)
        self.engine: HotSwap | None = None  # the engine, behind the producer that swaps bundles while playing
        self.params: Parameters | None = None
        self.control: LiveControl | None = None
        self.music: ClipPrimer | None = None  # the open bundle's clip primer: the watchdog re-primes from it
        self.player: Player | None = None
        self.midi: MidiController | None = None
        self.midi_port: str | int | None = None  # the port `open_midi` was asked for
        self.clock: MidiController | None = None  # a MIDI clock on a port of its own (`open_midi_clock`)
        self.rack: Rack | None = None  # the effect chains `prepare` was given
        self.locked: TempoLocked | None = None  # the tempo-locked producer `prepare` was given
        self.osc: OscServer | None = None
        self.live_input: LiveInput | None = None
        self.input_device: int | str | None = None  # the live input asked for (kept across bundles)
        self.input_slot = self.slot_count - 1  # the seed slot the live input takes

    # ------------------------------------------------------------------ the bundle
    def plan_voices(self, bundle: str | Path | Bundle) -> int:
        """How many voices the engine of ``bundle`` plays: with ``fit_voices``, the most of those asked for
        that this CPU plays in real time (live/plan.py: a short calibration, cached; ``force``: all of them,
        measured to say so), else the voices asked for. `voice_plan` keeps the calibration for the user."""
        self.voice_plan = None
        if not self.fit_voices or self.provider == "cuda":
            return self.voices_wanted
        from rt_samplernn.live.plan import plan_voices

        self.voice_plan = plan_voices(bundle, self.voices_wanted, self.threads, force=self.force)
        return self.voice_plan.voices

    def knob_specs(self, bundle: Bundle) -> dict[str, FloatSpec]:
        """The temperature and tail-cut knobs' travel: the bundle's usable range, or the declared full range."""
        declared = {name: spec for name in USABLE_KNOBS if (spec := DECLARATIONS[name].spec) is not None}
        return {**declared, **knob_specs(bundle, self.full_range)}

    def set_full_range(self, on: bool) -> None:
        """Knobs over the whole declared ranges (on) or the bundle's usable range (off); values kept."""
        self.full_range = bool(on)
        if self.params is not None and self.engine is not None:
            self.params.set_specs(self.knob_specs(self.engine.bundle))

    def open(self, bundle: str | Path | Bundle | Engine, progress: Callable[[float], None] | None = None) -> bool:
        """Load ``bundle`` into a new engine and start it (knobs, clip or seed, parameters, control loop).

        ``bundle``: a bundle folder, a loaded `Bundle`, or an `Engine` a host made itself (played as it is).
        A rig that had a bundle keeps its seeds, knob values, switches, MIDI and OSC (pointed at the new
        parameters); its audio stops, and True says it was playing (`start` again). ``progress``: told the
        fraction done while a seed clip primes. UserError if the bundle cannot be opened (the old one stays).
        """
        from rt_samplernn.live.engine import Engine  # onnxruntime: only once a bundle is opened
        from rt_samplernn.live.hotswap import HotSwap

        if isinstance(bundle, Engine):
            made = bundle
        else:
            voices = self.plan_voices(bundle)
            made = Engine(bundle, voices=voices, seed=self.seed, provider=self.provider, threads=self.threads)
        plan = self.voice_plan
        said = plan is not None and (plan.voices != plan.requested or plan.forced or "needs" in plan.line())
        self.notices = [*made.notices, *([plan.line()] if plan is not None and said else [])]
        path = made.bundle.root if isinstance(bundle, (Bundle, Engine)) else Path(bundle)
        engine = HotSwap(made, path=path)
        start = start_settings(engine.bundle, self.temperature, self.min_p)
        for name, value in start.items():
            engine.set_knob(name, value)
        if self.gain is not None:
            engine.set_knob("gain", self.gain)
        if self.seed_audio is not None:  # read in blocks, now and at each watchdog re-prime: never held whole
            engine.prime(self.seed_audio, progress=progress)
            music = None
        else:
            music = start_from_music(engine, self.cold)  # every voice from its own stretch of the clip
        was_running = self.running
        old = self.params
        self.stop()
        if self.control is not None:
            self.control.close()
        if self.engine is not None:
            self.engine.close()  # a swap still waiting for a block is dropped
        params = Parameters(voices=engine.voices, slot_count=self.slot_count)
        if old is None:
            params.watchdog.set(self.watchdog)
        else:
            params.take_settings(old)  # seeds, ranges from a loaded map, knob values, switches
        params.set_specs(self.knob_specs(engine.bundle))
        self.path, self.engine, self.params, self.music = path, engine, params, music
        self.control = LiveControl(params, engine, adopt_engine=old is None)
        self.sync_cells()
        self._repoint_midi()
        if self.osc is not None:
            self.osc.set_params(params)
        return was_running

    def _parts(self) -> tuple[HotSwap, Parameters, LiveControl]:
        if self.engine is None or self.params is None or self.control is None:
            raise UserError("open a bundle first")
        return self.engine, self.params, self.control

    # ------------------------------------------------------------------ audio
    @property
    def running(self) -> bool:
        return self.player is not None and bool(self.player.running)

    def prepare(
        self, device: Device = None, latency_ms: float = DEFAULT_LATENCY_MS, **options: Unpack[PlayerOptions]
    ) -> Player:
        """A player for the engine on ``device`` (stopping the one before), hooked to the control loop, not
        yet started (`start`): UserError for a device that is not there. ``options``: `PlayerOptions`."""
        from rt_samplernn.live.player import Player

        engine, params, _ = self._parts()
        self.stop()
        seed = None if self.seed_audio is None else (self.seed_audio, self.seed_audio.rate)
        producer = options.get("producer")
        music = self.music  # primes the engine, whatever producer drives it (a TempoLocked has no voices to prime)
        player = Player(
            producer if producer is not None else engine,
            device=device,
            latency_ms=latency_ms,
            seconds=options.get("seconds"),
            chunk_frames=options.get("chunk_frames") or DEFAULT_CHUNK_FRAMES,
            watchdog=params.watchdog.target,
            seed=seed,
            music=None if music is None else (lambda _producer, noise_seed: music(engine, noise_seed)),
            sinks=options.get("sinks", ()),
            effects=options.get("effects"),
        )
        self.attach(player)
        self.player = player
        from rt_samplernn.live.tempo import TempoLocked

        self.rack = options.get("effects")
        self.locked = producer if isinstance(producer, TempoLocked) else None
        self.sync_cells()
        return player

    def sync_cells(self) -> None:
        """Join the effect chains' knobs (`Rack.cells`: a bookmark keeps them) and the tempo's (``tempo.bpm``,
        ``loop.variation``: it does not) to the parameters, dropping those of effects gone; and land a pad's
        recall or prime on the beat when the tempo quantizes. Call again after an effect is added to or
        removed from a chain while playing."""
        params, control = self.params, self.control
        if params is None or control is None:
            return
        effects = self.rack.cells() if self.rack is not None else []
        tempo = self.locked.cells() if self.locked is not None else []
        names = {c.name for c in [*effects, *tempo]}
        params.remove_cells([c.name for c in params.added() if c.name not in names])
        params.add_cells(effects)
        params.add_cells(tempo, kept=False)
        locked = self.locked
        playing = self.player is not None  # stopped, a pad acts at once: no beat comes to land it on
        control.quantizer = locked.launch if playing and locked is not None and locked.launch_beats else None

    def use(self, effects: Rack | None, producer: TempoLocked | None) -> None:
        """Keep ``effects`` and ``producer`` between players (the window keeps one rack and tempo per bundle):
        their knobs join the parameters now (`sync_cells`), a MIDI clock can be opened before the first
        `prepare`; hand the same ones to `prepare`."""
        self.rack, self.locked = effects, producer
        self.sync_cells()

    def attach(self, player: Player) -> None:
        """Drive ``player``'s blocks with the control loop: parameters land at its block boundaries, the
        switches and pad primes reach it, and its watchdog re-primes from the seed slot primed last."""
        _, params, control = self._parts()
        player.add_block_hook(control.tick)  # on the worker, before each block
        slot = params.slots[params.slot.target]
        audio = slot.take() if control.primes and slot is not None else None
        if slot is not None and audio is not None and len(audio):
            player.set_seed(audio, slot.sample_rate)
        control.player = player

    def start(
        self, device: Device = None, latency_ms: float = DEFAULT_LATENCY_MS, **options: Unpack[PlayerOptions]
    ) -> Player:
        """`prepare` a player (``options``: `PlayerOptions`) and start it (prefill, then the device);
        UserError (device busy or gone) leaves nothing running."""
        player = self.prepare(device, latency_ms, **options)
        try:
            player.start()
        except BaseException:
            self.stop()
            raise
        return player

    def stop(self) -> None:
        """Stop the audio (the sinks close: a recording is complete); idempotent."""
        player, self.player = self.player, None
        if player is not None:
            player.stop()
        if self.control is not None:
            self.control.player = None
            self.control.quantizer = None  # no beat comes while stopped

    # ------------------------------------------------------------------ seeds and the live input
    def load_slots(self, files: Sequence[str | Path]) -> None:
        """Read audio files into seed slots 1, 2, ... ('' leaves a slot empty); UserError if one cannot be."""
        _, params, _ = self._parts()
        for i, f in enumerate(files):
            if f:
                params.load_slot(i, f)

    def set_input(self, device: int | str | None, seconds: float | None = None, slot: int | None = None) -> None:
        """Keep the last ``seconds`` of an audio input (None: none) in seed slot ``slot`` (from 0; default: the
        last); its pad, key or /prime primes from what it holds then. UserError if it cannot be opened."""
        from rt_samplernn.live.input import DEFAULT_INPUT_SECONDS, LiveInput

        old, self.live_input = self.live_input, None
        if old is not None:
            old.stop()
        params = self.params
        in_slot = params.slots[self.input_slot] if params is not None else None
        if params is not None and in_slot is not None and in_slot.live is not None:
            params.clear_slot(self.input_slot)  # the old input's slot goes with it
        if slot is not None:
            self.input_slot = int(slot)
        self.input_device = device
        if device is None or params is None or self.engine is None:
            return
        live = LiveInput(device, self.engine.sample_rate, seconds or (old.seconds if old else DEFAULT_INPUT_SECONDS))
        live.start()
        self.live_input = live
        params.set_live_slot(self.input_slot, live.name, live.sample_rate, live.take, live.seconds)

    def follow_input(self) -> None:
        """After `open`: an input chosen before a model was open, or kept at the old model's rate, opened
        again at this one's (UserError if it cannot be)."""
        live = self.live_input
        if self.input_device is not None and self.engine is not None:
            if live is None or live.sample_rate != self.engine.sample_rate:
                self.set_input(self.input_device)

    # ------------------------------------------------------------------ MIDI and OSC
    def midi_controller(self, midi_map: MidiMap | None = None, map_path: Path | None = None) -> MidiController:
        """The rig's `MidiController` (made on first use from ``midi_map``, else the map saved at ``map_path``,
        else the default map; kept across bundles, so its port stays open)."""
        from rt_samplernn.live.midi.controller import MidiController

        _, params, control = self._parts()
        if self.midi is None:
            self.midi = MidiController(params, midi_map, control=control, map_path=map_path)
        return self.midi

    def open_midi(
        self,
        port: str | int,
        midi_map: MidiMap | None = None,
        map_path: Path | None = None,
        channel: int | None = None,
        api: int | str | None = None,
    ) -> str:
        """Listen on a MIDI port ('virtual', a name substring or an index) with ``midi_map`` (`midi_controller`);
        ``channel`` (0..15) filters. Returns the port's name; UserError if it cannot be opened."""
        ctl = self.midi_controller(midi_map, map_path)
        if channel is not None:
            ctl.set_channel(channel)
        opened = ctl.open(port, api)
        self.midi_port = port
        return opened

    def open_midi_clock(self, port: str | int, api: int | str | None = None) -> str:
        """Follow another program's MIDI clock on ``port`` ('virtual': a port named CLOCK_PORT; the port
        `open_midi` opened: its controller hears the clock too) with the tempo `prepare` was given. Returns
        what was opened; UserError without a tempo or if the port cannot be opened."""
        from rt_samplernn.live.midi.controller import MidiController
        from rt_samplernn.live.midi.mapfile import MidiMap

        _, params, _ = self._parts()
        if self.locked is None:
            raise UserError(f"--midi-clock {port}: no tempo to follow it with; prepare the player with a tempo")
        if self.midi is not None and str(port) == str(self.midi_port):
            self.midi.tempo = self.locked.tempo
            return "the --midi port"
        if self.clock is not None:
            self.clock.close()
        clock = MidiController(params, MidiMap())  # an empty map: the port's clock alone is heard
        clock.tempo = self.locked.tempo
        try:
            opened = clock.open(port, api, virtual_name=CLOCK_PORT)
        except BaseException:
            clock.close()
            raise
        self.clock = clock
        return opened

    def close_midi_clock(self) -> None:
        """Stop following a MIDI clock (`open_midi_clock`'s port closed; the --midi port's controller stops
        feeding the tempo); the tempo keeps its hand-set BPM."""
        if self.clock is not None:
            self.clock.close()
            self.clock = None
        if self.midi is not None:
            self.midi.tempo = None

    def _repoint_midi(self) -> None:
        """A new bundle or voice count: point the controller at the new cells (the MIDI thread looks cells up
        by name per message). A default map is swapped for the new voice count's; a performer's own is kept."""
        from rt_samplernn.live.midi.mapfile import default_map

        ctl, params = self.midi, self.params
        if ctl is None or params is None:
            return
        if ctl.params is not params:
            still_default = ctl.midi_map.mappings == default_map(ctl.params.voices).mappings
            ctl.params = params
            if still_default:
                ctl.set_map(default_map(params.voices), apply_specs=False)
        ctl.control = self.control

    def open_osc(self, port: int, host: str, on_bundle: Handler | None = None) -> OscServer:
        """Listen for OSC on udp host:port (UserError if taken): every parameter's address, and ``/bundle s``
        (``on_bundle``; default: crossfade that bundle in while playing)."""
        from rt_samplernn.live.osc import OscServer, Route

        params = self.params if self.params is not None else Parameters()  # a bundle opened later brings its own
        route = Route("/bundle", "s", on_bundle or self._swap_from_osc, "open another bundle")
        server = OscServer(params, port, host, extra=[route])
        server.start()
        self.osc = server
        return server

    def _swap_from_osc(self, args: Sequence[object]) -> None:
        if self.engine is None:
            raise UserError("/bundle: no bundle is open yet")
        self.engine.request_from_osc(args)

    # ------------------------------------------------------------------ the end
    def close(self) -> None:
        """Stop MIDI (and a clock port), OSC, the live input, a swap still loading and the control loop, then
        the audio."""
        try:
            if self.osc is not None:
                self.osc.close()
                self.osc = None
            if self.clock is not None:
                self.clock.close()
                self.clock = None
            if self.midi is not None:
                self.midi.close()  # its port, and the control loop it drives
                self.midi = None
            if self.control is not None:
                self.control.close()
            if self.engine is not None:
                self.engine.close()
            if self.live_input is not None:
                self.live_input.stop()
                self.live_input = None
        finally:
            self.stop()


__all__ = ["Device", "Rig"]
