"""The voice plan (live/plan.py): play and the window start with the voices this CPU plays live, say what they
chose and why, and remember the calibration per bundle and CPU."""

from __future__ import annotations

import json

from rt_samplernn.live.cpu import cpu_features, kernel_path
from rt_samplernn.live.plan import P99_MARGIN, VoicePlan, choose_voices, plan_voices
from rt_samplernn.live.rig import Rig
from tests.bundle_helpers import tiny_bundle


def test_the_plan_keeps_the_most_voices_that_fit_and_says_why():
    shares = {4: 1.83, 3: 1.2, 2: 0.8, 1: 0.45}
    assert choose_voices(4, shares) == 2
    assert choose_voices(4, shares, force=True) == 4
    assert choose_voices(1, {1: 3.0}) == 1  # never fewer than one
    assert choose_voices(2, {2: 1 / P99_MARGIN, 1: 0.3}) == 2  # the margin itself fits
    line = VoicePlan(4, 2, shares).line()
    assert (
        line
        == "4 voices need 183% of this CPU's real-time budget by their p99 block: playing 2; --voices 4 --force-voices to try"
    )
    assert "anyway (--force-voices)" in VoicePlan(4, 4, shares, forced=True).line()
    assert VoicePlan(2, 2, shares).line() == "2 voice(s) fit this CPU (80% of the budget by the p99 block)"
    assert VoicePlan(1, 1, {1: 7.57}).line().startswith("1 voice needs 757% of this CPU's real-time budget")


def test_the_calibration_is_remembered_per_bundle_and_cpu_when_it_fits(tmp_path):
    """A count that fitted is not timed again for the same bundle and CPU; one that fell short (maybe a busy
    minute) is timed again next time; another bundle gets its own entry."""
    _, bundle = tiny_bundle(tmp_path / "b")
    cache = tmp_path / "plans.json"
    first = plan_voices(bundle, 2, cache=cache, seconds=0.1)
    assert not first.cached and 2 in first.shares and 1 <= first.voices <= 2
    fitted = {v: round(s, 4) for v, s in first.shares.items() if s * P99_MARGIN <= 1.0}
    again = plan_voices(bundle, 2, cache=cache, seconds=0.1)
    assert again.cached == (2 in fitted)
    assert all(again.shares[v] == s for v, s in fitted.items())  # read back, not timed again
    stored = json.loads(cache.read_text())
    assert list(stored.values()) == [{str(v): s for v, s in sorted(fitted.items())}] or not fitted
    _, other = tiny_bundle(tmp_path / "other", seed=5)  # other weights: another calibration
    assert not plan_voices(other, 2, cache=cache, seconds=0.1).cached


def test_a_rig_that_fits_its_voices_plays_the_plan_and_tells_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    _, bundle = tiny_bundle(tmp_path / "b")
    rig = Rig(voices=2, fit_voices=True, force=True)
    rig.open(bundle)
    try:
        assert rig.voice_plan is not None and rig.voice_plan.requested == 2
        assert rig.engine is not None and rig.engine.voices == 2  # forced: what was asked
        assert rig.notices[-1] == rig.voice_plan.line()
    finally:
        rig.close()
    plain = Rig(voices=3)  # without fit_voices: the voices asked for, no calibration
    plain.open(bundle)
    try:
        assert plain.voice_plan is None and plain.engine is not None and plain.engine.voices == 3
    finally:
        plain.close()


def test_the_cpu_is_described_by_its_kernel_features():
    assert kernel_path(["avx2", "fma"]).endswith("AVX2 int8 without VNNI (u8 x s8 pairs add in int16)")
    assert kernel_path(["avx2", "avx512f", "avx512bw", "avx512_vnni"]).endswith("AVX-512 VNNI int8")
    assert kernel_path(["asimd", "asimddp"]).endswith("NEON with dot products")
    assert set(cpu_features()) <= {
        "sse4_2",
        "avx2",
        "fma",
        "avx512f",
        "avx512bw",
        "avx512_vnni",
        "avx_vnni",
        "asimd",
        "asimddp",
        "i8mm",
    }
