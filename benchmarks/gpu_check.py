"""The GPU checks behind benchmarks/gpu.sh: CUDA parity against the CPU engine, RTF of prism and live for
several voice counts, and CUDA graphs on the sample graph; prints and writes a markdown table.

    python benchmarks/gpu_check.py --out benchmarks/gpu_results.md
    python benchmarks/gpu_check.py --quick        # a smoke run (1 s of audio; what CI runs on a CPU)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from rt_samplernn.config import model_config_from_preset
from rt_samplernn.errors import UserError
from rt_samplernn.export.onnx_export import export_bundle
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.stepper import session_options
from rt_samplernn.model import SampleRNN


def has_cuda(bundle: Path | None = None) -> bool:
    """CUDA that starts: onnxruntime-gpu lists the provider even where its libraries or the GPU are missing."""
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    if bundle is None:
        return True
    try:
        return Engine(bundle, provider="cuda").provider == "cuda"
    except UserError:
        return False


def parity(bundle: Path, provider: str, n: int = 4000) -> str:
    """Samples equal between the CUDA and the CPU engine (same seed), before the first divergence."""
    cpu = Engine(bundle, voices=2, seed=3, provider="cpu").generate_levels(n)
    dev = Engine(bundle, voices=2, seed=3, provider=provider).generate_levels(n)
    diff = np.nonzero(np.any(cpu != dev, axis=0))[0]
    return f"{n if not len(diff) else int(diff[0])}/{n} samples equal"


def rtf(bundle: Path, voices: int, provider: str, seconds: float, repeats: int = 3) -> float:
    engine = Engine(bundle, voices=voices, seed=0, provider=provider)
    n = int(seconds * engine.sample_rate)
    engine.generate(n // 4)
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        engine.generate(n)
        runs.append(seconds / (time.perf_counter() - t))
    return statistics.median(runs)


def cuda_graph_sample(bundle: Path, voices: int, calls: int = 300) -> str:
    """us per sample-graph call with inputs and output bound on the device, with and without CUDA graphs."""
    if not has_cuda(bundle):
        return "no CUDA here"
    spec = Engine(bundle, voices=1, provider="cpu").bundle
    f0, q = spec.config.frame_sizes[0], spec.config.q_levels
    s_dim = spec.sample.inputs[1]["shape"][2]
    rng = np.random.default_rng(0)
    feeds = dict(
        prev=rng.integers(0, q, (voices, f0)),
        cond=rng.standard_normal((voices, f0, s_dim)).astype(np.float32),
        noise=rng.gumbel(size=(voices, f0, q)).astype(np.float32),
        temperature=np.ones(voices, np.float32),
    )
    out = {}
    for graphs in (False, True):
        try:
            opts = {"enable_cuda_graph": "1" if graphs else "0"}
            sess = ort.InferenceSession(
                str(spec.sample.path), session_options(1), providers=[("CUDAExecutionProvider", opts)]
            )
            io = sess.io_binding()
            values = {k: ort.OrtValue.ortvalue_from_numpy(v, "cuda", 0) for k, v in feeds.items()}
            for k, v in values.items():
                io.bind_ortvalue_input(k, v)
            result = ort.OrtValue.ortvalue_from_shape_and_type((voices, f0), np.int64, "cuda", 0)
            io.bind_ortvalue_output("samples", result)
            for _ in range(3):
                sess.run_with_iobinding(io)
            t = time.perf_counter()
            for _ in range(calls):
                sess.run_with_iobinding(io)
            io.synchronize_outputs()
            out[graphs] = f"{(time.perf_counter() - t) / calls * 1e6:.0f} us"
        except Exception as e:  # onnxruntime refuses CUDA graphs for graphs with CPU nodes: say so
            out[graphs] = f"failed ({str(e).splitlines()[0][:80]})"
    return f"plain {out[False]}, CUDA graph {out[True]}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, help="write the table here (markdown)")
    p.add_argument("--quick", action="store_true", help="1 s of audio per point, fewer voices: a smoke run")
    args = p.parse_args(argv)
    provider = "cpu"
    seconds = 1.0 if args.quick else 3.0
    plan = {"live": [1, 64], "prism": [1, 32]} if not args.quick else {"live": [1, 4]}
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "CPU"
    lines = [
        f"GPU check: {device}, provider {provider}, onnxruntime {ort.__version__}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "| preset | voices | RTF each (CUDA) | RTF each (CPU, 1 thread) | parity CUDA vs CPU | sample graph, 1 call |",
        "|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for preset, voice_counts in plan.items():
            torch.manual_seed(0)
            model = SampleRNN(model_config_from_preset(preset)).eval()
            bundle = Path(tmp) / preset
            export_bundle(model, bundle)  # fp32: the GPU's kernels, no int8 contrib op needed
            if provider == "cpu" and has_cuda(bundle):
                provider = "cuda"
                lines[0] = lines[0].replace("provider cpu", "provider cuda")
            check = parity(bundle, provider, 800 if args.quick else 4000)
            for voices in voice_counts:
                dev = rtf(bundle, voices, provider, seconds)
                cpu = rtf(bundle, voices, "cpu", min(seconds, 1.0), 1) if voices <= 4 else float("nan")
                graph = cuda_graph_sample(bundle, voices)
                lines.append(f"| {preset} | {voices} | {dev:.2f}x | {cpu:.2f}x | {check} | {graph} |")
                print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
