"""The live meters, each declared once: name, label, unit, where its value comes from, how it is shown.

No torch, no Qt. A meter reads one `PlayerMetrics` snapshot (defined here) (``Player.metrics()``,
lock-free, any thread). The window's meters panel draws one bar per entry of `METERS` (through
`rt_samplernn.gui.session.LiveSession.meters`, never reading PlayerMetrics itself); `play`'s status line uses
the same `Meter.format`, so both show the same number in the same words. Adding a meter is one
`Meter` here (plus a PlayerMetrics field if the player does not measure it yet).

    from rt_samplernn.live.meters import METERS, METERS_BY_NAME
    m = player.metrics()
    for meter in METERS:
        print(meter.label, meter.format(m))            # 'real-time factor 1.52x', 'ring fill 48 / 50 ms'
    METERS_BY_NAME["underruns"].value(m)               # 1.0: underruns in the last 10 s
    METERS_BY_NAME["underruns"].format(m)              # '1 (total 3)'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rt_samplernn.live.deadlines import WINDOW_S, DeadlineStats


@dataclass(frozen=True)
class PlayerMetrics:
    """One snapshot of the live counters (`Player.metrics`). Times in ms or s as named; counts since start."""

    running: bool
    device: str
    sample_rate: int  # the producer's (model) rate, Hz
    device_rate: int  # the output's rate, Hz (resampled when it differs)
    channels: int  # output channels fed
    worker_rtf: float  # generated audio seconds per second of generate() work: > 1 keeps up; 0 until measured
    ring_fill_ms: float  # audio queued ahead of the playhead
    ring_capacity_ms: float
    target_latency_ms: float  # the worker keeps the ring filled to this
    knob_latency_ms: float  # knob-to-sound, modelled from the worker's timings (`Player.knob_latency_s`)
    output_latency_ms: float  # the device's own output latency (PortAudio's figure), included above
    temperatures: tuple[float, ...]  # the producer's sampling temperature per voice (empty if it has none)
    gain: float  # the output gain (linear)
    underruns: int  # callbacks that found the ring short and played zeros
    underrun_frames: int  # zero frames played because of them
    output_underflows: int  # callbacks PortAudio flagged output_underflow (the host missed a deadline)
    deadlines: DeadlineStats  # worker time per block against its budget, and the counts above, last 10 s
    cpu_load: float  # PortAudio's callback CPU load, share of the real-time budget (0..1)
    process_cpu: float  # this process's CPU use, in cores (1.0 = one core busy)
    seconds_played: float
    watchdog_enabled: bool
    watchdog_events: int
    silence_events: int
    noise_events: int  # blow-ups: loud broadband noise
    hiss_events: int  # output as flat as noise, at any level
    drone_events: int  # stuck low-frequency / DC-like output, or a short loop over and over
    recoveries: int  # re-primes done (watchdog or `Player.reprime`), a reset after a failed re-prime included
    reprime_failures: int  # re-primes from the seed that failed (each followed by a reset), and failed resets
    reprime_error: str | None  # why the last one failed, in words
    recorded_seconds: float  # seconds written to the sinks
    record_dropped_frames: int  # frames the recorder could not keep up with
    device_lost: bool  # the output disappeared (PortAudio is unusable in this process afterwards)
    error: str | None  # why the player stopped by itself, else None
    advice: str = ""  # the watchdog's word on a knob re-priming cannot cure (`KnobAdvice`), else ""
    min_p: tuple[float, ...] = ()  # the producer's tail cut per voice (empty if it has none)


Reader = Callable[[PlayerMetrics], float]  # PlayerMetrics -> a number


@dataclass(frozen=True)
class Meter:
    """One meter.

    ``name``: its key. ``label``: the caption a performer reads. ``unit``: shown after the value
    ("ms", "%", "x", "" for counts). ``read``: where the value comes from (PlayerMetrics -> number).
    ``fmt``: a format spec for the value (after ``scale``: e.g. 100 for a fraction shown in %).
    ``full_scale``: the value of a full bar (a number, or PlayerMetrics -> number, e.g. the fill target).
    ``of``: show "value / full scale" (ring fill against its target). ``unmeasured_below``: a value
    under this is "not measured yet" and shows as '—' (the real-time factor before the first chunk).
    ``warn``/``alarm``: bar fractions where the bar turns amber/red; ``low_is_bad``: for meters where a
    low bar is the problem (ring fill, real-time factor). ``fast``: redrawn at the scope's rate (else
    once a second). ``short``: the word in a one-line status ("RTF", "fill"). ``total``: a running total
    shown beside a windowed count ("2 (total 14)"). ``tip``: what the meter means, for the window's tooltip.
    """

    name: str
    label: str
    unit: str
    read: Reader
    fmt: str = ".0f"
    scale: float = 1.0
    full_scale: float | Reader = 1.0
    of: bool = False
    unmeasured_below: float | None = None
    warn: float = 0.8
    alarm: float = 0.95
    low_is_bad: bool = False
    fast: bool = False
    short: str = ""
    total: Reader | None = None
    tip: str = ""

    def value(self, metrics: Any) -> float:
        return float(self.read(metrics))

    def full(self, metrics: Any) -> float:
        return float(self.full_scale(metrics) if callable(self.full_scale) else self.full_scale)

    def measured(self, metrics: Any) -> bool:
        return self.unmeasured_below is None or self.value(metrics) >= self.unmeasured_below

    def fraction(self, metrics: Any) -> float:
        """The bar's fill in [0, 1] (0 while unmeasured)."""
        full = self.full(metrics)
        if full <= 0 or not self.measured(metrics):
            return 0.0
        return min(max(self.value(metrics) / full, 0.0), 1.0)

    def format(self, metrics: Any, unmeasured: str = "—") -> str:
        """The value as a performer reads it: '1.52x', '48 / 50 ms', '3', '12 %', or `unmeasured` before it is
        measured."""
        if not self.measured(metrics):
            return unmeasured
        text = format(self.value(metrics) * self.scale, self.fmt)
        if self.of:
            text += " / " + format(self.full(metrics) * self.scale, self.fmt)
        text += f" {self.unit}" if self.unit and self.unit != "x" else self.unit
        if self.total is not None:
            text += f" (total {self.total(metrics):.0f})"
        return text


CORES = float(os.cpu_count() or 1)
WINDOW = f"{WINDOW_S:.0f} s"

HOST_UNDERFLOWS_TIP = (
    "PortAudio's output-underflow flag: the audio host says a period of output was not delivered in time "
    "(on JACK an xrun: the graph's period was not filled before its deadline, e.g. because the callback "
    "thread waited for Python's interpreter lock, or another client was late). The ring still had audio "
    "then, so these are not underruns; many of them mean a loaded machine, and each may be a click."
)


def _block_meter(name: str, label: str, read: Reader, short: str, warn: float, alarm: float, tip: str) -> Meter:
    """A block-time meter: worker ms per block against the block's real-time budget ('—' before the first)."""
    return Meter(
        name,
        label,
        "ms",
        read,
        fmt=".1f",
        full_scale=lambda m: m.deadlines.budget_ms,
        of=True,
        unmeasured_below=1e-9,
        warn=warn,
        alarm=alarm,
        short=short,
        tip=tip,
    )


METERS: tuple[Meter, ...] = (
    Meter(
        "realtime_factor",
        "real-time factor",
        "x",
        lambda m: m.worker_rtf,
        fmt=".2f",
        full_scale=4.0,
        unmeasured_below=1e-9,
        warn=0.6,
        alarm=0.75,
        low_is_bad=True,
        short="RTF",
    ),
    Meter(
        "ring_fill",
        "ring fill / target",
        "ms",
        lambda m: m.ring_fill_ms,
        full_scale=lambda m: m.target_latency_ms,
        of=True,
        warn=0.5,
        alarm=0.8,
        low_is_bad=True,
        fast=True,
        short="fill",
    ),
    Meter(
        "knob_latency",
        "knob-to-sound latency",
        "ms",
        lambda m: m.knob_latency_ms,
        full_scale=250.0,
        warn=0.5,
        alarm=0.8,
        short="latency",
    ),
    _block_meter(
        "block_p50",
        "block time p50 / budget",
        lambda m: m.deadlines.p50_ms,
        "p50",
        warn=0.6,
        alarm=0.8,
        tip=f"the median worker time per block over the last {WINDOW}, against the audio one block makes",
    ),
    _block_meter(
        "block_p99",
        "block time p99 / budget",
        lambda m: m.deadlines.p99_ms,
        "p99",
        warn=0.7,
        alarm=0.9,
        tip=f"99% of the blocks of the last {WINDOW} took at most this long: over the budget, the worker "
        "falls behind and the ring drains",
    ),
    _block_meter(
        "block_worst",
        f"worst block, last {WINDOW} / budget",
        lambda m: m.deadlines.worst_ms,
        "worst",
        warn=0.9,
        alarm=0.999,
        tip=f"the slowest block of the last {WINDOW}; over the budget, the ring covered for it",
    ),
    Meter(
        "underruns",
        f"underruns, last {WINDOW}",
        "",
        lambda m: m.deadlines.underruns_recent,
        full_scale=10.0,
        warn=0.01,
        alarm=0.5,
        short="underruns",
        total=lambda m: m.underruns,
        tip=f"times the ring ran dry and the output played silence (a gap), in the last {WINDOW}; the total "
        "since start beside it",
    ),
    Meter(
        "host_underflows",
        f"host underflows, last {WINDOW}",
        "",
        lambda m: m.deadlines.host_underflows_recent,
        full_scale=50.0,
        warn=0.2,
        alarm=0.6,
        short="host",
        total=lambda m: m.output_underflows,
        tip=HOST_UNDERFLOWS_TIP,
    ),
    Meter(
        "watchdog_events",
        "watchdog events",
        "",
        lambda m: m.watchdog_events,
        full_scale=10.0,
        warn=0.01,
        alarm=0.5,
        short="watchdog",
    ),
    Meter(
        "callback_cpu",
        "audio callback CPU",
        "%",
        lambda m: m.cpu_load,
        scale=100.0,
        warn=0.5,
        alarm=0.8,
        short="callback",
    ),
    Meter(
        "process_cpu",
        "process CPU",
        "cores",
        lambda m: m.process_cpu,
        fmt=".2f",
        full_scale=CORES,
        warn=0.7,
        alarm=0.9,
        short="cpu",
    ),
)
METERS_BY_NAME: dict[str, Meter] = {m.name: m for m in METERS}


__all__ = ["HOST_UNDERFLOWS_TIP", "Meter", "METERS", "METERS_BY_NAME"]
