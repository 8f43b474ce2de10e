"""The bundle format: model.json plus one ONNX step graph per tier; loading and validating it (torch-free).

docs/bundle.md describes the format for other hosts. Every problem is a one-line UserError naming the file:
missing or unreadable manifest, unknown format or version, missing graph, checksum mismatch (an altered
graph), and graph inputs/outputs that do not match the manifest (checked against the loaded sessions).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rt_samplernn.atomic import write_atomically
from rt_samplernn.config import ModelConfig, model_config_from_dict
from rt_samplernn.errors import UserError
from rt_samplernn.quantize import zero_level
from rt_samplernn.structured import read_structured

FORMAT = "rt-samplernn-bundle"
VERSION = 2  # written by this exporter; docs/bundle.md lists what changed from version 1
SUPPORTED_VERSIONS = (1, 2)
MANIFEST = "model.json"
WEIGHTS = ("fp32", "int8-frame-matmuls", "int8")
DTYPES = {"int64": "tensor(int64)", "float32": "tensor(float)"}
FLOAT_TYPES = (1, 10, 11, 16)  # onnx.TensorProto FLOAT, FLOAT16, DOUBLE, BFLOAT16: checked for NaN


def frame_graph_name(k: int) -> str:
    """Graph name of frame tier k (0 = finest): frame, big_frame, big2_frame, big3_frame, ..."""
    return "frame" if k == 0 else "big_frame" if k == 1 else f"big{k}_frame"


@dataclass(frozen=True)
class StateSpec:
    input: str
    output: str
    shape: tuple[Any, ...]  # (layers, "voices", dim)
    initial: np.ndarray  # float32 (layers, dim)

    def initial_for(self, voices: int) -> np.ndarray:
        """float32 (layers, voices, dim), contiguous."""
        return np.ascontiguousarray(np.repeat(self.initial[:, None, :], voices, axis=1))


@dataclass(frozen=True)
class GraphSpec:
    name: str
    path: Path
    kind: str  # "frame" or "sample"
    frame_size: int
    ratio: int
    inputs: tuple[dict[str, Any], ...]
    outputs: tuple[dict[str, Any], ...]
    states: tuple[StateSpec, ...]
    sha256: str
    batch_path: Path | None = None  # the same graph, faster for several voices (int8 frame graphs, optional)
    batch_min_voices: int = 0

    def path_for(self, voices: int) -> Path:
        """The graph file an engine of `voices` voices runs: batch_path from batch_min_voices voices on."""
        return self.batch_path if self.batch_path is not None and voices >= self.batch_min_voices else self.path

    def input_names(self) -> list[str]:
        return [i["name"] for i in self.inputs]

    def output_names(self) -> list[str]:
        return [o["name"] for o in self.outputs]


@dataclass(frozen=True)
class Bundle:
    """A validated bundle. frame_graphs[k] is frame tier k (0 = finest); sample is the sample graph."""

    root: Path
    manifest: dict[str, Any]
    config: ModelConfig
    frame_graphs: tuple[GraphSpec, ...]
    sample: GraphSpec
    selfcheck: Path | None = None  # the exporter's fixed inputs and reference outputs (live/selfcheck.py)

    @property
    def int8(self) -> bool:
        return bool(self.manifest.get("weights", "fp32") != "fp32")

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def version(self) -> int:
        return int(self.manifest["version"])

    @property
    def frames_per_call(self) -> int | None:
        """Frames a frame graph takes per call: 1 (version 2), None = any number (version 1)."""
        return None if self.version == 1 else 1


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _need(cond: bool, where: Path | str, problem: str) -> None:
    if not cond:
        raise UserError(f"{where}: {problem}")


def _checked_file(root: Path, entry: Any, mpath: Path, check_sha: bool, what: str) -> Path:
    """The checked path of a {file, sha256} entry: a plain name, present, its checksum right."""
    _need(isinstance(entry, dict) and isinstance(entry.get("file"), str), mpath, f"a {what} entry has no 'file'")
    path: Path = root / entry["file"]
    _need(Path(entry["file"]).name == entry["file"], mpath, f"{what} file {entry['file']!r} must be a plain name")
    _need(path.is_file(), path, f"{what} file missing from the bundle; re-export it with `rt-samplernn export`")
    if check_sha:
        digest = sha256_file(path)
        _need(
            digest == entry.get("sha256"),
            path,
            f"checksum mismatch (sha256 {digest[:12]}..., model.json says {str(entry.get('sha256'))[:12]}...): "
            f"the {what} was altered or belongs to another export; re-export the bundle",
        )
    return path


def _graph_file(root: Path, entry: Any, mpath: Path, check_sha: bool) -> Path:
    """The checked path of a graph's {file, sha256} entry, its tensors all inside it and finite."""
    path = _checked_file(root, entry, mpath, check_sha, "graph")
    if check_sha:
        _check_graph_tensors(path)
    return path


def _check_graph_tensors(path: Path) -> None:
    """Every tensor of an ONNX file (subgraphs included) holds its data inside the file (the checksums cover
    only the .onnx files: data_location EXTERNAL is refused) and, when it is a float, no NaN (infinities are
    allowed: the sample graph's tail cut masks with a -inf constant)."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # a damaged protobuf raises DecodeError or worse: the user's file, not our bug
        raise UserError(f"{path}: not a readable ONNX graph ({type(e).__name__}); re-export the bundle") from None
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        tensors = list(graph.initializer)
        for node in graph.node:
            for attr in node.attribute:
                tensors += ([attr.t] if attr.HasField("t") else []) + list(attr.tensors)
                graphs += ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
        for t in tensors:
            if t.data_location == onnx.TensorProto.EXTERNAL:
                raise UserError(
                    f"{path}: tensor {t.name!r} keeps its data in another file, which the checksums do not "
                    "cover; bundles hold their weights inside the .onnx files: re-export the bundle"
                )
            values = numpy_helper.to_array(t) if t.data_type in FLOAT_TYPES else None
            if values is not None and np.isnan(values).any():
                raise UserError(
                    f"{path}: tensor {t.name!r} holds NaN values; re-export the bundle from a checkpoint with "
                    "finite weights"
                )


def _check_io(entry: dict[str, Any], mpath: Path) -> None:
    """A graph entry's inputs and outputs: lists of {name: text, dtype: one of DTYPES, shape: [int or text]}."""
    for key in ("inputs", "outputs"):
        items = entry.get(key)
        if not isinstance(items, list):
            items = [None]  # refused below, as an entry that is not a table
        ok = all(
            isinstance(i, dict)
            and isinstance(i.get("name"), str)
            and isinstance(i.get("dtype"), str)
            and i["dtype"] in DTYPES
            and isinstance(i.get("shape"), list)
            and all(isinstance(d, (int, str)) and not isinstance(d, bool) for d in i["shape"])
            for i in items
        )
        _need(
            ok and len({i["name"] for i in items}) == len(items),
            mpath,
            f"graph entry for {entry.get('file')}: {key} must be a list of {{name, dtype ({', '.join(DTYPES)}), "
            "shape}} with distinct names; re-export the bundle",
        )


def _graph_spec(root: Path, entry: Any, mpath: Path, check_sha: bool, cfg: ModelConfig) -> GraphSpec:
    path = _graph_file(root, entry, mpath, check_sha)
    _check_io(entry, mpath)
    batch = entry.get("batch")
    batch_path = None if batch is None else _graph_file(root, batch, mpath, check_sha)
    try:
        states = []
        for s in entry.get("states", []):
            _need(  # before anything of the state's size is allocated: the config's sizes are bounded
                list(s["shape"]) == [cfg.rnn_layers, "voices", cfg.dim],
                mpath,
                f"state {s.get('input')!r} of {entry['file']} has shape {str(s['shape'])[:60]}, config says "
                f"[{cfg.rnn_layers}, 'voices', {cfg.dim}]",
            )
            _need(
                s["input"] in [i["name"] for i in entry["inputs"]]
                and s["output"] in [o["name"] for o in entry["outputs"]],
                mpath,
                f"state {str(s['input'])[:40]!r} of {entry['file']}: its input and output must be among the "
                "graph's inputs and outputs",
            )
            layers, dim = cfg.rnn_layers, cfg.dim
            init = s["initial"]
            values = np.zeros((layers, dim), np.float32) if init == "zeros" else np.asarray(init, np.float32)
            _need(
                values.shape == (layers, dim),
                mpath,
                f"state {s['input']!r} of {entry['file']}: initial values have shape {list(values.shape)}, "
                f"expected [{layers}, {dim}]",
            )
            states.append(StateSpec(s["input"], s["output"], tuple(s["shape"]), values))
        return GraphSpec(
            name=str(entry["name"]),
            path=path,
            kind=str(entry["kind"]),
            frame_size=int(entry["frame_size"]),
            ratio=int(entry.get("ratio", 1)),
            inputs=tuple(entry["inputs"]),
            outputs=tuple(entry["outputs"]),
            states=tuple(states),
            sha256=str(entry.get("sha256")),
            batch_path=batch_path,
            batch_min_voices=int(batch["min_voices"]) if batch is not None else 0,
        )
    except (KeyError, TypeError, ValueError, IndexError, OverflowError) as e:
        raise UserError(
            f"{mpath}: graph entry for {entry.get('file')} is malformed ({type(e).__name__}: {e})"
        ) from None


def load_bundle(path: str | Path, check_sha: bool = True) -> Bundle:
    """Read and check a bundle directory (or its model.json): manifest, version, graph files, checksums, shapes."""
    root = Path(path)
    if root.is_file() and root.name == MANIFEST:
        root = root.parent
    _need(root.is_dir(), root, "no such bundle directory; `rt-samplernn export CKPT -o DIR` makes one")
    mpath = root / MANIFEST
    _need(mpath.is_file(), mpath, "missing: not a bundle directory (export one with `rt-samplernn export CKPT`)")
    manifest = read_structured(mpath, "bundle manifest", "json")
    _need(
        isinstance(manifest, dict) and manifest.get("format") == FORMAT,
        mpath,
        f'not an rt-samplernn bundle manifest (no "format": "{FORMAT}")',
    )
    version = manifest.get("version")
    _need(
        version in SUPPORTED_VERSIONS,
        mpath,
        f"bundle version {version!r} is not supported (this rt-samplernn reads version "
        f"{', '.join(map(str, SUPPORTED_VERSIONS))}); re-export it with this version",
    )
    _need(
        manifest.get("weights", "fp32") in WEIGHTS,
        mpath,
        f"weights {manifest.get('weights')!r} are not one of {', '.join(WEIGHTS)}",
    )
    _need(
        isinstance(manifest.get("config"), dict), mpath, "no 'config' table (the model's fields); re-export the bundle"
    )
    try:
        cfg = model_config_from_dict(manifest["config"])
    except (KeyError, TypeError, AttributeError) as e:
        raise UserError(f"{mpath}: no usable config ({type(e).__name__}: {e})") from None
    except UserError as e:
        raise UserError(f"{mpath}: {e}") from None
    entries = manifest.get("graphs")
    _need(isinstance(entries, list), mpath, "no 'graphs' list")
    specs = [_graph_spec(root, e, mpath, check_sha, cfg) for e in entries]
    if manifest.get("clip") is not None:  # the music clip voices start from (live/music.py)
        _checked_file(root, manifest["clip"], mpath, check_sha, "music clip")
    selfcheck = None
    if manifest.get("selfcheck") is not None:  # every graph's fixed input and reference output (live/selfcheck.py)
        selfcheck = _checked_file(root, manifest["selfcheck"], mpath, check_sha, "self-check")
    frames = {g.name: g for g in specs if g.kind == "frame"}
    samples = [g for g in specs if g.kind == "sample"]
    n_frame = len(cfg.frame_sizes)
    expected = [frame_graph_name(k) for k in range(n_frame)]
    _need(
        sorted(frames) == sorted(expected) and len(samples) == 1,
        mpath,
        f"graphs {[g.name for g in specs]} do not match a {cfg.n_tiers}-tier model "
        f"(expected {list(reversed(expected)) + ['sample']})",
    )
    ordered = tuple(frames[frame_graph_name(k)] for k in range(n_frame))
    bundle = Bundle(root, manifest, cfg, ordered, samples[0], selfcheck)
    _check_manifest_shapes(bundle, mpath)
    _check_summary_agrees(manifest, cfg, mpath)
    _check_initial_states_finite(bundle, mpath)
    _check_audio_stats_finite(manifest.get("audio_stats"), mpath)
    return bundle


def _check_audio_stats_finite(stats: Any, mpath: Path) -> None:
    """The watchdog's thresholds come from these numbers: NaN would switch its hiss and drone detectors off."""
    pending: list[tuple[str, Any]] = [("audio_stats", stats)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, dict):
            pending += [(f"{where}.{k}", v) for k, v in value.items()]
        elif isinstance(value, float):
            _need(
                np.isfinite(value),
                mpath,
                f"{where} is {value}; the watchdog's thresholds need numbers: run `rt-samplernn export "
                "--audio-stats` again or delete the audio_stats entry",
            )


def _check_summary_agrees(manifest: dict[str, Any], cfg: ModelConfig, mpath: Path) -> None:
    """model.json's top-level sample_rate, quantization and frame_sizes (where present) repeat its config."""
    summary = {
        "sample_rate": cfg.sample_rate,
        "quantization": {"type": cfg.q_type, "levels": cfg.q_levels, "zero_level": zero_level(cfg.q_levels)},
        "frame_sizes": list(cfg.frame_sizes),
    }
    for key, want in summary.items():
        if key in manifest:
            _need(
                manifest[key] == want,
                mpath,
                f"top-level {key} {manifest[key]!r} contradicts config ({want!r}); the file was edited: "
                "re-export the bundle (or make the two agree)",
            )


def _check_initial_states_finite(b: Bundle, mpath: Path) -> None:
    """Learned initial states hold numbers: NaN or inf would silence or blow up every voice from the first sample."""
    for g in b.frame_graphs:
        for s in g.states:
            _need(
                bool(np.isfinite(s.initial).all()),
                mpath,
                f"initial values of state {s.input!r} of {g.path.name} hold NaN or inf; re-export the bundle "
                "from a checkpoint with finite weights",
            )


def _check_manifest_shapes(b: Bundle, mpath: Path) -> None:
    """The manifest's own shapes agree with its config (frame sizes, state count; state shapes: `_graph_spec`)."""
    cfg = b.config
    n_state = 2 if cfg.rnn_type == "lstm" else 1
    for k, g in enumerate(b.frame_graphs):
        where = f"{mpath} ({g.path.name})"
        _need(
            g.frame_size == cfg.frame_sizes[k],
            where,
            f"frame size {g.frame_size} but config frame_sizes {list(cfg.frame_sizes)}",
        )
        _need(len(g.states) == n_state, where, f"{len(g.states)} states listed, a {cfg.rnn_type} tier has {n_state}")
        ratio = cfg.frame_sizes[k] // (cfg.frame_sizes[k - 1] if k else 1)  # samples (or finer frames) per frame
        _need(g.ratio == ratio, where, f"ratio {g.ratio}, but frame_sizes {list(cfg.frame_sizes)} make it {ratio}")
        first = g.inputs[0] if g.inputs else {}
        steps = "frames" if b.version == 1 else 1  # version 2 frame graphs take one frame per call
        _need(
            first.get("shape") == ["voices", steps, cfg.frame_sizes[k]],
            where,
            f"input 'frames' has shape {first.get('shape')}, expected ['voices', {steps!r}, {cfg.frame_sizes[k]}]",
        )
    sample = b.sample
    shapes = {i["name"]: i.get("shape") for i in sample.inputs}
    _need(
        shapes.get("prev") == ["voices", cfg.frame_sizes[0]],
        f"{mpath} ({sample.path.name})",
        f"input 'prev' has shape {shapes.get('prev')}, expected ['voices', {cfg.frame_sizes[0]}]",
    )
    _need(
        shapes.get("noise") == ["voices", cfg.frame_sizes[0], cfg.q_levels],
        f"{mpath} ({sample.path.name})",
        f"input 'noise' has shape {shapes.get('noise')}, expected ['voices', {cfg.frame_sizes[0]}, {cfg.q_levels}]",
    )


def check_graph_io(spec: GraphSpec, inputs: Sequence[Any], outputs: Sequence[Any]) -> None:
    """Compare a loaded session's inputs/outputs (objects with .name, .type, .shape) with the manifest."""
    for kind, declared, actual in (("input", spec.inputs, inputs), ("output", spec.outputs, outputs)):
        found = {a.name: a for a in actual}
        want_names = [d["name"] for d in declared]
        _need(
            sorted(found) == sorted(want_names),
            spec.path,
            f"graph {kind}s {sorted(found)} do not match model.json {sorted(want_names)}",
        )
        for d in declared:
            a = found[d["name"]]
            _need(
                a.type == DTYPES.get(d["dtype"]),
                spec.path,
                f"{kind} {d['name']!r} is {a.type}, model.json says {d['dtype']}",
            )
            want, got = list(d["shape"]), list(a.shape)
            ok = len(want) == len(got) and all(
                (isinstance(w, str) and not isinstance(g, int)) or (isinstance(w, int) and g == w)
                for w, g in zip(want, got)
            )
            _need(ok, spec.path, f"{kind} {d['name']!r} has shape {got}, model.json says {want}")


def update_manifest(bundle_dir: str | Path, key: str, value: Any) -> Path:
    """Set one top-level key of a bundle's model.json, atomically (the graphs are untouched): the one writer of
    a manifest that exists (`audio_stats`, `clip`, `usable`)."""
    path = Path(bundle_dir) / MANIFEST
    manifest = read_structured(path, "bundle manifest", "json")
    if not isinstance(manifest, dict):
        raise UserError(f"{path}: not a bundle manifest (a {type(manifest).__name__}, not a table)")
    manifest[key] = value
    write_atomically(path, (json.dumps(manifest, indent=1) + "\n").encode(), "the bundle manifest")
    return path
