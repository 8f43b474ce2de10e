"""How many voices this CPU plays live: block times as the player asks for them, the capacity search that
`bench` prints, and the plan `play` and `gui` start with (a short calibration at load, cached per bundle and
CPU), the CPU's kernel features from rt_samplernn/live/cpu.py (torch-free)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rt_samplernn.atomic import write_atomically
from rt_samplernn.errors import UserError
from rt_samplernn.live.bundle import Bundle, load_bundle
from rt_samplernn.live.cpu import cpu_features, cpu_name
from rt_samplernn.live.deadlines import nearest_rank
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.player import DEFAULT_CHUNK_FRAMES

if TYPE_CHECKING:
    from rt_samplernn.live.effects import Rack

P99_MARGIN = 1.2  # a voice count fits when its p99 block time is at most 1/P99_MARGIN of the block's budget


@dataclass(frozen=True)
class BlockTimes:
    """Worker time per block as the live player asks for them (`chunk_frames` samples per generate call)."""

    voices: int
    workers: int
    block_frames: int  # samples per block
    budget_ms: float  # the audio one block makes: a block that takes longer misses its real-time deadline
    p50_ms: float
    p99_ms: float
    worst_ms: float

    @property
    def p99_share(self) -> float:
        """p99 as a share of the budget: under 1 keeps up."""
        return self.p99_ms / self.budget_ms


ChainFactory = Callable[[int, int], "Rack | None"]  # (sample rate, voices) -> the effect chains a worker runs


def block_times(
    bundle: Any,
    voices: int,
    workers: int,
    threads: int,
    seconds: float,
    provider: str = "cpu",
    chains: ChainFactory | None = None,
) -> BlockTimes:
    """Generate `seconds` of `voices` split over `workers` engines (each on its own Python thread, with
    `threads` intra-op threads; onnxruntime releases the GIL while a graph runs), one live-sized block per
    call, and time every call: p50, p99 and worst over all workers' blocks. ``chains``: each worker's block
    also runs through the effect chains it makes (voice chains, then the master on the stereo mix), as in play."""
    split = [voices // workers + (1 if i < voices % workers else 0) for i in range(workers)]
    engines = [Engine(bundle, voices=v, seed=i, provider=provider, threads=threads) for i, v in enumerate(split) if v]
    racks = [chains(e.sample_rate, e.voices) if chains is not None else None for e in engines]
    chunk = DEFAULT_CHUNK_FRAMES
    blocks = max(1, int(seconds * engines[0].sample_rate) // chunk)
    for e, rack in zip(engines, racks, strict=True):
        for _ in range(max(1, blocks // 8)):  # warm up: allocations, caches
            run_block(e, rack, chunk)
    times = [np.zeros(blocks) for _ in engines]

    def work(i: int) -> None:
        engine, rack, out = engines[i], racks[i], times[i]
        for b in range(blocks):
            t = time.perf_counter()
            run_block(engine, rack, chunk)
            out[b] = time.perf_counter() - t

    jobs = [threading.Thread(target=work, args=(i,)) for i in range(len(engines))]
    for j in jobs:
        j.start()
    for j in jobs:
        j.join()
    every = np.concatenate(times)
    return BlockTimes(
        voices=voices,
        workers=len(engines),
        block_frames=chunk,
        budget_ms=chunk / engines[0].sample_rate * 1000.0,
        p50_ms=nearest_rank(every, 0.50) * 1000.0,
        p99_ms=nearest_rank(every, 0.99) * 1000.0,
        worst_ms=float(every.max()) * 1000.0,
    )


def run_block(engine: Engine, rack: Rack | None, frames: int) -> np.ndarray:
    """One live block as the worker makes it: the engine's voices, then the voice chains and the master chain on
    their stereo mix (the rack's cost is the worker's too)."""
    audio = engine.generate(frames)
    if rack is None:
        return audio
    voices = rack.process_voices(audio)
    mix = np.repeat(voices.sum(axis=0, dtype=np.float32)[:, None], 2, axis=1)
    return rack.process_master(mix)


def voice_capacity(
    bundle: Any,
    workers: int,
    threads: int,
    margin: float = P99_MARGIN,
    seconds: float = 1.0,
    max_voices: int = 64,
    chains: ChainFactory | None = None,
) -> tuple[int, BlockTimes | None]:
    """The most voices whose p99 block time stays within 1/`margin` of the block's budget, and their times
    (``chains``: with the effect chains' cost, as block_times).

    Doubles the voice count until it falls short, then bisects; each point is one short run.
    """
    good: tuple[int, BlockTimes | None] = (0, None)
    bad = None
    n = max(1, workers)
    while n <= max_voices:
        times = block_times(bundle, n, workers, threads, seconds, chains=chains)
        if times.p99_share * margin > 1.0:
            bad = n
            break
        good = (n, times)
        n *= 2
    while bad is not None and bad - good[0] > 1:
        mid = (good[0] + bad) // 2
        times = block_times(bundle, mid, workers, threads, seconds, chains=chains)
        if times.p99_share * margin <= 1.0:
            good = (mid, times)
        else:
            bad = mid
    return good


@dataclass(frozen=True)
class VoicePlan:
    """The voices an engine starts with: what was asked, what plays, and the calibration behind it
    (p99 block time as a share of the block's budget, per voice count tried)."""

    requested: int
    voices: int
    shares: dict[int, float]
    forced: bool = False
    cached: bool = False

    def line(self) -> str:
        """One line for the user: what was chosen and why."""
        need = self.shares.get(self.requested)
        if self.voices == self.requested:
            if need is None or need * P99_MARGIN <= 1.0:
                where = f" ({need:.0%} of the budget by the p99 block)" if need is not None else ""
                return f"{self.voices} voice(s) fit this CPU{where}"
            if self.forced:
                return (
                    f"{self.requested} voice(s) need {need:.0%} of this CPU's real-time budget by their p99 block: "
                    "playing them anyway (--force-voices); expect underruns"
                )
            return (  # one voice that does not fit (choose_voices plays at least one)
                f"{self.voices} voice needs {need:.0%} of this CPU's real-time budget by its p99 block: expect "
                "underruns (a smaller or 8 kHz model, a longer --latency-ms, or fewer other programs)"
            )
        need_text = f"{need:.0%}" if need is not None else "more than 100%"
        return (
            f"{self.requested} voices need {need_text} of this CPU's real-time budget by their p99 block: "
            f"playing {self.voices}; --voices {self.requested} --force-voices to try"
        )


def choose_voices(requested: int, shares: dict[int, float], force: bool = False) -> int:
    """The voices to play: `requested` with force, else the most of 1..requested whose measured share
    (p99 block time / budget) is within 1/P99_MARGIN, at least 1."""
    fits = [v for v, share in shares.items() if v <= requested and share * P99_MARGIN <= 1.0]
    return requested if force else max(fits, default=1)


PLAN_SECONDS = 0.5  # audio generated per voice count tried
PLAN_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rt-samplernn" / "voice-plans.json"


def _plan_key(bundle: Bundle, threads: int, chains_key: str = "") -> str:
    parts: list[Any] = [bundle.sample.sha256, *[g.sha256 for g in bundle.frame_graphs], cpu_name(), cpu_features()]
    ident = json.dumps(parts + ([chains_key] if chains_key else []))
    return f"{hashlib.sha256(ident.encode()).hexdigest()[:24]}:{threads}"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def plan_voices(
    bundle: str | Path | Bundle,
    requested: int,
    threads: int = 1,
    force: bool = False,
    cache: Path | None = PLAN_CACHE,
    seconds: float = PLAN_SECONDS,
    chains: ChainFactory | None = None,
    chains_key: str = "",
) -> VoicePlan:
    """The most voices up to `requested` whose p99 block time stays within 1/P99_MARGIN of the budget on this
    CPU (at least 1), from a short calibration cached per bundle, CPU and thread count (cache None: none).
    force: play `requested` whatever the calibration says (it is still measured, to say so). ``chains``: the
    effect chains each block also runs through (their cost counts), ``chains_key`` saying what they are."""
    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    key = _plan_key(b, threads, chains_key)
    stored = _read_cache(cache) if cache is not None else {}
    # Only counts that fitted are remembered: one that fell short may have met a busy minute, so it is timed again.
    shares = {
        int(v): float(s)
        for v, s in stored.get(key, {}).items()
        if str(v).isdigit() and isinstance(s, (int, float)) and float(s) * P99_MARGIN <= 1.0
    }
    cached = requested in shares
    for voices in range(requested, 0, -1):
        if voices not in shares:
            shares[voices] = block_times(b, voices, 1, threads, seconds, chains=chains).p99_share
        if shares[voices] * P99_MARGIN <= 1.0:
            break
    voices = choose_voices(requested, shares, force)
    if cache is not None:
        try:
            stored[key] = {str(v): round(s, 4) for v, s in sorted(shares.items()) if s * P99_MARGIN <= 1.0}
            write_atomically(cache, (json.dumps(stored, indent=1) + "\n").encode(), "the voice-plan cache")
        except UserError:
            pass  # a cache that cannot be written costs a calibration next time, nothing else
    return VoicePlan(requested, voices, shares, forced=force, cached=cached)
