"""The engine's exact state as a plain value (`EngineState`), checked against the engine it is for, and saved to
and loaded from an .npz file (torch-free).

A state holds everything that decides what the engine generates next: each frame tier's RNN state and
the conditioning it last made, the levels of the previous and current top frame, the sample tier's
position in the top frame (and the samples of its last block not yet returned), the noise streams (each
voice's numpy bit generator state where the current chunk of noise was drawn, and how much of it is used),
the noise seed, and the knobs (temperature and tail cut per voice, gain, any other per-voice or engine value the
engine reports in `Engine.knob_values`), and beside them the values of the cells other parts own (``controls``: the
effect knobs, by name; `LiveControl` puts them in a bookmark and back). `Engine.snapshot()` makes one; `Engine.restore(state)` puts it
back, after which generation continues bit for bit as it did after the snapshot.

What a state must be to restore into an engine is a `StateSpec` (`Engine.state_spec()`): its bundle, voice
count, the dtype and shape of every array, the quantizer's levels, the knobs' ranges. `check_state` is the
one check of a state against it (dtype, shape, levels inside 0..q_levels-1, finite floats, knobs in range,
position, noise state), used by `Engine.restore` and by every file reader here.

On disk (`save_state` / `load_state`; several, e.g. the bookmark slots, with `save_states` / `load_states`):
one .npz of plain arrays (no pickle) plus a JSON header in the array ``meta``. Files are read through
rt_samplernn.live.npz: each member's dtype and shape come from its .npy header and are compared with the
spec before its data is allocated, so memory stays what a clean file takes; the slot count, tiers, knobs and
voices have format limits (MAX_SLOTS, ...) checked before anything loops over them. A state of another
bundle (a bookmark kept while another model plays) is checked against the format only, with its own voice
count, and refuses to restore. Every failure is a one-line UserError naming the file and the member.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rt_samplernn.config import ModelConfig, field_limits
from rt_samplernn.errors import UserError
from rt_samplernn.live.npz import NpzFile, write_npz
from rt_samplernn.sampling import noise_rng

FORMAT = "rt-samplernn-engine-state"
VERSION = 1

# Format limits, checked before anything loops over or allocates for what a file claims.
MAX_SLOTS = 64  # bookmark slots in one file (the window and `play` keep live.declarations.BOOKMARKS)
MAX_TIERS = 16  # frame tiers of a state
MAX_STATES_PER_TIER = 2  # GRU: h; LSTM: h and c
MAX_VOICES = 4096
MAX_KNOBS = 32
MAX_CONTROLS = 1024  # added cells a bookmark keeps (effect parameters: a few per effect)
MAX_CONTROL_NAME = 200
MAX_META_BYTES = 1 << 20  # the JSON header: a few hundred bytes per voice
MAX_SEED = 2**64  # numpy's SeedSequence takes any non-negative integer; no seed flag goes near this
MAX_Q_LEVELS = int(field_limits(ModelConfig, "q_levels")[1] or 65536)  # a state of another bundle: any model's
_ADVICE = "it is damaged or was edited (save it again from a running model)"


@dataclass(frozen=True)
class EngineState:
    """One engine's exact state (see the module docstring). Arrays are private copies; never change them."""

    bundle_id: str  # which bundle's graphs made it (`bundle_identity`); restore checks it
    voices: int
    states: tuple[tuple[np.ndarray, ...], ...]  # per frame tier, per state: (layers, voices, dim) float32
    conds: tuple[np.ndarray, ...]  # per frame tier: its last conditioning, (voices, ratio, out_dim) float32
    levels: np.ndarray  # (voices, 2 F_top) int64: the previous top frame, then the current one up to position
    position: int  # samples of the current top frame generated, a multiple of F0
    spare: np.ndarray  # (voices, F0) int64: the last block's samples
    spare_start: int  # the first of them not yet returned (F0: none left)
    noise_state: tuple[dict[str, Any], ...]  # per voice: numpy bit generator state (JSON-able) of the current chunk
    noise_used: int  # blocks of that chunk used (the chunk's size: draw a new one next)
    seed: int  # the noise seed reset and prime restart from
    knobs: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. temperature (voices,), gain ()
    controls: dict[str, float] = field(default_factory=dict)  # the added cells (effect knobs) by name: not the engine's

    def knob(self, name: str) -> np.ndarray | None:
        return self.knobs.get(name)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of the state by its member name in a file: levels, spare, state.K.I, cond.K, knob.NAME."""
        arrays = {"levels": self.levels, "spare": self.spare}
        for k, tier in enumerate(self.states):
            for i, s in enumerate(tier):
                arrays[f"state.{k}.{i}"] = s
        for k, c in enumerate(self.conds):
            arrays[f"cond.{k}"] = c
        for name, value in self.knobs.items():
            arrays[f"knob.{name}"] = value
        return arrays


@dataclass(frozen=True)
class ArraySpec:
    """One array of a state: its exact dtype, its shape (None: any size on that axis), the range of its values
    (floats must be finite as well)."""

    dtype: str
    shape: tuple[int | None, ...]
    low: float = -np.inf
    high: float = np.inf

    def describe(self) -> str:
        dims = ", ".join("N" if n is None else str(n) for n in self.shape)
        return f"{np.dtype(self.dtype)} ({dims}{',' if len(self.shape) == 1 else ''})"

    def kind_problem(self, dtype: np.dtype, shape: tuple[int, ...]) -> str | None:
        """What is wrong with an array of this dtype and shape (None: nothing); needs no data."""
        fits = len(shape) == len(self.shape) and all(w is None or w == n for w, n in zip(self.shape, shape))
        if dtype != np.dtype(self.dtype) or not fits:
            got = f"{dtype} {tuple(shape)}" if dtype.kind != "U" else f"text {tuple(shape)}"
            return f"is {got}, this model's is {self.describe()}"
        return None

    def value_problem(self, value: np.ndarray) -> str | None:
        """What is wrong with the values (None: nothing): NaN or inf, or outside [low, high]."""
        if value.size == 0:
            return None
        if value.dtype.kind == "f":
            bad = ~np.isfinite(value)
            if bad.any():
                return f"holds {int(bad.sum())} NaN or infinite value(s), the first at index {_index(bad)}"
        outside = (value < self.low) | (value > self.high)
        if outside.any():
            first = value[np.unravel_index(int(np.argmax(outside)), value.shape)]
            return (
                f"holds {int(outside.sum())} value(s) outside {_num(self.low)}..{_num(self.high)}, "
                f"the first {_num(float(first))} at index {_index(outside)}"
            )
        return None


def _index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def _num(x: float) -> str:
    return f"{x:g}" if not float(x).is_integer() or abs(x) > 1e15 else str(int(x))


@dataclass(frozen=True)
class KnobSpec:
    """A knob a state keeps: its dtype, whether it has one value per voice (else one value), its range."""

    dtype: str
    per_voice: bool
    low: float
    high: float


@dataclass(frozen=True)
class StateSpec:
    """What a state must be to restore into one engine (`Engine.state_spec()`); see the module docstring.

    ``bundle_id`` "": a state of any bundle (`for_other`); shapes and ``f0`` / ``f_top`` None: any size."""

    bundle_id: str
    voices: int
    states: tuple[tuple[tuple[int | None, ...], ...], ...]  # per tier, per state: (layers, voices, dim)
    conds: tuple[tuple[int | None, ...], ...]  # per tier: (voices, ratio, out_dim)
    f0: int | None  # samples per sample-graph call
    f_top: int | None  # samples per top frame
    q_levels: int
    noise_blocks: int  # blocks of noise drawn at once (noise_used runs 0..noise_blocks)
    knobs: Mapping[str, KnobSpec]
    float_dtype: str = "float32"
    level_dtype: str = "int64"

    @property
    def tiers(self) -> list[int]:
        return [len(t) for t in self.states]

    def arrays(self) -> dict[str, ArraySpec]:
        """Every array a state holds, by member name (EngineState.arrays)."""
        v = self.voices
        two_top = None if self.f_top is None else 2 * self.f_top
        out = {
            "levels": ArraySpec(self.level_dtype, (v, two_top), 0, self.q_levels - 1),
            "spare": ArraySpec(self.level_dtype, (v, self.f0)),  # the part not yet returned: checked in check_state
        }
        for k, tier in enumerate(self.states):
            for i, shape in enumerate(tier):
                out[f"state.{k}.{i}"] = ArraySpec(self.float_dtype, shape)
        for k, shape in enumerate(self.conds):
            out[f"cond.{k}"] = ArraySpec(self.float_dtype, shape)
        for name, knob in self.knobs.items():
            out[f"knob.{name}"] = ArraySpec(knob.dtype, (v,) if knob.per_voice else (), knob.low, knob.high)
        return out

    def for_other(self, voices: int, tiers: Sequence[int]) -> StateSpec:
        """The format's rules for a state of another bundle or voice count (kept in a bookmark slot, never
        restored here): the same dtypes and knobs, any sizes, levels of any model's quantizer."""
        return replace(
            self,
            bundle_id="",
            voices=voices,
            states=tuple(tuple((None, voices, None) for _ in range(n)) for n in tiers),
            conds=tuple((voices, None, None) for _ in tiers),
            f0=None,
            f_top=None,
            q_levels=MAX_Q_LEVELS,
        )


def bundle_identity(graph_sha256: list[str]) -> str:
    """A short name for a bundle's exact graphs: the checksums of its graph files, joined."""
    import hashlib

    return hashlib.sha256("/".join(graph_sha256).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------------------------------------
# The one check of a state against an engine
# ----------------------------------------------------------------------------------------------------------


def _whole(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def noise_state_problem(state: Any, probe: np.random.BitGenerator | None = None) -> str | None:
    """What is wrong with one voice's noise generator state (None: nothing): it must set a generator of the
    kind the engine draws from (rt_samplernn.sampling.noise_rng; `probe`: one to set, else a new one)."""
    if not isinstance(state, dict):
        return f"is a {type(state).__name__}, not a generator state"
    try:
        (probe or noise_rng(0).bit_generator).state = dict(state)
    except (ValueError, TypeError, KeyError, OverflowError, AttributeError) as e:
        return f"is not a state of the noise generator ({str(e).splitlines()[0][:80] if str(e) else type(e).__name__})"
    return None


def check_state(state: EngineState, spec: StateSpec, where: str, prefix: str | None = None) -> None:
    """UserError unless `state` restores into an engine of `spec`: the same bundle (``spec.bundle_id`` "": any)
    and voices, then every array's dtype, shape and values, the position, the noise state and the knobs.
    `where` names the state in the messages ("bookmark 3", a file); `prefix`: its members' prefix in that
    file ("1/" for slot 1: the messages then name "member 1/levels" and "bookmark 2")."""
    who = where if prefix is None else f"{where}: {'the state' if not prefix else f'bookmark {int(prefix[:-1]) + 1}'}"
    if spec.bundle_id and state.bundle_id != spec.bundle_id:
        raise UserError(f"{who} was made with another bundle; open that bundle to recall it")
    if state.voices != spec.voices:
        raise UserError(f"{who} has {state.voices} voices, this engine {spec.voices}; set voices to match")

    def damaged(member: str, problem: str) -> UserError:
        name = (member if member != "meta" else "") if prefix is None else f"member {prefix}{member}"
        return UserError(f"{where}: {name + ' ' if name else ''}{problem}; {_ADVICE}")

    if [len(t) for t in state.states] != spec.tiers or len(state.conds) != len(spec.conds):
        raise damaged("meta", f"has {[len(t) for t in state.states]} states per tier, this model {spec.tiers}")
    missing = sorted(set(spec.knobs) - set(state.knobs))
    if missing:
        raise UserError(f"{who} lacks the knob(s) {', '.join(missing)}; save it again")
    unknown = sorted(set(state.knobs) - set(spec.knobs))
    if unknown:
        raise damaged("meta", f"names knob(s) {', '.join(unknown)[:80]} this engine does not have")
    expected = spec.arrays()
    arrays = state.arrays()
    for member, want in expected.items():
        value = arrays[member]
        if not isinstance(value, np.ndarray):
            raise damaged(member, f"is a {type(value).__name__}, not an array")
        problem = want.kind_problem(value.dtype, value.shape) or want.value_problem(value)
        if problem:
            raise damaged(member, problem)
    f0, f_top = state.spare.shape[1], state.levels.shape[1] // 2
    if f0 < 1 or state.levels.shape[1] % (2 * f0):
        raise damaged("spare", f"has {f0} samples per block, which do not divide the {2 * f_top} levels")
    for name, number, low, high in (
        ("position", state.position, 0, f_top - 1),
        ("spare_start", state.spare_start, 0, f0),
        ("noise_used", state.noise_used, 0, spec.noise_blocks),
        ("seed", state.seed, 0, MAX_SEED - 1),
    ):
        if not _whole(number) or not low <= number <= high:
            raise damaged("meta", f"{name} is {str(number)[:40]}, not a whole number in {low}..{high}")
    if state.position % f0:
        raise damaged("meta", f"position {state.position} is not a multiple of {f0} (samples per block)")
    problem = ArraySpec(spec.level_dtype, (None, None), 0, spec.q_levels - 1).value_problem(
        state.spare[:, state.spare_start :]
    )
    if problem:
        raise damaged("spare", f"(the samples not yet played) {problem}")
    if not isinstance(state.noise_state, (tuple, list)) or len(state.noise_state) != state.voices:
        raise damaged("meta", f"holds no noise state for each of its {state.voices} voices")
    probe = noise_rng(0).bit_generator
    for v, noise in enumerate(state.noise_state):
        problem = noise_state_problem(noise, probe)
        if problem:
            raise damaged("meta", f"noise_state of voice {v + 1} {problem}")


# ----------------------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------------------


def save_state(state: EngineState, path: str | Path, bundle_name: str = "") -> None:
    """Write `state` to `path` (.npz, all or nothing: a crash leaves the old file or the new one)."""
    write_npz(Path(path), _arrays(state, bundle_name), "engine state")


def save_states(states: Sequence[EngineState | None], path: str | Path, bundle_name: str = "") -> None:
    """Several states (bookmark slots; None: an empty slot) in one .npz, slot i under the prefix "i/"."""
    if len(states) > MAX_SLOTS:
        raise UserError(f"{path}: {len(states)} bookmark slots; a file holds at most {MAX_SLOTS}")
    arrays = {"slots": np.array(len(states))}
    for i, state in enumerate(states):
        if state is not None:
            arrays.update(_arrays(state, bundle_name, f"{i}/"))
    write_npz(Path(path), arrays, "bookmarks")


def load_states(path: str | Path, spec: StateSpec) -> list[EngineState | None]:
    """The slots `save_states` wrote (None for an empty one), each checked against `spec` (a slot of another
    bundle or voice count against the format: it stays, and refuses to restore); a one-line UserError naming
    the file and the member for anything else."""
    with NpzFile(path, "bookmarks (.npz)") as z:
        if "slots" not in z:
            raise UserError(f"{path}: not an rt-samplernn bookmarks file (no slot count)")
        dtype, shape = z.header("slots")
        slots = z.read("slots") if dtype.kind in "iu" and shape == () else None
        if slots is None or not 0 <= int(slots) <= MAX_SLOTS:
            got = f"{dtype} {shape}" if slots is None else str(int(slots))
            raise UserError(f"{path}: member slots is {got}, not a slot count in 0..{MAX_SLOTS}; {_ADVICE}")
        return [_read_state(z, spec, f"{i}/") if f"{i}/meta" in z else None for i in range(int(slots))]


def load_state(path: str | Path, spec: StateSpec) -> tuple[EngineState, str]:
    """(state, the name of the bundle it was made with) from a file `save_state` wrote, checked against `spec`
    as `load_states` checks a slot; a one-line UserError naming the file and the member otherwise."""
    with NpzFile(path, "engine state (.npz)") as z:
        meta = _read_meta(z, "")
        return _read_state(z, spec, "", meta), str(meta.get("bundle_name", ""))[:200]


def _arrays(state: EngineState, bundle_name: str = "", prefix: str = "") -> dict[str, np.ndarray]:
    """The state as plain arrays under `prefix`, with its JSON header in `prefix`meta."""
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "bundle_id": state.bundle_id,
        "bundle_name": bundle_name,
        "voices": state.voices,
        "tiers": [len(t) for t in state.states],
        "position": state.position,
        "spare_start": state.spare_start,
        "noise_state": state.noise_state,
        "noise_used": state.noise_used,
        "seed": state.seed,
        "knobs": sorted(state.knobs),
        "controls": state.controls,
    }
    arrays = {f"{prefix}meta": np.array(json.dumps(meta))}
    arrays.update({prefix + name: value for name, value in state.arrays().items()})
    return arrays


def _read_meta(z: NpzFile, prefix: str) -> dict[str, Any]:
    """The JSON header of the state under `prefix`: its size from the .npy header first, then its format."""
    member = f"{prefix}meta"
    where = z.path
    if member not in z:
        raise UserError(f"{where}: not an rt-samplernn engine state (no {FORMAT} header)")
    dtype, shape = z.header(member)
    if dtype.kind != "U" or shape != () or dtype.itemsize > MAX_META_BYTES:
        raise UserError(f"{where}: member {member} is {dtype} {shape}, not the JSON header of an engine state")
    try:
        meta = json.loads(str(z.read(member)[()]))
    except (ValueError, RecursionError):  # RecursionError: a meta nested thousands deep
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise UserError(f"{where}: not an rt-samplernn engine state (no {FORMAT} header)")
    if meta.get("version") != VERSION:
        raise UserError(f"{where}: engine state version {str(meta.get('version'))[:20]}; this version reads {VERSION}")
    return meta


def _meta_field(meta: dict[str, Any], name: str, z: NpzFile, prefix: str, check: Any, wanted: str) -> Any:
    value = meta.get(name)
    if not check(value):
        raise UserError(f"{z.path}: member {prefix}meta {name} is {str(value)[:40]}, expected {wanted}; {_ADVICE}")
    return value


def _controls_ok(controls: Any) -> bool:
    """A bookmark's added-cell values: a dict of short names to finite numbers, not too many."""
    return (
        isinstance(controls, dict)
        and len(controls) <= MAX_CONTROLS
        and all(
            isinstance(k, str)
            and len(k) <= MAX_CONTROL_NAME
            and isinstance(v, (int, float))
            and not isinstance(v, bool)
            and math.isfinite(v)
            for k, v in controls.items()
        )
    )


def _read_state(z: NpzFile, spec: StateSpec, prefix: str, meta: dict[str, Any] | None = None) -> EngineState:
    """The state under `prefix`: the header, then each array's dtype and shape from its .npy header against the
    spec (this engine's, or the format's for another bundle's state), then its data, then `check_state`."""
    meta = _read_meta(z, prefix) if meta is None else meta

    def field(name: str, check: Any, wanted: str) -> Any:
        return _meta_field(meta, name, z, prefix, check, wanted)

    bundle_id = field("bundle_id", lambda v: isinstance(v, str) and len(v) <= 64, "a bundle identity")
    voices = field("voices", lambda v: _whole(v) and 1 <= v <= MAX_VOICES, f"a voice count in 1..{MAX_VOICES}")
    tiers = field(
        "tiers",
        lambda v: (
            isinstance(v, list)
            and 1 <= len(v) <= MAX_TIERS
            and all(_whole(n) and 1 <= n <= MAX_STATES_PER_TIER for n in v)
        ),
        f"1..{MAX_TIERS} counts of states per tier (1 or 2)",
    )
    knobs = field(
        "knobs",
        lambda v: isinstance(v, list) and len(v) <= MAX_KNOBS and all(isinstance(k, str) for k in v),
        f"at most {MAX_KNOBS} knob names",
    )
    noise = field(
        "noise_state", lambda v: isinstance(v, list) and len(v) == voices, f"a generator state for each of {voices}"
    )
    for name in ("position", "spare_start", "noise_used", "seed"):
        field(name, _whole, "a whole number")
    controls = meta.get("controls", {})  # absent in files written before effect knobs were kept
    if not _controls_ok(controls):
        raise UserError(
            f"{z.path}: member {prefix}meta controls is {str(controls)[:40]}, expected at most {MAX_CONTROLS} "
            f"names with a finite number each; {_ADVICE}"
        )
    unknown = sorted(set(knobs) - set(spec.knobs))
    if unknown:
        raise UserError(
            f"{z.path}: member {prefix}meta names knob(s) {', '.join(unknown)[:80]} no engine has; {_ADVICE}"
        )
    own = bundle_id == spec.bundle_id and voices == spec.voices  # else kept, never restored here: the format's rules
    if own and tiers != spec.tiers:
        raise UserError(
            f"{z.path}: member {prefix}meta has {tiers} states per tier, this model {spec.tiers}; {_ADVICE}"
        )
    expect = spec if own else spec.for_other(voices, tiers)
    wanted = {name: a for name, a in expect.arrays().items() if not name.startswith("knob.")}
    wanted.update({f"knob.{k}": expect.arrays()[f"knob.{k}"] for k in knobs})
    arrays = {}
    for name, want in wanted.items():  # every header before any data: a lying one allocates nothing
        dtype, shape = z.header(prefix + name)
        problem = want.kind_problem(dtype, shape)
        if problem:
            raise UserError(f"{z.path}: member {prefix}{name} {problem}; {_ADVICE}")
    for name in wanted:
        arrays[name] = z.read(prefix + name)
    state = EngineState(
        bundle_id=bundle_id,
        voices=int(voices),
        states=tuple(tuple(arrays[f"state.{k}.{i}"] for i in range(n)) for k, n in enumerate(tiers)),
        conds=tuple(arrays[f"cond.{k}"] for k in range(len(tiers))),
        levels=arrays["levels"],
        position=int(meta["position"]),
        spare=arrays["spare"],
        spare_start=int(meta["spare_start"]),
        noise_state=tuple(noise),
        noise_used=int(meta["noise_used"]),
        seed=int(meta["seed"]),
        knobs={k: arrays[f"knob.{k}"] for k in knobs},
        controls={str(k): float(v) for k, v in controls.items()},
    )
    check_state(state, expect, str(z.path), prefix)
    return state
