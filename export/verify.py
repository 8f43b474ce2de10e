"""Parity of a bundle with the checkpoint it came from: the proof that the step graphs compute the model.

1. Teacher forced, over `seconds` of a fixed test signal (or given audio), states carried across calls:
   every frame graph called one frame at a time (T=1) against the PyTorch training forward's per-tier
   output; the shipped sample graph, its draws replaced by the teacher's samples, against the training
   logits; and the engine's priming path against the step-wise final states. Tolerance 1e-4 in fp32.
   On real audio, also the held-out NLL of bundle and checkpoint (int8: at most 0.02 bits worse).
2. Free running: the engine against the PyTorch reference generator (rt_samplernn.generate) with the same
   seed, two voices at temperatures 1 and 0.5, sample for sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import helper
from torch.nn.utils import parametrize

from rt_samplernn.errors import UserError
from rt_samplernn.export.onnx_export import IR_VERSION
from rt_samplernn.generate import generate_levels
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.stepper import session_options
from rt_samplernn.model import SampleRNN
from rt_samplernn.quantize import quantize, zero_level
from rt_samplernn.schedule import tiers_due, window_frames

TOLERANCE = 1e-4
INT8_TOLERANCE = 5e-2  # int8 bundles: max |diff| relative to the largest |value| of the compared tensor
NLL_TOLERANCE_BITS = 0.02  # the bundle's held-out NLL may be at most this much worse than the checkpoint's


LEFT_OUT = " (left out)"  # a row of a batch graph this CPU computes wrong: written without it, said


@dataclass
class Report:
    rows: list[tuple[str, float, bool]] = field(default_factory=list)  # (check, max abs error or mismatches, ok)
    matched: int = 0
    compared: int = 0
    int8: bool = False  # an int8 bundle: relative tolerance, samples compared for information only
    version: int = 0
    nll: tuple[float, float] | None = None  # (checkpoint, bundle) bits per sample, teacher forced on real audio
    nll_batch: tuple[float, float] | None = None  # the same through the frame graphs' `batch` variants
    left_out: list[str] = field(default_factory=list)  # `batch` files that compute wrong on this CPU (why)

    @property
    def nll_ok(self) -> bool:
        return all(n is None or n[1] - n[0] <= NLL_TOLERANCE_BITS for n in (self.nll, self.nll_batch))

    @property
    def batch_files(self) -> list[str]:
        """The `batch` files left out, by name (the first word of each left_out line)."""
        return [line.split(" ", 1)[0] for line in self.left_out]

    @property
    def ok(self) -> bool:
        kept = [ok for name, _, ok in self.rows if not name.endswith(LEFT_OUT)]  # a left-out graph refuses nothing
        return all(kept) and (self.int8 or self.matched == self.compared) and self.nll_ok

    def lines(self) -> list[str]:
        out = [f"{'check':<52} {'max |diff|':>12}  result"]
        for name, err, ok in self.rows:
            verdict = "ok" if ok else "over, so left out" if name.endswith(LEFT_OUT) else "FAIL"
            out.append(f"{name:<52} {err:>12.3g}  {verdict}")
        same = self.matched == self.compared
        out.append(
            f"{'engine vs reference generator (samples equal)':<52} "
            f"{f'{self.matched}/{self.compared}':>12}  "
            f"{'ok' if same else 'differs (int8 weights: expected)' if self.int8 else 'FAIL'}"
        )
        if self.int8:
            out.append(f"(int8 bundle: errors judged relative to each tensor's largest value, <= {INT8_TOLERANCE:g})")
        for line in self.left_out:
            out.append(f"left out: {line}")
        if self.nll is None:
            out.append("held-out NLL: skipped (name real audio with --verify-audio to measure it)")
        for what, nll in (("bundle", self.nll), ("batch", self.nll_batch)):
            if nll is not None:
                ckpt, ours = nll
                ok = ours - ckpt <= NLL_TOLERANCE_BITS
                out.append(
                    f"{f'held-out NLL, bits/sample: checkpoint {ckpt:.4f}, {what} {ours:.4f}':<52} "
                    f"{ours - ckpt:>+12.4f}  {'ok' if ok else 'FAIL'} (tolerance {NLL_TOLERANCE_BITS} bits)"
                )
        return out


def test_signal(seconds: float, sample_rate: int) -> np.ndarray:
    """A fixed, deterministic clip: a chirp with harmonics, an amplitude envelope and a little noise."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f = 110.0 * (1.0 + 3.0 * t / max(seconds, 1e-9))
    phase = 2 * np.pi * np.cumsum(f) / sample_rate
    x = 0.5 * np.sin(phase) + 0.2 * np.sin(3 * phase) + 0.05 * np.random.default_rng(0).standard_normal(len(t))
    return (x * (0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t))).astype(np.float32)


def logits_model_from_sample_graph(path: Path) -> onnx.ModelProto:
    """The shipped sample graph, teacher forced: prev (N, F0), cond (N, F0, S'), teacher (N, F0) -> logits (N, F0, Q).

    Version 2 (unrolled): the ArgMax of each step is replaced by the teacher's sample and each step's
    logits become outputs (with zero noise the perturbed logits are the logits). Version 1 (Loop): the
    loop body's logits computation is cut out and run on every window.
    """
    model = onnx.load(str(path))
    if any(n.op_type == "Loop" for n in model.graph.node):
        return _loop_body_logits(model)
    f0 = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    q = model.graph.input[2].type.tensor_type.shape.dim[2].dim_value
    drawn = [f"s{j}_d" for j in range(f0)]
    nodes = [
        n
        for n in model.graph.node
        if not (n.op_type == "ArgMax" and n.output[0] in drawn) and "samples" not in n.output
    ]
    nodes.insert(0, helper.make_node("Split", ["teacher"], drawn, axis=1))
    for j in range(f0):
        nodes.append(helper.make_node("Unsqueeze", [f"s{j}_perturbed", "axis1_const"], [f"s{j}_logits"]))
    nodes.append(helper.make_node("Concat", [f"s{j}_logits" for j in range(f0)], ["logits"], axis=1))
    inputs = [i for i in model.graph.input if i.name not in ("noise", "temperature", "min_p")]
    inputs.append(helper.make_tensor_value_info("teacher", onnx.TensorProto.INT64, ["voices", f0]))
    consts = [
        helper.make_tensor("axis1_const", onnx.TensorProto.INT64, [1], [1]),
        helper.make_tensor("noise", onnx.TensorProto.FLOAT, [1, f0, q], np.zeros(f0 * q, np.float32)),
        helper.make_tensor("temperature", onnx.TensorProto.FLOAT, [1], [1.0]),
    ]
    if any(i.name == "min_p" for i in model.graph.input):  # the cut off: its nodes are left without a reader
        consts.append(helper.make_tensor("min_p", onnx.TensorProto.FLOAT, [1], [0.0]))
    graph = helper.make_graph(
        nodes,
        "sample_logits",
        inputs,
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["voices", f0, q])],
        list(model.graph.initializer) + consts,
    )
    return helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=IR_VERSION)


def _loop_body_logits(model: onnx.ModelProto) -> onnx.ModelProto:
    """Version 1: window (N, F0), cond_i (N, S') -> logits (N, Q), cut out of the Loop body."""
    loop = next(n for n in model.graph.node if n.op_type == "Loop")
    body = next(a.g for a in loop.attribute if a.name == "body")
    perturb = next(n for n in body.node if n.output[0] == "perturbed")
    logits = next(x for x in perturb.input if x != "noise_i")
    producers = {o: n for n in body.node for o in n.output}
    needed, stack = [], [logits]
    seen: set[str] = set()
    while stack:
        name = stack.pop()
        if name in seen or name not in producers or name in ("window", "cond_i"):
            continue
        seen.add(name)
        node = producers[name]
        needed.append(node)
        stack.extend(node.input)
    order = [n for n in body.node if n in needed]
    f0 = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    s_dim = model.graph.input[1].type.tensor_type.shape.dim[2].dim_value
    q = model.graph.input[2].type.tensor_type.shape.dim[2].dim_value
    if logits != "logits":
        order.append(helper.make_node("Identity", [logits], ["logits"]))
    graph = helper.make_graph(
        order,
        "sample_logits",
        [
            helper.make_tensor_value_info("window", onnx.TensorProto.INT64, ["n", f0]),
            helper.make_tensor_value_info("cond_i", onnx.TensorProto.FLOAT, ["n", s_dim]),
        ],
        [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["n", q])],
        list(model.graph.initializer),
    )
    return helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=IR_VERSION)


def bundle_logits(sample_path: Path, levels: np.ndarray, cond: np.ndarray, f0: int) -> np.ndarray:
    """Teacher-forced logits (n, Q) of the shipped sample graph: levels (F0 + n,) int64 (F0 of context first),
    cond (n, S') the finest conditioning of each sample."""
    graph = logits_model_from_sample_graph(sample_path)
    sess = ort.InferenceSession(graph.SerializeToString(), session_options(1), providers=["CPUExecutionProvider"])
    n = len(levels) - f0
    if graph.graph.input[0].name == "window":  # version 1: every sliding window
        windows = np.lib.stride_tricks.sliding_window_view(levels[:-1], f0)[:n]
        return sess.run(None, {"window": np.ascontiguousarray(windows), "cond_i": cond})[0]
    frames = n // f0
    prev = levels[: frames * f0].reshape(frames, f0)
    teacher = levels[f0 : f0 + frames * f0].reshape(frames, f0)
    out = sess.run(None, {"prev": prev, "cond": cond.reshape(frames, f0, -1), "teacher": teacher})[0]
    return out.reshape(n, -1)


def nll_bits(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean negative log-likelihood of targets under softmax(logits), in bits per sample."""
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z[np.arange(len(targets)), targets] - np.log(np.exp(z).sum(axis=1))
    return float(-log_p.mean() / np.log(2.0))


@torch.inference_mode()
def _torch_tiers(model: SampleRNN, x: torch.Tensor, chunk: int) -> tuple[list[np.ndarray], np.ndarray, list]:
    """Training forward over x (1, overlap + L) in TBPTT chunks: per-tier outputs, logits, final states."""
    states = model.initial_state(1)
    n_frame = len(model.frame_tiers)
    outs: list[list[torch.Tensor]] = [[] for _ in range(n_frame)]
    logits = []
    total = x.shape[1] - model.overlap
    for start in range(0, total, chunk):
        seg = x[:, start : start + model.overlap + min(chunk, total - start)]
        cond = None
        for k, frames in window_frames(model.cfg.frame_sizes, seg):  # SampleRNN.condition, keeping each output
            cond, states[k] = model.frame_tiers[k](frames, cond, states[k])
            outs[k].append(cond)
        f0 = model.sample_tier.frame_size
        logits.append(model.sample_tier(seg[:, model.overlap - f0 : -1], cond))
        reference, _ = model(seg, model.initial_state(1)) if start == 0 else (None, None)
        if reference is not None and not torch.allclose(reference, logits[-1], atol=1e-6):
            raise UserError(  # the decomposition above is the training forward itself, for finite weights
                "parity check: the model's tiers run one by one disagree with its training forward "
                f"(largest difference {float((reference - logits[-1]).abs().max()):.3g}); please report this"
            )
    return [torch.cat(o, dim=1)[0].numpy() for o in outs], torch.cat(logits, dim=1)[0].numpy(), states


def _frame_and_logit_rows(
    model: SampleRNN,
    engine: Engine,
    x: np.ndarray,
    tier_out: list[np.ndarray],
    logits_ref: np.ndarray,
    states_ref: list,
    report: Report,
    within: Callable[[float, np.ndarray], bool],
) -> tuple[np.ndarray, list]:
    """The frame graphs `engine` runs, one frame per call, states carried, then the shipped sample graph
    teacher forced on their conditioning: adds the rows to report; returns (logits, final states)."""
    cfg = model.cfg
    sizes, f_top, f0 = cfg.frame_sizes, cfg.top_frame_size, cfg.frame_sizes[0]
    states = engine.initial_states(1)
    conds = [np.empty(0)] * len(sizes)  # each set by its tier's first step, before it is read
    got: list[list[np.ndarray]] = [[] for _ in sizes]
    for t in range(f_top, x.shape[1], f0):
        for k, col in tiers_due(sizes, t):
            above = None if col < 0 else conds[k + 1][:, col : col + 1]
            conds[k], states[k] = engine.run_frame(k, x[:, None, t - sizes[k] : t], above, states[k])
            got[k].append(conds[k][0])
    first = model.sample_tier.hidden[0] if len(model.sample_tier.hidden) else model.sample_tier.output
    with torch.inference_mode():
        folded_ref = first(torch.from_numpy(tier_out[0])).numpy()  # tier 0's output through the folded layer
    names = [path.name for path in engine.graph_files[:-1]]
    for k in reversed(range(len(sizes))):
        ref = folded_ref if k == 0 else tier_out[k]
        err = float(np.max(np.abs(np.concatenate(got[k]) - ref)))
        report.rows.append(
            (f"{names[k]} cond_out, T=1 steps{' (first layer folded)' if k == 0 else ''}", err, within(err, ref))
        )
    for k in reversed(range(len(sizes))):
        err = max(float(np.max(np.abs(a - b.numpy()))) for a, b in zip(states[k], states_ref[k]))
        scale = np.concatenate([b.numpy().ravel() for b in states_ref[k]])
        report.rows.append((f"{names[k]} final state vs PyTorch", err, within(err, scale)))
    n = x.shape[1] - f_top
    logits = bundle_logits(engine.bundle.sample.path, x[0, f_top - f0 :], np.concatenate(got[0]).reshape(n, -1), f0)
    err = float(np.max(np.abs(logits - logits_ref)))
    via = "" if names == [g.path.name for g in engine.bundle.frame_graphs] else ", batch frame graphs"
    report.rows.append(
        (f"sample.onnx logits, {n / cfg.sample_rate:.2f} s teacher forced{via}", err, within(err, logits_ref))
    )
    return logits, states


LOGITS_BYTES_PER_COPY = 128 << 20  # float32 logits (window samples x q_levels) per copy the checks hold


def verify_bundle(
    model: SampleRNN,
    bundle: str | Path,
    seconds: float = 2.0,
    audio: np.ndarray | None = None,
    n_generate: int = 4000,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> Report:
    """Run every parity check; log prints the table. Returns the report (report.ok is the verdict).

    With `audio` (real, held-out audio at the model's rate) the report also holds the teacher-forced NLL
    of the checkpoint and of the bundle (report.nll; report.nll_batch through the `batch` frame graphs),
    judged within NLL_TOLERANCE_BITS.
    """
    model = model.eval()
    cfg = model.cfg
    report = Report()
    engine = Engine(bundle, voices=1, seed=seed, provider="cpu")
    report.int8 = engine.bundle.manifest.get("weights", "fp32") != "fp32"
    report.version = engine.bundle.version

    def within(err: float, ref: np.ndarray) -> bool:
        if report.int8:
            return err <= INT8_TOLERANCE * max(float(np.max(np.abs(ref))), 1e-6)
        return err <= TOLERANCE

    nll_audio = audio is not None
    clip = test_signal(seconds, cfg.sample_rate) if audio is None else np.asarray(audio, np.float32)
    wanted = max(int(seconds * cfg.sample_rate), cfg.top_frame_size)
    most = max(cfg.top_frame_size, LOGITS_BYTES_PER_COPY // (4 * cfg.q_levels))
    if wanted > most:  # the logits of the whole window are held, several times over: bounded, so never OOM
        log(
            f"note: parity window shortened to {most} samples ({most / cfg.sample_rate:.3f} s): "
            f"{cfg.q_levels} levels per sample"
        )
    clip = clip[: min(wanted, most)]
    levels = quantize(clip, cfg.q_type, cfg.q_levels)
    levels = levels[: len(levels) - len(levels) % cfg.top_frame_size]
    x = np.concatenate([np.full(cfg.top_frame_size, zero_level(cfg.q_levels), np.int64), levels])[None]
    with parametrize.cached():
        tier_out, logits_ref, states_ref = _torch_tiers(model, torch.from_numpy(x), chunk=16 * cfg.top_frame_size)

    # Frame graphs one frame at a time, states carried: the live path, then the shipped sample graph teacher
    # forced on every sample; again through the `batch` frame graphs, if any, as an engine of several voices.
    sizes, f_top = cfg.frame_sizes, cfg.top_frame_size
    engines = [engine]
    batch_voices = [g.batch_min_voices for g in engine.bundle.frame_graphs if g.batch_path is not None]
    if batch_voices:
        engines.append(Engine(bundle, voices=max(batch_voices), seed=seed, provider="cpu"))
    rows_before, batch_names = 0, []
    for variant in engines:
        if variant is not engine:  # the batch graphs: what fails on this CPU is left out, never refused
            report.left_out += variant.notices
            batch_names = [g.batch_path.name for g in variant.bundle.frame_graphs if g.batch_path is not None]
            if not any(p.name in batch_names for p in variant.graph_files):
                continue  # every batch graph already replaced by its self-check
            rows_before = len(report.rows)
        logits, variant_states = _frame_and_logit_rows(
            model, variant, x, tier_out, logits_ref, states_ref, report, within
        )
        if variant is not engine and not all(ok for _, _, ok in report.rows[rows_before:]):
            failed = [name for name, _, ok in report.rows[rows_before:] if not ok]
            report.left_out += [
                f"{p.name} fails the parity check on this CPU ({failed[0]})"
                for p in variant.graph_files
                if p.name in batch_names
            ]
            report.rows[rows_before:] = [(f"{n}{LEFT_OUT}", e, ok) for n, e, ok in report.rows[rows_before:]]
            continue
        if nll_audio:
            targets = x[0, f_top:]
            nlls = (nll_bits(logits_ref, targets), nll_bits(logits, targets))
            if variant is engine:
                report.nll = nlls
            elif nlls[1] - nlls[0] > NLL_TOLERANCE_BITS:
                report.left_out += [
                    f"{p.name} loses {nlls[1] - nlls[0]:.3f} bits per sample on this CPU (tolerance "
                    f"{NLL_TOLERANCE_BITS})"
                    for p in variant.graph_files
                    if p.name in batch_names
                ]
            else:
                report.nll_batch = nlls
        if variant is engine:
            states = variant_states

    # The priming path (engine.states_after: chunks, or one frame per call) against the T=1 steps above.
    primed = engine.states_after(x[0])
    err = max(float(np.max(np.abs(a - b))) for k in range(len(sizes)) for a, b in zip(primed[k], states[k]))
    report.rows.append(
        (
            "priming path (Engine.states_after) vs T=1 steps",
            err,
            within(err, np.concatenate([a.ravel() for k in range(len(sizes)) for a in states[k]])),
        )
    )

    # Free running, sample for sample.
    if n_generate > 0:
        temps = [1.0, 0.5]
        gen = Engine(bundle, voices=2, seed=seed, provider="cpu")
        for v, t in enumerate(temps):
            gen.set_temperature(t, voice=v)
        ours = gen.generate_levels(n_generate)
        with parametrize.cached():  # weight norm computed once, not per step: same values, faster
            ref = generate_levels(model, n_generate, temps, seed=seed)
        report.matched = int(np.sum(np.all(ours == ref, axis=0)))
        first_diff = np.nonzero(np.any(ours != ref, axis=0))[0]
        report.compared = n_generate
        if len(first_diff):
            report.matched = int(first_diff[0])  # samples equal before the first divergence
    for line in report.lines():
        log(line)
    return report
