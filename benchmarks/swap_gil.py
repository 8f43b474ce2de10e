"""How long a hot-swap's background load can keep the producer thread from running (the GIL), step by step.

    python benchmarks/swap_gil.py                      # the demo, 3 rounds
    python benchmarks/swap_gil.py --bundle my-bundle --rounds 5

`HotSwap` loads and checks the new bundle on its own thread while the worker keeps generating; any step
that holds Python's GIL for long would stall the worker and the ring would run dry. A ticker thread sleeps
0.5 ms in a loop (the interpreter's switch interval set to 1 ms, as the player sets it) and records the gaps
between its wake-ups while each step of a hot-swap load runs on the main thread: the largest gap bounds
how long that step kept other Python threads waiting. "idle" is the same with nothing running: the
machine's own scheduling noise. The first load of a process also imports onnx (several seconds under the
GIL on this VM); play and the window do that at start-up, so a hot-swap never pays it: the steps here
run warm, as a swap does.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rt_samplernn.live.bundle import load_bundle
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.hotswap import CHECK_SAMPLES


def open_engine(bundle: Path, made: list[Engine]) -> None:
    made.append(Engine(bundle, voices=1, seed=0, provider="cpu"))


def check(made: list[Engine]) -> None:
    made[-1].generate(CHECK_SAMPLES)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", type=Path, default=None, help="bundle to load (default: the demo)")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    from rt_samplernn.models import DEMO_BUNDLE

    bundle = args.bundle or DEMO_BUNDLE
    sys.setswitchinterval(0.001)
    load_bundle(bundle)  # warm: the imports a first load pays
    gaps: list[float] = []
    stop = threading.Event()

    def tick() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.0005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    def measure(name: str, step: Callable[[], object]) -> None:
        time.sleep(0.3)
        gaps.clear()
        t0 = time.perf_counter()
        step()
        took = time.perf_counter() - t0
        time.sleep(0.05)
        g = np.array(gaps) * 1e3
        print(f"{name:<28} {took * 1e3:8.1f} ms {g.max():9.1f} ms {np.percentile(g, 99):8.1f} ms", flush=True)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    print(f"{bundle}, load average {os.getloadavg()[0]:.2f} at start")
    print(f"{'step':<28} {'took':>11} {'max gap':>12} {'p99 gap':>11}")
    for _ in range(args.rounds):
        measure("idle (0.4 s)", lambda: time.sleep(0.4))
        measure("load_bundle", lambda: load_bundle(bundle))
        made: list[Engine] = []
        measure("Engine() (sessions)", functools.partial(open_engine, bundle, made))
        measure(f"check: generate {CHECK_SAMPLES}", functools.partial(check, made))
    stop.set()
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
