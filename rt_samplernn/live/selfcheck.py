"""The engine's check of its graphs on this CPU: a fixed input through each graph at load, against the exporter.

Kernels differ by CPU (onnxruntime's int8 MatMulInteger on AVX2 without VNNI adds u8 x s8 pairs in int16 with
saturation; bundles exported before 2026-12-07 have `batch` graphs that compute wrong there). So nothing plays
wrong silently: a bundle carries `selfcheck.npz` (docs/bundle.md), a small fixed input of every graph and the
output the exporter computed with the fp32 graph, and `check_outputs` compares this CPU's output with it within
the bundle's tolerance. A bundle without one (older exports) has its `batch` graphs compared with their plain
siblings (MatMulNBits, exact on every kernel path) on the same fixed input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from rt_samplernn.errors import UserError
from rt_samplernn.live.bundle import Bundle, GraphSpec

CHECK_FILE = "selfcheck.npz"
CHECK_VOICES = 3  # rows of the fixed input: the smallest engine that runs the `batch` graphs
CHECK_SEED = 20261207
FP32_TOLERANCE = 1e-3  # max |diff| / max |reference| of a float output, fp32 graphs (CPUs differ in the last bits)
INT8_TOLERANCE = 5e-2  # the same for int8 graphs (export/verify.py's parity tolerance)
# Sample graphs output drawn levels; int8 rounding moves a near tie now and then, a wrong kernel most of them.
SAMPLES_AGREEMENT = {"fp32": 0.9, "int8": 0.5}  # share of the fixed input's levels that must match


class Session(Protocol):
    def run(self, output_names: Any, input_feed: Mapping[str, np.ndarray]) -> list[Any]: ...


@dataclass(frozen=True)
class GraphCheck:
    """One graph's check: its file, the error (a float output's max |diff| / max |reference|, or the share of
    drawn levels that differ), the limit it is held to, and what it was compared with."""

    graph: str
    error: float
    limit: float
    against: str  # "the exporter's reference" or the sibling graph's file name

    @property
    def ok(self) -> bool:
        return bool(self.error <= self.limit)

    def describe(self) -> str:
        return f"{self.graph} differs from {self.against} by {self.error:.3g} (limit {self.limit:g})"


def fixed_inputs(inputs: tuple[dict[str, Any], ...], q_levels: int, voices: int = CHECK_VOICES) -> dict[str, Any]:
    """A deterministic input for a graph with these manifest inputs: levels for int64 inputs, bounded values
    near a GRU's range for states and conditioning, Gumbel draws for noise, temperature 1, no tail cut."""
    rng = np.random.default_rng(CHECK_SEED)
    feed: dict[str, Any] = {}
    for spec in inputs:
        shape = tuple(voices if d == "voices" else int(d) for d in spec["shape"])
        name = spec["name"]
        if spec["dtype"] == "int64":
            feed[name] = rng.integers(0, q_levels, size=shape, dtype=np.int64)
        elif name == "temperature":
            feed[name] = np.ones(shape, np.float32)
        elif name == "min_p":
            feed[name] = np.zeros(shape, np.float32)
        elif name == "noise":
            feed[name] = -np.log(-np.log(rng.uniform(1e-6, 1 - 1e-6, size=shape))).astype(np.float32)
        else:
            feed[name] = np.tanh(2 * rng.standard_normal(shape)).astype(np.float32)
    return feed


def error_of(got: np.ndarray, reference: np.ndarray) -> float:
    """A float output's max |diff| / max |reference|; an integer output's share of differing values."""
    if np.issubdtype(reference.dtype, np.integer):
        return float(np.mean(got != reference))
    got = np.asarray(got, np.float64)
    if not np.all(np.isfinite(got)):
        return float("inf")
    return float(np.max(np.abs(got - reference)) / max(float(np.max(np.abs(reference))), 1e-6))


def limit_of(reference: np.ndarray, int8: bool) -> float:
    if np.issubdtype(reference.dtype, np.integer):
        return 1.0 - SAMPLES_AGREEMENT["int8" if int8 else "fp32"]
    return INT8_TOLERANCE if int8 else FP32_TOLERANCE


def check_outputs(
    session: Session,
    graph: str,
    feed: Mapping[str, np.ndarray],
    expected: Mapping[str, np.ndarray],
    int8: bool,
    against: str,
    exporter_error: float | None = None,
) -> GraphCheck:
    """Run `feed` through `session` once and compare every expected output; the worst output decides.

    exporter_error: what the exporter's own CPU measured for this file (the int8 rounding of this model on this
    input): the limit rises to twice that where it is higher, at most to twice the format's own limit, so a
    model whose rounding sits near the limit still loads while a kernel that computes wrong (0.16-0.3 of the
    largest value, the AVX2 saturation) is still caught."""
    names = list(expected)
    outputs = session.run(names, dict(feed))

    def limit(reference: np.ndarray) -> float:
        base = limit_of(reference, int8)
        return base if exporter_error is None else max(base, min(2 * exporter_error, 2 * base))

    worst = max(
        ((error_of(got, expected[n]), limit(expected[n])) for n, got in zip(names, outputs, strict=True)),
        key=lambda e: e[0] / e[1],
    )
    return GraphCheck(graph, worst[0], worst[1], against)


def read_references(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """selfcheck.npz -> {graph name: {tensor name: array}} (members named GRAPH/TENSOR); no pickles."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            out: dict[str, dict[str, np.ndarray]] = {}
            for member in npz.files:
                graph, _, tensor = member.partition("/")
                out.setdefault(graph, {})[tensor] = npz[member]
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not a readable self-check file ({e}); re-export the bundle") from None
    return out


def exporter_errors(bundle: Bundle) -> dict[str, float]:
    """model.json's selfcheck.exporter_error: {graph file: the error its exporter measured}; values that are not
    finite non-negative numbers are ignored (the limits then stay the format's)."""
    entry = bundle.manifest.get("selfcheck")
    errors = entry.get("exporter_error") if isinstance(entry, dict) else None
    if not isinstance(errors, dict):
        return {}
    return {
        str(k): float(v)
        for k, v in errors.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and v >= 0
    }


def split_reference(
    tensors: Mapping[str, np.ndarray], input_names: list[str]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A graph's members of selfcheck.npz -> (its input feed, its expected outputs)."""
    feed = {n: tensors[n] for n in input_names if n in tensors}
    expected = {n: a for n, a in tensors.items() if n not in input_names}
    return feed, expected


def check_graph(
    session: Session,
    spec: GraphSpec,
    path: Path,
    references: Mapping[str, Mapping[str, np.ndarray]],
    sibling: Session | None,
    bundle: Bundle,
) -> GraphCheck | None:
    """The check of one opened graph file of `spec`: against the exporter's reference where the bundle has
    one, else (a `batch` file of an older bundle) against its plain sibling session; None: nothing to compare."""
    if spec.name in references:
        feed, expected = split_reference(references[spec.name], spec.input_names())
        measured = exporter_errors(bundle).get(path.name)
        return check_outputs(session, path.name, feed, expected, bundle.int8, "the exporter's reference", measured)
    if sibling is None:
        return None
    feed = fixed_inputs(spec.inputs, bundle.config.q_levels)
    names = spec.output_names()
    expected = dict(zip(names, sibling.run(names, feed), strict=True))
    return check_outputs(session, path.name, feed, expected, True, spec.path.name)


S = TypeVar("S", bound=Session)


@dataclass(frozen=True)
class Opened(Generic[S]):
    """The checked sessions of an engine: frame tiers (finest first), the sample graph, the files they run (in
    the same order, the sample graph's last), and notices for the user (a graph replaced, and why)."""

    frames: list[S]
    sample: S
    files: list[Path]
    notices: list[str]


def open_checked(bundle: Bundle, open_graph: Callable[[GraphSpec, int], S], voices: int) -> Opened[S]:
    """Open every graph an engine of `voices` voices runs (open_graph(spec, voices) opens spec.path_for(voices))
    and check each on this CPU: a `batch` file that computes wrong is replaced by its plain sibling, with a
    notice; a plain graph that computes wrong is a UserError naming it."""
    references = read_references(bundle.selfcheck) if bundle.selfcheck is not None else {}
    notices: list[str] = []
    sessions: list[S] = []
    files: list[Path] = []
    for spec in (*bundle.frame_graphs, bundle.sample):
        path = spec.path_for(voices)
        session = open_graph(spec, voices)
        sibling = open_graph(spec, 1) if path != spec.path and spec.name not in references else None
        check = check_graph(session, spec, path, references, sibling, bundle)
        if check is not None and not check.ok and path != spec.path:
            notices.append(
                f"{path.name} computes wrong on this CPU ({check.describe()}): playing {spec.path.name} for "
                "every voice (right, slower); re-export the bundle for a batch graph that is right here"
            )
            path, session = spec.path, sibling if sibling is not None else open_graph(spec, 1)
            check = check_graph(session, spec, path, references, None, bundle)
        if check is not None and not check.ok:
            raise UserError(
                f"{path}: computes wrong on this CPU ({check.describe()}); export the bundle again with "
                "--fp32 (exact on every CPU), and please report it with `rt-samplernn bench` output"
            )
        sessions.append(session)
        files.append(path)
    return Opened(sessions[:-1], sessions[-1], files, notices)
