"""Applying live parameters: `LiveControl` moves `Parameters` into an engine and a player at block boundaries.

No torch, no Qt, no locks on the audio path.

Threads (who may call what)
---------------------------
* The puller -- the producer thread: ``LiveControl.tick(frames)`` once per block, before generating
  ``frames`` samples (with the streaming Player: ``player.add_block_hook(control.tick)``). It ramps each
  float toward its target and calls the engine method its declaration names (``set_temperature``,
  ``set_gain``) only when a value changed, so a write lands in the very next block; a switch goes to the
  player method its declaration names (``set_watchdog``).
* Bookmarks (the picks ``bookmark_save`` / ``bookmark_recall``) are done by the puller too, in ``tick``:
  a save takes ``engine.snapshot()`` into ``params.bookmarks[i]`` between two blocks (with the added
  cells' values, `Parameters.values`: the effect knobs), a recall hands the state to ``engine.restore``
  and moves the knobs' cells to its values, so it lands in the very next block. (While nothing generates, `apply_picks` does the same from the caller's thread.)
* ``prime`` and ``reset`` run on `LiveControl`'s own helper thread (priming runs the frame tiers over the
  whole clip; generation must not wait for it). With a tempo (``quantizer``: `TempoLocked.launch`), a
  bookmark recall and a prime land on the next beat or bar instead of the next block. Repeated fires coalesce: only the latest request runs.
  The helper thread also says what changed that a performer should hear about ("watchdog off") and
  reports failures ("seed slot 3 is empty"), through `Notices`, which keeps a flood to a few lines.

Example::

    params = Parameters(voices=engine.voices)
    params.load_slot(0, "seeds/kick.wav")
    control = LiveControl(params, engine, player)     # initial values are read from the engine
    player.add_block_hook(control.tick)
    params["temperature"].set_normalized(0.75)        # from any thread -> at the next block
    params.select_and_prime(0)                        # a pad: seed slot 1, prime (on the helper thread)
    control.close()                                   # stops the helper thread
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rt_samplernn.errors import UserError, one_line
from rt_samplernn.live.params import FloatParam, Parameters, SwitchParam, next_version
from rt_samplernn.live.producer import Producer

if TYPE_CHECKING:
    from rt_samplernn.audio import Clip
    from rt_samplernn.live.snapshot import EngineState
    from rt_samplernn.live.watchdog import Watchdog

log = logging.getLogger("rt_samplernn.live.control")


class Notices:
    """What the performer should read, kept to a few lines under a flood.

    ``say(text)`` records the notice (``message``/``message_version`` for the window) and logs it, at
    most one line per ``quiet_s``: the notices in between are counted, and `flush` (called by the helper
    thread) logs one summary line once the quiet time is over: "... (and 54 more like it in 1.0 s)".
    """

    def __init__(self, quiet_s: float = 1.0, logger: logging.Logger = log) -> None:
        self.quiet_s = quiet_s
        self.log = logger
        self.message = ""
        self.message_version = 0
        self.suppressed = 0
        self.logged = 0
        self._last_log_s = -1e9
        self._latest_suppressed = ""

    def say(self, text: str) -> None:
        self.message = text
        self.message_version = next_version()
        now = time.monotonic()
        if now - self._last_log_s < self.quiet_s:
            self.suppressed += 1
            self._latest_suppressed = text
            return
        self._emit(text, now)

    def flush(self) -> None:
        """Log the summary of suppressed notices once the quiet time since the last line is over."""
        now = time.monotonic()
        if self.suppressed and now - self._last_log_s >= self.quiet_s:
            n, self.suppressed = self.suppressed, 0
            self._emit(
                f"{self._latest_suppressed} (and {n - 1} more notice{'s' if n > 2 else ''} in the last "
                f"{self.quiet_s:g} s)"
                if n > 1
                else self._latest_suppressed,
                now,
            )

    def _emit(self, text: str, now: float) -> None:
        self._last_log_s = now
        self.logged += 1
        self.log.warning("%s", text)


class ControlledEngine(Producer, Protocol):
    """What `LiveControl` drives (the `Engine`, or a `HotSwap` playing one): a producer that also takes and
    puts back snapshots (bookmarks), and sets and reads back the declared knobs by name
    (rt_samplernn.live.declarations.engine_knobs: temperature, min_p, gain)."""

    def set_knob(self, name: str, value: float, voice: int | None = None) -> None: ...

    def knob_values(self) -> dict[str, np.ndarray]: ...

    def snapshot(self) -> EngineState: ...

    def prime_later(
        self, audio: np.ndarray, rate: int | None = None, seed: int | None = None
    ) -> Callable[[], None]: ...

    def restore(self, state: EngineState, where: str = ...) -> None: ...


class SwitchedPlayer(Protocol):
    """What `LiveControl` switches and seeds on a player (rt_samplernn.live.player.Player implements it)."""

    @property
    def watchdog_enabled(self) -> bool: ...

    @property
    def watchdog(self) -> Watchdog: ...

    def set_watchdog(self, on: bool) -> None:
        """The method the watchdog switch's declaration names (``Declaration.player``)."""
        ...

    def set_seed(self, audio: np.ndarray | Clip | None, rate: int | None = None) -> None:
        """The clip the watchdog re-primes from: after a pad primes, that slot's."""
        ...


class LiveControl:
    """Applies `Parameters` to an engine (and the switches to a player).

    ``tick(frames)``: call once per block from the producer thread, before ``engine.generate(frames)``;
    cheap, never blocks. ``prime``/``reset`` run on a helper thread started here (``close()`` stops it).
    Counters for the GUI: ``blocks`` (ticks so far), ``primes``, ``resets`` (done), ``message`` and
    ``message_version`` (the last notice, e.g. "seed slot 3 is empty").

    The engine needs the methods the float declarations name (``set_temperature(value, voice=None)``,
    ``set_gain``), ``prime(audio, rate)``, ``reset()`` and ``sample_rate``. ``adopt_engine``: start from
    the engine's ``temperatures``/``gain`` (attaching changes nothing audible); False: send the parameters'
    targets to the engine now (a model reopened with the performer's settings). The player (optional) may
    have the methods the switch declarations name (``set_watchdog(on)``) and ``set_seed(audio, rate)``
    (after a pad primes, the watchdog re-primes from that slot). ``poll_ms``: how often the helper thread
    looks for prime/reset requests. ``quiet_s``: at most one logged notice per this many seconds.
    """

    def __init__(
        self,
        params: Parameters,
        engine: ControlledEngine,
        player: SwitchedPlayer | None = None,
        poll_ms: float = 5.0,
        start: bool = True,
        adopt_engine: bool = True,
        quiet_s: float = 1.0,
    ) -> None:
        self.params = params
        self.engine = engine
        self._player = player
        self.sample_rate = int(engine.sample_rate)
        self.blocks = 0
        self.recalls = 0
        self.primes = 0
        self.resets = 0
        self.notices = Notices(quiet_s)
        self._poll_s = poll_ms / 1000.0
        if adopt_engine:
            self._adopt_engine_state()
        else:
            self._push_all()
        self._seen = {p.name: p.version for p in params}  # trigger and pick versions already acted on
        self._pick_actions = {"bookmark_save": self.save_bookmark, "bookmark_recall": self.recall_bookmark}
        self._picks = params.picks()
        unknown = [p.name for p in self._picks if p.name not in self._pick_actions]
        if unknown:
            raise ValueError(f"pick parameter(s) {', '.join(unknown)} declared without an action in LiveControl")
        self._switches = [p for p in params if isinstance(p, SwitchParam) and p.decl.player]
        self._applied: dict[str, bool | None] = {s.name: None for s in self._switches}
        if player is not None and params.watchdog.target != player.watchdog_enabled:
            params.watchdog.set(player.watchdog_enabled)
        self._announced = {s.name: s.target for s in self._switches}
        self.quantizer: Callable[[Callable[[], None]], None] | None = None  # `launch` of a tempo (rig.py)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if start:
            self._thread = threading.Thread(target=self._actions, name="rt-samplernn-actions", daemon=True)
            self._thread.start()

    @property
    def message(self) -> str:
        return self.notices.message

    @property
    def message_version(self) -> int:
        return self.notices.message_version

    @property
    def player(self) -> SwitchedPlayer | None:
        """The player the switches and pad seeds go to; may be set (or swapped) at any time."""
        return self._player

    @player.setter
    def player(self, player: SwitchedPlayer | None) -> None:
        self._applied = {name: None for name in self._applied}  # the next tick sends the switches to it
        self._player = player

    def _adopt_engine_state(self) -> None:
        """Start from the engine's values (each float's declared ``reads``: temperatures, min_p, gain), so
        attaching changes nothing audible."""
        p = self.params
        knobs = self.engine.knob_values()
        for cell in p.declared_floats():
            current = knobs.get(cell.name) if cell.voice is None else None
            if current is None:
                continue
            values = np.asarray(current, dtype=np.float64).reshape(-1)
            if values.size:
                cell.adopt(float(values.mean()))
                for voice_cell, v in zip(p.voice_cells(cell.name), values):
                    voice_cell.adopt(float(v))

    def _push_all(self) -> None:
        """Send every float's target to the engine now (no ramp)."""
        for cell in self._engine_cells():
            cell.adopt(cell.target)
            self._send(cell)

    def _engine_cells(self) -> list[FloatParam]:
        """The float cells that reach the engine: per-voice cells where there are, else the master."""
        cells = []
        for cell in self.params.declared_floats():
            if cell.voice is None and self.params.voice_cells(cell.name):
                continue  # the master only moves its voices
            cells.append(cell)
        return cells

    def _send(self, cell: FloatParam) -> None:
        self.engine.set_knob(cell.decl.name, cell.value, voice=cell.voice)

    def notice(self, text: str) -> None:
        """Record a notice for the window and the log (throttled: see `Notices`)."""
        self.notices.say(text)

    # -- the producer thread ---------------------------------------------------------------------------
    def tick(self, frames: int) -> None:
        """Apply the parameters for the next block of ``frames`` samples (producer thread, per block)."""
        seconds = frames / float(self.sample_rate)
        try:
            self.apply_picks()
            for cell in self.params.declared_floats():
                if cell.step(seconds) and not (cell.voice is None and self.params.voice_cells(cell.name)):
                    self._send(cell)
            player = self._player
            if player is not None:
                for switch in self._switches:
                    on = switch.target
                    if on != self._applied[switch.name]:
                        self._applied[switch.name] = on
                        getattr(player, switch.decl.player)(on)  # the method the declaration names
        except Exception as e:  # generation goes on with the previous values
            self._say = f"applying parameters failed: {type(e).__name__}: {one_line(e)}"
        self.blocks += 1

    _say = ""  # a notice set by the producer thread, said by the helper thread (no logging on the producer)

    def apply_picks(self) -> None:
        """Save or recall the bookmarks asked for since the last call (the producer thread, between blocks;
        or any one thread while nothing generates). Each write of a pick counts, oldest first."""
        pending = [(p.version, p) for p in self._picks if p.version != self._seen[p.name]]
        for version, pick in sorted(pending, key=lambda vp: vp[0]):
            self._seen[pick.name] = version
            action = self._pick_actions[pick.name]
            quantize = self.quantizer
            if quantize is not None and pick.name == "bookmark_recall":
                quantize(functools.partial(self._pick, action, pick.target))  # on the worker, at the beat
            else:
                self._pick(action, pick.target)

    def _pick(self, action: Callable[[int], None], index: int) -> None:
        try:
            action(index)
        except UserError as e:
            self._say = str(e)

    def save_bookmark(self, index: int) -> None:
        """The engine's exact state now into bookmark ``index`` (from 0): call between blocks (`apply_picks`)."""
        state = self.engine.snapshot()
        values = self.params.values()  # the added cells (effect knobs): kept beside the engine's own
        self.params.bookmarks[index] = replace(state, controls=values) if values else state
        self.params.bookmarks_version = next_version()
        self._say = f"bookmark {index + 1} saved"

    def recall_bookmark(self, index: int) -> None:
        """Back to bookmark ``index`` (from 0) at the next block, knobs included: call between blocks."""
        state = self.params.bookmarks[index]
        if state is None:
            raise UserError(f"bookmark {index + 1} is empty; save one first")
        self.engine.restore(state, where=f"bookmark {index + 1}")
        self._adopt_engine_state()  # the knobs' cells take the bookmark's values: nothing ramps back
        self.params.set_values(state.controls)  # effect knobs: their owners ramp to the saved values
        if self._player is not None:  # judge only what follows the recall
            self._player.watchdog.reset()
        self.recalls += 1

    # -- the helper thread -----------------------------------------------------------------------------
    def _actions(self) -> None:
        while not self._stop.wait(self._poll_s):
            self.run_pending()

    def run_pending(self) -> None:
        """Do pending prime/reset requests, oldest first, and say what changed (the helper thread; or tests
        with start=False). Only the latest fire of each trigger counts; a failure becomes a notice."""
        said, self._say = self._say, ""
        if said:
            self.notice(said)
        for switch in self._switches:
            if switch.target != self._announced[switch.name]:
                self._announced[switch.name] = switch.target
                self.notice(f"{switch.label.lower()} {'on' if switch.target else 'off'}")
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
                self.notice(f"{t.name} failed: {type(e).__name__}: {one_line(e)}")
        self.notices.flush()

    def _prime(self) -> None:
        index = self.params.slot.target
        slot = self.params.slots[index] if index < len(self.params.slots) else None
        if slot is None:
            raise UserError(f"seed slot {index + 1} is empty; load an audio file into it first")
        audio = slot.take()  # a live input: what it holds now
        if len(audio) == 0:
            raise UserError(f"seed slot {index + 1} ({slot.name}) has heard nothing yet; play into it first")
        quantize = self.quantizer
        if quantize is None:
            self.engine.prime(audio, slot.sample_rate)
        else:  # primed here, heard from the next beat (or bar) on
            quantize(self.engine.prime_later(audio, slot.sample_rate))
        if self.player is not None:  # the Player's watchdog re-primes from the slot played last
            self.player.set_seed(audio, slot.sample_rate)
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


__all__ = ["Notices", "LiveControl"]
