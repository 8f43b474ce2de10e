"""Honest deadlines: each block's worker time against its real-time budget (p50, p99, worst) and the underrun
counts over the last WINDOW_S seconds, in rings allocated once; and the worker thread's priority.

No torch, no Qt. The worker thread records each block (`Deadlines.block_done`) and samples the callback's
counters a few times a second (`Deadlines.count`); any thread reads a `DeadlineStats` (`Deadlines.stats`).
Recording writes one slot of a preallocated NumPy ring (no array is allocated on the live path); reading
copies the ring and sorts it (allocates, off the live path). A block's *budget* is the audio it makes:
a worker that takes longer than that for a block falls behind, and the ring buffer only hides it for as
long as it holds audio. A mean real-time factor hides the worst blocks; p99 and the worst show them.

    deadlines = Deadlines(budget_s=256 / 16000)       # one block = 256 samples at 16 kHz: 16 ms to make it
    deadlines.block_done(work_s=0.004, end_s=time.perf_counter())   # worker, each block
    deadlines.count(time.perf_counter(), underruns=3, host_underflows=0)  # worker, ~10 times a second
    s = deadlines.stats(time.perf_counter(), underruns=3, host_underflows=0)
    s.p99_ms, s.worst_ms, s.budget_ms, s.underruns_recent     # any thread
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass

import numpy as np

WINDOW_S = 10.0  # the meters' "last N seconds"
COUNT_INTERVAL_S = 0.1  # how often the worker samples the counters (the windowed counts' resolution)


def nearest_rank(values: np.ndarray, q: float) -> float:
    """The q-quantile (0 < q <= 1) by nearest rank: the smallest value with at least q of all values at or
    below it (p99 of 100 blocks is the 99th smallest, of 1000 the 990th). 0.0 for no values."""
    n = len(values)
    if n == 0:
        return 0.0
    k = min(n, max(1, math.ceil(q * n - 1e-9)))
    return float(np.partition(values, k - 1)[k - 1])


@dataclass(frozen=True)
class DeadlineStats:
    """Block times (ms) over the last `window_s` and the callback's counts over the same time.

    ``blocks``: blocks in the window (0: nothing measured yet, the times are 0). ``budget_ms``: the audio
    one block makes; a block that takes longer missed its real-time deadline. ``underruns_recent`` and
    ``host_underflows_recent``: how many of the totals happened in the window.
    """

    window_s: float
    budget_ms: float
    blocks: int
    p50_ms: float
    p99_ms: float
    worst_ms: float
    late_blocks: int  # blocks in the window that took longer than the budget
    underruns_recent: int
    host_underflows_recent: int

    @property
    def p99_share(self) -> float:
        """p99 block time as a share of the budget: under 1 keeps up, above 1 falls behind."""
        return self.p99_ms / self.budget_ms if self.budget_ms > 0 else 0.0


class BlockTimes:
    """The times of the last blocks with the moment each ended, in a ring allocated once.

    ``capacity`` blocks are kept; when more than that end within the window (a worker filling its ring at
    startup), the stats cover the newest ``capacity`` only.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity {capacity}: must be at least 1")
        self._work_s = np.zeros(capacity, np.float64)
        self._end_s = np.full(capacity, -np.inf, np.float64)
        self._count = 0  # blocks ever recorded; only the writer stores to it

    @property
    def capacity(self) -> int:
        return len(self._work_s)

    @property
    def count(self) -> int:
        return self._count

    def record(self, work_s: float, end_s: float) -> None:
        """Writer: one block took ``work_s`` and ended at ``end_s`` (a perf_counter time). No allocation."""
        i = self._count % len(self._work_s)
        self._work_s[i] = work_s
        self._end_s[i] = end_s
        self._count += 1

    def between(self, start_s: float, end_s: float) -> np.ndarray:
        """Reader: a copy of the times of the kept blocks that ended in [start_s, end_s], in no order."""
        n = min(self._count, len(self._work_s))
        work, end = self._work_s[:n].copy(), self._end_s[:n].copy()
        return work[(end >= start_s) & (end <= end_s)]


class CounterHistory:
    """Samples of an ever-growing counter, in a ring allocated once: how much it grew over the last window."""

    def __init__(self, window_s: float, interval_s: float = COUNT_INTERVAL_S) -> None:
        capacity = 2 * math.ceil(window_s / interval_s) + 4  # room for samples taken faster than interval_s
        self.window_s = float(window_s)
        self._t_s = np.full(capacity, -np.inf, np.float64)
        self._value = np.zeros(capacity, np.int64)
        self._count = 0

    def sample(self, now_s: float, value: int) -> None:
        """Writer: the counter read ``value`` at ``now_s``. No allocation."""
        i = self._count % len(self._t_s)
        self._t_s[i] = now_s
        self._value[i] = value
        self._count += 1

    def recent(self, now_s: float, value: int) -> int:
        """Reader: how much the counter, now ``value``, grew since ``now_s - window_s`` (to within one sample
        interval): against the newest sample at or before that moment, else against 0 (the start)."""
        n = min(self._count, len(self._t_s))
        t, v = self._t_s[:n].copy(), self._value[:n].copy()
        before = t <= now_s - self.window_s
        if not before.any():
            return int(value) if self._count <= len(self._t_s) else int(value - v[np.argmin(t)])
        return int(value - v[before][np.argmax(t[before])])


class Deadlines:
    """Block times against the budget plus the underrun and host-underflow counts, over `window_s`.

    ``budget_s``: the real-time budget of one block (its frames / the model's rate). The block ring holds
    ``max_blocks`` (default: four windows' worth of blocks at the budget's pace, enough for a worker that
    runs ahead while it fills its ring).
    """

    def __init__(self, budget_s: float, window_s: float = WINDOW_S, max_blocks: int | None = None) -> None:
        if budget_s <= 0:
            raise ValueError(f"budget_s {budget_s}: must be positive")
        self.budget_s = float(budget_s)
        self.window_s = float(window_s)
        self.blocks = BlockTimes(max_blocks or 4 * math.ceil(window_s / budget_s) + 64)
        self._underruns = CounterHistory(window_s)
        self._host_underflows = CounterHistory(window_s)

    def block_done(self, work_s: float, end_s: float | None = None) -> None:
        """Worker: a block took ``work_s`` of worker time and ended at ``end_s`` (perf_counter; default now)."""
        self.blocks.record(work_s, time.perf_counter() if end_s is None else end_s)

    def count(self, now_s: float, underruns: int, host_underflows: int) -> None:
        """Worker, every COUNT_INTERVAL_S or so: the callback's totals as they are now."""
        self._underruns.sample(now_s, underruns)
        self._host_underflows.sample(now_s, host_underflows)

    def stats(self, now_s: float | None, underruns: int, host_underflows: int) -> DeadlineStats:
        """Any thread: the window ending at ``now_s`` (perf_counter; None: now), given the callback's totals."""
        now = time.perf_counter() if now_s is None else now_s
        times = self.blocks.between(now - self.window_s, now)
        return DeadlineStats(
            window_s=self.window_s,
            budget_ms=self.budget_s * 1000.0,
            blocks=len(times),
            p50_ms=nearest_rank(times, 0.50) * 1000.0,
            p99_ms=nearest_rank(times, 0.99) * 1000.0,
            worst_ms=float(times.max()) * 1000.0 if len(times) else 0.0,
            late_blocks=int((times > self.budget_s).sum()),
            underruns_recent=self._underruns.recent(now, underruns),
            host_underflows_recent=self._host_underflows.recent(now, host_underflows),
        )


__all__ = ["BlockTimes", "CounterHistory", "DeadlineStats", "Deadlines", "WINDOW_S", "nearest_rank"]


WORKER_NICE = -10  # the generation worker's priority where allowed (0 is normal, -20 the highest)


def raise_worker_priority() -> None:
    """Run the calling thread at nice WORKER_NICE where the OS allows it (Linux: per thread; needs root or
    CAP_SYS_NICE / an rlimit): under load the worker then wins its core from batch jobs, as JACK's own
    threads do with their realtime priority. Elsewhere, or without the right, nothing changes."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)
    except (OSError, AttributeError):
        pass
