"""Tempo: a BPM set by hand or followed from MIDI clock, a beat grid on the model's sample clock, beat-locked actions.

No torch, no Qt, no threads of its own, no locks. Who calls what:

* `Tempo` is written by anyone: ``set_bpm`` (command line, window, OSC) from any thread, ``feed_midi``
  (MIDI clock: 24 pulses a quarter note, start 0xFA, continue 0xFB, stop 0xFC) from the MIDI thread with
  each message's timestamp in seconds. Its ``bpm`` is one float attribute, read lock-free by the worker.
* `BeatGrid` belongs to the worker: the sample index of every beat on the model's sample clock (samples
  generated so far), re-read from the `Tempo` once per block with the phase kept across tempo changes.
* `TempoLocked` is the producer the `Player` drives in place of the engine when a tempo is on: it splits
  each block at the beats, and on a beat runs what was quantized to it (`quantize`; `launch`: a pad's
  bookmark recall or seed prime, from any thread, at the next beat or bar as ``--quantize`` says, after
  which the loop repeats from what the pad brought) and the `Loop` (recall a bookmark every N beats, a
  recall skipped with probability ``variation``, seeded). A loop's strongest onset falls on the beat
  (``align="onset"``): its first recalled pass is heard as it comes and measured (`PassListener`:
  `rt_samplernn.measure`'s onset envelope, the recall's own seam included), and from then on each recall
  lands that long before its beat, so the attack the state brings is on the grid (a recall on the beat
  put the demo's 108 ms after it). ``align="start"`` recalls on the beat itself. Its knobs, ``tempo.bpm`` and ``loop.variation``
  (`TempoLocked.cells`), join the parameters (`Parameters.add_cells`): MIDI, OSC ``/tempo/bpm``, the
  window. `rt-samplernn generate` drives the same object, so a render equals a performance.

The clock follower fits a line through the timestamps of the pulses of the last `CLOCK_WINDOW_S` seconds and
reports it once a beat's pulses have come; a gap longer than `CLOCK_GAP_S` (the sender paused) starts the fit
afresh. The fit is least squares (the jitter of one timestamp moves it little) over the pulses within
`CLOCK_OUTLIER_PULSES` of a robust line (the median slope of pulse pairs half a window apart): pulses an
audio-server stall held back and then delivered at once are stamped late, and left out rather than bending
the tempo (with all of them in, a 100 ms stall showed 174 BPM as 148 for a second and a half). The window is
seconds, not beats, and the outlier bound a whole pulse, because rtmidi stamps a JACK message with the time
its period was read, not its frame: at 16 ms periods two 174 BPM pulses (14.4 ms apart) often share a stamp,
and 4 beats (1.4 s) with a half-pulse bound read 174 as 174.5 (benchmarks/RESULTS.md, "MIDI clock").
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rt_samplernn.audio import Clip
from rt_samplernn.errors import UserError
from rt_samplernn.live.control import ControlledEngine
from rt_samplernn.live.declarations import Declaration, FloatSpec
from rt_samplernn.live.params import FloatParam
from rt_samplernn.live.producer import PassesReadouts
from rt_samplernn.live.snapshot import EngineState
from rt_samplernn.measure import WindowAnalyser

PPQN = 24  # MIDI clock pulses per quarter note
CLOCK, START, CONTINUE, STOP = 0xF8, 0xFA, 0xFB, 0xFC
CLOCK_WINDOW_S = 3.0  # the fit's span: 108 pulses at 90 BPM, 209 at 174
CLOCK_MIN_PULSES = PPQN  # a beat's pulses before the first estimate
CLOCK_GAP_S = 0.5  # a pulse this long after the last one: the sender paused, the fit starts again
CLOCK_OUTLIER_PULSES = 1.0  # a timestamp this many pulses off the robust line is left out of the fit
MIN_BPM, MAX_BPM = 20.0, 400.0
CLOCK_MAX_PULSES = math.ceil(CLOCK_WINDOW_S * MAX_BPM * PPQN / 60.0)  # the window's pulses at the fastest tempo
DEFAULT_BPM = 120.0  # the tempo until one is set or a clock runs
BEATS_PER_BAR = 4  # --quantize bar: 4/4
QUANTIZE_BEATS: dict[str, int | None] = {"beat": 1, "bar": BEATS_PER_BAR, "off": None}
LOOP_ALIGNS = ("onset", "start")  # --loop-align: the loop's strongest onset on the beat, or its recall
ALIGN_MAX_S = 8.0  # the first pass measured for the onset: at most this long (memory stays bounded)
BPM_SPEC = FloatSpec(MIN_BPM, MAX_BPM, DEFAULT_BPM, smoothing_ms=0.0)
VARIATION_SPEC = FloatSpec(0.0, 1.0, 0.0, smoothing_ms=0.0)
BPM = Declaration(
    "tempo.bpm",
    "Tempo",
    "float",
    BPM_SPEC,
    unit="BPM",
    digits=1,
    osc="/tempo/bpm",
    help="the tempo set by hand, in BPM (a running MIDI clock overrides it)",
)
VARIATION = Declaration(
    "loop.variation",
    "Loop variation",
    "float",
    VARIATION_SPEC,
    osc="/loop/variation",
    help="how much the voice may drift before the loop's next recall: the probability that a due recall is skipped",
)


def check_bpm(bpm: float, what: str = "--bpm") -> float:
    """``bpm`` as a float, or a UserError naming the range."""
    if isinstance(bpm, bool) or not isinstance(bpm, (int, float)) or not MIN_BPM <= bpm <= MAX_BPM:
        raise UserError(f"{what} {bpm!r}: give a tempo {MIN_BPM:g}..{MAX_BPM:g} BPM (e.g. 120)")
    return float(bpm)


class ClockFollower:
    """The tempo of a MIDI clock, from the pulses' timestamps (see the module docstring).

    ``bpm``: the estimate (None until a beat's pulses came). ``running``: between start/continue and stop,
    and from the first pulse of a clock that was already running when we joined (no start seen, no stop).
    ``pulses``: clock pulses since the last start (the song position in 24ths of a beat).
    ``start_version``: bumped by each start, so the worker re-anchors its grid at beat 0.
    """

    def __init__(self) -> None:
        self._times: deque[float] = deque(maxlen=CLOCK_MAX_PULSES)
        self.bpm: float | None = None
        self.running = False
        self.stopped = False  # a stop came, and no start or continue since: pulses do not make it run
        self.pulses = 0
        self.start_version = 0

    def feed(self, status: int, time_s: float) -> None:
        """One real-time message (0xF8 clock, 0xFA start, 0xFB continue, 0xFC stop) at ``time_s`` (MIDI thread)."""
        if status == CLOCK:
            times = self._times
            if times and time_s - times[-1] > CLOCK_GAP_S:
                times.clear()
            times.append(time_s)
            while time_s - times[0] > CLOCK_WINDOW_S:
                times.popleft()
            self.pulses += 1
            self.running = not self.stopped
            if len(times) > CLOCK_MIN_PULSES:
                seconds_per_pulse = _slope(times)
                if seconds_per_pulse > 0:
                    self.bpm = min(max(60.0 / (PPQN * seconds_per_pulse), MIN_BPM), MAX_BPM)
        elif status == START:
            self.running, self.stopped, self.pulses = True, False, 0
            self._times.clear()
            self.start_version += 1
        elif status == CONTINUE:
            self.running, self.stopped = True, False
            self._times.clear()
        elif status == STOP:
            self.running, self.stopped = False, True


def _slope(times: deque[float]) -> float:
    """Seconds per pulse through the timestamps (pulse i at times[i]): least squares over those near the robust
    line (see the module docstring)."""
    t = np.asarray(times, dtype=np.float64)
    i = np.arange(len(t), dtype=np.float64)
    half = len(t) // 2
    robust = float(np.median((t[half:] - t[: len(t) - half]) / half))
    offset = float(np.median(t - robust * i))
    near = np.abs(t - offset - robust * i) <= CLOCK_OUTLIER_PULSES * abs(robust)
    if near.sum() < 2:
        return robust
    i, t = i[near], t[near]
    i_mean = i.mean()
    return float(((i - i_mean) * (t - t.mean())).sum() / ((i - i_mean) ** 2).sum())


class Tempo:
    """The tempo in BPM: set by hand (``set_bpm``) or followed from MIDI clock (``feed_midi``).

    ``follow_clock``: True (default) lets a running MIDI clock override the hand-set tempo while it sends.
    ``bpm`` is what the worker reads (a plain attribute store by each writer).
    """

    def __init__(self, bpm: float = DEFAULT_BPM, follow_clock: bool = True) -> None:
        self.manual_bpm = check_bpm(bpm)
        self.clock = ClockFollower()
        self.follow_clock = follow_clock
        self.bpm = self.manual_bpm

    def set_bpm(self, bpm: float) -> None:
        """A tempo from the command line, the window or OSC (any thread)."""
        self.manual_bpm = check_bpm(bpm, "tempo")
        if not self.following:
            self.bpm = self.manual_bpm

    @property
    def following(self) -> bool:
        """True while the tempo comes from a MIDI clock."""
        return self.follow_clock and self.clock.running and self.clock.bpm is not None

    def feed_midi(self, status: int, time_s: float) -> None:
        """A MIDI real-time message with its timestamp in seconds (the MIDI thread)."""
        self.clock.feed(status, time_s)
        clock_bpm = self.clock.bpm
        self.bpm = clock_bpm if self.following and clock_bpm is not None else self.manual_bpm


class BeatGrid:
    """Beats on the model's sample clock: beat k lands at sample ``beat_sample(k)`` (the worker's).

    The grid is a line (``anchor_sample``, ``anchor_beat``, ``beat_frames``); `sync` re-reads the tempo at
    a block boundary and turns the line there, so the beat phase carries across a tempo change, and goes
    back to beat 0 at the block boundary after a MIDI clock start.
    """

    def __init__(self, tempo: Tempo, sample_rate: int) -> None:
        self.tempo = tempo
        self.sample_rate = int(sample_rate)
        self.bpm = tempo.bpm
        self.anchor_sample = 0.0
        self.anchor_beat = 0.0
        self._start_version = tempo.clock.start_version

    @property
    def beat_frames(self) -> float:
        """Samples per beat at the current tempo."""
        return self.sample_rate * 60.0 / self.bpm

    def beat_at(self, sample: float) -> float:
        """Beats since beat 0 at ``sample`` (fractional)."""
        return self.anchor_beat + (sample - self.anchor_sample) / self.beat_frames

    def beat_sample(self, beat: int) -> int:
        """The first sample at or after beat ``beat``'s exact time."""
        return math.ceil(self.anchor_sample + (beat - self.anchor_beat) * self.beat_frames - 1e-6)

    def sync(self, sample: int) -> None:
        """At a block boundary (the worker): take the tempo's BPM and a clock start, keeping the phase."""
        start = self.tempo.clock.start_version
        if start != self._start_version:
            self._start_version = start
            self.anchor_sample, self.anchor_beat = float(sample), 0.0
        bpm = self.tempo.bpm
        if bpm != self.bpm:
            self.anchor_beat = self.beat_at(sample)
            self.anchor_sample = float(sample)
            self.bpm = bpm

    def next_beat(self, sample: int) -> tuple[int, int]:
        """(beat number, sample index) of the first beat at or after ``sample``."""
        k = math.ceil(self.beat_at(sample) - 1e-9)
        while self.beat_sample(k) < sample:
            k += 1
        while self.beat_sample(k - 1) >= sample:
            k -= 1
        return k, self.beat_sample(k)

    def beats_in(self, start: int, n: int) -> list[tuple[int, int]]:
        """The beats (number, sample) with ``start <= sample < start + n``."""
        beats = []
        k, s = self.next_beat(start)
        while s < start + n:
            beats.append((k, s))
            k += 1
            s = self.beat_sample(k)
        return beats


@dataclass
class Loop:
    """Recall ``state`` every ``beats`` beats; each due recall is skipped with probability ``variation``.

    ``state``: the bookmark to go back to; None takes the engine's state at the loop's first beat. Draws
    come from ``numpy.random.default_rng(seed)``, one per due recall: the same seed, the same pattern.
    ``align``: "onset" (a recall lands ``lead`` samples before its beat, the time from the recall to the
    pass's strongest onset, measured by `TempoLocked` on the first recalled pass; 0 until then) or "start"
    (on the beat).
    """

    beats: int
    variation: float = 0.0
    seed: int = 0
    state: EngineState | None = None
    align: str = "onset"

    def __post_init__(self) -> None:
        if isinstance(self.beats, bool) or not isinstance(self.beats, int) or self.beats < 1:
            raise UserError(f"--loop-beats {self.beats!r}: give a whole number of beats, 1 or more (e.g. 4)")
        if not (isinstance(self.variation, (int, float)) and 0.0 <= self.variation <= 1.0):
            raise UserError(f"--loop-variation {self.variation!r}: give a probability 0..1 (0: every recall)")
        if self.align not in LOOP_ALIGNS:
            raise UserError(f"--loop-align {self.align!r}: give one of {', '.join(LOOP_ALIGNS)}")
        self.lead = 0
        self._rng = np.random.default_rng(self.seed)
        self.first_beat: int | None = None
        self.recalls = 0
        self.skipped = 0

    def restart(self, beat: int, state: EngineState) -> None:
        """Loop ``state`` from beat ``beat`` on (a pad launched it there): the next recall ``beats`` later,
        on the beat until a pass of the new state is measured."""
        self.first_beat, self.state, self.lead = beat, state, 0

    def due(self, beat: int) -> bool:
        """Whether beat ``beat`` recalls (the worker, once per beat): every ``beats``-th, less the skipped."""
        if self.first_beat is None:
            self.first_beat = beat
            return False
        if (beat - self.first_beat) % self.beats:
            return False
        if self.variation > 0.0 and self._rng.random() < self.variation:
            self.skipped += 1
            return False
        self.recalls += 1
        return True


class PassListener:
    """Hears one pass of a loop, from a recall to the next, and finds its strongest onset (the worker's).

    The pass is heard with the end of the one before it (``context_frames``), so the recall's own seam is
    an onset like any other: a state whose strongest onset is the jump back to it gets a lead near 0.
    """

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = int(sample_rate)
        self.analyser = WindowAnalyser(sample_rate)
        self.context_frames = self.analyser.n_fft + self.analyser.hop
        self._context = np.zeros(0, np.float32)  # the last frames heard before the pass
        self._pass: list[np.ndarray] = []
        self._pass_frames = 0  # the pass's length; 0: not measuring

    @property
    def measuring(self) -> bool:
        return self._pass_frames > 0

    def start(self, pass_frames: int) -> None:
        """The pass begins with the next frames heard, and lasts ``pass_frames``."""
        self._pass, self._pass_frames = [], max(1, int(pass_frames))

    def cancel(self) -> None:
        self._pass, self._pass_frames = [], 0

    def hear(self, mono: np.ndarray) -> int | None:
        """The next generated frames; at the pass's end, samples from its start to its strongest onset (0 when it
        has none, or it comes before the recall), else None."""
        if not self._pass_frames:
            self._context = np.concatenate([self._context, mono])[-self.context_frames :]
            return None
        self._pass.append(mono)
        if sum(len(part) for part in self._pass) < self._pass_frames:
            return None
        heard = np.concatenate([self._context, *self._pass])[: len(self._context) + self._pass_frames]
        before = len(self._context)
        self._context = heard[-self.context_frames :]
        self.cancel()
        onset_s = self.analyser.strongest_onset_s(heard)
        return 0 if onset_s is None else max(0, round(onset_s * self.sample_rate) - before)


class TempoLocked(PassesReadouts):
    """The producer the player drives when a tempo is on: the engine's blocks split at the beats.

    On each beat (before its first sample is generated): the actions quantized to it run (`quantize`,
    `launch`; any thread: e.g. ``lambda: engine.restore(bookmark)``), then the `Loop` recalls its state when
    due. ``quantize``: when `launch` lands a pad's action ('beat', 'bar' or 'off': QUANTIZE_BEATS; with
    'off' a host runs it at once and does not call `launch`). ``position``: samples generated so far (the
    grid's clock); ``beats``: the beat numbers met (the last ones, for the window and the tests: a bounded
    deque). ``cells()``: its knobs (``tempo.bpm``, and ``loop.variation`` with a loop), applied here at
    each block. ``recalls``: the samples at which the loop recalled (the last ones, a bounded deque).
    """

    engine: ControlledEngine  # the readouts (sample rate, voices, gain, ...) are this one's

    def __init__(
        self, engine: ControlledEngine, tempo: Tempo, loop: Loop | None = None, quantize: str = "beat"
    ) -> None:
        if quantize not in QUANTIZE_BEATS:
            raise UserError(f"--quantize {quantize!r}: give one of {', '.join(QUANTIZE_BEATS)}")
        self.engine = engine
        self.tempo = tempo
        self.grid = BeatGrid(tempo, engine.sample_rate)
        self.loop = loop
        self.launch_beats = QUANTIZE_BEATS[quantize]
        self.position = 0
        self.beats: deque[tuple[int, int]] = deque(maxlen=64)
        self.recalls: deque[int] = deque(maxlen=64)
        self._listener = PassListener(engine.sample_rate)  # an onset-aligned loop's first recalled pass
        self._lead_for: EngineState | None = None  # the loop state whose lead was measured
        self._early_from: int | None = None  # the first block start whose recalls came ``lead`` early
        self._actions: deque[tuple[int, bool, Callable[[], None]]] = deque()  # (every N beats, a launch, what)
        self.bpm = FloatParam(BPM, BPM_SPEC)
        self.bpm.adopt(tempo.manual_bpm)
        self.variation = FloatParam(VARIATION, VARIATION_SPEC)
        self.variation.adopt(loop.variation if loop is not None else 0.0)
        self._seen = (self.bpm.version, self.variation.version)

    def cells(self) -> list[FloatParam]:
        """The knobs to add to the parameters: the hand-set tempo, and the loop's variation with a loop."""
        return [self.bpm, *([self.variation] if self.loop is not None else [])]

    def rewind(self) -> None:
        """Back to beat 0 for a new performance (a host keeps this producer between players): the grid from
        sample 0 at the tempo now, no action waiting for a beat, a loop that takes its first beat's state again
        (its draws from its seed again)."""
        self.position = 0
        self.grid = BeatGrid(self.tempo, self.engine.sample_rate)
        self.beats.clear()
        self.recalls.clear()
        self._actions.clear()
        self._listener, self._lead_for, self._early_from = PassListener(self.engine.sample_rate), None, None
        loop = self.loop
        if loop is not None:
            self.loop = Loop(loop.beats, loop.variation, loop.seed, align=loop.align)

    def quantize(self, action: Callable[[], None], every: int = 1) -> None:
        """Run ``action`` on the worker at the next beat whose number is a multiple of ``every`` (any thread;
        deque.append is atomic)."""
        self._actions.append((max(1, int(every)), False, action))

    def launch(self, action: Callable[[], None]) -> None:
        """A pad's action (a bookmark recall, a seed prime) at the next beat or bar (``quantize``); with a loop
        on, the loop repeats from what it brought, from that beat. Any thread."""
        self._actions.append((self.launch_beats or 1, True, action))

    def _on_beat(self, beat: int, sample: int) -> None:
        self.beats.append((beat, sample))
        launched = False
        for _ in range(len(self._actions)):  # what is appended meanwhile waits for the next beat
            every, launch, action = self._actions.popleft()
            if beat % every:
                self._actions.append((every, launch, action))
                continue
            action()
            launched = launched or launch
        loop = self.loop
        if loop is None:
            return
        if launched:
            loop.restart(beat, self.engine.snapshot())  # the pad's state: a recall or a primed start
            self._early_from = None
            self._listener.cancel()  # a pass of the old state
        elif loop.state is None and loop.first_beat is None:
            loop.state = self.engine.snapshot()
            loop.due(beat)  # the loop's first beat
        elif not loop.lead or self._early_from is None or sample - loop.lead < self._early_from:
            self._recall_if_due(loop, beat, sample)  # on the beat: no early recall was planned for it

    def _recall_if_due(self, loop: Loop, beat: int, sample: int) -> None:
        """The loop's recall for beat ``beat``, at ``sample`` (the beat's, or ``lead`` before it)."""
        if loop.due(beat) and loop.state is not None:
            self.engine.restore(loop.state, "the loop's bookmark")
            self.recalls.append(sample)
            if loop.align == "onset" and loop.state is not self._lead_for and not self._listener.measuring:
                longest = min(loop.beats * self.grid.beat_frames, ALIGN_MAX_S * self.grid.sample_rate)
                self._listener.start(round(longest))  # this pass, recalled, is what every later one sounds like

    def _heard(self, audio: np.ndarray) -> None:
        """A generated part, (voices, n), heard by the pass listener of an onset-aligned loop; the lead it finds
        at a pass's end is the loop's."""
        loop = self.loop
        if loop is None or loop.align != "onset" or loop.state is self._lead_for:
            return  # no loop to align, or its lead is measured
        lead = self._listener.hear(audio.mean(axis=0))
        if lead is not None:
            loop.lead, self._lead_for = lead, loop.state

    def _events(self, start: int, n: int) -> list[tuple[int, int, bool]]:
        """The block's beats and the loop's early recalls, (sample, beat, is a beat), in order; a recall ``lead``
        before its beat comes before a beat at the same sample."""
        events = [(sample, beat, True) for beat, sample in self.grid.beats_in(start, n)]
        loop = self.loop
        if loop is not None and loop.lead:
            if self._early_from is None:
                self._early_from = start
            events += [(sample - loop.lead, beat, False) for beat, sample in self.grid.beats_in(start + loop.lead, n)]
            events.sort(key=lambda e: (e[0], e[2]))
        return events

    def apply_cells(self, seconds: float) -> None:
        """The knobs' writes since the last block: the hand-set tempo, the loop's variation (the worker at each
        block; a host while no player runs, so a write reaches the tempo at once)."""
        bpm, variation = self.bpm, self.variation
        if (bpm.version, variation.version) == self._seen:
            return
        self._seen = (bpm.version, variation.version)
        bpm.step(seconds)
        variation.step(seconds)
        self.tempo.set_bpm(bpm.value)
        if self.loop is not None:
            self.loop.variation = variation.value

    # -- the Producer protocol ---------------------------------------------------------------------

    def generate(self, n: int, *, apply_gain: bool = True) -> np.ndarray:
        self.apply_cells(n / self.engine.sample_rate)
        start = self.position
        self.grid.sync(start)
        parts, done = [], 0
        for sample, beat, is_beat in self._events(start, n):
            if sample > start + done:
                parts.append(self._generate(sample - start - done, apply_gain))
                done = sample - start
            if is_beat:
                self._on_beat(beat, sample)
            elif self.loop is not None and self.loop.lead:  # a pad may have restarted it since the list was made
                self._recall_if_due(self.loop, beat, sample)
        if done < n:
            parts.append(self._generate(n - done, apply_gain))
        self.position = start + n
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def _generate(self, n: int, apply_gain: bool) -> np.ndarray:
        audio = self.engine.generate(n, apply_gain=apply_gain)
        self._heard(audio)
        return audio

    def prime(
        self,
        audio: np.ndarray | Clip,
        rate: int | None = None,
        seed: int | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        self.engine.prime(audio, rate, seed, progress)

    def reset(self, seed: int | None = None) -> None:
        self.engine.reset(seed)
