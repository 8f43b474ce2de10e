"""The window's view of a live rig, without Qt: bundle, engine, player, parameters, MIDI, seeds, recording.

The window owns one `LiveSession` and talks only to it; the session drives one `rt_samplernn.live.rig.Rig`
(the same rig `rt-samplernn play` drives), which builds and owns the engine, player, parameters, MIDI, OSC
and live input; the effect chains and the tempo are ``fx`` (rt_samplernn.gui.session_fx, built from `play`'s
flags and started through the same `Rig.start`). The session adds what only a window needs: the scope's tap and its recording, knob states by
position, meter readings, notices. Everything here is callable from the GUI thread and returns
quickly: the engine runs in the player's worker thread, MIDI arrives on rtmidi's thread and lands in the
parameter cells, and the window reads back by polling (`knob`, `meters`, `scope`) from its timers.
Parameters are named as declared (rt_samplernn.live.params.PARAMETERS); meters as declared in
rt_samplernn.live.meters.METERS. Seed slots are indexed from 0 here and shown from 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rt_samplernn.errors import UserError
from rt_samplernn.gui.session_fx import KnobInfo, SessionFx
from rt_samplernn.gui.session_midi import SessionMidi
from rt_samplernn.gui.tap import OutputTap
from rt_samplernn.live.meters import METERS
from rt_samplernn.live.params import (
    BOOKMARKS,
    DECLARATIONS,
    SEED_SLOTS,
    FloatParam,
    Parameters,
    SeedSlot,
    SwitchParam,
    declaration,
)
from rt_samplernn.live.player import DEFAULT_LATENCY_MS
from rt_samplernn.live.rig import Device, Rig

if TYPE_CHECKING:
    from rt_samplernn.live.bundle import Bundle
    from rt_samplernn.live.control import LiveControl
    from rt_samplernn.live.hotswap import HotSwap
    from rt_samplernn.live.input import LiveInput
    from rt_samplernn.live.osc import OscServer
    from rt_samplernn.live.player import Player


@dataclass(frozen=True)
class KnobState:
    """A knob's state now: ``version`` (changes on every write), ``position`` in [0, 1], ``text`` ('1.25')."""

    version: int
    position: float
    text: str


@dataclass(frozen=True)
class Reading:
    """One meter now: the bar's fill in [0, 1] and the text a performer reads."""

    fraction: float
    text: str


IDLE = Reading(0.0, "—")


class LiveSession:
    """One performer's rig as the window sees it (see the module docstring); ``rig`` is the `Rig` itself.

    ``voices_wanted``: voices of the next opened engine. ``slot_count``: seed slots. ``provider``,
    ``threads``: passed to the engine. Nothing is running until `open_bundle` and `start`. The MIDI side
    (ports, learn, maps) is ``midi``, a `rt_samplernn.gui.session_midi.SessionMidi`; the effects and tempo
    are ``fx``, a `rt_samplernn.gui.session_fx.SessionFx` built from ``effects`` (`play`'s effect and tempo
    flags, rt_samplernn.gui.session_fx.effect_options; None: none given).
    """

    def __init__(
        self,
        slot_count: int = SEED_SLOTS,
        provider: str = "auto",
        threads: int = 1,
        seed: int = 0,
        force: bool = False,
        fit_voices: bool = False,
        effects: argparse.Namespace | None = None,
    ):
        self.rig = Rig(
            slot_count=slot_count, provider=provider, threads=threads, seed=seed, fit_voices=fit_voices, force=force
        )
        self.bundle: Path | None = None
        self.info: Bundle | None = None
        self._errors: list[str] = []
        self._reprime_failures_seen = 0  # the player's count the window has told of
        self.midi = SessionMidi(self.rig, self._errors)
        self.fx = SessionFx(self.rig, self._errors, effects)
        self._player_error: str | None = None
        self._last_start: tuple[Device, float] = (None, DEFAULT_LATENCY_MS)
        self.tap: OutputTap | None = None
        self._message_seen = 0
        self._swap_seen = (0, 0)  # (swaps, message version) of the engine's hot-swaps already reported
        self._bundle_request: Path | None = None  # /bundle over OSC, for the window to open on its thread
        self._advice_seen = ""

    # ------------------------------------------------------------------ the rig's parts, as the window names them
    @property
    def engine(self) -> HotSwap | None:
        """The engine, behind the producer that swaps bundles while playing."""
        return self.rig.engine

    @property
    def params(self) -> Parameters | None:
        return self.rig.params

    @property
    def control(self) -> LiveControl | None:
        return self.rig.control

    @property
    def player(self) -> Player | None:
        return self.rig.player

    @property
    def osc(self) -> OscServer | None:
        return self.rig.osc

    @property
    def live_input(self) -> LiveInput | None:
        """Call and response: the input kept in the last seed slot."""
        return self.rig.live_input

    @property
    def slot_count(self) -> int:
        return self.rig.slot_count

    @property
    def voices_wanted(self) -> int:
        return self.rig.voices_wanted

    @voices_wanted.setter
    def voices_wanted(self, voices: int) -> None:
        self.rig.voices_wanted = int(voices)

    @property
    def cold(self) -> bool:
        """Start (and re-prime) from the model's initial state, not the bundle's clip."""
        return self.rig.cold

    @cold.setter
    def cold(self, on: bool) -> None:
        self.rig.cold = bool(on)

    @property
    def full_range(self) -> bool:
        """Knobs over the whole declared ranges, not the bundle's usable range."""
        return self.rig.full_range

    @full_range.setter
    def full_range(self, on: bool) -> None:
        self.rig.full_range = bool(on)

    @property
    def min_p_wanted(self) -> float | None:
        """The tail cut to start at (None: the bundle's usable default)."""
        return self.rig.min_p

    @min_p_wanted.setter
    def min_p_wanted(self, value: float | None) -> None:
        self.rig.min_p = value

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
        was_running = self.rig.open(path)  # the audio stops once the new engine is loaded
        self.stop()  # and the scope's recording with it
        engine = self.rig.engine
        assert engine is not None  # the rig opened it
        self.bundle, self.info = Path(path), engine.bundle
        self._errors.extend(self.rig.notices)  # a graph replaced at its check on this CPU; the voices that fit
        self.fx.attach()  # the chains for this rate and voice count, their knobs where MIDI learn finds them
        self.midi.attach()
        try:  # an input chosen before a model was open, or kept at the old model's rate
            self.rig.follow_input()
        except UserError as e:
            self._errors.append(str(e))
        return was_running

    def can_swap(self, path: Path) -> bool:
        """True when `path` can be crossfaded in while playing (`swap_bundle`) instead of a stop and reopen:
        the audio runs and the voice count stays."""
        return self.running and self.engine is not None and self.engine.voices == self.voices_wanted

    def swap_bundle(self, path: Path) -> None:
        """Load `path` in the background and crossfade to it at a block boundary; audio goes on (a bundle
        that fails leaves the current one playing, with a notice). `swapped` says when it is in."""
        if self.engine is None:
            raise UserError("open a bundle first")
        self.engine.request(Path(path))

    def swapped(self) -> bool:
        """True once after each hot-swap that went in (the window then shows the new model); failures
        and successes alike become notices (`take_error`)."""
        engine = self.engine
        if engine is None:
            return False
        swaps, version = engine.swaps, engine.message_version
        if (swaps, version) == self._swap_seen:
            return False
        done = swaps != self._swap_seen[0]
        self._swap_seen = (swaps, version)
        if engine.message:
            self._errors.append(engine.message)
        if done:
            self.bundle, self.info = engine.path, engine.bundle
        return done

    # ------------------------------------------------------------------ bookmarks (index from 0, shown from 1)
    def save_bookmark(self, index: int) -> None:
        """The exact state now into bookmark `index`: between two blocks while playing, at once when stopped."""
        self._pick("bookmark_save", index)

    def recall_bookmark(self, index: int) -> None:
        """Back to bookmark `index` exactly: at the next block while playing, at once when stopped."""
        self._pick("bookmark_recall", index)

    def _pick(self, name: str, index: int) -> None:
        if self.params is None or self.control is None:
            raise UserError("open a bundle first")
        self.params.pad(name, index)
        if not self.running:  # nothing generates: apply it from here
            self.control.apply_picks()

    @property
    def bookmark_count(self) -> int:
        return BOOKMARKS

    def bookmark_filled(self, index: int) -> bool:
        return self.params is not None and self.params.bookmarks[index] is not None

    @property
    def bookmarks_version(self) -> int:
        return self.params.bookmarks_version if self.params is not None else 0

    def save_bookmarks(self, path: Path) -> None:
        """Write the bookmark slots to `path` (.npz; UserError if it cannot be written)."""
        from rt_samplernn.live.bookmarks import save_bookmarks

        if self.params is not None:
            save_bookmarks(self.params, path, self.bundle.name if self.bundle is not None else "")

    def load_bookmarks(self, path: Path) -> None:
        """Read the bookmark slots from `path`, checked against the open model (UserError naming the file and
        member if damaged: the slots stay as they were); a bookmark of another bundle stays in its slot and
        refuses to recall with a notice."""
        from rt_samplernn.live.bookmarks import load_bookmarks

        if self.params is None or self.engine is None:
            raise UserError("open a bundle first")
        load_bookmarks(self.params, path, self.engine.state_spec())

    # ------------------------------------------------------------------ OSC
    def open_osc(self, port: int, host: str) -> None:
        """Listen for OSC on udp host:port (UserError if taken): the parameters' addresses, and /bundle s."""
        self.rig.open_osc(port, host, on_bundle=self._osc_bundle)  # the window decides: a crossfade or a reopen

    @property
    def osc_port(self) -> int | None:
        return None if self.osc is None else self.osc.port

    def _osc_bundle(self, args: Sequence[object]) -> None:
        if len(args) != 1 or not isinstance(args[0], str) or not args[0]:
            raise UserError(f"/bundle takes the bundle folder's path, got {list(args)!r}")
        self._bundle_request = Path(args[0])  # the window opens it on its own thread

    def take_bundle_request(self) -> Path | None:
        """A bundle asked for over OSC since the last call, or None (the window polls this)."""
        path, self._bundle_request = self._bundle_request, None
        return path

    def set_full_range(self, on: bool) -> None:
        """Knobs over the whole declared ranges (on) or the bundle's usable range (off); values kept."""
        self.rig.set_full_range(on)

    def restart(self) -> None:
        """Start again on the device and latency of the last start."""
        self.start(*self._last_start)

    def bundle_name(self) -> str:
        """The header's name: the bundle folder's, plain ("demo", "my-bundle")."""
        return "no model" if self.bundle is None else self.bundle.name

    def bundle_details(self) -> str:
        """The header's tooltip: where the bundle is and the checkpoint it was exported from."""
        if self.bundle is None:
            return ""
        source = (self.info.manifest.get("source") or "") if self.info is not None else ""
        checkpoint = Path(source.split(" sha256:")[0]).name  # the manifest's source: "NAME sha256:HEX"
        return str(self.bundle) + (f"\nexported from {checkpoint}" if checkpoint else "")

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
            ("engine", f"onnxruntime {self.engine.provider}"),
        ]
        exporter = m.get("exporter") or {}
        if exporter:
            rows.append(("exported by", f"{exporter.get('name', '?')} {exporter.get('version', '')}"))
        rows.append(("bundle", f"format v{m.get('version', '?')}"))
        return rows

    # ------------------------------------------------------------------ parameters
    def knobs(self) -> list[KnobInfo]:
        """The dials to draw: each declared float parameter, then its voices' cells when there are several."""
        if self.params is None:
            return []
        return [
            KnobInfo(c.name, c.label, f"{c.label}: {c.spec.minimum:g} … {c.spec.maximum:g}. {c.decl.help}")
            for c in self.params.knobs()
        ]

    def _params(self) -> Parameters:
        if self.params is None:
            raise UserError("open a bundle first")
        return self.params

    def knob(self, name: str) -> KnobState:
        c = self._params().cell(name, FloatParam)
        return KnobState(c.version, c.normalized, c.format())

    def turn(self, name: str, position: float) -> KnobState:
        """Set a knob by its position in [0, 1]: the same write a MIDI knob makes; returns the new state."""
        self._params()[name].set_normalized(position)
        return self.knob(name)

    def switch(self, name: str) -> bool:
        """A switch's state (e.g. 'watchdog'); its declared default before a model is open."""
        if self.params is None:
            return bool(DECLARATIONS[name].default)
        return self.params.cell(name, SwitchParam).target

    def set_switch(self, name: str, on: bool) -> None:
        if self.params is not None and self.params.cell(name, SwitchParam).target != on:
            self.params.cell(name, SwitchParam).set(on)

    @staticmethod
    def label(name: str) -> str:
        """What the window calls a parameter ('Gain', 'Voice 2 temp', 'Re-prime')."""
        d = declaration(name)
        if d is None:
            return name
        base, _, voice = name.partition(".")
        return d.voice_label(int(voice)) if voice else d.label

    # ------------------------------------------------------------------ audio
    @property
    def running(self) -> bool:
        return self.player is not None and bool(self.player.running)

    @property
    def recording(self) -> bool:
        return self.tap is not None and self.tap.recording

    @property
    def recording_seconds(self) -> float:
        return self.tap.recorded_seconds if self.recording and self.tap is not None else 0.0

    def audio_devices(self, rescan: bool = False) -> list[tuple[Device, str]]:
        """(device, label) of every output, plus the software clock (no sound card).

        ``rescan``: ask PortAudio again (a device plugged in, a JACK server started); only while stopped.
        """
        from rt_samplernn.live.devices import NO_DEVICE, list_output_devices

        try:
            devices = [(d.index, d.label) for d in list_output_devices(rescan=rescan and not self.running)]
        except UserError:
            devices = []
        return devices + [(NO_DEVICE, "no sound card (software clock)")]

    def start(self, device: Device, latency_ms: float = DEFAULT_LATENCY_MS) -> None:
        """Stream the engine to `device` (index, name, NO_DEVICE or None: the default) with this fill target."""
        self.stop()
        tap = OutputTap()
        effects, producer = self.fx.start_parts()  # the rack and the tempo-locked engine, as `play` hands them
        # UserError (device busy or gone) leaves nothing running
        player = self.rig.start(device, latency_ms, sinks=[tap], effects=effects, producer=producer)
        self.fx.started(player)
        self._reprime_failures_seen = 0  # a new player counts from 0
        self.tap = tap
        self._last_start = (device, latency_ms)

    def stop(self) -> None:
        """Stop the audio (and a recording); idempotent."""
        self.rig.stop()
        self.fx.stopped()
        if self.tap is not None and self.tap.recording:
            self.tap.stop_recording()

    def meters(self, fast_only: bool = False) -> dict[str, Reading]:
        """Each declared meter's reading now, by name ('—' while stopped); cheap, for the window's timers."""
        chosen = [m for m in METERS if m.fast or not fast_only]
        player = self.player
        if player is None:
            return {m.name: IDLE for m in chosen}
        metrics = player.metrics()
        if metrics.error and metrics.error != self._player_error:
            self._player_error = metrics.error
            self._errors.append(metrics.error)
        if metrics.reprime_failures > self._reprime_failures_seen and metrics.reprime_error:
            self._reprime_failures_seen = metrics.reprime_failures
            self._errors.append(f"watchdog: {metrics.reprime_error}")
        return {m.name: Reading(m.fraction(metrics), m.format(metrics)) for m in chosen}

    @property
    def output_rate(self) -> int:
        """The rate of what the scope shows (the device's)."""
        return int(self.player.device_rate) if self.player is not None else self.sample_rate

    def scope(self, n: int) -> np.ndarray | None:
        """The newest `n` output frames, mono, or None when not playing."""
        return self.tap.snapshot(n) if self.tap is not None and self.player is not None else None

    def start_recording(self, path: Path) -> None:
        """Record what is played from now on into a 16-bit WAV at `path` (UserError: exists, cannot write)."""
        if not self.running or self.tap is None or self.player is None:
            raise UserError("start the audio first, then record")
        self.tap.start_recording(Path(path), self.player.device_rate, self.player.channels)

    def stop_recording(self) -> tuple[Path, float]:
        """Finish the file; returns (path, seconds written)."""
        if self.tap is None:
            return Path(), 0.0
        return self.tap.stop_recording()

    # ------------------------------------------------------------------ seeds (index from 0, shown from 1)
    @property
    def seeds_version(self) -> int:
        return self.params.slots_version if self.params is not None else 0

    def seed_clip(self, index: int) -> SeedSlot | None:
        """The clip in slot `index` (rt_samplernn.live.params.SeedSlot), or None."""
        slots = self.params.slots if self.params is not None else []
        return slots[index] if 0 <= index < len(slots) else None

    @property
    def selected_slot(self) -> int:
        return self.params.slot.target if self.params is not None else 0

    def load_seed(self, index: int, path: Path) -> SeedSlot:
        """Read an audio file into seed slot `index` (UserError if unreadable); returns the params SeedSlot."""
        if self.params is None:
            raise UserError("open a bundle first, then load seeds")
        return self.params.load_slot(index, path)

    # ------------------------------------------------------------------ call and response
    @property
    def input_slot(self) -> int:
        """The seed slot a live input takes: the last one (key 8 with eight slots)."""
        return self.slot_count - 1

    def input_devices(self) -> list[tuple[int | str | None, str]]:
        """(device, label) of every audio input, after (None, 'no live input')."""
        from rt_samplernn.live.devices import list_input_devices

        try:
            devices = [(d.index, d.label) for d in list_input_devices()]
        except UserError:
            devices = []
        return [(None, "no live input"), *devices]

    def set_input(self, device: int | str | None, seconds: float | None = None) -> None:
        """Keep the last ``seconds`` of an audio input (None: none) in the last seed slot; its pad, key or /prime
        primes from what it holds then, while audio goes on. UserError if the input cannot be opened."""
        self.rig.set_input(device, seconds)

    def prime(self, index: int) -> None:
        """Select slot `index` and prime the engine from it (runs on LiveControl's helper thread)."""
        if self.params is None:
            raise UserError("open a bundle first")
        if self.seed_clip(index) is None:
            raise UserError(f"seed slot {index + 1} is empty; load an audio file into it first")
        self.params.select_and_prime(index)

    def reset(self, seed: int | None = None) -> None:
        """Back to the model's initial state; with a seed, the noise stream restarts from it."""
        if self.engine is None:
            return
        if seed is not None:
            self.rig.seed = int(seed)
            self.engine.reset(self.rig.seed)
        else:
            self._params().reset.fire()

    # ------------------------------------------------------------------ notices
    def post_notice(self, text: str) -> None:
        """Queue a notice for the status line (e.g. a settings value dropped at start)."""
        self._errors.append(text)

    def take_error(self) -> str:
        """The oldest notice not yet shown (LiveControl's, the player's, MIDI's), or ''."""
        c = self.control
        if c is not None and c.message_version != self._message_seen:
            self._message_seen = c.message_version
            self._errors.append(c.message)
        advice = self.player.advice.message if self.player is not None else ""
        if advice and advice != self._advice_seen:  # the watchdog's word on a knob re-priming cannot cure
            self._advice_seen = advice
            self._errors.append(advice)
        return self._errors.pop(0) if self._errors else ""

    def close(self) -> None:
        """Stop audio, the live input, MIDI and OSC, close the helper thread (the window calls this when it closes)."""
        self.stop()
        self.rig.close()
