"""Live parameters a performer steers: declared once (rt_samplernn.live.declarations), held in lock-free cells.

No torch, no Qt, no locks on the audio path. `rt_samplernn.live.control.LiveControl` applies the cells to an
engine and a player at block boundaries; the MIDI default map (`rt_samplernn.live.midi.mapfile.default_map`),
the window's session (`rt_samplernn.gui.session.LiveSession`) and the window's controls all read the
declarations below, so a new MIDI-controllable parameter is one `Declaration` plus its display.

What there is to steer (`PARAMETERS`)
-------------------------------------
===================  ========  =========================================================  ==============
name                 kind      meaning                                                    MIDI default
===================  ========  =========================================================  ==============
``temperature``      float     sampling temperature of every voice (0.05..1.5, 1.0)       CC 1
``temperature.N``    float     voice N's temperature, N = 1..voices (only when voices>1)  CC 20+N
``min_p``            float     tail cut of every voice (0..0.5, 0 = off; knob curve u**2)  CC 74
``min_p.N``          float     voice N's tail cut, N = 1..voices (only when voices>1)     CC 40+N
``gain``             float     output gain, linear factor (0..2, 1.0; knob curve u**2)     CC 7
``slot``             index     selected seed slot; priming uses it                        pads from 36
``prime``            trigger   re-prime the engine from the selected slot's audio          CC 102
``reset``            trigger   reset the engine to its initial state                      CC 103
``watchdog``         switch    the Player's watchdog on/off                               CC 104
``bookmark_save``    pick      save the exact state into bookmark N (1..8)                pads from 60
``bookmark_recall``  pick      go back to bookmark N exactly as saved, at the next block  pads from 48
===================  ========  =========================================================  ==============

Besides these, `Parameters.add_cells` joins float cells other parts own and apply (the effect knobs
``fx.CHAIN.EFFECT.PARAM``, the tempo's ``tempo.bpm`` and ``loop.variation``): MIDI, OSC and the window reach
them by name, and a bookmark keeps the effect knobs (`values`).

Voices and seed slots are numbered from 1 wherever a performer reads or writes them (parameter names,
map files, the window, messages); code indexes slots from 0 (``params.slots[0]`` is seed slot 1).
Moving ``temperature`` also moves every ``temperature.N`` (last writer wins), so a master knob and
per-voice knobs coexist. The temperature range reaches 0.05, where sampling is nearly deterministic (the
engine's own floor, `rt_samplernn.live.engine_knobs.MIN_TEMPERATURE`, is lower); a map file may set another
range (``[params.temperature]``).

Ranges and curves
-----------------
A `FloatSpec` maps a knob position ``u`` in [0, 1] to a value: ``u ** power`` then linear or ``log``
(equal ratios per turn; needs minimum > 0) between ``minimum`` and ``maximum``. ``smoothing_ms`` is the
time a full-range jump takes to ramp through (a slew limit applied once per block), so a knob sweep or a
jump does not click; 0 jumps at the next block.

Threads
-------
Writers (the MIDI thread, the Qt thread, anything): ``param.set(value)``, ``param.set_normalized(u)``,
``trigger.fire()``: a few attribute stores and one ``next()`` on a shared ``itertools.count``; no locks,
never blocks; out-of-range values are clamped, NaN is ignored. Observers poll ``version`` (changes on each
write), ``target`` (asked for), ``value`` (what the engine got at the last block) and ``normalized``.
Seed slots are audio files, like a sampler's pads: ``load_slot(i, path)`` reads one in the caller's
thread (never the MIDI or audio thread); ``select_and_prime(i)`` is what a pad does. A slot holds at most
the last ``SEED_SLOT_SECONDS`` of its file, mixed to mono (a longer seed buys little and would make a pad
slow to prime and the window hold the whole file; ``play --seed-audio`` primes from a whole file).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from rt_samplernn.audio import read_tail
from rt_samplernn.errors import UserError
from rt_samplernn.live.declarations import (  # re-exported: the declarations and their types
    BOOKMARKS,
    CURVES,
    DECLARATIONS,
    MAX_VOICE_CONTROLS,
    PARAMETERS,
    SEED_SLOTS,
    Declaration,
    FloatSpec,
    declaration,
    declared,
    is_voice_name,
)
from rt_samplernn.live.snapshot import EngineState

# One counter for every write: next() on an itertools.count is atomic in CPython, so two writers never
# hand out the same version, and a version also orders writes across parameters.
_versions = itertools.count(1)
SEED_SLOT_SECONDS = 30.0  # a seed slot keeps this much of the end of its file (README: longer buys little)


def next_version() -> int:
    """A fresh version number (thread-safe, increasing): for any counter the GUI polls."""
    return next(_versions)


def as_number(value: object) -> float | None:
    """float(value), or None for anything that is not a number (NaN included): odd input is ignored, never raised."""
    try:
        number = float(value)  # type: ignore[arg-type]  # any object: what float() refuses is caught below
    except (TypeError, ValueError, OverflowError):
        return None
    return None if math.isnan(number) else number


class Param:
    """Base of every parameter cell: its declaration, a name, a label, and a version bumped on each write."""

    kind = "param"

    def __init__(self, decl: Declaration, name: str | None = None, label: str | None = None) -> None:
        self.decl = decl
        self.name = name or decl.name
        self.label = label or decl.label
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


P = TypeVar("P", bound=Param)


class FloatParam(Param):
    """A continuous parameter: ``target`` (asked for), ``value`` (applied at the last block)."""

    kind = "float"

    def __init__(
        self,
        decl: Declaration,
        spec: FloatSpec,
        name: str | None = None,
        label: str | None = None,
        voice: int | None = None,
    ) -> None:
        super().__init__(decl, name, label)
        self.spec = spec
        self.voice = voice  # the engine's voice index (from 0) for a per-voice cell, else None
        self.target = spec.default
        self.value = spec.default
        self.followers: tuple[FloatParam, ...] = ()

    def set(self, value: float) -> None:
        """Ask for ``value`` (clamped to the range; NaN ignored). Any thread; never blocks."""
        number = as_number(value)
        if number is None:
            return
        self.target = self.spec.clamp(number)
        self._touch()
        for f in self.followers:
            f.set(self.target)

    def set_normalized(self, u: float) -> None:
        """Ask for the value at knob position u in [0, 1] (clamped; NaN ignored)."""
        knob = as_number(u)
        if knob is not None:
            self.set(self.spec.from_normalized(knob))

    def adopt(self, value: float) -> None:
        """Take ``value`` as both target and applied value (the engine already has it; nothing ramps)."""
        self.target = self.value = self.spec.clamp(value)
        self._touch()

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
        return self.decl.format(self.target if value is None else value)


class IndexParam(Param):
    """An integer choice 0..count-1 (the seed slot; shown from 1). ``target`` and ``value`` are the same int."""

    kind = "index"

    def __init__(self, decl: Declaration, count: int) -> None:
        super().__init__(decl)
        if count < 1:
            raise UserError(f"{decl.name}: count {count} must be at least 1")
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
        knob = as_number(u)
        if knob is not None:
            self.set(round(min(max(knob, 0.0), 1.0) * (self.count - 1)))

    @property
    def normalized(self) -> float:
        return self.target / (self.count - 1) if self.count > 1 else 0.0


class PickParam(IndexParam):
    """An index whose every write is an action (save / recall bookmark N): the puller acts on each new
    ``version`` with the ``target`` of that moment, even when it is the same index as before."""

    kind = "pick"


class SwitchParam(Param):
    """On/off (the watchdog). ``set_normalized(u)``: on when u >= 0.5."""

    kind = "switch"

    def __init__(self, decl: Declaration) -> None:
        super().__init__(decl)
        self.target = bool(decl.default)

    @property
    def value(self) -> bool:
        return self.target

    def set(self, on: bool) -> None:
        self.target = bool(on)
        self._touch()

    def toggle(self) -> None:
        self.set(not self.target)

    def set_normalized(self, u: float) -> None:
        knob = as_number(u)
        if knob is not None:
            self.set(knob >= 0.5)

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
        knob = as_number(u)
        if knob is not None and knob >= 0.5:
            self.fire()

    @property
    def normalized(self) -> float:
        return 0.0


@dataclass(frozen=True)
class SeedSlot:
    """One pad: the file and the last SEED_SLOT_SECONDS of its audio (float32 mono at the file's rate).

    Or a live input (``live`` set, rt_samplernn.live.input.LiveInput.take): ``path`` is then its name
    ("input: system"), ``audio`` empty, ``file_seconds`` how much it keeps, and `take` what it holds now.
    """

    path: Path
    audio: np.ndarray
    sample_rate: int
    file_seconds: float  # the whole file's length; more than `seconds` when the slot holds only its end
    live: Callable[[], np.ndarray] | None = None

    def take(self) -> np.ndarray:
        """The audio to prime from: the file's, or what the live input holds at this moment."""
        return self.audio if self.live is None else self.live()

    @property
    def seconds(self) -> float:
        return len(self.audio) / float(self.sample_rate)

    @property
    def name(self) -> str:
        return self.path.name


class Parameters:
    """One cell per declared parameter, by name (see the module docstring); plus the seed slots.

    ``voices``: the engine's voice count (> 1 adds ``temperature.1`` ... ``temperature.V``).
    ``slot_count``: number of seed slots. ``specs``: a float parameter's `FloatSpec` by name (default:
    its declaration's), e.g. ``Parameters(temperature=FloatSpec(0.5, 1.5, 1.0))``.
    """

    def __init__(self, voices: int = 1, slot_count: int = SEED_SLOTS, **specs: FloatSpec) -> None:
        if voices < 1:
            raise UserError(f"voices {voices}: must be at least 1")
        unknown = set(specs) - {d.name for d in declared() if d.kind == "float"}
        if unknown:
            raise UserError(f"no continuous parameter {', '.join(sorted(unknown))}")
        self.voices = voices
        self._params: dict[str, Param] = {}
        self._voice_cells: dict[str, list[FloatParam]] = {}
        for d in declared():
            if d.kind == "float":
                assert d.spec is not None
                spec = specs.get(d.name, d.spec)
                d.check_spec(spec)
                cell = FloatParam(d, spec)
                voice_cells = (
                    [FloatParam(d, spec, d.voice_name(v + 1), d.voice_label(v + 1), voice=v) for v in range(voices)]
                    if d.per_voice and voices > 1
                    else []
                )
                cell.followers = tuple(voice_cells)
                self._voice_cells[d.name] = voice_cells
                self._add(cell, *voice_cells)
            elif d.kind == "index":
                self._add(IndexParam(d, d.count or slot_count))
            elif d.kind == "pick":
                self._add(PickParam(d, d.count or slot_count))
            elif d.kind == "switch":
                self._add(SwitchParam(d))
            else:
                self._add(Trigger(d))
        self._added: dict[str, FloatParam] = {}  # cells their owner steps and applies (`add_cells`)
        self._unkept: set[str] = set()  # added cells a bookmark does not keep
        self.added_version = next_version()  # changes when cells are added or removed: the window redraws
        self.slots: list[SeedSlot | None] = [None] * slot_count
        self.slots_version = next_version()
        self.bookmarks: list[EngineState | None] = [None] * BOOKMARKS  # written by the puller (LiveControl)
        self.bookmarks_version = next_version()

    def _add(self, *cells: Param) -> None:
        for c in cells:
            self._params[c.name] = c

    def add_cells(self, cells: Iterable[FloatParam], kept: bool = True) -> None:
        """Join float cells that another part owns, steps and applies itself (the effect chains'
        `Rack.cells`, the tempo's knobs): MIDI (map and learn), OSC addresses and the window reach them by
        name like every declared knob; `LiveControl` leaves them to their owner. ``kept``: a bookmark keeps
        their values (`values`; the effect knobs), else not (the tempo: a recall must not move it). A cell of
        a name already added replaces the one before (a rack built again); a declared name is refused."""
        params, added = dict(self._params), dict(self._added)  # copies swapped in: see `remove_cells`
        for cell in cells:
            if cell.name in params and cell.name not in added:
                raise UserError(f"parameter {cell.name!r}: already declared; give the added cell another name")
            added[cell.name] = cell
            params[cell.name] = cell
            if kept:
                self._unkept.discard(cell.name)
            else:
                self._unkept.add(cell.name)
        self._params, self._added = params, added
        self.added_version = next_version()

    def remove_cells(self, names: Iterable[str]) -> None:
        """Drop added cells by name (an effect taken out of its chain); names not added are ignored.

        Both calls build new dicts and swap them in (one attribute store each), so the worker and the MIDI
        thread, iterating or looking up cells meanwhile, never see a dict change size under them."""
        params, added = dict(self._params), dict(self._added)
        for name in names:
            if added.pop(name, None) is not None:
                del params[name]
                self._unkept.discard(name)
        self._params, self._added = params, added
        self.added_version = next_version()

    def added(self) -> list[FloatParam]:
        """The cells `add_cells` joined, in the order they came."""
        return list(self._added.values())

    def is_added(self, name: str) -> bool:
        return name in self._added

    def values(self, everything: bool = False) -> dict[str, float]:
        """The added cells' targets by name: those a bookmark keeps, or (``everything``) all of them, as the
        window's session file keeps them."""
        return {n: c.target for n, c in self._added.items() if everything or n not in self._unkept}

    def set_values(self, values: Mapping[str, float]) -> None:
        """Ask the added cells for ``values`` by name (a recalled bookmark, a session read back); names of no
        added cell are ignored (an effect not in this rack), values are clamped to each cell's range."""
        for name, value in values.items():
            cell = self._added.get(name)
            if cell is not None:
                cell.set(value)

    # -- the cells the engine-side code uses by name ----------------------------------------------------
    @property
    def temperature(self) -> FloatParam:
        return self.cell("temperature", FloatParam)

    @property
    def gain(self) -> FloatParam:
        return self.cell("gain", FloatParam)

    @property
    def slot(self) -> IndexParam:
        return self.cell("slot", IndexParam)

    @property
    def prime(self) -> Trigger:
        return self.cell("prime", Trigger)

    @property
    def reset(self) -> Trigger:
        return self.cell("reset", Trigger)

    @property
    def watchdog(self) -> SwitchParam:
        return self.cell("watchdog", SwitchParam)

    def picks(self) -> list[PickParam]:
        return [p for p in self._params.values() if isinstance(p, PickParam)]

    def pad(self, name: str, index: int) -> bool:
        """What pad ``index`` (from 0) of an index or pick parameter does (any thread): choose it, then fire
        its declared trigger (the seed slots' pads prime). False if there is no such pad."""
        cell = self._params.get(name)
        if not isinstance(cell, IndexParam) or not 0 <= index < cell.count:
            return False
        cell.set(index)
        if cell.decl.fires:
            self[cell.decl.fires].set_normalized(1.0)
        return True

    # -- lookup --------------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Param:
        try:
            return self._params[name]
        except KeyError:
            raise UserError(f"parameter {name!r}: unknown; parameters: {', '.join(self._params)}") from None

    def cell(self, name: str, kind: type[P]) -> P:
        """The cell called ``name``, checked to be a ``kind`` (FloatParam, SwitchParam, ...)."""
        cell = self[name]
        if not isinstance(cell, kind):
            raise UserError(f"parameter {name!r} is a {cell.kind}, not a {kind.kind}")
        return cell

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
        versions = (self.slots_version, self.bookmarks_version, self.added_version)
        return max(*versions, max(p.version for p in self._params.values()))

    def float_params(self) -> list[FloatParam]:
        """Every float cell, the added ones too."""
        return [p for p in self._params.values() if isinstance(p, FloatParam)]

    def declared_floats(self) -> list[FloatParam]:
        """The float cells of the declarations (and their voices'): what `LiveControl` steps and applies."""
        return [p for p in self._params.values() if isinstance(p, FloatParam) and p.name not in self._added]

    def knobs(self) -> list[FloatParam]:
        """The declared float cells in declaration order, each followed by its voices' cells: the window's voice
        dials (the added cells have their owners' dials: the effects and tempo panels)."""
        return self.declared_floats()

    def voice_cells(self, name: str) -> list[FloatParam]:
        """The per-voice cells of float parameter ``name`` ([] with one voice)."""
        return self._voice_cells.get(name, [])

    # -- ranges -----------------------------------------------------------------------------------------
    def set_specs(self, specs: dict[str, FloatSpec]) -> None:
        """Apply range/curve settings by name (e.g. from a MIDI map file); voices follow their parameter."""
        for name, spec in specs.items():
            p = self[name]
            if not isinstance(p, FloatParam):
                raise UserError(f"parameter {name!r}: not continuous, so it has no range")
            p.decl.check_spec(spec)
            p.set_spec(spec)

    def specs(self) -> dict[str, FloatSpec]:
        """Range settings of the declared float parameters, by name (what a map file saves)."""
        return {p.name: p.spec for p in self.declared_floats() if p.voice is None}

    def take_settings(self, old: Parameters) -> None:
        """Carry over what a performer set up in ``old`` (a model reopened): slots, ranges, values, switches."""
        self.slots = list(old.slots)[: len(self.slots)] + [None] * max(0, len(self.slots) - len(old.slots))
        self.slots_version = next_version()
        self.bookmarks = list(old.bookmarks)  # another bundle's refuse to recall, with a notice
        self.bookmarks_version = next_version()
        self.set_specs(old.specs())
        for cell in old:
            mine = self.get(cell.name)
            if isinstance(mine, FloatParam) and isinstance(cell, FloatParam):
                mine.set(cell.target)
            elif isinstance(mine, SwitchParam) and isinstance(cell, SwitchParam):
                mine.set(cell.target)

    # -- seed slots (index from 0; seed slot 1 is index 0) -------------------------------------------
    def load_slot(self, index: int, path: str | Path) -> SeedSlot:
        """Read an audio file into slot ``index`` (reads the file: call from the GUI/main thread)."""
        if not 0 <= index < len(self.slots):
            raise UserError(f"seed slot {index + 1}: out of range; slots: 1..{len(self.slots)}")
        audio, rate, file_seconds = read_tail(path, SEED_SLOT_SECONDS)
        slot = SeedSlot(Path(path), audio, rate, file_seconds)
        self.slots[index] = slot
        self.slots_version = next_version()
        return slot

    def set_live_slot(
        self, index: int, name: str, sample_rate: int, take: Callable[[], np.ndarray], seconds: float
    ) -> SeedSlot:
        """Make slot ``index`` a live input: priming takes what ``take()`` returns then (mono at ``sample_rate``,
        at most ``seconds`` long), e.g. rt_samplernn.live.input.LiveInput.take. Any thread."""
        if not 0 <= index < len(self.slots):
            raise UserError(f"seed slot {index + 1}: out of range; slots: 1..{len(self.slots)}")
        slot = SeedSlot(Path(name), np.zeros(0, np.float32), int(sample_rate), float(seconds), live=take)
        self.slots[index] = slot
        self.slots_version = next_version()
        return slot

    def clear_slot(self, index: int) -> None:
        """Empty slot ``index`` (a live input that was closed, say)."""
        if 0 <= index < len(self.slots) and self.slots[index] is not None:
            self.slots[index] = None
            self.slots_version = next_version()

    def select_and_prime(self, index: int) -> None:
        """Select slot ``index`` and fire ``prime`` (what a pad does; any thread)."""
        self.pad("slot", index)


__all__ = [
    "CURVES",
    "SEED_SLOTS",
    "BOOKMARKS",
    "SEED_SLOT_SECONDS",
    "MAX_VOICE_CONTROLS",
    "next_version",
    "as_number",
    "FloatSpec",
    "Declaration",
    "PARAMETERS",
    "DECLARATIONS",
    "declaration",
    "is_voice_name",
    "Param",
    "FloatParam",
    "IndexParam",
    "PickParam",
    "SwitchParam",
    "Trigger",
    "SeedSlot",
    "Parameters",
]
