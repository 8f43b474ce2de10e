"""Bound buffers for the engine's graph calls: sessions, IO bindings and state ping-pong, allocated once (torch-free).

`Stepper` holds, for a given number of voices, every input and output of one step of each frame graph
and of the sample graph, bound to onnxruntime with IO binding (on the CPU too), so the producer's loop
only copies levels in and runs; `make_session` opens one graph with the options a small-batch recurrent
loop wants. Used by rt_samplernn.live.engine (generation and priming).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from rt_samplernn.errors import UserError
from rt_samplernn.live.bundle import Bundle, GraphSpec, check_graph_io
from rt_samplernn.sampling import gumbel_noise
from rt_samplernn.schedule import Due

NOISE_CHUNK_BLOCKS = 64  # noise drawn ahead, in sample-graph calls

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


def make_session(spec: GraphSpec, provider: str, threads: int, voices: int = 1) -> ort.InferenceSession:
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


def can_skip_floats(rng: np.random.Generator, count: int) -> bool:
    """Whether ``rng`` can skip ``count`` float32 draws exactly with ``bit_generator.advance(count // 2)``:
    numpy draws a float32 from 32 bits, two per 64-bit output of PCG64, so an even count from a state with no
    half-used output is ``count / 2`` steps."""
    bit_generator = rng.bit_generator
    return isinstance(bit_generator, np.random.PCG64) and count % 2 == 0 and not bit_generator.state["has_uint32"]


class Stepper:
    """Bound buffers and IO bindings for one frame (T = 1) per call of every graph, for `voices` voices.

    Frame tier k reads frames_in[k] (and cond_in[k]), its state from one of two buffers and writes the
    other (`parity` says which holds the current state), and writes cond_out[k]. The sample graph reads
    prev_in, cond_out[0], a noise block, temps_in and min_p_in (where the graph has the cut), and writes
    samples_out. On CUDA the states and the
    finest conditioning live on the device; everything here is allocated once.
    """

    def __init__(
        self,
        bundle: Bundle,
        frames_sessions: list[ort.InferenceSession],
        sample_session: ort.InferenceSession,
        voices: int,
        device: str,
    ):
        cfg = bundle.config
        self.frames_sessions, self.sample_session = frames_sessions, sample_session
        self.frame_sizes = cfg.frame_sizes
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
        self.min_p_in = np.zeros(v, np.float32)
        self.samples_out = np.zeros((v, f0), np.int64)
        self.noise = np.empty((NOISE_CHUNK_BLOCKS, v, f0, q), np.float32)
        self.voice_noise = np.empty((NOISE_CHUNK_BLOCKS, f0, q), np.float32)  # one voice's chunk, then copied
        self._noise_values = [ort.OrtValue.ortvalue_from_numpy(self.noise[i]) for i in range(NOISE_CHUNK_BLOCKS)]
        io = self.sample_session.io_binding()
        io.bind_ortvalue_input("prev", ort.OrtValue.ortvalue_from_numpy(self.prev_in))
        if not on_device:
            io.bind_ortvalue_input("cond", ort.OrtValue.ortvalue_from_numpy(self.cond_out[0]))
        io.bind_ortvalue_input("temperature", ort.OrtValue.ortvalue_from_numpy(self.temps_in))
        if "min_p" in bundle.sample.input_names():  # bundles exported before the tail cut have none
            io.bind_ortvalue_input("min_p", ort.OrtValue.ortvalue_from_numpy(self.min_p_in))
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

    def step_tiers(self, due: list[Due], levels: np.ndarray, t: int) -> None:
        """Run the frame tiers due before sample t of levels (voices, samples): each reads its frame of the
        F_k levels before t and its column of the conditioning the tier above made last (schedule.tiers_due)."""
        for k, col in due:
            self.frames_in[k][:, 0] = levels[:, t - self.frame_sizes[k] : t]
            if col >= 0:
                self.cond_in[k][:, 0] = self.cond_out[k + 1][:, col]
            self.run_frame(k)

    def run_frame(self, k: int) -> None:
        """One step of frame tier k on frames_in[k] (and cond_in[k]); flips its state buffers."""
        parity = self.parity[k]
        self.frames_sessions[k].run_with_iobinding(self.bindings[k][parity])
        self.parity[k] = 1 - parity

    def draw_noise(self, rngs: list[np.random.Generator], first_block: int = 0) -> None:
        """The next NOISE_CHUNK_BLOCKS blocks of noise, voice v's rows from rngs[v] (allocating nothing).

        ``first_block``: a restore into the middle of a chunk (Engine.restore) needs only the blocks from it
        on: each stream skips the blocks before it (`can_skip_floats`) and draws the rest, the same values."""
        skipped = first_block * self.voice_noise[0].size
        if first_block and all(can_skip_floats(rng, skipped) for rng in rngs):
            for rng in rngs:
                bit_generator = rng.bit_generator
                assert isinstance(bit_generator, np.random.PCG64)  # can_skip_floats checked it
                bit_generator.advance(skipped // 2)
        else:
            first_block = 0  # a stream that cannot skip exactly: draw the whole chunk
        if len(rngs) == 1:
            gumbel_noise(rngs[0], self.noise[first_block:].shape, out=self.noise[first_block:])
            return
        for v, rng in enumerate(rngs):
            rest = self.voice_noise[first_block:]
            gumbel_noise(rng, rest.shape, out=rest)
            self.noise[first_block:, v] = rest

    def run_sample(self, noise_block: int) -> None:
        io = self.sample_binding
        io.bind_ortvalue_input("noise", self._noise_values[noise_block])
        if self.on_device:  # the finest conditioning, on the device, from tier 0's binding that just ran
            io.bind_ortvalue_input("cond", self.bindings[0][1 - self.parity[0]].get_outputs()[0])
        self.sample_session.run_with_iobinding(io)
