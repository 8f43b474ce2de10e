"""PyTorch SampleRNN -> a bundle of ONNX step graphs plus a versioned model.json manifest.

One graph per tier (docs/bundle.md), the RNN state as explicit inputs and outputs. Version 2:
each frame tier is one step with its cell written out as MatMuls (export/cells.py); the sample graph is
the frame of F0 samples unrolled into plain nodes (version 1, the first release's torch.onnx GRU/LSTM ops
and ONNX Loop, is still read, no longer written: tests/fixtures/v1 keeps bundles of it). Gumbel-max sampling runs inside the sample graph (noise and temperature are
inputs, so it is seedable), the embedding and input conv are one [F0*Q, S] gather table, and the sample
MLP's first linear layer is folded into that table and into the finest frame tier's upsampling, whose
output is therefore the sample MLP's first pre-activation (`cond_out` of frame.onnx). `export.verify`
proves the folds; export/int8.py turns the weight matrices into int8.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from torch import nn

from rt_samplernn import __version__
from rt_samplernn.atomic import write_atomically
from rt_samplernn.config import to_dict
from rt_samplernn.export.cells import build_cell_frame_graph
from rt_samplernn.export.common import IR_VERSION, OPSET
from rt_samplernn.export.common import const as _const
from rt_samplernn.export.int8 import ROW_FORM, ROW_SCALED_MIN_WEIGHTS, quantize_graph
from rt_samplernn.live.bundle import (
    FORMAT,
    MANIFEST,
    VERSION,
    frame_graph_name,
    sha256_file,
    update_manifest,
)
from rt_samplernn.live.selfcheck import CHECK_FILE, check_outputs, fixed_inputs, split_reference
from rt_samplernn.live.stepper import session_options
from rt_samplernn.model import FrameTier, SampleRNN, SampleTier
from rt_samplernn.quantize import zero_level

BATCH_MIN_VOICES = 3  # engines of this many voices or more run the `batch` frame graphs (at 2 voices: even)

# ----------------------------------------------------------------------------------------------------------
# Folding the sample tier's first linear layer
# ----------------------------------------------------------------------------------------------------------


def _first_layer(sample: SampleTier) -> nn.Linear:
    """The linear layer right after the input conv + cond (no nonlinearity between them): foldable."""
    return sample.hidden[0] if len(sample.hidden) else sample.output


@torch.no_grad()
def sample_table(sample: SampleTier) -> np.ndarray:
    """[F0*Q, S'] float32: row j*Q + level = first_layer.W @ (conv.W[:, :, j] @ embedding[level]).

    Summing rows j*Q + window[j] over j gives the first layer's pre-activation minus cond and bias.
    """
    emb = sample.embedding.weight.double()  # (Q, E)
    conv = sample.input_conv.weight.double()  # (S, E, F0)
    first = _first_layer(sample).weight.double()  # (S', S)
    per_pos = torch.einsum("qe,sej->jqs", emb, conv)  # (F0, Q, S)
    folded = per_pos @ first.T  # (F0, Q, S')
    return folded.reshape(-1, folded.shape[-1]).float().numpy()


@torch.no_grad()
def fold_upsample(tier: FrameTier, sample: SampleTier) -> FrameTier:
    """A copy of the finest frame tier whose upsampling already applies the sample MLP's first layer."""
    first = _first_layer(sample)
    w1, b1 = first.weight.double(), first.bias.double()  # (S', S), (S',)
    up_w = tier.upsample.weight.double().reshape(tier.ratio, tier.out_dim, -1)  # (ratio, S, D)
    up_b = tier.upsample.bias.double().reshape(tier.ratio, tier.out_dim)
    new_w = torch.einsum("ps,rsd->rpd", w1, up_w).reshape(-1, up_w.shape[-1])
    new_b = (up_b @ w1.T + b1).reshape(-1)
    folded = copy.deepcopy(tier)
    layer = nn.Linear(new_w.shape[1], new_w.shape[0])
    layer.weight.copy_(new_w.float())
    layer.bias.copy_(new_b.float())
    folded.upsample = layer
    folded.out_dim = w1.shape[0]
    return folded.eval()


# ----------------------------------------------------------------------------------------------------------
# Frame tiers: torch.onnx export of FrameTier.forward with explicit state
# ----------------------------------------------------------------------------------------------------------


def frame_io(tier: FrameTier, has_cond: bool, out_dim: int, below: str) -> tuple[list[dict], list[dict], list[dict]]:
    """Manifest entries (inputs, outputs, states) for one frame graph (one frame per call)."""
    L, D, F = tier.layers, tier.dim, tier.frame_size
    inputs = [
        dict(
            name="frames",
            dtype="int64",
            shape=["voices", 1, F],
            meaning=f"one frame of {F} previous int levels each, oldest first",
        )
    ]
    if has_cond:
        inputs.append(
            dict(
                name="cond",
                dtype="float32",
                shape=["voices", 1, D],
                meaning="conditioning from the tier above, one vector per frame",
            )
        )
    state_names = ["h", "c"] if tier.is_lstm else ["h"]
    states = []
    for s in state_names:
        inputs.append(
            dict(
                name=s,
                dtype="float32",
                shape=[L, "voices", D],
                meaning=f"RNN {'hidden' if s == 'h' else 'cell'} state (layers, voices, dim)",
            )
        )
    outputs = [
        dict(
            name="cond_out",
            dtype="float32",
            shape=["voices", tier.ratio, out_dim],
            meaning=f"conditioning for the {below}: {tier.ratio} vectors per input frame "
            f"(positions = frames * {tier.ratio})",
        )
    ]
    for i, s in enumerate(state_names):
        outputs.append(dict(name=f"{s}_out", dtype="float32", shape=[L, "voices", D], meaning=f"new {s}"))
        h0 = tier.h0[i].detach().float()
        initial: Any = "zeros" if not torch.any(h0) else h0.numpy().tolist()
        states.append(dict(input=s, output=f"{s}_out", shape=[L, "voices", D], initial=initial))
    return inputs, outputs, states


# ----------------------------------------------------------------------------------------------------------
# The sample graph: Loop over one frame with in-graph Gumbel-max sampling
# ----------------------------------------------------------------------------------------------------------


def sample_weights(sample: SampleTier) -> tuple[list[TensorProto], list[tuple[str, str]], str]:
    """Initializers shared by the sample graph and the logits check graph.

    Returns (initializers, [(W, b) of the Gemm layers after the folded first layer], output layer kind).
    """
    f0, q = sample.frame_size, sample.embedding.num_embeddings
    inits = [
        _const("table", sample_table(sample)),
        _const("offsets", (np.arange(f0, dtype=np.int64) * q)[None, :]),
        _const("sum_axes", np.array([1], dtype=np.int64)),
    ]
    gemms: list[tuple[str, str]] = []
    layers = list(sample.hidden[1:]) + ([sample.output] if len(sample.hidden) else [])
    for i, layer in enumerate(layers):
        inits.append(_const(f"W{i}", layer.weight.detach().float().numpy()))
        inits.append(_const(f"b{i}", layer.bias.detach().float().numpy()))
        gemms.append((f"W{i}", f"b{i}"))
    return inits, gemms, "mlp" if len(sample.hidden) else "direct"


def sample_model(
    nodes: list, inits: list, f0: int, s_dim: int, q: int, how: str, min_p: bool = False
) -> onnx.ModelProto:
    """The sample graph around ``nodes`` (``min_p``: with that input), checked."""
    inputs = [
        helper.make_tensor_value_info("prev", TensorProto.INT64, ["voices", f0]),
        helper.make_tensor_value_info("cond", TensorProto.FLOAT, ["voices", f0, s_dim]),
        helper.make_tensor_value_info("noise", TensorProto.FLOAT, ["voices", f0, q]),
        helper.make_tensor_value_info("temperature", TensorProto.FLOAT, ["voices"]),
    ]
    if min_p:
        inputs.append(helper.make_tensor_value_info("min_p", TensorProto.FLOAT, ["voices"]))
    graph = helper.make_graph(
        nodes,
        "sample",
        inputs,
        [helper.make_tensor_value_info("samples", TensorProto.INT64, ["voices", f0])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    model.doc_string = f"rt-samplernn sample tier: one frame of samples per call ({how})"
    onnx.checker.check_model(model)
    return model


def build_unrolled_sample_graph(sample: SampleTier) -> onnx.ModelProto:
    """Bundle version 2's sample graph (version 1's was an ONNX Loop with the same inputs and output, less
    min_p): the frame unrolled into plain nodes.

    Once per frame: `acc[:, j]`, step j's first-layer pre-activation as far as it is known (conditioning plus
    the table rows of the previous frame's samples in its window), one Gather + ReduceSum; and noise *
    temperature + the output bias. Step j: ReLU MLP on acc[:, j], ArgMax, then the drawn sample's table rows
    for every later step of the frame (a Gather of F0 rows, zero rows for the steps before) added to acc.
    About fifteen nodes per sample, no Loop, no window copies.

    The tail cut `min_p` (voices,): before the ArgMax, the levels whose logit is below the step's largest
    logit + log(min_p) (probability under min_p times the most likely level's, at temperature 1) are set
    to -inf. The logits are read back as perturbed - noise * T (float32 rounding only at the cut's edge);
    at min_p = 0 the cut is -inf, nothing is masked and the samples are bit for bit those of the graph
    without the cut.
    """
    f0, q = sample.frame_size, sample.embedding.num_embeddings
    table = sample_table(sample)
    s_dim = table.shape[1]
    zero_row = f0 * q
    inits, gemms, kind = sample_weights(sample)
    inits[0] = _const("table", np.concatenate([table, np.zeros((q, s_dim), np.float32)]))  # + Q zero rows
    j, p = np.meshgrid(np.arange(f0), np.arange(f0), indexing="ij")
    valid = (j + p < f0).astype(np.int64)  # step j, window position p reads prev[j + p] while j + p < F0
    inits += [
        _const("prev_pick", np.minimum(j + p, f0 - 1).astype(np.int64)),
        _const("prev_valid", valid),
        _const("prev_offsets", np.where(valid == 1, p * q, zero_row).astype(np.int64)),
        _const("axis2", np.array([2], dtype=np.int64)),
        _const("temp_axes", np.array([1, 2], dtype=np.int64)),
        _const("axis1", np.array([1], dtype=np.int64)),
        _const("minus_inf", np.array(-np.inf, dtype=np.float32)),
    ]
    n = helper.make_node
    nodes = [
        n("Gather", ["prev", "prev_pick"], ["prev_seen"], axis=1),  # (B, F0 steps, F0 positions)
        n("Mul", ["prev_seen", "prev_valid"], ["prev_masked"]),
        n("Add", ["prev_masked", "prev_offsets"], ["prev_idx"]),
        n("Gather", ["table", "prev_idx"], ["prev_rows"]),  # (B, F0, F0, S')
        n("ReduceSum", ["prev_rows", "axis2"], ["prev_sum"], keepdims=0),
        n("Add", ["prev_sum", "cond"], ["acc0"]),  # (B, F0, S')
        n("Unsqueeze", ["temperature", "temp_axes"], ["temp3"]),
        n("Mul", ["noise", "temp3"], ["scaled_noise"]),
        n("Log", ["min_p"], ["log_min_p"]),  # log(0) = -inf: no cut
        n("Unsqueeze", ["log_min_p", "axis1"], ["log_min_p2"]),  # (B, 1)
    ]
    last_w, last_b = gemms[-1] if gemms else ("", "")  # read only when there are gemms
    if gemms:  # the last Gemm adds bias + noise in one go
        nodes.append(n("Add", ["scaled_noise", last_b], ["bias_noise"]))
    drawn: list[str] = []
    for step in range(f0):
        s = f"s{step}_"
        inits.append(_const(f"{s}i", np.array(step, dtype=np.int64)))
        nodes.append(n("Gather", [f"acc{step}", f"{s}i"], [f"{s}pre0"], axis=1))  # (B, S')
        if kind == "mlp":
            nodes.append(n("Relu", [f"{s}pre0"], [f"{s}act0"]))
            x = f"{s}act0"
            for i, (w, b) in enumerate(gemms[:-1]):
                nodes.append(n("Gemm", [x, w, b], [f"{s}pre{i + 1}"], transB=1))
                nodes.append(n("Relu", [f"{s}pre{i + 1}"], [f"{s}act{i + 1}"]))
                x = f"{s}act{i + 1}"
            nodes.append(n("Gather", ["bias_noise", f"{s}i"], [f"{s}bn"], axis=1))
            nodes.append(n("Gemm", [x, last_w, f"{s}bn"], [f"{s}perturbed"], transB=1))
        nodes.append(n("Gather", ["scaled_noise", f"{s}i"], [f"{s}noise"], axis=1))
        if kind != "mlp":
            nodes.append(n("Add", [f"{s}pre0", f"{s}noise"], [f"{s}perturbed"]))
        nodes += [  # the tail cut: logits under max + log(min_p) are never drawn
            n("Sub", [f"{s}perturbed", f"{s}noise"], [f"{s}logit"]),
            n("ReduceMax", [f"{s}logit"], [f"{s}max"], axes=[1], keepdims=1),
            n("Add", [f"{s}max", "log_min_p2"], [f"{s}cut"]),
            n("Less", [f"{s}logit", f"{s}cut"], [f"{s}below"]),
            n("Where", [f"{s}below", "minus_inf", f"{s}perturbed"], [f"{s}kept"]),
            n("ArgMax", [f"{s}kept"], [f"{s}d"], axis=1, keepdims=1),  # (B, 1)
        ]
        drawn.append(f"{s}d")
        if step < f0 - 1:  # sample `step` sits at window position F0 - j + step of each later step j
            later = np.arange(f0)
            offsets = np.where(later > step, (f0 - later + step) * q, zero_row).astype(np.int64)  # + d: a zero row
            inits.append(_const(f"{s}offsets", offsets[None, :]))
            nodes += [
                n("Add", [f"{s}d", f"{s}offsets"], [f"{s}idx"]),  # (B, F0)
                n("Gather", ["table", f"{s}idx"], [f"{s}rows"]),  # (B, F0, S')
                n("Add", [f"acc{step}", f"{s}rows"], [f"acc{step + 1}"]),
            ]
    nodes.append(n("Concat", drawn, ["samples"], axis=1))
    return sample_model(nodes, inits, f0, s_dim, q, "the frame unrolled, with the tail cut", min_p=True)


def sample_io(f0: int, s_dim: int, q: int, min_p: bool = True) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Manifest entries (inputs, outputs) of the sample graph; `min_p`: it takes the tail cut (since 2026-12-03)."""
    inputs: list[dict[str, Any]] = [
        dict(name="prev", dtype="int64", shape=["voices", f0], meaning=f"the last {f0} int levels, oldest first"),
        dict(
            name="cond",
            dtype="float32",
            shape=["voices", f0, s_dim],
            meaning="cond_out of frame.onnx: one vector per sample of this frame",
        ),
        dict(
            name="noise",
            dtype="float32",
            shape=["voices", f0, q],
            meaning="Gumbel(0, 1) noise, one row per sample (see docs/bundle.md for the seeded stream)",
        ),
        dict(name="temperature", dtype="float32", shape=["voices"], meaning="sampling temperature per voice, > 0"),
    ]
    if min_p:
        inputs.append(
            dict(
                name="min_p",
                dtype="float32",
                shape=["voices"],
                meaning="tail cut per voice, 0 (off) to 1: levels less likely than min_p times the most "
                "likely one (at temperature 1) are never drawn",
            )
        )
    outputs: list[dict[str, Any]] = [
        dict(name="samples", dtype="int64", shape=["voices", f0], meaning=f"{f0} new int levels, oldest first")
    ]
    return inputs, outputs


# ----------------------------------------------------------------------------------------------------------
# The bundle
# ----------------------------------------------------------------------------------------------------------


def _batch_variant(graph: onnx.ModelProto, row_scaled_min_weights: int | None, row_form: str) -> onnx.ModelProto | None:
    """An int8 copy of a frame graph with its big matrices per-row scaled (MatMulInteger), or None when it
    has none: the variant engines of BATCH_MIN_VOICES voices or more run (docs/bundle.md, `batch`)."""
    if row_scaled_min_weights is None:
        return None
    batch = copy.deepcopy(graph)
    quantize_graph(batch, row_scaled_min_weights, row_form=row_form)
    batch.doc_string += "; batch variant: big matrices as MatMulInteger, one activation scale per voice"
    return batch if any(n.op_type == "MatMulInteger" for n in batch.graph.node) else None


def reference_outputs(graph: onnx.ModelProto, inputs: list[dict[str, Any]], q_levels: int) -> dict[str, np.ndarray]:
    """The self-check of one graph (live/selfcheck.py): its fixed input and the outputs of the fp32 graph (before
    int8), computed here, where the export is verified; the engine compares its own CPU's outputs with them."""
    import onnxruntime as ort

    feed = fixed_inputs(tuple(inputs), q_levels)
    session = ort.InferenceSession(graph.SerializeToString(), session_options(1), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return {**feed, **dict(zip(names, session.run(names, feed), strict=True))}


def _write_selfcheck(out_dir: Path, references: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """selfcheck.npz (members GRAPH/TENSOR.npy, a zip NumPy reads with allow_pickle=False) through the atomic
    writer, with fixed member dates so the same export writes the same bytes; returns its manifest entry."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for graph, tensors in references.items():
            for tensor, array in tensors.items():
                member = io.BytesIO()
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
                info = zipfile.ZipInfo(f"{graph}/{tensor}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, member.getvalue())
    write_atomically(out_dir / CHECK_FILE, buffer.getvalue(), "the bundle's self-check")
    return dict(file=CHECK_FILE, sha256=sha256_file(out_dir / CHECK_FILE))


def _exporter_errors(
    out_dir: Path, graphs: list[dict[str, Any]], references: dict[str, dict[str, np.ndarray]], int8: bool
) -> dict[str, float]:
    """Each written graph file's error against its fp32 reference on this CPU (live/selfcheck.check_outputs): the int8
    rounding of this model, which the engines' check allows for."""
    import onnxruntime as ort

    errors = {}
    for g in graphs:
        for entry in (g, g.get("batch")):
            if entry is None or g["name"] not in references:
                continue
            path = out_dir / entry["file"]
            session = ort.InferenceSession(str(path), session_options(1), providers=["CPUExecutionProvider"])
            input_names = [i["name"] for i in g["inputs"]]
            feed, expected = split_reference(references[g["name"]], input_names)
            errors[path.name] = round(check_outputs(session, path.name, feed, expected, int8, "").error, 5)
    return errors


def export_bundle(
    model: SampleRNN,
    out_dir: str | Path,
    source: str | None = None,
    int8: bool = False,
    row_scaled_min_weights: int | None = ROW_SCALED_MIN_WEIGHTS,
    row_form: str = ROW_FORM,
    selfcheck: bool = True,
) -> Path:
    """Write model.json and one graph per tier into out_dir (created); returns the manifest path.

    Bundle version 2, the only one this exporter writes (version 1 is still read: live/bundle.py, and
    tests/fixtures/v1 holds version-1 bundles for its tests): one-frame step graphs with explicit RNN cells
    and an unrolled sample graph; int8 stores every weight matrix of all three graphs as int8 (MatMulNBits); a frame graph with matrices of
    at least row_scaled_min_weights weights also gets a `batch` variant, those matrices as MatMulInteger with
    per-voice activation scales, for engines of several voices (None: no variants, as the first version-2
    exports; row_form: their MatMulInteger form, export/int8.ROW_FORMS). selfcheck: write selfcheck.npz, every
    graph's fixed input and fp32 output, which engines check their CPU against (False: as bundles before
    2026-12-07). The fp32 export verifies to 1e-4.
    """

    model = model.eval()
    cfg = model.cfg
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_frame = len(cfg.frame_sizes)
    graphs: list[dict[str, Any]] = []
    references: dict[str, dict[str, np.ndarray]] = {}  # every graph's self-check
    s_dim = 0
    for k in reversed(range(n_frame)):
        tier = model.frame_tiers[k]
        name = frame_graph_name(k)
        has_cond = k < n_frame - 1
        if k == 0:
            tier = fold_upsample(tier, model.sample_tier)
            s_dim = tier.out_dim
            below = "sample graph (sample MLP's first layer folded in)"
        else:
            below = f"{frame_graph_name(k - 1)} graph"
        path = out_dir / f"{name}.onnx"
        inputs, outputs, states = frame_io(tier, has_cond, tier.out_dim, below)
        graph = build_cell_frame_graph(tier, has_cond)
        references[name] = reference_outputs(graph, inputs, cfg.q_levels)
        batch = _batch_variant(graph, row_scaled_min_weights, row_form) if int8 else None
        if int8:
            quantize_graph(graph)
        onnx.save(graph, str(path))
        if batch is not None:
            onnx.save(batch, str(out_dir / f"{name}.batch.onnx"))
        graphs.append(
            dict(
                name=name,
                file=path.name,
                kind="frame",
                tier=k,
                frame_size=tier.frame_size,
                ratio=tier.ratio,
                inputs=inputs,
                outputs=outputs,
                states=states,
            )
        )
        if batch is not None:
            graphs[-1]["batch"] = dict(file=f"{name}.batch.onnx", min_voices=BATCH_MIN_VOICES)
    path = out_dir / "sample.onnx"
    sample_graph = build_unrolled_sample_graph(model.sample_tier)
    inputs, outputs = sample_io(cfg.frame_sizes[0], s_dim, cfg.q_levels)
    references["sample"] = reference_outputs(sample_graph, inputs, cfg.q_levels)
    if int8:
        quantize_graph(sample_graph)
    onnx.save(sample_graph, str(path))
    graphs.append(
        dict(
            name="sample",
            file=path.name,
            kind="sample",
            frame_size=cfg.frame_sizes[0],
            inputs=inputs,
            outputs=outputs,
            states=[],
        )
    )
    for g in graphs:
        for entry in (g, g.get("batch")):
            if entry is not None:
                entry["sha256"] = sha256_file(out_dir / entry["file"])
    weights = "int8" if int8 else "fp32"
    manifest = dict(
        format=FORMAT,
        version=VERSION,
        exporter=dict(
            name="rt-samplernn", version=__version__, torch=torch.__version__.split("+")[0], onnx_opset=OPSET
        ),
        source=source,
        config=to_dict(cfg),
        sample_rate=cfg.sample_rate,
        quantization=dict(type=cfg.q_type, levels=cfg.q_levels, zero_level=zero_level(cfg.q_levels)),
        frame_sizes=list(cfg.frame_sizes),
        weights=weights,
        graphs=graphs,
    )
    if references and selfcheck:
        check = _write_selfcheck(out_dir, references)
        check["exporter_error"] = _exporter_errors(out_dir, graphs, references, int8)
        manifest["selfcheck"] = check
    manifest_path = out_dir / MANIFEST
    write_atomically(manifest_path, (json.dumps(manifest, indent=1) + "\n").encode(), "the bundle manifest")
    return manifest_path


def drop_batch_graphs(bundle_dir: str | Path, files: list[str]) -> None:
    """Remove these `batch` files from a bundle (manifest entry and file): engines then run the plain graphs."""
    bundle_dir = Path(bundle_dir)
    graphs = json.loads((bundle_dir / MANIFEST).read_text())["graphs"]
    for g in graphs:
        if g.get("batch", {}).get("file") in files:
            del g["batch"]
    update_manifest(bundle_dir, "graphs", graphs)
    for name in files:
        (bundle_dir / name).unlink(missing_ok=True)
