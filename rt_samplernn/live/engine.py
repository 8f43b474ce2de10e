"""The live engine: a bundle's ONNX step graphs under onnxruntime, generating audio for N voices (torch-free).

It follows the timeline of rt_samplernn.schedule, so with the same seed, temperatures and priming it draws
the same samples as the PyTorch reference generator (rt_samplernn.generate). Per F0 samples it makes one
sample-graph call plus the frame-tier calls due at that position; the voices are the batch. Every call
runs on buffers allocated once (onnxruntime IO binding, on the CPU too): the RNN states ping-pong between
two bound buffers, each tier's conditioning stays in its bound output, and the Gumbel noise is drawn from
one seeded numpy stream per voice in chunks into a preallocated buffer.

Bookmarks: `snapshot()` returns the exact state as a plain value (rt_samplernn/live/snapshot.py, which
also saves it to a file); `restore(state)` puts it back and generation continues bit for bit.

Threads: `generate()` and `snapshot()` run on one producer thread. `set_temperature`, `set_min_p`, `set_gain`, `prime`,
`reset` and `restore` may be called from any other thread: they build new values off to the side and
publish them with one reference assignment; `generate()` picks them up at its next call. Nothing here
takes a lock the producer could wait on. The bound buffers and sessions are rt_samplernn/live/stepper.py's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnxruntime as ort

from rt_samplernn.audio import Clip, as_clip
from rt_samplernn.config import ModelConfig
from rt_samplernn.errors import UserError
from rt_samplernn.live.bundle import Bundle, GraphSpec, load_bundle
from rt_samplernn.live.engine_knobs import EngineKnobs, knob_range
from rt_samplernn.live.lift import LiftedKnobs, QuietLift
from rt_samplernn.live.music import bundle_lift
from rt_samplernn.live.providers import PROVIDERS
from rt_samplernn.live.selfcheck import Opened, open_checked
from rt_samplernn.live.snapshot import EngineState, KnobSpec, StateSpec, bundle_identity, check_state
from rt_samplernn.live.stepper import NOISE_CHUNK_BLOCKS, States, Stepper, make_session
from rt_samplernn.quantize import dequantize_table, zero_level
from rt_samplernn.sampling import voice_rngs
from rt_samplernn.schedule import PrimingHistory, block_schedule, tiers_due, window_frames


@dataclass
class _Restart:
    """A reset's or a prime's new start: published to the producer with one assignment."""

    states: States  # per frame tier, per state: (layers, voices, dim)
    history: np.ndarray  # (voices, F_top) int64, the last top frame of levels
    seed: int


@dataclass
class _Recall:
    """A restore: published to the producer with one assignment (a new object each time, so a bookmark
    recalled twice is installed twice)."""

    state: EngineState


class Engine(EngineKnobs):
    """SampleRNN generation from a bundle, following the timeline of rt_samplernn.schedule.

        engine = Engine("my-bundle", voices=2, seed=1)
        engine.generate(n)                   # (voices, n) float32 in [-1, 1], gain applied; continues across calls
        engine.set_temperature(0.9, voice=None); engine.temperatures    # thread-safe; None = every voice
        engine.set_min_p(0.02, voice=None); engine.min_p                # the tail cut, the same way (0 = off)
        engine.set_gain(0.5); engine.gain                               # thread-safe
        engine.prime(audio, rate, seed=None) # thread-safe: new states computed off to the side, swapped in before
                                             # the next block; restarts the noise stream (default: the engine's seed)
        engine.prime_voices(clips, rate)     # the same, voice v primed from clips[v] (different music per voice)
        engine.reset(seed=None)              # back to the initial state, same swap-in rule
        state = engine.snapshot(); engine.restore(state)   # a bookmark of the exact state, and its recall
        engine.initial_states(voices), engine.run_frame(k, ...), engine.states_after(history)
                                             # one tier step / priming states, for hosts and the parity check

    Parameters
    ----------
    bundle : bundle directory (model.json + graphs) or a loaded Bundle
    voices : independent streams, batched in every graph call
    seed : seed of the Gumbel noise streams, one per voice (rt_samplernn.sampling.voice_rngs)
    provider : "auto" (CUDA where it works, else CPU), "cpu" or "cuda"
    threads : onnxruntime intra-op threads (CPU)
    lift : the quiet lift (live/lift.py): "bundle" (model.json `usable.lift`, none without it), a QuietLift, or None
    """

    def __init__(
        self,
        bundle: str | Path | Bundle,
        voices: int = 1,
        seed: int = 0,
        provider: str = "auto",
        threads: int = 1,
        lift: QuietLift | None | Literal["bundle"] = "bundle",
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
        opened = self._open_sessions()
        on_cuda = all("CUDAExecutionProvider" in x.get_providers() for x in (*opened.frames, opened.sample))
        if self.provider == "cuda" and not on_cuda:
            if provider == "cuda":
                raise UserError(
                    "provider 'cuda': onnxruntime could not start CUDA here (CUDA/cuDNN libraries "
                    "missing or no GPU); use --provider cpu"
                )
            self.provider = "cpu"  # auto: onnxruntime fell back to the CPU
            opened = self._open_sessions()  # the CPU's pick of frame graphs, checked on the CPU
        self._frames, self._sample = opened.frames, opened.sample
        self.graph_files: list[Path] = opened.files  # what each tier runs, finest frame tier first, sample last
        self.notices: list[str] = opened.notices  # for the user: a graph replaced after its self-check, and why
        self._frame_out = [g.output_names() for g in self.bundle.frame_graphs]
        self._state_in = [[s.input for s in g.states] for g in self.bundle.frame_graphs]
        self.f0 = cfg.frame_sizes[0]
        self.f_top = cfg.top_frame_size
        self.q_levels = cfg.q_levels
        self._dequant = dequantize_table(cfg.q_type, cfg.q_levels)
        self._schedule = block_schedule(cfg.frame_sizes)
        self._device = "cuda" if self.provider == "cuda" else "cpu"
        self._run = Stepper(self.bundle, self._frames, self._sample, self.voices, self._device)
        v, f_top = self.voices, self.f_top
        # Levels of the previous and the current top frame; drawn but not yet returned levels.
        self._buf = np.full((v, 2 * f_top), zero_level(self.q_levels), dtype=np.int64)
        self._noise_used = NOISE_CHUNK_BLOCKS
        self._pos = 0  # position inside the current top frame, a multiple of F0
        self._spare = np.empty((v, self.f0), dtype=np.int64)
        self._levels = np.empty((v, 0), dtype=np.int64)  # generate()'s levels, reused while n stays the same
        self._spare_start = self.f0
        EngineKnobs.__init__(self)  # temperature, tail cut and gain of every voice
        self._temps_bound: np.ndarray | None = None
        self._min_p_bound: np.ndarray | None = None
        self.lift: QuietLift | None = bundle_lift(self.bundle) if lift == "bundle" else lift
        self._lifted = None if self.lift is None else LiftedKnobs(self.lift, self._dequant, v, self.f0)
        self._block_knobs = (self._temps, self._min_p)  # the knobs' values for this generate() call
        self._prime_lock = threading.Lock()  # serializes prime/reset callers; generate() never takes it
        self._pending: _Restart | _Recall | None = None
        self._applied: _Restart | _Recall | None = None
        self._rngs = voice_rngs(int(seed), v)
        self.seed = int(seed)
        self._install(self._initial_restart(int(seed)))

    def _open_sessions(self) -> Opened[ort.InferenceSession]:
        """One session per graph, each checked on this machine (live/selfcheck.py); on the CPU, the frame
        graphs' `batch` variants from their min_voices on (measured on CPUs only, so CUDA runs the plain files)."""
        voices = self.voices if self.provider == "cpu" else 1

        def open_graph(spec: GraphSpec, voices: int) -> ort.InferenceSession:
            return make_session(spec, self.provider, self.threads, voices)

        return open_checked(self.bundle, open_graph, voices)

    def reset(self, seed: int | None = None) -> None:
        """Back to the initial state (silence history) and the start of the noise stream of seed (or the current one)."""
        with self._prime_lock:
            self._pending = self._initial_restart(self.seed if seed is None else int(seed))

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
        self.prime_later(audio, rate, seed, progress)()

    def prime_later(
        self,
        audio: np.ndarray | Clip | PrimingHistory,
        rate: int | None = None,
        seed: int | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> Callable[[], None]:
        """`prime`'s work now, on the calling thread; the primed start goes in only when the returned call is
        made (any thread; then at the next generate() call): a pad's prime that lands on the beat
        (rt_samplernn/live/tempo.py)."""
        history = (
            audio if isinstance(audio, PrimingHistory) else PrimingHistory.from_clip(self.config, as_clip(audio, rate))
        )
        with self._prime_lock:
            states, last = self._states_and_tail(history, progress)
        tiled = [[np.ascontiguousarray(np.repeat(s, self.voices, axis=1)) for s in tier] for tier in states]
        tail = np.ascontiguousarray(np.broadcast_to(last, (self.voices, self.f_top)))
        start = _Restart(tiled, tail, self.seed if seed is None else int(seed))

        def put() -> None:
            with self._prime_lock:
                self._pending = start

        return put

    def prime_voices(
        self,
        clips: Sequence[np.ndarray | Clip | PrimingHistory],
        rate: int | None = None,
        seed: int | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        """`prime`, but voice v from clips[v] (one clip per voice): the voices start from different music.
        Priming is not generated audio: generate() still returns only what the model draws after it."""
        if len(clips) != self.voices:
            raise UserError(f"prime_voices: {len(clips)} clips for {self.voices} voices; give one per voice")
        histories = [
            c if isinstance(c, PrimingHistory) else PrimingHistory.from_clip(self.config, as_clip(c, rate))
            for c in clips
        ]
        with self._prime_lock:
            primed = []
            for v, history in enumerate(histories):
                done = None if progress is None else (lambda f, v=v: progress((v + f) / len(histories)))
                primed.append(self._states_and_tail(history, done))
            states = [
                [np.ascontiguousarray(np.concatenate([p[0][k][i] for p in primed], axis=1)) for i in range(len(tier))]
                for k, tier in enumerate(primed[0][0])
            ]
            tail = np.ascontiguousarray(np.stack([p[1] for p in primed]))
            self._pending = _Restart(states, tail, self.seed if seed is None else int(seed))

    # -------------------------------------------------------------------------------------------------
    # Exact state: bookmarks (rt_samplernn/live/snapshot.py)
    # -------------------------------------------------------------------------------------------------

    @property
    def bundle_id(self) -> str:
        """Which graphs this engine runs (snapshot.bundle_identity): a state restores only into the same."""
        return bundle_identity([g.sha256 for g in (*self.bundle.frame_graphs, self.bundle.sample)])

    def snapshot(self) -> EngineState:
        """Everything that decides what comes next, as a plain value (snapshot.EngineState): restore() it
        and generation continues bit for bit as it did after this call. Call it on the producer thread (or
        while nothing generates): a reset or prime not yet picked up is taken in first."""
        pending = self._pending
        if pending is not None and pending is not self._applied:
            self._install(pending)
        run = self._run
        full = self._noise_used == NOISE_CHUNK_BLOCKS
        return EngineState(
            bundle_id=self.bundle_id,
            voices=self.voices,
            states=tuple(tuple(x.copy() for x in tier) for tier in run.get_states()),
            conds=tuple(c.copy() for c in run.cond_out),
            levels=self._buf.copy(),
            position=self._pos,
            spare=self._spare.copy(),
            spare_start=self._spare_start,
            noise_state=self._rng_states() if full else self._noise_state,
            noise_used=self._noise_used,
            seed=self.seed,
            knobs=self.knob_values(),
        )

    def restore(self, state: EngineState, where: str = "this bookmark") -> None:
        """Put back a snapshot (this engine's bundle and voice count, else a UserError that calls it `where`):
        its knobs now, its state at the next generate() call (any thread, as prime)."""
        self.check_state(state, where)
        self.set_knob_values(state.knobs)
        with self._prime_lock:
            self._pending = _Recall(state)

    def state_spec(self) -> StateSpec:
        """What a state must be to restore here (snapshot.StateSpec): this bundle, voices, shapes, levels, knobs."""
        run = self._run
        states = run.get_states()
        return StateSpec(
            bundle_id=self.bundle_id,
            voices=self.voices,
            states=tuple(tuple(x.shape for x in tier) for tier in states),
            conds=tuple(c.shape for c in run.cond_out),
            f0=self.f0,
            f_top=self.f_top,
            q_levels=self.q_levels,
            noise_blocks=NOISE_CHUNK_BLOCKS,
            knobs={
                name: KnobSpec(str(value.dtype), value.shape == (self.voices,), *knob_range(name))
                for name, value in self.knob_values().items()
            },
            float_dtype=str(states[0][0].dtype),
            level_dtype=str(self._buf.dtype),
        )

    def check_state(self, state: EngineState, where: str = "this bookmark") -> None:
        """UserError unless `state` fits this engine (snapshot.check_state): the same graphs, voices, shapes,
        dtypes, levels in range, finite numbers, a position and noise state this engine can continue from."""
        check_state(state, self.state_spec(), where)

    def _adopt(self, state: EngineState) -> None:
        """Producer side of restore(): the state's arrays into the bound buffers, the noise chunk redrawn. The
        noise streams first: the one step that reads the state's values, before anything of the old is changed
        (restore checked the state, so nothing here fails on its values)."""
        rngs = voice_rngs(0, self.voices)
        for rng, bit_state in zip(rngs, state.noise_state, strict=True):
            rng.bit_generator.state = dict(bit_state)
        run = self._run
        run.set_states([list(tier) for tier in state.states])
        for out, c in zip(run.cond_out, state.conds):
            out[:] = c
        self._buf[:] = state.levels
        self._pos = state.position
        self._spare[:] = state.spare
        self._spare_start = state.spare_start
        self.seed = state.seed
        self._rngs = rngs
        self._noise_state = state.noise_state
        self._noise_used = state.noise_used
        if self._noise_used < NOISE_CHUNK_BLOCKS:  # the rest of the chunk the snapshot was taken in
            run.draw_noise(self._rngs, first_block=self._noise_used)

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
        temps, min_p = self._temps, self._min_p
        self._block_knobs = (temps, min_p)  # with a lift, _block writes the graph's inputs per frame
        if self._lifted is None and temps is not self._temps_bound:
            self._run.temps_in[:] = temps
            self._temps_bound = temps
        if self._lifted is None and min_p is not self._min_p_bound:
            self._run.min_p_in[:] = min_p
            self._min_p_bound = min_p
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
        run.step_tiers(self._schedule[pos // f0], buf, f_top + pos)
        if self._noise_used == NOISE_CHUNK_BLOCKS:
            self._noise_state = self._rng_states()  # where this chunk starts: for snapshot()
            run.draw_noise(self._rngs)  # the same values as one draw per block
            self._noise_used = 0
        run.prev_in[:] = buf[:, f_top + pos - f0 : f_top + pos]
        if self._lifted is not None:
            self._lifted.apply(run.prev_in, *self._block_knobs, run.temps_in, run.min_p_in)
        run.run_sample(self._noise_used)
        self._noise_used += 1
        samples = run.samples_out
        if samples.min() < 0 or samples.max() >= self.q_levels:  # would index (or wrap) the dequantize table
            raise UserError(
                f"{self.bundle.sample.path}: returned level {int(samples.min() if samples.min() < 0 else samples.max())}"
                f" outside 0..{self.q_levels - 1}; the graph does not match model.json: re-export the bundle"
            )
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
        stepper = (
            None if self.bundle.frames_per_call is None else Stepper(self.bundle, self._frames, self._sample, 1, "cpu")
        )
        if stepper is not None:
            stepper.set_states(states)
        for window in history.windows():
            length = len(window) - f_top
            if stepper is None:  # version 1: each tier over a whole window per call
                cond = None
                for k, frames in window_frames(sizes, window[None]):
                    cond, states[k] = self.run_frame(k, frames, cond, states[k])
            else:
                for i in range(f_top, len(window), sizes[0]):
                    stepper.step_tiers(tiers_due(sizes, done + i), window[None], i)
            done += length
            last = window[-f_top:].copy()
            if progress is not None:
                progress(done / total)
        return (states if stepper is None else stepper.get_states()), last

    def _initial_restart(self, seed: int) -> _Restart:
        tail = np.full((self.voices, self.f_top), zero_level(self.q_levels), dtype=np.int64)
        return _Restart(self.initial_states(self.voices), tail, seed)

    def _install(self, change: _Restart | _Recall) -> None:
        """Producer side: adopt a reset/primed start (at a top-frame boundary, the noise stream restarted) or
        a recalled state."""
        self._applied = change
        if isinstance(change, _Recall):
            self._adopt(change.state)
            return
        self._run.set_states(change.states)
        self._buf[:, : self.f_top] = change.history
        self._pos = 0
        self._spare_start = self.f0
        self.seed = change.seed
        self._rngs = voice_rngs(change.seed, self.voices)
        self._noise_used = NOISE_CHUNK_BLOCKS
        self._noise_state = self._rng_states()

    def _rng_states(self) -> tuple[dict[str, Any], ...]:
        """Every voice's noise generator state (JSON-able), for snapshot()."""
        return tuple(dict(rng.bit_generator.state) for rng in self._rngs)
