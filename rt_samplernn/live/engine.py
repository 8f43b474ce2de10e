"""The live engine: a bundle's ONNX step graphs under onnxruntime, generating audio for N voices (torch-free).

It follows the generation timeline of docs/CONTRACTS.md, so with the same seed, temperatures and priming it
draws the same samples as the PyTorch reference generator (rt_samplernn.generate). Per F0 samples it makes
one sample-graph call (an in-graph loop over the frame) plus the frame-tier calls due at that position; the
voices are the batch. Noise is drawn from one seeded numpy stream in chunks, into a preallocated buffer.

Threads: `generate()` runs on one producer thread. `set_temperature`, `set_gain`, `prime` and `reset` may
be called from any other thread: they build new values off to the side and publish them with one reference
assignment; `generate()` picks them up at its next call. Nothing here takes a lock the producer could wait on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from rt_samplernn.audio import to_model_audio
from rt_samplernn.config import ModelConfig
from rt_samplernn.errors import UserError
from rt_samplernn.live.bundle import Bundle, GraphSpec, check_graph_io, load_bundle
from rt_samplernn.quantize import dequantize_table, quantize, zero_level
from rt_samplernn.sampling import gumbel_noise, noise_rng

PROVIDERS = ("auto", "cpu", "cuda")
NOISE_CHUNK_BLOCKS = 64  # noise drawn ahead, in sample-graph calls
MIN_TEMPERATURE = 1e-3

ort.set_default_logger_severity(3)  # onnxruntime-gpu on a machine without CUDA logs an error per session


def available_providers() -> list[str]:
    return list(ort.get_available_providers())


def session_options(threads: int) -> ort.SessionOptions:
    """CPU session options for a small-batch recurrent loop: no thread pools to wake, every optimization on."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = max(1, int(threads))
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if threads > 1 else "0")
    so.log_severity_level = 3
    return so


def _make_session(spec: GraphSpec, provider: str, threads: int) -> ort.InferenceSession:
    providers: list = ["CPUExecutionProvider"]
    if provider == "cuda":
        providers = [("CUDAExecutionProvider", {"do_copy_in_default_stream": "1"}), "CPUExecutionProvider"]
    if provider == "cuda":  # a missing CUDA library is logged at error level; we report it ourselves
        ort.set_default_logger_severity(4)
    try:
        session = ort.InferenceSession(str(spec.path), session_options(threads), providers=providers)
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph/... types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{spec.path}: onnxruntime cannot load this graph ({first[:200]})") from None
    finally:
        ort.set_default_logger_severity(3)
    check_graph_io(spec, session.get_inputs(), session.get_outputs())
    return session


@dataclass
class _Snapshot:
    """Everything that changes on reset/prime: published to the producer with one assignment."""

    states: list[list[np.ndarray]]  # per frame tier, per state: (layers, voices, dim)
    history: np.ndarray  # (voices, F_top) int64, the last top frame of levels
    seed: int


class Engine:
    """SampleRNN generation from a bundle. See docs/CONTRACTS.md for the API and the timeline.

    Parameters
    ----------
    bundle : bundle directory (model.json + graphs) or a loaded Bundle
    voices : independent streams, batched in every graph call
    seed : seed of the Gumbel noise stream (rt_samplernn.sampling.noise_rng)
    provider : "auto" (CUDA where it works, else CPU), "cpu" or "cuda"
    threads : onnxruntime intra-op threads (CPU)
    """

    def __init__(self, bundle: str | Path | Bundle, voices: int = 1, seed: int = 0, provider: str = "auto",
                 threads: int = 1):
        if voices < 1:
            raise UserError(f"voices must be at least 1, got {voices}")
        if provider not in PROVIDERS:
            raise UserError(f"provider {provider!r} is not one of {', '.join(PROVIDERS)}")
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        cfg = self.bundle.config
        self.config: ModelConfig = cfg
        self.sample_rate: int = cfg.sample_rate
        self.voices: int = int(voices)
        has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
        if provider == "cuda" and not has_cuda:
            raise UserError("provider 'cuda': this onnxruntime has no CUDA provider; use --provider cpu")
        self.provider = "cuda" if (provider == "cuda" or (provider == "auto" and has_cuda)) else "cpu"
        self.threads = int(threads)
        self._frames = [_make_session(g, self.provider, threads) for g in self.bundle.frame_graphs]
        self._sample = _make_session(self.bundle.sample, self.provider, threads)
        on_cuda = all("CUDAExecutionProvider" in x.get_providers() for x in (*self._frames, self._sample))
        if self.provider == "cuda" and not on_cuda:
            if provider == "cuda":
                raise UserError("provider 'cuda': onnxruntime could not start CUDA here (CUDA/cuDNN libraries "
                                "missing or no GPU); use --provider cpu")
            self.provider = "cpu"  # auto: onnxruntime fell back to the CPU
        self._frame_out = [g.output_names() for g in self.bundle.frame_graphs]
        self._state_in = [[s.input for s in g.states] for g in self.bundle.frame_graphs]
        self.f0 = cfg.frame_sizes[0]
        self.f_top = cfg.top_frame_size
        self.q_levels = cfg.q_levels
        self._dequant = dequantize_table(cfg.q_type, cfg.q_levels)
        self._schedule = self._make_schedule()
        v, f_top = self.voices, self.f_top
        # Work buffers, allocated once: levels of the previous and the current top frame, noise ahead.
        self._buf = np.full((v, 2 * f_top), zero_level(self.q_levels), dtype=np.int64)
        self._noise = np.empty((NOISE_CHUNK_BLOCKS, v, self.f0, self.q_levels), dtype=np.float32)
        self._noise_used = len(self._noise)
        self._pos = 0  # position inside the current top frame, a multiple of F0
        self._spare = np.empty((v, self.f0), dtype=np.int64)  # drawn but not yet returned levels
        self._spare_start = self.f0
        self._conds: list[np.ndarray | None] = [None] * len(self._frames)
        self._temps = np.ones(v, dtype=np.float32)
        self._gain = 1.0
        self._prime_lock = threading.Lock()  # serializes prime/reset callers; generate() never takes it
        self._param_lock = threading.Lock()  # serializes parameter writers; generate() never takes it
        self._pending: _Snapshot | None = None
        self._applied: _Snapshot | None = None
        self._states: list[list[np.ndarray]] = []
        self._rng = noise_rng(seed)
        self.seed = int(seed)
        self._cuda = self.provider == "cuda"
        self._install(self._initial_snapshot(int(seed)))

    # -------------------------------------------------------------------------------------------------
    # Live parameters (any thread)
    # -------------------------------------------------------------------------------------------------

    @property
    def temperatures(self) -> np.ndarray:
        return self._temps.copy()

    def set_temperature(self, value: float, voice: int | None = None) -> None:
        """Sampling temperature (> 0; lower is more conservative) of one voice, or of all when voice is None."""
        value = float(value)
        if not np.isfinite(value) or value <= 0:
            raise UserError(f"temperature must be a positive number, got {value}")
        if voice is not None and not 0 <= voice < self.voices:
            raise UserError(f"voice {voice} does not exist; this engine has voices 0..{self.voices - 1}")
        with self._param_lock:  # writers only: copy, change, publish
            temps = self._temps.copy()
            temps[slice(None) if voice is None else voice] = max(value, MIN_TEMPERATURE)
            self._temps = temps  # one reference assignment: the producer sees the old or the new array

    @property
    def gain(self) -> float:
        return self._gain

    def set_gain(self, gain: float) -> None:
        gain = float(gain)
        if not np.isfinite(gain) or gain < 0:
            raise UserError(f"gain must be a non-negative number, got {gain}")
        self._gain = gain

    def reset(self, seed: int | None = None) -> None:
        """Back to the initial state (silence history) and the start of the noise stream of seed (or the current one)."""
        with self._prime_lock:
            self._pending = self._initial_snapshot(self.seed if seed is None else int(seed))

    def prime(self, audio: np.ndarray, rate: int, seed: int | None = None) -> None:
        """Warm every frame tier over a seed clip (any rate, mono or (frames, channels)); restarts the noise
        stream of seed (or the current one: the same clip then replays the same samples).

        Runs on the calling thread; the new state is swapped in at the start of the next generate() call.
        """
        cfg = self.config
        levels = quantize(to_model_audio(audio, rate, cfg.sample_rate), cfg.q_type, cfg.q_levels)
        pad = (-len(levels)) % self.f_top
        zl = zero_level(cfg.q_levels)
        history = np.concatenate([np.full(self.f_top + pad, zl, dtype=np.int64), levels.astype(np.int64)])
        with self._prime_lock:
            states = self._initial_states(1)
            cond = None
            length = len(history) - self.f_top
            if length > 0:
                for k in reversed(range(len(self._frames))):
                    size = cfg.frame_sizes[k]
                    start = self.f_top - size
                    frames = history[start : start + length].reshape(1, length // size, size)
                    cond, states[k] = self._run_frame(k, frames, cond, states[k])
            tiled = [[np.ascontiguousarray(np.repeat(s, self.voices, axis=1)) for s in tier] for tier in states]
            tail = np.ascontiguousarray(np.broadcast_to(history[-self.f_top :], (self.voices, self.f_top)))
            self._pending = _Snapshot(tiled, tail, self.seed if seed is None else int(seed))

    # -------------------------------------------------------------------------------------------------
    # Generation (the producer thread)
    # -------------------------------------------------------------------------------------------------

    def generate(self, n: int, out: np.ndarray | None = None, apply_gain: bool = True) -> np.ndarray:
        """(voices, n) float32 audio in [-1, 1], gain applied unless ``apply_gain`` is False (the player
        applies it itself, after its watchdog has heard the model's own output). `out`: filled and returned."""
        levels = self.generate_levels(n)
        audio = self._dequant[levels] if out is None else np.take(self._dequant, levels, out=out)
        gain = self._gain if apply_gain else 1.0
        if gain != 1.0:
            audio *= np.float32(gain)
        return audio

    def generate_levels(self, n: int) -> np.ndarray:
        """(voices, n) int64 levels: the samples before dequantization."""
        pending = self._pending
        if pending is not None and pending is not self._applied:
            self._install(pending)
        out = np.empty((self.voices, n), dtype=np.int64)
        done = 0
        if self._spare_start < self.f0:
            take = min(n, self.f0 - self._spare_start)
            out[:, :take] = self._spare[:, self._spare_start : self._spare_start + take]
            self._spare_start += take
            done = take
        f0 = self.f0
        while done < n:
            block = self._block()
            take = min(f0, n - done)
            out[:, done : done + take] = block[:, :take]
            if take < f0:
                self._spare[:] = block
                self._spare_start = take
            done += take
        return out

    def _block(self) -> np.ndarray:
        """Generate the next F0 samples of every voice; returns a (voices, F0) view into the history buffer."""
        f_top, pos = self.f_top, self._pos
        buf = self._buf
        run_frame = self._run_frame_cuda if self._cuda else self._run_frame
        for k, (size, col) in self._schedule[pos // self.f0]:
            above = None if col < 0 else self._conds[k + 1][:, col : col + 1]
            frames = buf[:, f_top + pos - size : f_top + pos][:, None, :]
            self._conds[k], self._states[k] = run_frame(k, frames, above, self._states[k])
        if self._noise_used == len(self._noise):
            self._draw_noise()
        noise = self._noise[self._noise_used]
        self._noise_used += 1
        prev = buf[:, f_top + pos - self.f0 : f_top + pos]
        if self._cuda:
            samples = self._run_sample_cuda(prev, noise)
        else:
            samples = self._sample.run(None, {"prev": prev, "cond": self._conds[0], "noise": noise,
                                              "temperature": self._temps})[0]
        end = pos + self.f0
        buf[:, f_top + pos : f_top + end] = samples
        if end == f_top:
            buf[:, :f_top] = buf[:, f_top:]
            end = 0
        self._pos = end
        return samples

    def _run_frame(self, k: int, frames: np.ndarray, cond: np.ndarray | None,
                   state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        feeds = {"frames": frames}
        if cond is not None:
            feeds["cond"] = cond
        for name, value in zip(self._state_in[k], state):
            feeds[name] = value
        outs = self._frames[k].run(self._frame_out[k], feeds)
        return outs[0], outs[1:]

    # CUDA: RNN states and the finest tier's conditioning stay on the device between calls (IOBinding);
    # only the small per-call inputs (frames, noise, temperatures) go up and the drawn samples come down.
    # The conditioning of coarser tiers comes down to be sliced per position (ratio x dim floats per call).

    def _run_frame_cuda(self, k: int, frames: np.ndarray, cond: np.ndarray | None,
                        state: list) -> tuple[object, list]:
        session = self._frames[k]
        io = session.io_binding()
        io.bind_cpu_input("frames", np.ascontiguousarray(frames))
        if cond is not None:
            io.bind_cpu_input("cond", np.ascontiguousarray(cond))
        for name, value in zip(self._state_in[k], state):
            io.bind_ortvalue_input(name, value)
        names = self._frame_out[k]
        io.bind_output(names[0], "cuda" if k == 0 else "cpu")
        for name in names[1:]:
            io.bind_output(name, "cuda")
        session.run_with_iobinding(io)
        outs = io.get_outputs()
        return (outs[0] if k == 0 else outs[0].numpy()), list(outs[1:])

    def _run_sample_cuda(self, prev: np.ndarray, noise: np.ndarray) -> np.ndarray:
        io = self._sample.io_binding()
        io.bind_cpu_input("prev", np.ascontiguousarray(prev))
        io.bind_ortvalue_input("cond", self._conds[0])
        io.bind_cpu_input("noise", noise)
        io.bind_cpu_input("temperature", self._temps)
        io.bind_output("samples", "cpu")
        self._sample.run_with_iobinding(io)
        return io.get_outputs()[0].numpy()

    def _draw_noise(self) -> None:
        """Gumbel noise for the next len(self._noise) calls, the same values as one gumbel_noise draw per block."""
        gumbel_noise(self._rng, self._noise.shape, out=self._noise)
        self._noise_used = 0

    # -------------------------------------------------------------------------------------------------
    # State
    # -------------------------------------------------------------------------------------------------

    def _make_schedule(self) -> list[list[tuple[int, tuple[int, int]]]]:
        """For each F0 block of a top frame: the frame tiers due there, coarse to fine, with (size, cond column)."""
        sizes = self.config.frame_sizes
        schedule = []
        for pos in range(0, self.f_top, self.f0):
            due = []
            for k in reversed(range(len(sizes))):
                if pos % sizes[k] == 0:
                    col = -1 if k == len(sizes) - 1 else (pos % sizes[k + 1]) // sizes[k]
                    due.append((k, (sizes[k], col)))
            schedule.append(due)
        return schedule

    def _initial_states(self, voices: int) -> list[list[np.ndarray]]:
        return [[s.initial_for(voices) for s in g.states] for g in self.bundle.frame_graphs]

    def _initial_snapshot(self, seed: int) -> _Snapshot:
        tail = np.full((self.voices, self.f_top), zero_level(self.q_levels), dtype=np.int64)
        return _Snapshot(self._initial_states(self.voices), tail, seed)

    def _install(self, snap: _Snapshot) -> None:
        """Producer side: adopt a reset/primed state at a top-frame boundary, restart the noise stream."""
        self._applied = snap
        if self._cuda:
            self._states = [[ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(x), "cuda", 0) for x in s]
                            for s in snap.states]
        else:
            self._states = [list(s) for s in snap.states]
        self._buf[:, : self.f_top] = snap.history
        self._pos = 0
        self._conds = [None] * len(self._frames)
        self._spare_start = self.f0
        self.seed = snap.seed
        self._rng = noise_rng(snap.seed)
        self._noise_used = len(self._noise)
