"""The live engine: a bundle's ONNX step graphs under onnxruntime, generating audio for N voices (torch-free).

It follows the timeline of rt_samplernn.schedule, so with the same seed, temperatures and priming it draws
the same samples as the PyTorch reference generator (rt_samplernn.generate). Per F0 samples it makes one
sample-graph call plus the frame-tier calls due at that position; the voices are the batch. Every call
runs on buffers allocated once (onnxruntime IO binding, on the CPU too): the RNN states ping-pong between
two bound buffers, each tier's conditioning stays in its bound output, and the Gumbel noise is drawn from
one seeded numpy stream in chunks into a preallocated buffer.

Threads: `generate()` runs on one producer thread. `set_temperature`, `set_gain`, `prime` and `reset` may
be called from any other thread: they build new values off to the side and publish them with one reference
assignment; `generate()` picks them up at its next call. Nothing here takes a lock the producer could wait on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from rt_samplernn.audio import Clip, as_clip
from rt_samplernn.config import ModelConfig
from rt_samplernn.errors import UserError
from rt_samplernn.live.bundle import Bundle, GraphSpec, check_graph_io, load_bundle
from rt_samplernn.quantize import dequantize_table, zero_level
from rt_samplernn.sampling import gumbel_noise, noise_rng
from rt_samplernn.schedule import PrimingHistory, block_schedule, tiers_due

PROVIDERS = ("auto", "cpu", "cuda")
NOISE_CHUNK_BLOCKS = 64  # noise drawn ahead, in sample-graph calls
MIN_TEMPERATURE = 1e-3

ort.set_default_logger_severity(3)  # onnxruntime-gpu on a machine without CUDA logs an error per session

States = list[list[np.ndarray]]  # per frame tier, per state: (layers, voices, dim) float32


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


def _make_session(spec: GraphSpec, provider: str, threads: int, voices: int = 1) -> ort.InferenceSession:
    providers: list[str | tuple[str, dict[str, str]]] = ["CPUExecutionProvider"]
    if provider == "cuda":
        providers = [("CUDAExecutionProvider", {"do_copy_in_default_stream": "1"}), "CPUExecutionProvider"]
    if provider == "cuda":  # a missing CUDA library is logged at error level; we report it ourselves
        ort.set_default_logger_severity(4)
    try:
        session = ort.InferenceSession(str(spec.path_for(voices)), session_options(threads), providers=providers)
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph/... types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{spec.path_for(voices)}: onnxruntime cannot load this graph ({first[:200]})") from None
    finally:
        ort.set_default_logger_severity(3)
    check_graph_io(spec, session.get_inputs(), session.get_outputs())
    return session


class _Stepper:
    """Bound buffers and IO bindings for one frame (T = 1) per call of every graph, for `voices` voices.

    Frame tier k reads frames_in[k] (and cond_in[k]), its state from one of two buffers and writes the
    other (`parity` says which holds the current state), and writes cond_out[k]. The sample graph reads
    prev_in, cond_out[0], a noise block and temps_in, and writes samples_out. On CUDA the states and the
    finest conditioning live on the device; everything here is allocated once.
    """

    def __init__(self, engine: Engine, voices: int, device: str):
        bundle, cfg = engine.bundle, engine.config
        self.frames_sessions, self.sample_session = engine._frames, engine._sample
        v = voices
        self.frames_in = [np.zeros((v, 1, g.frame_size), np.int64) for g in bundle.frame_graphs]
        self.cond_in: list[np.ndarray] = []  # empty for the top tier, which has no conditioning input
        self.cond_out: list[np.ndarray] = []
        self.states: list[list[list[ort.OrtValue]]] = []  # [tier][parity][state]
        self.bindings: list[list[ort.IOBinding]] = []  # [tier][parity]
        self.parity = [0] * len(bundle.frame_graphs)
        on_device = device != "cpu"
        for k, g in enumerate(bundle.frame_graphs):
            shapes = {i["name"]: i["shape"] for i in g.inputs}
            has_cond = "cond" in shapes
            self.cond_in.append(np.zeros((v, 1, cfg.dim if has_cond else 0), np.float32))
            out_dim = g.outputs[0]["shape"][2]
            self.cond_out.append(np.zeros((v, g.ratio, out_dim), np.float32))
            pair = []
            for _ in range(2):
                pair.append(
                    [
                        ort.OrtValue.ortvalue_from_shape_and_type(
                            (cfg.rnn_layers, v, cfg.dim), np.float32, device if on_device else "cpu", 0
                        )
                        for _ in g.states
                    ]
                )
            self.states.append(pair)
            bindings = []
            for parity in range(2):
                io = self.frames_sessions[k].io_binding()
                io.bind_ortvalue_input("frames", ort.OrtValue.ortvalue_from_numpy(self.frames_in[k]))
                if has_cond:
                    io.bind_ortvalue_input("cond", ort.OrtValue.ortvalue_from_numpy(self.cond_in[k]))
                for spec, cur, new in zip(g.states, pair[parity], pair[1 - parity]):
                    io.bind_ortvalue_input(spec.input, cur)
                    io.bind_ortvalue_output(spec.output, new)
                if k == 0 and on_device:
                    io.bind_output("cond_out", device)  # stays on the device for the sample graph
                else:
                    io.bind_ortvalue_output("cond_out", ort.OrtValue.ortvalue_from_numpy(self.cond_out[k]))
                bindings.append(io)
            self.bindings.append(bindings)
        f0, q = cfg.frame_sizes[0], cfg.q_levels
        self.prev_in = np.zeros((v, f0), np.int64)
        self.temps_in = np.ones(v, np.float32)
        self.samples_out = np.zeros((v, f0), np.int64)
        self.noise = np.empty((NOISE_CHUNK_BLOCKS, v, f0, q), np.float32)
        self._noise_values = [ort.OrtValue.ortvalue_from_numpy(self.noise[i]) for i in range(NOISE_CHUNK_BLOCKS)]
        io = self.sample_session.io_binding()
        io.bind_ortvalue_input("prev", ort.OrtValue.ortvalue_from_numpy(self.prev_in))
        if not on_device:
            io.bind_ortvalue_input("cond", ort.OrtValue.ortvalue_from_numpy(self.cond_out[0]))
        io.bind_ortvalue_input("temperature", ort.OrtValue.ortvalue_from_numpy(self.temps_in))
        io.bind_ortvalue_output("samples", ort.OrtValue.ortvalue_from_numpy(self.samples_out))
        self.sample_binding = io
        self.on_device = on_device

    def set_states(self, states: States) -> None:
        """Load host states (per tier, per state: (layers, voices, dim)) as the current ones."""
        for k, tier in enumerate(states):
            self.parity[k] = 0
            for value, x in zip(self.states[k][0], tier):
                value.update_inplace(np.ascontiguousarray(x, np.float32))

    def get_states(self) -> States:
        return [[v.numpy() for v in self.states[k][self.parity[k]]] for k in range(len(self.states))]

    def run_frame(self, k: int) -> None:
        """One step of frame tier k on frames_in[k] (and cond_in[k]); flips its state buffers."""
        parity = self.parity[k]
        self.frames_sessions[k].run_with_iobinding(self.bindings[k][parity])
        self.parity[k] = 1 - parity

    def run_sample(self, noise_block: int) -> None:
        io = self.sample_binding
        io.bind_ortvalue_input("noise", self._noise_values[noise_block])
        if self.on_device:  # the finest conditioning, on the device, from tier 0's binding that just ran
            io.bind_ortvalue_input("cond", self.bindings[0][1 - self.parity[0]].get_outputs()[0])
        self.sample_session.run_with_iobinding(io)


@dataclass
class _Snapshot:
    """Everything that changes on reset/prime: published to the producer with one assignment."""

    states: States  # per frame tier, per state: (layers, voices, dim)
    history: np.ndarray  # (voices, F_top) int64, the last top frame of levels
    seed: int


class Engine:
    """SampleRNN generation from a bundle, following the timeline of rt_samplernn.schedule.

        engine = Engine("my-bundle", voices=2, seed=1)
        engine.generate(n)                   # (voices, n) float32 in [-1, 1], gain applied; continues across calls
        engine.set_temperature(0.9, voice=None); engine.temperatures    # thread-safe; None = every voice
        engine.set_gain(0.5); engine.gain                               # thread-safe
        engine.prime(audio, rate, seed=None) # thread-safe: new states computed off to the side, swapped in before
                                             # the next block; restarts the noise stream (default: the engine's seed)
        engine.reset(seed=None)              # back to the initial state, same swap-in rule
        engine.initial_states(voices), engine.run_frame(k, ...), engine.states_after(history)
                                             # one tier step / priming states, for hosts and the parity check

    Parameters
    ----------
    bundle : bundle directory (model.json + graphs) or a loaded Bundle
    voices : independent streams, batched in every graph call
    seed : seed of the Gumbel noise stream (rt_samplernn.sampling.noise_rng)
    provider : "auto" (CUDA where it works, else CPU), "cpu" or "cuda"
    threads : onnxruntime intra-op threads (CPU)
    """

    def __init__(
        self, bundle: str | Path | Bundle, voices: int = 1, seed: int = 0, provider: str = "auto", threads: int = 1
    ):
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
        self._frames = self._frame_sessions()
        self._sample = _make_session(self.bundle.sample, self.provider, threads)
        on_cuda = all("CUDAExecutionProvider" in x.get_providers() for x in (*self._frames, self._sample))
        if self.provider == "cuda" and not on_cuda:
            if provider == "cuda":
                raise UserError(
                    "provider 'cuda': onnxruntime could not start CUDA here (CUDA/cuDNN libraries "
                    "missing or no GPU); use --provider cpu"
                )
            self.provider = "cpu"  # auto: onnxruntime fell back to the CPU
            if any(g.path_for(self.voices) != g.path for g in self.bundle.frame_graphs):
                self._frames = self._frame_sessions()  # the CPU's pick of frame graphs
        self._frame_out = [g.output_names() for g in self.bundle.frame_graphs]
        self._state_in = [[s.input for s in g.states] for g in self.bundle.frame_graphs]
        self.f0 = cfg.frame_sizes[0]
        self.f_top = cfg.top_frame_size
        self.q_levels = cfg.q_levels
        self._dequant = dequantize_table(cfg.q_type, cfg.q_levels)
        self._schedule = block_schedule(cfg.frame_sizes)
        self._device = "cuda" if self.provider == "cuda" else "cpu"
        self._run = _Stepper(self, self.voices, self._device)
        v, f_top = self.voices, self.f_top
        # Levels of the previous and the current top frame; drawn but not yet returned levels.
        self._buf = np.full((v, 2 * f_top), zero_level(self.q_levels), dtype=np.int64)
        self._noise_used = NOISE_CHUNK_BLOCKS
        self._pos = 0  # position inside the current top frame, a multiple of F0
        self._spare = np.empty((v, self.f0), dtype=np.int64)
        self._levels = np.empty((v, 0), dtype=np.int64)  # generate()'s levels, reused while n stays the same
        self._spare_start = self.f0
        self._temps = np.ones(v, dtype=np.float32)
        self._temps_bound: np.ndarray | None = None
        self._gain = 1.0
        self._prime_lock = threading.Lock()  # serializes prime/reset callers; generate() never takes it
        self._param_lock = threading.Lock()  # serializes parameter writers; generate() never takes it
        self._pending: _Snapshot | None = None
        self._applied: _Snapshot | None = None
        self._rng = noise_rng(seed)
        self.seed = int(seed)
        self._install(self._initial_snapshot(int(seed)))

    def _frame_sessions(self) -> list[ort.InferenceSession]:
        """One session per frame graph; on the CPU, the graphs' `batch` variants from their min_voices on
        (measured on CPUs only, so CUDA runs the plain files)."""
        voices = self.voices if self.provider == "cpu" else 1
        return [_make_session(g, self.provider, self.threads, voices) for g in self.bundle.frame_graphs]

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

    def prime(
        self,
        audio: np.ndarray | Clip | PrimingHistory,
        rate: int | None = None,
        seed: int | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        """Warm every frame tier over a seed clip (an array at `rate`, any rate, mono or (frames, channels);
        an audio.FileClip/ArrayClip; or levels as a schedule.PrimingHistory); restarts the noise stream of
        seed (or the current one: the same clip then replays the same samples).

        Runs on the calling thread; the clip is read, resampled and quantized block by block as the frame
        tiers consume it (schedule.PrimingHistory), so memory does not grow with the clip; `progress`, if
        given, is called with the fraction done. The new state is swapped in at the next generate() call.
        """
        history = (
            audio if isinstance(audio, PrimingHistory) else PrimingHistory.from_clip(self.config, as_clip(audio, rate))
        )
        with self._prime_lock:
            states, last = self._states_and_tail(history, progress)
            tiled = [[np.ascontiguousarray(np.repeat(s, self.voices, axis=1)) for s in tier] for tier in states]
            tail = np.ascontiguousarray(np.broadcast_to(last, (self.voices, self.f_top)))
            self._pending = _Snapshot(tiled, tail, self.seed if seed is None else int(seed))

    # -------------------------------------------------------------------------------------------------
    # Generation (the producer thread)
    # -------------------------------------------------------------------------------------------------

    def generate(self, n: int, out: np.ndarray | None = None, apply_gain: bool = True) -> np.ndarray:
        """(voices, n) float32 audio in [-1, 1], gain applied unless ``apply_gain`` is False (the player
        applies it itself, after its watchdog has heard the model's own output). `out`: filled and returned."""
        if self._levels.shape[1] != n:  # the player asks for the same n every block: allocated once
            self._levels = np.empty((self.voices, n), dtype=np.int64)
        levels = self._fill_levels(self._levels)
        audio = self._dequant[levels] if out is None else np.take(self._dequant, levels, out=out)
        gain = self._gain if apply_gain else 1.0
        if gain != 1.0:
            audio *= np.float32(gain)
        return audio

    def generate_levels(self, n: int) -> np.ndarray:
        """(voices, n) int64 levels: the samples before dequantization (a new array)."""
        return self._fill_levels(np.empty((self.voices, n), dtype=np.int64))

    def _fill_levels(self, out: np.ndarray) -> np.ndarray:
        """Fill out (voices, n) with the next n levels of every voice and return it."""
        n = out.shape[1]
        pending = self._pending
        if pending is not None and pending is not self._applied:
            self._install(pending)
        temps = self._temps
        if temps is not self._temps_bound:
            self._run.temps_in[:] = temps
            self._temps_bound = temps
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
        """Generate the next F0 samples of every voice; returns the bound (voices, F0) output (valid until the next call)."""
        f_top, pos, f0 = self.f_top, self._pos, self.f0
        buf, run = self._buf, self._run
        for k, col in self._schedule[pos // f0]:
            size = self.config.frame_sizes[k]
            run.frames_in[k][:, 0] = buf[:, f_top + pos - size : f_top + pos]
            if col >= 0:
                run.cond_in[k][:, 0] = run.cond_out[k + 1][:, col]
            run.run_frame(k)
        if self._noise_used == NOISE_CHUNK_BLOCKS:
            gumbel_noise(self._rng, run.noise.shape, out=run.noise)  # the same values as one draw per block
            self._noise_used = 0
        run.prev_in[:] = buf[:, f_top + pos - f0 : f_top + pos]
        run.run_sample(self._noise_used)
        self._noise_used += 1
        end = pos + f0
        buf[:, f_top + pos : f_top + end] = run.samples_out
        if end == f_top:
            buf[:, :f_top] = buf[:, f_top:]
            end = 0
        self._pos = end
        return run.samples_out

    def wrap_sessions(self, wrap: Callable[[object, str], object]) -> Callable[[], None]:
        """Route the producer's graph calls through wrap(session, graph file name) (e.g. to time each call);
        returns a function that undoes it. For benchmarks: call between generate() calls."""
        run = self._run
        frames, sample = run.frames_sessions, run.sample_session
        names = [g.path.name for g in self.bundle.frame_graphs]
        run.frames_sessions = [wrap(s, name) for s, name in zip(frames, names)]
        run.sample_session = wrap(sample, self.bundle.sample.path.name)

        def undo() -> None:
            run.frames_sessions, run.sample_session = frames, sample

        return undo

    # -------------------------------------------------------------------------------------------------
    # State (public for hosts and for the exporter's parity check)
    # -------------------------------------------------------------------------------------------------

    def initial_states(self, voices: int) -> States:
        """The bundle's initial RNN states for `voices` voices."""
        return [[s.initial_for(voices) for s in g.states] for g in self.bundle.frame_graphs]

    def run_frame(
        self, k: int, frames: np.ndarray, cond: np.ndarray | None, states: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """One call of frame graph k: frames (voices, T, F) int64 (T = 1 for version 2 bundles), cond
        (voices, T, D) or None for the top tier, its states -> (cond_out (voices, T * ratio, out), new states).

        A plain, allocating call for checks and priming; generate() uses bound buffers instead.
        """
        feeds = {"frames": np.ascontiguousarray(frames, np.int64)}
        if cond is not None:
            feeds["cond"] = np.ascontiguousarray(cond, np.float32)
        for name, value in zip(self._state_in[k], states):
            feeds[name] = value
        outs = self._frames[k].run(self._frame_out[k], feeds)
        return outs[0], outs[1:]

    def states_after(
        self, history: np.ndarray | PrimingHistory, progress: Callable[[float], None] | None = None
    ) -> States:
        """States of every frame tier after reading a one-voice history (schedule.start_history's layout, or a
        schedule.PrimingHistory) from the initial state, in bounded windows (schedule.prime_windows) with the
        states carried: each window through whole-chunk graphs (version 1) or one frame per call."""
        if not isinstance(history, PrimingHistory):
            history = PrimingHistory.from_history(np.asarray(history), self.f_top)
        return self._states_and_tail(history, progress)[0]

    def _states_and_tail(
        self, history: PrimingHistory, progress: Callable[[float], None] | None
    ) -> tuple[States, np.ndarray]:
        """(states after the history, its last top frame of levels)."""
        sizes, f_top = self.config.frame_sizes, self.f_top
        states = self.initial_states(1)
        last = np.full(f_top, zero_level(self.q_levels), dtype=np.int64)
        total, done = history.samples - f_top, 0
        stepper = None if self.bundle.frames_per_call is None else _Stepper(self, 1, "cpu")
        if stepper is not None:
            stepper.set_states(states)
        for window in history.windows():
            length = len(window) - f_top
            if stepper is None:  # version 1: each tier over a whole window per call
                cond = None
                for k in reversed(range(len(sizes))):
                    frames = window[f_top - sizes[k] : f_top - sizes[k] + length].reshape(
                        1, length // sizes[k], sizes[k]
                    )
                    cond, states[k] = self.run_frame(k, frames, cond, states[k])
            else:
                for i in range(f_top, len(window), sizes[0]):
                    for k, col in tiers_due(sizes, done + i):
                        stepper.frames_in[k][0, 0] = window[i - sizes[k] : i]
                        if col >= 0:
                            stepper.cond_in[k][0, 0] = stepper.cond_out[k + 1][0, col]
                        stepper.run_frame(k)
            done += length
            last = window[-f_top:].copy()
            if progress is not None:
                progress(done / total)
        return (states if stepper is None else stepper.get_states()), last

    def _initial_snapshot(self, seed: int) -> _Snapshot:
        tail = np.full((self.voices, self.f_top), zero_level(self.q_levels), dtype=np.int64)
        return _Snapshot(self.initial_states(self.voices), tail, seed)

    def _install(self, snap: _Snapshot) -> None:
        """Producer side: adopt a reset/primed state at a top-frame boundary, restart the noise stream."""
        self._applied = snap
        self._run.set_states(snap.states)
        self._buf[:, : self.f_top] = snap.history
        self._pos = 0
        self._spare_start = self.f0
        self.seed = snap.seed
        self._rng = noise_rng(snap.seed)
        self._noise_used = NOISE_CHUNK_BLOCKS
