"""The engine's exact state as a plain value (`EngineState`), saved to and loaded from an .npz file (torch-free).

A state holds everything that decides what the engine generates next: each frame tier's RNN state and
the conditioning it last made, the levels of the previous and current top frame, the sample tier's
position in the top frame (and the samples of its last block not yet returned), the noise streams (each
voice's numpy bit generator state where the current chunk of noise was drawn, and how much of it is used),
the noise seed, and the knobs (temperature and tail cut per voice, gain, any other per-voice or engine value the
engine reports in `Engine.knob_values`). `Engine.snapshot()` makes one; `Engine.restore(state)` puts it
back, after which generation continues bit for bit as it did after the snapshot.

On disk (`save_state` / `load_state`; several, e.g. the bookmark slots, with `save_states` / `load_states`): one .npz of plain arrays (no pickle) plus a JSON header in the
array ``meta``; a file of another bundle, voice count or format is a one-line UserError.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rt_samplernn.atomic import replacing
from rt_samplernn.errors import UserError

FORMAT = "rt-samplernn-engine-state"
VERSION = 1


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

    def knob(self, name: str) -> np.ndarray | None:
        return self.knobs.get(name)


def bundle_identity(graph_sha256: list[str]) -> str:
    """A short name for a bundle's exact graphs: the checksums of its graph files, joined."""
    import hashlib

    return hashlib.sha256("/".join(graph_sha256).encode()).hexdigest()[:16]


def save_state(state: EngineState, path: str | Path, bundle_name: str = "") -> None:
    """Write `state` to `path` (.npz, all or nothing: a crash leaves the old file or the new one)."""
    write_npz(Path(path), _arrays(state, bundle_name))


def save_states(states: Sequence[EngineState | None], path: str | Path, bundle_name: str = "") -> None:
    """Several states (bookmark slots; None: an empty slot) in one .npz, slot i under the prefix "i/"."""
    arrays = {"slots": np.array(len(states))}
    for i, state in enumerate(states):
        if state is not None:
            arrays.update(_arrays(state, bundle_name, f"{i}/"))
    write_npz(Path(path), arrays)


def load_states(path: str | Path) -> list[EngineState | None]:
    """The slots `save_states` wrote (None for an empty one); a one-line UserError for a damaged file."""
    arrays = read_npz(path, "bookmarks (.npz)")
    slots = arrays.get("slots")
    if slots is None or slots.shape != () or slots.dtype.kind not in "iu":
        raise UserError(f"{path}: not an rt-samplernn bookmarks file (no slot count)")
    return [
        state_from_arrays(arrays, Path(path), f"{i}/") if f"{i}/meta" in arrays else None for i in range(int(slots))
    ]


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
    }
    arrays = {
        f"{prefix}meta": np.array(json.dumps(meta)),
        f"{prefix}levels": state.levels,
        f"{prefix}spare": state.spare,
    }
    for k, tier in enumerate(state.states):
        for i, s in enumerate(tier):
            arrays[f"{prefix}state.{k}.{i}"] = s
    for k, c in enumerate(state.conds):
        arrays[f"{prefix}cond.{k}"] = c
    for name, value in state.knobs.items():
        arrays[f"{prefix}knob.{name}"] = value
    return arrays


def write_npz(path: Path, arrays: dict[str, np.ndarray], what: str = "engine state") -> None:
    """np.savez to `path`, all or nothing (rt_samplernn.atomic.replacing; UserError if it cannot be written)."""
    with replacing(path, what) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub takes ** for allow_pickle too


def read_npz(path: str | Path, what: str) -> dict[str, np.ndarray]:
    """Every array of an .npz (no pickle), or a one-line UserError saying it is not a `what` file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {name: z[name] for name in z.files}
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise UserError(f"{path}: not a readable {what} file ({str(e).splitlines()[0][:120]})") from None


def load_state(path: str | Path) -> tuple[EngineState, str]:
    """(state, the name of the bundle it was made with) from a file `save_state` wrote; UserError otherwise."""
    arrays = read_npz(path, "engine state (.npz)")
    return state_from_arrays(arrays, Path(path)), _meta(arrays, Path(path)).get("bundle_name", "")


def _meta(arrays: dict[str, np.ndarray], where: Path | str, prefix: str = "") -> dict[str, Any]:
    raw = arrays.get(f"{prefix}meta")
    try:
        meta = json.loads(str(raw[()])) if raw is not None and raw.dtype.kind == "U" else None
    except (ValueError, IndexError, RecursionError):  # RecursionError: a meta nested thousands deep
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise UserError(f"{where}: not an rt-samplernn engine state (no {FORMAT} header)")
    if meta.get("version") != VERSION:
        raise UserError(f"{where}: engine state version {meta.get('version')!r}; this version reads {VERSION}")
    return meta


def state_from_arrays(arrays: dict[str, np.ndarray], where: Path | str, prefix: str = "") -> EngineState:
    """The state stored under `prefix` in `arrays` (as `_arrays` wrote it); UserError if anything is missing."""
    meta = _meta(arrays, where, prefix)
    try:
        tiers = [int(n) for n in meta["tiers"]]

        def get(name: str) -> np.ndarray:
            value = arrays.get(prefix + name)
            if value is None:
                raise KeyError(name)
            return value

        return EngineState(
            bundle_id=str(meta["bundle_id"]),
            voices=int(meta["voices"]),
            states=tuple(tuple(get(f"state.{k}.{i}") for i in range(n)) for k, n in enumerate(tiers)),
            conds=tuple(get(f"cond.{k}") for k in range(len(tiers))),
            levels=get("levels"),
            position=int(meta["position"]),
            spare=get("spare"),
            spare_start=int(meta["spare_start"]),
            noise_state=tuple(dict(s) for s in meta["noise_state"]),
            noise_used=int(meta["noise_used"]),
            seed=int(meta["seed"]),
            knobs={str(name): get(f"knob.{name}") for name in meta["knobs"]},
        )
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{where}: engine state incomplete or damaged ({e}); save it again") from None
