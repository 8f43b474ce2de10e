"""Honest deadlines: block times against the real-time budget (p50, p99, worst of the last 10 s), underruns in the
last 10 s beside the total, and the meters and status line that show them. Pure logic with known times, then a
real Player on the software clock with a producer that costs a known share of its budget."""

from __future__ import annotations

import numpy as np
import pytest

from rt_samplernn.commands.play import format_status
from rt_samplernn.live.deadlines import CounterHistory, Deadlines, nearest_rank
from rt_samplernn.live.devices import NO_DEVICE
from rt_samplernn.live.meters import METERS_BY_NAME
from rt_samplernn.live.player import Player
from tests.stream_helpers import Tone


def test_nearest_rank_percentiles_of_known_values():
    values = np.random.default_rng(0).permutation(np.arange(1.0, 101.0))  # 1..100, shuffled
    assert nearest_rank(values, 0.50) == 50.0
    assert nearest_rank(values, 0.99) == 99.0
    assert nearest_rank(values, 1.0) == 100.0
    thousand = np.concatenate([np.full(989, 1.0), np.full(10, 7.0), [40.0]])  # 1% of the blocks slow, one awful
    assert nearest_rank(thousand, 0.99) == 7.0  # the 990th smallest
    assert nearest_rank(np.array([3.0]), 0.99) == 3.0 and nearest_rank(np.array([]), 0.99) == 0.0


def test_block_stats_cover_the_last_ten_seconds_only():
    deadlines = Deadlines(budget_s=0.016)
    # 20 s of blocks, one every 16 ms: 4 ms each, except a 30 ms block at 5 s (older than the window at
    # t = 20 s) and, in the last 10 s, 1% of the blocks at 12 ms and one at 20 ms
    ends = np.arange(1, 1251) * 0.016
    recent = np.flatnonzero(ends >= 20.0 - 10.0)
    times = np.full(len(ends), 0.004)
    times[np.argmin(np.abs(ends - 5.0))] = 0.030
    times[recent[::100]] = 0.012
    times[recent[50]] = 0.020
    for work_s, end_s in zip(times, ends, strict=True):
        deadlines.block_done(float(work_s), float(end_s))
    s = deadlines.stats(20.0, underruns=0, host_underflows=0)
    assert s.blocks == len(recent) == 626 and s.budget_ms == pytest.approx(16.0)
    assert s.p50_ms == pytest.approx(4.0) and s.p99_ms == pytest.approx(12.0)  # 7 slow of 626: the p99 is one
    assert s.worst_ms == pytest.approx(20.0)  # the 30 ms block left the window
    assert s.late_blocks == 1 and s.p99_share == pytest.approx(0.75)
    assert deadlines.stats(4.0, 0, 0).worst_ms == pytest.approx(4.0)  # before the slow one: all 4 ms
    assert deadlines.stats(6.0, 0, 0).worst_ms == pytest.approx(30.0)


def test_the_block_ring_is_allocated_once_and_keeps_the_newest_blocks():
    deadlines = Deadlines(budget_s=0.016, max_blocks=100)
    buffer = deadlines.blocks._work_s
    for i in range(1000):  # a worker filling its ring: 1000 blocks in 1 s
        deadlines.block_done(0.001 * (i % 10 + 1), i * 0.001)
    assert deadlines.blocks._work_s is buffer and deadlines.blocks.count == 1000
    s = deadlines.stats(1.0, 0, 0)
    assert s.blocks == 100 and s.worst_ms == pytest.approx(10.0) and s.p50_ms == pytest.approx(5.0)


def test_underruns_in_the_window_fall_back_to_zero_while_the_total_stays():
    history = CounterHistory(window_s=10.0, interval_s=0.1)
    total = 0
    seen = {}
    for tick in range(0, 300):  # 30 s, sampled every 0.1 s; 3 underruns at 1 s, 2 more at 15 s
        t = tick * 0.1
        total += 3 if tick == 10 else 2 if tick == 150 else 0
        history.sample(t, total)
        seen[round(t, 1)] = history.recent(t, total)
    assert seen[0.5] == 0 and seen[1.0] == 3 and seen[10.9] == 3
    assert seen[11.1] == 0  # the burst at 1 s is older than 10 s: the meter is clear again
    assert seen[15.0] == 2 and seen[24.9] == 2 and seen[25.1] == 0 and total == 5


def _metrics_meters(player: Player) -> dict[str, str]:
    m = player.metrics()
    return {name: METERS_BY_NAME[name].format(m) for name in ("block_p50", "block_p99", "block_worst", "underruns")}


def test_a_real_player_shows_its_block_times_and_recent_underruns():
    """A producer that sleeps 4 ms per 16 ms block (256 samples at 16 kHz): the block meters read about that
    against a 16.0 ms budget; then a producer slower than real time underruns, and the meter counts them
    beside the total."""
    player = Player(Tone(cost_s=0.004), device=NO_DEVICE, watchdog=False, latency_ms=50.0)
    before = player.metrics()
    assert not METERS_BY_NAME["block_p99"].measured(before) and "block --" in format_status(before)
    with player:
        player.wait(1.0)
        m = player.metrics()
    assert m.deadlines.blocks > 20 and m.deadlines.budget_ms == pytest.approx(16.0)
    assert 4.0 <= m.deadlines.p50_ms <= m.deadlines.p99_ms <= m.deadlines.worst_ms
    assert METERS_BY_NAME["block_p99"].format(m).endswith(" / 16.0 ms")
    recent = METERS_BY_NAME["underruns"].format(m)
    assert recent == f"{m.deadlines.underruns_recent} (total {m.underruns})"  # a loaded machine may underrun
    assert "block p50/p99/worst " in format_status(m) and " of 16.0 ms" in format_status(m)

    slow = Player(Tone(cost_s=0.030), device=NO_DEVICE, watchdog=False, latency_ms=20.0, prefill_timeout_s=0.2)
    with slow:
        slow.wait(1.0)
        m = slow.metrics()
    assert m.underruns > 0 and m.deadlines.underruns_recent == m.underruns  # all of them in the last 10 s
    assert m.deadlines.p50_ms >= 30.0 and m.deadlines.late_blocks == m.deadlines.blocks
    assert METERS_BY_NAME["underruns"].format(m) == f"{m.underruns} (total {m.underruns})"
    assert METERS_BY_NAME["block_p99"].fraction(m) == 1.0
    assert f"underruns {m.underruns} (total {m.underruns})" in format_status(m)
