"""Live streaming: a worker thread runs a producer ahead of the playhead into a ring buffer; the audio callback copies.

No torch, no Qt. The *producer* is a `rt_samplernn.live.producer.Producer`: the ONNX `Engine`
(rt_samplernn/live/engine.py), or a small recorded source in the tests.

Threads
-------
``rt-samplernn-worker``
    While the ring holds less than the target latency, it calls ``producer.generate(chunk_frames)``, feeds
    the `Watchdog`, runs the voices' effect chains, mixes the voices to the output channels, runs the master
    chain and its limiter (rt_samplernn/live/effects.py), resamples to the device rate when the rates differ
    (rt_samplernn/live/resample.py: a steady share of output per block), and writes the block into the
    `RingBuffer`. It also watches the device (a stream that goes inactive or stops calling back is a lost
    device) and samples the CPU counters. Inference only ever runs here.
audio callback (PortAudio's thread; or ``rt-samplernn-clock`` when there is no device)
    Copies from the ring to the device, and into the tap ring when recording. See the contract below.
``rt-samplernn-recorder`` (only with sinks)
    Drains the tap ring into the sinks (rt_samplernn/live/sinks.py): a WAV file (`WavSink`, flushed once a
    second so the header is always valid) and/or raw s16le PCM on a pipe (`PcmSink`, e.g. stdout into ffmpeg).
``rt-samplernn-reprime`` (short-lived)
    Re-primes the producer after a watchdog event or `Player.reprime` (see rt_samplernn/live/watchdog.py).
any thread
    `Player.metrics`, `Player.set_watchdog`, `Player.reprime`, `Player.set_seed`, `Player.prime`.
    The GUI polls `Player.metrics` from a QTimer; nothing here ever calls back into Qt or MIDI.

The callback contract
---------------------
``Player._callback(outdata, frames, time, status)`` is called by PortAudio with ``outdata`` a
(frames, channels) float32 array. It

* fills the whole of ``outdata`` in place (never rebinds it): the frames the ring holds, then zeros;
* never blocks, never takes a lock, never logs, never does file or socket I/O, never allocates arrays
  (NumPy slice views aside) and never calls the producer or onnxruntime;
* on underrun (the ring held fewer than ``frames``) writes zeros for the rest and counts it in
  ``underruns`` / ``underrun_frames``; counts PortAudio's ``status.output_underflow`` separately;
* copies what it played into the tap ring when there are sinks (dropping and counting on overflow);
* only sets plain flags for other threads (``_finished``), which they poll.

Every device channel is fed: voices are mixed to mono (one-channel devices) or spread across stereo,
and stereo is repeated over channels 3, 4, ... (L, R, L, R, ...).

Public API
----------
    player = Player(engine, device=None, latency_ms=DEFAULT_LATENCY_MS, seconds=None,
                    watchdog=True, sinks=[WavSink("take.wav")])
    player.start()                  # prefills the ring (target + a startup cushion), then opens the device
    m = player.metrics()            # PlayerMetrics snapshot, any thread, any time (cheap, no locks)
    player.set_seed(clip, rate)     # the seed the watchdog re-primes from (None: the bundle's music, else reset)
    player.prime(clip, rate)        # set_seed + re-prime now (returns at once)
    player.reprime()                # re-prime from the current seed now (returns at once)
    player.set_watchdog(False)      # or player.watchdog_enabled = False
    player.add_block_hook(fn)       # fn(frames) on the worker before each generate (MIDI smoothing)
    player.wait(timeout_s)          # True once finished: --seconds reached, device lost, error
    player.error                    # None, or a one-line message saying why it stopped by itself
    player.stop()                   # idempotent; closes sinks (the WAV is complete)

``device``: None (the default output), an index, a case-insensitive name substring, or ``NO_DEVICE`` ("none":
no sound card; a software clock paces the callback at the model rate, which is how ``--record``/``--stdout``
run on a machine without audio hardware). `list_output_devices` and `find_output_device`
(rt_samplernn/live/devices.py) resolve them; a missing device raises `NoOutputDevice` (a UserError).

``Player`` attributes fixed at construction: ``device`` (`OutputDevice`), ``sample_rate`` (the
producer's), ``device_rate``, ``channels``, ``target_frames`` (device frames), ``watchdog``
(`Watchdog`), ``reprimer`` (`Reprimer`), ``ring`` (`RingBuffer`), ``deadlines`` (`Deadlines`: each
block's worker time against its real-time budget, rt_samplernn/live/deadlines.py). `format_status`
(rt_samplernn/commands/play.py) renders a `PlayerMetrics` as the one-line status `rt-samplernn play` prints.

A device that disappears (jackd stopped, USB unplugged) stops the stream with a clear ``error`` and
``device_lost``; a lost device's PortAudio calls can hang (closing the stream, and PortAudio's own
exit handler), so the close is tried on a helper thread for half a second and then abandoned, and
sounddevice's exit handler is unregistered so the interpreter can still exit. PortAudio is unusable
in this process afterwards.
"""

from __future__ import annotations

import gc
import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from rt_samplernn.audio import ArrayClip, Clip, FileClip
from rt_samplernn.errors import UserError, one_line
from rt_samplernn.live import devices
from rt_samplernn.live.deadlines import Deadlines, raise_worker_priority
from rt_samplernn.live.meters import PlayerMetrics
from rt_samplernn.live.producer import Producer
from rt_samplernn.live.resample import DeviceResampler
from rt_samplernn.live.ring import RingBuffer
from rt_samplernn.live.sinks import Recorder, Sink
from rt_samplernn.live.watchdog import KnobAdvice, Primer, Reprimer, Watchdog, WatchdogConfig

if TYPE_CHECKING:  # imported by the caller that makes one (pedalboard is 0.1 s to import)
    from rt_samplernn.live.effects import Rack

DEFAULT_LATENCY_MS = 50.0  # ring fill target; underruns and knob latency measured in benchmarks/RESULTS.md
DEFAULT_CHUNK_FRAMES = 256  # model-rate frames per producer.generate call
CLOCK_BLOCK_FRAMES = 256  # frames per callback of the software clock (no device)
STARTUP_CUSHION_MS = 100.0  # extra audio queued at start, given back over the first STARTUP_S of play
STARTUP_S = 2.0
AVERAGE = 0.05  # weight of the newest value in the worker's running averages (about the last 20 chunks)


# -- the player ---------------------------------------------------------------------------------------


class Player:
    """Streams a producer to an output device (or the software clock) through a ring buffer.

    ``latency_ms``: the ring's fill target, the audio the worker keeps queued ahead of the playhead; the
    knob-to-sound latency is about this plus half a chunk plus the device's own (`knob_latency_s`).
    ``chunk_frames``: model-rate frames per ``producer.generate`` call. ``block_frames``: frames per
    device callback (0: the host's choice; JACK uses its period). ``seconds``: stop after this much
    audio has been played (`wait` returns True then). ``watchdog``: True (default thresholds), False,
    a `WatchdogConfig` or a `Watchdog`. ``seed``: (audio, rate) the watchdog re-primes from. ``music``: what
    it re-primes from without a seed (the bundle's clip: `rt_samplernn.live.music.ClipPrimer`); None: reset.
    ``sinks``: `WavSink`/`PcmSink` that get exactly what was played. ``switch_interval_s``: the
    interpreter's GIL switch interval while playing (short, so the audio callback waits less for the
    GIL; restored by `stop`; None leaves it alone). ``effects``: the effect chains (live/effects.py `Rack`).
    """

    def __init__(
        self,
        producer: Producer,
        *,
        device: int | str | None = None,
        latency_ms: float = DEFAULT_LATENCY_MS,
        chunk_frames: int = DEFAULT_CHUNK_FRAMES,
        block_frames: int = 0,
        seconds: float | None = None,
        watchdog: bool | WatchdogConfig | Watchdog = True,
        seed: tuple[np.ndarray | Clip, int] | None = None,
        music: Primer | None = None,
        sinks: Sequence[Sink] = (),
        stall_timeout_s: float = 2.0,
        prefill_timeout_s: float = 10.0,
        switch_interval_s: float | None = 0.001,
        effects: Rack | None = None,
    ) -> None:
        if latency_ms <= 0:
            raise UserError(f"--latency-ms {latency_ms}: must be positive (e.g. {DEFAULT_LATENCY_MS:g})")
        if chunk_frames < 1:
            raise UserError(f"chunk_frames {chunk_frames}: must be positive")
        if seconds is not None and seconds <= 0:
            raise UserError(f"--seconds {seconds}: must be positive")
        self.producer = producer
        self.sample_rate = int(producer.sample_rate)
        self.voices = int(producer.voices)
        if device == devices.NO_DEVICE:
            self.device = devices.clock_device(self.sample_rate, self.voices)
        else:
            self.device = devices.find_output_device(device)
        self.device_rate = self.device.sample_rate
        self.channels = min(self.device.channels, devices.MAX_DEVICE_CHANNELS)
        self.latency_ms = float(latency_ms)
        self.chunk_frames = int(chunk_frames)
        self.block_frames = int(block_frames)
        self.seconds = seconds
        self.stall_timeout_s = float(stall_timeout_s)
        self.prefill_timeout_s = float(prefill_timeout_s)
        self.switch_interval_s, self.effects = switch_interval_s, effects

        # mixing and resampling (worker side)
        self._mix_channels = 1 if self.channels == 1 else 2
        self._mix = devices.mix_matrix(self.voices, self._mix_channels)
        self._channel_map = devices.channel_map(self._mix_channels, self.channels)
        self._ratio = self.device_rate / self.sample_rate
        self._resampler: DeviceResampler | None = None

        # the ring, sized for the target plus the largest chunk the worker writes at once
        self.target_frames = max(1, round(self.latency_ms / 1000.0 * self.device_rate))
        # Startup: the device, the audio server's graph and the first engine calls all settle in the first
        # seconds; a cushion over the target, prefilled before the output opens and given back linearly
        # over STARTUP_S, keeps that from becoming underruns (the knob latency is a little longer meanwhile).
        self.startup_cushion_frames = round(STARTUP_CUSHION_MS / 1000.0 * self.device_rate)
        self._max_chunk_out = math.ceil(self.chunk_frames * self._ratio) + 256
        block = self.block_frames or CLOCK_BLOCK_FRAMES
        self.ring = RingBuffer(
            self.target_frames + self.startup_cushion_frames + 2 * self._max_chunk_out + 4 * block + 1024, self.channels
        )

        # recording: the callback copies what it played into the tap; the recorder thread drains it
        self.sinks = list(sinks)
        self._tap = RingBuffer(4 * self.device_rate + 8 * block, self.channels) if self.sinks else None

        # watchdog and recovery
        if isinstance(watchdog, Watchdog):
            self.watchdog = watchdog
        else:
            # the thresholds from the producer's training audio (its bundle's audio_stats), else the defaults
            stats = producer.audio_stats
            config = watchdog if isinstance(watchdog, WatchdogConfig) else WatchdogConfig.from_audio_stats(stats)
            self.watchdog = Watchdog(self.sample_rate, self.voices, config)
            self.watchdog.enabled = watchdog is not False
        self.reprimer = Reprimer(producer, seed, reset_seed_base=int(producer.seed) + 1, music=music)
        self.advice = KnobAdvice()

        # counters: each is stored by one thread only (named), read by any
        self._frames_played = 0  # callback
        self._block_frames_seen = 0  # callback: frames asked for by the last callback
        self._frames_limit = None if seconds is None else max(1, round(seconds * self.device_rate))
        self._underruns = 0  # callback
        self._underrun_frames = 0  # callback
        self._pa_underflows = 0  # callback
        self._tap_dropped = 0  # callback
        # worker: each block's time (hooks, generate, watchdog, mix, resample, write) against its real-time budget
        self.deadlines = Deadlines(budget_s=self.chunk_frames / self.sample_rate)
        self._finished = False  # callback: the --seconds limit was reached
        self._rtf = 0.0  # worker
        self._cpu_load = 0.0  # worker
        self._process_cpu = 0.0  # worker
        self._output_latency_s = 0.0
        self._resampler_delay = 0.0  # worker: the resampler's look-ahead, device frames
        # worker, running averages for knob_latency_s (start values: a worker that keeps up with no cost)
        self._gen_interval_s = self.chunk_frames / self.sample_rate  # between generate() starts
        self._gen_work_s = 0.0  # one generate() call
        self._write_fill_frames = float(self.target_frames)  # ring fill just before a chunk is written
        self.error: str | None = None

        self._block_hooks: tuple[Callable[[int], None], ...] = ()
        self._stream: Any = None
        self._clock_thread: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self._recorder: Recorder | None = None
        self._stop_worker = False
        self._stop_output = False
        self._done = threading.Event()  # set by the worker/recorder/stop; never by the callback
        self._started = False
        self._stopped = False
        self._device_lost = False
        self._old_switch_interval: float | None = None
        self._froze_gc = False

    # -- public controls (any thread) ---------------------------------------------------------------

    @property
    def watchdog_enabled(self) -> bool:
        return bool(self.watchdog.enabled)

    @watchdog_enabled.setter
    def watchdog_enabled(self, on: bool) -> None:
        self.watchdog.enabled = bool(on)

    def set_watchdog(self, on: bool) -> None:
        """Switch the watchdog on or off (MIDI, GUI); takes effect at the worker's next chunk."""
        self.watchdog.enabled = bool(on)

    def add_block_hook(self, hook: Callable[[int], None]) -> None:
        """Call ``hook(frames)`` on the worker thread before every ``producer.generate(frames)``.

        For parameter smoothing at block boundaries (rt_samplernn.live.control.LiveControl.tick). Hooks must be
        quick and must not block; an exception stops the player like a producer error.
        """
        self._block_hooks = self._block_hooks + (hook,)  # one assignment: the worker sees old or new

    def set_seed(self, audio: np.ndarray | Clip | None, rate: int | None = None) -> None:
        """The seed the watchdog (and `reprime`) re-primes from (an array at `rate`, or an audio.FileClip, read
        again at each re-prime, never held whole); None: the bundle's music (``music``), else reset the producer."""
        if audio is None:
            self.reprimer.seed = None
        elif isinstance(audio, (ArrayClip, FileClip)):
            self.reprimer.seed = (audio, audio.rate)
        else:
            self.reprimer.seed = (np.asarray(audio, np.float32), int(rate or self.sample_rate))

    def prime(self, audio: np.ndarray, rate: int) -> bool:
        """Make ``audio`` the current seed and re-prime from it now (on a helper thread; returns at once)."""
        self.set_seed(audio, rate)
        return self.reprime()

    def reprime(self, wait: bool = False) -> bool:
        """Re-prime the producer from the current seed (without one: the bundle's music, else reset). False if
        one is already running."""
        return self.reprimer.request(wait=wait)

    @property
    def running(self) -> bool:
        return self._started and not self._stopped and not self._done.is_set()

    def knob_latency_s(self) -> float:
        """Knob-to-sound latency: from a parameter change to the first sample it shapes leaving the device.

        A change lands at the start of the worker's next ``generate`` (on average half the interval between
        generate starts away), that chunk takes its generate time, then waits behind what the ring held when
        it was written (plus half a device block: the ring is read a block at a time), the resampler's
        look-ahead and the device's own buffer. Each term is the worker's running average, so the figure
        follows the machine: the ring fill target + half a chunk + the device's latency when the worker
        keeps up, more when it does not. benchmarks/knob_latency.py measures it on JACK's clock.
        """
        waits_s = self._gen_interval_s / 2.0 + self._gen_work_s
        # the ring is read a device block at a time: on average half a block passes before the next read
        queued_frames = self._write_fill_frames + self._resampler_delay + self._block_frames_seen / 2.0
        return waits_s + queued_frames / self.device_rate + self._output_latency_s

    def metrics(self) -> PlayerMetrics:
        """A snapshot of the counters; cheap and lock-free, callable from any thread at any time."""
        fill_ms = self.ring.fill_frames / self.device_rate * 1000.0
        wd = self.watchdog
        return PlayerMetrics(
            running=self.running,
            device=self.device.name,
            sample_rate=self.sample_rate,
            device_rate=self.device_rate,
            channels=self.channels,
            worker_rtf=self._rtf,
            ring_fill_ms=fill_ms,
            ring_capacity_ms=self.ring.capacity_frames / self.device_rate * 1000.0,
            target_latency_ms=self.target_frames / self.device_rate * 1000.0,
            knob_latency_ms=self.knob_latency_s() * 1000.0,
            output_latency_ms=self._output_latency_s * 1000.0,
            temperatures=tuple(float(t) for t in self.producer.temperatures),
            gain=float(self.producer.gain),
            underruns=self._underruns,
            underrun_frames=self._underrun_frames,
            output_underflows=self._pa_underflows,
            deadlines=self.deadlines.stats(None, self._underruns, self._pa_underflows),
            cpu_load=self._cpu_load,
            process_cpu=self._process_cpu,
            seconds_played=self._frames_played / self.device_rate,
            watchdog_enabled=bool(wd.enabled),
            watchdog_events=wd.events,
            silence_events=wd.silence_events,
            noise_events=wd.noise_events,
            hiss_events=wd.hiss_events,
            drone_events=wd.drone_events,
            recoveries=self.reprimer.recoveries,
            reprime_failures=self.reprimer.fallbacks + self.reprimer.failures,
            reprime_error=self.reprimer.last_error,
            recorded_seconds=(self._recorder.recorded_frames if self._recorder else 0) / self.device_rate,
            record_dropped_frames=self._tap_dropped,
            device_lost=self._device_lost,
            error=self.error,
            advice=self.advice.message,
            min_p=tuple(float(c) for c in self.producer.min_p),
        )

    # -- start / wait / stop ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker, prefill the ring to the target latency, then open and start the output."""
        if self._started:
            raise RuntimeError("a Player starts once; make a new one")
        self._started = True
        if self._ratio != 1.0:
            self._resampler = DeviceResampler(self.sample_rate, self.device_rate, self._mix_channels)
        for sink in self.sinks:
            sink.open(self.device_rate, self.channels)
        if self.switch_interval_s is not None:
            self._old_switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(self.switch_interval_s)
        self._worker = threading.Thread(target=self._work, name="rt-samplernn-worker", daemon=True)
        self._worker.start()
        deadline = time.monotonic() + self.prefill_timeout_s
        while self.ring.fill_frames < self._fill_target() and time.monotonic() < deadline and not self._done.is_set():
            time.sleep(0.002)
        if self.error is not None:
            self.stop()
            raise UserError(self.error)
        # What was allocated to get here (imports, sessions, buffers) lives as long as we play: out of the
        # cyclic GC's sight, so no full collection holds the GIL for tens of ms while the stream runs.
        gc.collect()
        gc.freeze()
        self._froze_gc = True
        if self.sinks:
            assert self._tap is not None  # made with the sinks
            self._recorder = Recorder(self._tap, self.sinks, max(4096, self.device_rate // 10), self._recording_failed)
            self._recorder.start()
        try:
            self._open_output()
        except BaseException:
            self.stop()
            raise

    def _open_output(self) -> None:
        if self.device.index is None:
            block = self.block_frames or CLOCK_BLOCK_FRAMES
            self._clock_thread = threading.Thread(
                target=devices.run_clock,
                args=(self._callback, block, self.channels, self.device_rate, lambda: self._stop_output),
                name="rt-samplernn-clock",
                daemon=True,
            )
            self._clock_thread.start()
            return
        stream = devices.open_stream(self.device, self.device_rate, self.block_frames, self.channels, self._callback)
        self._output_latency_s = float(stream.latency)
        # published only once started: the worker's device check reads `active` as soon as it sees it
        self._stream = stream

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the player finished by itself (--seconds reached, device lost, error); True if it did.

        Waits in short slices, so Ctrl-C (KeyboardInterrupt) gets through.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if left <= 0:
                return self._done.is_set()
            if self._done.wait(left):
                return True

    def stop(self) -> None:
        """Stop the output, the worker and the recorder; close the sinks. Idempotent, never hangs."""
        if self._stopped:
            return
        self._stopped = True
        self._stop_output = True
        if self._stream is not None:
            self._close_stream()
        if self._clock_thread is not None:
            self._clock_thread.join(timeout=2.0)
        self._stop_worker = True
        if self._worker is not None:
            self._worker.join(timeout=10.0)
        if self._recorder is not None:
            self._recorder.stop(timeout_s=30.0)
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as e:  # report, keep closing the others
                self.error = self.error or f"closing {sink}: {e}"
        self.reprimer.join(timeout=10.0)
        if self._froze_gc:
            gc.unfreeze()  # what this player held can be collected again once it is dropped
        if self._old_switch_interval is not None:
            sys.setswitchinterval(self._old_switch_interval)
        self._done.set()

    def _close_stream(self) -> None:
        """Close the stream; tried even after a device loss (a stream that only went inactive closes at once)."""
        if not devices.close_stream(self._stream, timeout_s=0.5 if self._device_lost else 3.0):
            self._device_lost = True
            self.error = self.error or f"audio device {self.device.label} did not close; it may be gone"

    @property
    def device_lost(self) -> bool:
        """True when the output device disappeared; PortAudio is unusable in this process afterwards."""
        return self._device_lost

    def __enter__(self) -> Player:
        if not self._started:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the audio callback (see the contract in the module docstring) -------------------------------

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status.output_underflow:
            self._pa_underflows += 1
        played = self._frames_played
        keep = frames  # frames of this block that count (all of them unless --seconds ends inside it)
        limit = self._frames_limit
        if limit is not None and played + frames >= limit:
            keep = max(0, limit - played)
            self._finished = True
        n = self.ring.read_into(outdata[:keep])
        if n < frames:
            outdata[n:].fill(0.0)
            if n < keep:
                self._underruns += 1
                self._underrun_frames += keep - n
        tap = self._tap
        if tap is not None and keep > 0:
            stored = tap.write(outdata[:keep])
            if stored < keep:
                self._tap_dropped += keep - stored
        self._frames_played = played + keep
        self._block_frames_seen = frames

    # -- the worker ---------------------------------------------------------------------------------

    def _work(self) -> None:
        raise_worker_priority()
        try:
            self._work_loop()
        except Exception as e:  # the stream stops with a message instead of playing silence forever
            self.error = f"the producer failed: {type(e).__name__}: {one_line(e)}"
            self._done.set()

    def _work_loop(self) -> None:
        next_check = time.monotonic()
        last_played, last_progress = -1, time.monotonic()
        cpu_wall, cpu_used = time.monotonic(), time.process_time()
        gen_audio_s = gen_work_s = 0.0
        last_start: float | None = None
        while not self._stop_worker:
            if self._finished:  # --seconds reached: nothing more will be played
                self._done.set()
                time.sleep(0.01)
                continue
            now = time.monotonic()
            if now >= next_check:
                next_check = now + 0.1
                self.deadlines.count(time.perf_counter(), self._underruns, self._pa_underflows)
                if self._stream is not None and not self._stop_output:
                    played = self._frames_played
                    if played != last_played:
                        last_played, last_progress = played, now
                    stalled = now - last_progress > self.stall_timeout_s
                    if (not self._stream.active or stalled) and not self._stop_output:  # not our own stop
                        self._lose_device()
                        return
                if now - cpu_wall >= 0.5:
                    cpu = time.process_time()
                    self._process_cpu = (cpu - cpu_used) / (now - cpu_wall)
                    cpu_wall, cpu_used = now, cpu
                    if self._stream is not None:
                        self._cpu_load = float(self._stream.cpu_load)
                if self.reprimer.busy:
                    self.watchdog.reset()  # judge only audio generated after the recovery lands
            fill, target = self.ring.fill_frames, self._fill_target()
            if fill >= target or self.ring.free_frames < self._max_chunk_out:
                wait_s = (fill - target + 1) / self.device_rate
                time.sleep(min(max(wait_s, 0.0005), 0.01))
                continue
            block_start = time.perf_counter()
            for hook in self._block_hooks:
                hook(self.chunk_frames)
            t0 = time.perf_counter()
            if last_start is not None:
                self._gen_interval_s += AVERAGE * (min(t0 - last_start, 1.0) - self._gen_interval_s)
            last_start = t0
            # the watchdog hears the model before the output gain: a performer muting with the gain is no collapse
            audio = self.producer.generate(self.chunk_frames, apply_gain=False)
            work_s = time.perf_counter() - t0
            self._gen_work_s += AVERAGE * (work_s - self._gen_work_s)
            self._push(audio)
            block_end = time.perf_counter()
            self.deadlines.block_done(block_end - block_start, block_end)
            gen_audio_s += self.chunk_frames / self.sample_rate
            gen_work_s += work_s
            if gen_audio_s >= 0.5:
                self._rtf = gen_audio_s / max(gen_work_s, 1e-9)
                gen_audio_s = gen_work_s = 0.0

    def _fill_target(self) -> int:
        """The ring fill the worker keeps: the target, plus the startup cushion fading over the first STARTUP_S."""
        played_s = self._frames_played / self.device_rate
        if played_s >= STARTUP_S:
            return self.target_frames
        return self.target_frames + round(self.startup_cushion_frames * (1.0 - played_s / STARTUP_S))

    def _push(self, audio: np.ndarray) -> None:
        """Watchdog, voice effects, mix, gain, master effects, resample, write a chunk (voices, n) into the ring."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim == 1:
            audio = audio[None, :]
        if audio.shape[0] != self.voices:
            raise ValueError(f"generate() returned {audio.shape[0]} voices, expected {self.voices}")
        if not np.isfinite(audio).all():
            audio = np.nan_to_num(audio, nan=0.0, posinf=1.0, neginf=-1.0)
        event = self.watchdog.process(audio)
        if event is not None:
            self.reprimer.request()
            temps = self.producer.temperatures
            if len(temps) > event.voice:
                self.advice.heard(event, float(temps[event.voice]))
        fx = self.effects  # the voices' chains hear the model after the watchdog; the master's follow the gain
        audio = audio if fx is None else fx.process_voices(audio)
        mix = np.ascontiguousarray(audio.T @ self._mix)  # (n, 1 or 2)
        gain = float(self.producer.gain)
        if gain != 1.0:
            mix *= np.float32(gain)
        mix = mix if fx is None else fx.process_master(mix)
        if self._resampler is not None:
            mix = self._resampler.process(mix)
            self._resampler_delay = self._resampler.delay_frames
        out = mix if self._mix_channels == self.channels else mix[:, self._channel_map]
        np.clip(out, -1.0, 1.0, out=out)
        self._write_fill_frames += AVERAGE * (self.ring.fill_frames - self._write_fill_frames)
        self.ring.write(out)

    def _lose_device(self) -> None:
        self._device_lost = True
        self.error = (
            f"audio device {self.device.label} stopped (the audio server went away or the device "
            "was unplugged); playback stopped"
        )
        devices.abandon_portaudio()
        self._done.set()

    # -- the recorder -------------------------------------------------------------------------------

    def _recording_failed(self, message: str) -> None:
        self.error = message
        self._done.set()
