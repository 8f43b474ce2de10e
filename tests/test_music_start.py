"""A bundle starts from music: its clip (stored by `export --clip`, checksummed) primes every voice from its
own offset, the watchdog re-primes back to it, priming is not generated audio, and the knobs travel over the
usable range `export` measures (stored in the manifest) with the full range one setting away."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from rt_samplernn.block_features import audio_stats
from rt_samplernn.checkpoint import save_checkpoint
from rt_samplernn.cli import main
from rt_samplernn.errors import UserError
from rt_samplernn.export.usable import CUTS, TEMPERATURES, measure_usable
from rt_samplernn.gui.session import LiveSession
from rt_samplernn.live.bundle import load_bundle, update_manifest
from rt_samplernn.live.declarations import DECLARATIONS
from rt_samplernn.live.engine import Engine
from rt_samplernn.live.music import (
    USABLE_KEY,
    ClipPrimer,
    Usable,
    add_clip,
    bundle_clip,
    bundle_usable,
    knob_specs,
    start_from_music,
    start_settings,
    voice_clips,
)
from rt_samplernn.live.params import FloatParam, Parameters
from rt_samplernn.live.watchdog import HISS, SILENCE, Event, KnobAdvice, Reprimer
from tests.audio_fixtures import drascula_track, write_excerpt
from tests.bundle_helpers import tiny_bundle, tiny_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s of recorded music (the demo's training soundtrack)."""
    return write_excerpt(drascula_track(2), tmp_path_factory.mktemp("music") / "music.wav", 100.0, 30.0)


def bundle_with_clip(tmp_path: Path, music: Path, seconds: float = 6.0) -> Path:
    _, path = tiny_bundle(tmp_path / "b", 3)
    add_clip(path, music, seconds)
    return path


def first_states(engine: Engine) -> np.ndarray:
    """The finest frame tier's hidden state, (voices, layers * dim), as the next block will read it."""
    h = engine.snapshot().states[0][0]  # (layers, voices, dim)
    return np.transpose(h, (1, 0, 2)).reshape(engine.voices, -1)


def test_the_clip_is_stored_checksummed_and_read_back(tmp_path: Path, music: Path) -> None:
    path = bundle_with_clip(tmp_path, music)
    entry = json.loads((path / "model.json").read_text())["clip"]
    assert entry["file"] == "clip.flac" and entry["sample_rate"] == 16000 and entry["seconds"] == 6.0
    info = soundfile.info(str(path / "clip.flac"))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("FLAC", "PCM_16", 16000, 1)
    clip = bundle_clip(load_bundle(path))
    assert clip is not None and len(clip.audio) == 6 * 16000 and np.abs(clip.audio).max() > 0.1
    soundfile.write(str(path / "clip.flac"), clip.audio[::-1].copy(), 16000, subtype="PCM_16", format="FLAC")
    with pytest.raises(UserError, match="clip.flac: checksum mismatch"):
        load_bundle(path)


def test_every_voice_is_primed_from_its_own_stretch_of_the_clip(tmp_path: Path, music: Path) -> None:
    path = bundle_with_clip(tmp_path, music)
    cold = Engine(path, voices=3, seed=4)
    assert start_from_music(cold, cold=True) is None
    warm = Engine(path, voices=3, seed=4)
    primer = start_from_music(warm)
    assert isinstance(primer, ClipPrimer)
    states = first_states(warm)
    assert not np.allclose(states, first_states(cold))  # primed, not the initial state
    for a in range(3):  # each voice from a different offset: three different states
        for b in range(a + 1, 3):
            assert not np.allclose(states[a], states[b])
    # exactly the clip's stretches, with the engine's own noise seed
    clip = bundle_clip(warm.bundle)
    assert clip is not None
    by_hand = Engine(path, voices=3, seed=4)
    by_hand.prime_voices(voice_clips(clip, 3), seed=4)
    np.testing.assert_array_equal(warm.generate_levels(3000), by_hand.generate_levels(3000))


def test_priming_is_not_generated_audio(tmp_path: Path, music: Path) -> None:
    """generate --seconds S writes S seconds of the model, primed from the clip or not; the clip is not in it."""
    path = bundle_with_clip(tmp_path, music)
    outs = {}
    for name, extra in (("music", []), ("cold", ["--cold"])):
        out = tmp_path / f"{name}.wav"
        args = ["generate", str(path), "--seconds", "0.5", "--count", "2", "--channels", "--out", str(out)]
        main(args + ["--temperature", "0.05"] + extra)  # cool: a random tiny model's flat logits then matter
        outs[name], rate = soundfile.read(str(out))
        assert rate == 16000 and outs[name].shape == (8000, 2)
    assert not np.array_equal(outs["music"], outs["cold"])  # the start differs: it came from the clip
    clip = soundfile.read(str(path / "clip.flac"))[0]
    assert not np.allclose(outs["music"][:800, 0], clip[:800], atol=0.05)


def test_watchdog_reprimes_go_back_to_the_clip_never_to_zeros(tmp_path: Path, music: Path) -> None:
    path = bundle_with_clip(tmp_path, music)
    engine = Engine(path, voices=2, seed=1)
    primer = start_from_music(engine)
    assert primer is not None
    engine.generate(2000)
    reprimer = Reprimer(engine, None, music=primer)
    reprimer.run()  # what a watchdog event starts
    assert reprimer.recoveries == 1 and reprimer.failures == 0
    noise_seed = 1_000_003 + 1  # the Reprimer's first fresh seed
    clip = bundle_clip(engine.bundle)
    assert clip is not None
    expect = Engine(path, voices=2, seed=noise_seed)
    expect.prime_voices(voice_clips(clip, 2, turn=1), seed=noise_seed)  # the next stretches of the clip
    np.testing.assert_array_equal(engine.generate_levels(2000), expect.generate_levels(2000))
    zeros = Engine(path, voices=2, seed=noise_seed)
    assert not np.allclose(first_states(expect), first_states(zeros))


def test_watchdog_reprimes_go_back_to_the_clip_under_a_tempo_too(tmp_path: Path, music: Path) -> None:
    """With --bpm or --midi-clock the player drives a TempoLocked, which has no voices of its own to prime:
    the rig's re-prime still primes the engine under it from the clip's next stretches, not a reset."""
    from rt_samplernn.live.rig import Rig
    from rt_samplernn.live.tempo import Tempo, TempoLocked

    path = bundle_with_clip(tmp_path, music)
    rig = Rig(voices=2, seed=1, watchdog=False)
    rig.open(path)
    try:
        assert rig.engine is not None
        player = rig.prepare("none", producer=TempoLocked(rig.engine, Tempo(100.0)))
        player.reprimer.run()  # what a watchdog event starts
        reprimer = player.reprimer
        assert (reprimer.recoveries, reprimer.fallbacks, reprimer.failures) == (1, 0, 0), reprimer.last_error
        primed = first_states(rig.engine.engine)
    finally:
        rig.close()
    noise_seed = 1_000_003 * 2 + 1  # the Reprimer's first fresh seed for the rig's seed 1
    clip = bundle_clip(load_bundle(path))
    assert clip is not None
    expect = Engine(path, voices=2, seed=noise_seed)
    expect.prime_voices(voice_clips(clip, 2, turn=1), seed=noise_seed)  # the next stretches of the clip
    np.testing.assert_array_equal(primed, first_states(expect))


def test_the_usable_range_round_trips_and_the_knobs_travel_over_it(tmp_path: Path) -> None:
    _, path = tiny_bundle(tmp_path / "b", 1)
    bundle = load_bundle(path)
    assert bundle_usable(bundle) is None and knob_specs(bundle) == {}
    assert start_settings(bundle) == {"temperature": 1.0, "min_p": 0.0}
    usable = Usable((0.85, 1.25), (0.02, 0.1), {"temperature": 1.1, "min_p": 0.05}, 20.0)
    update_manifest(path, USABLE_KEY, usable.to_manifest())
    bundle = load_bundle(path)
    assert bundle_usable(bundle) == usable
    specs = knob_specs(bundle)
    params = Parameters(voices=2, slot_count=8, **specs)
    for name, (lo, hi), default in (("temperature", (0.85, 1.25), 1.1), ("min_p", (0.02, 0.1), 0.05)):
        declared = DECLARATIONS[name].spec
        assert declared is not None
        cell = params.cell(name, FloatParam)
        cell.set_normalized(0.0)
        assert cell.target == pytest.approx(lo)
        cell.set_normalized(1.0)
        assert cell.target == pytest.approx(hi)
        assert specs[name].default == default and specs[name].power == declared.power
        assert params.voice_cells(name)[1].spec == specs[name]
    assert knob_specs(bundle, full_range=True) == {}  # the declared travel, one setting away
    assert start_settings(bundle) == {"temperature": 1.1, "min_p": 0.05}
    assert start_settings(bundle, temperature=0.7) == {"temperature": 0.7, "min_p": 0.05}
    # the window: the usable travel, the declared one with the "Full range" box
    session = LiveSession()
    session.open_bundle(path)
    assert session.params is not None and session.engine is not None
    assert (
        session.params.cell("temperature", FloatParam).spec.minimum,
        session.params.cell("temperature", FloatParam).spec.maximum,
    ) == (0.85, 1.25)
    np.testing.assert_allclose(session.engine.temperatures, 1.1)
    np.testing.assert_allclose(session.engine.min_p, 0.05)
    session.set_full_range(True)
    assert session.params.cell("temperature", FloatParam).spec == DECLARATIONS["temperature"].spec
    assert session.params.cell("min_p", FloatParam).spec == DECLARATIONS["min_p"].spec
    session.close()


def test_export_measures_the_usable_range_and_stores_clip_and_range(tmp_path: Path, music: Path) -> None:
    """`export --clip --range-seconds`: the clip in the bundle, the scan's verdicts and range in model.json."""
    ckpt = save_checkpoint(tmp_path / "tiny.pt", tiny_model(6, sample_rate=8000))  # as the 8 kHz 3-tier demo
    out = tmp_path / "bundle"
    main(["export", str(ckpt), "-o", str(out), "--clip", str(music), "--clip-seconds", "5", "--range-seconds", "3"])
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["clip"]["seconds"] == 5.0 and manifest["clip"]["sample_rate"] == 8000
    usable = Usable.from_manifest(manifest["usable"], out)
    assert len(usable.tried) >= len(TEMPERATURES) * len(CUTS) and usable.seconds == 3.0  # the grid, once or twice
    lo, hi = usable.temperature
    assert 0.8 <= lo <= usable.defaults["temperature"] <= hi <= 1.4
    # the scan's own verdicts agree with the stored range
    passed = [t for t in usable.tried if t["usable"]]
    if passed:
        assert lo == min(t["temperature"] for t in passed) and hi == max(t["temperature"] for t in passed)


def test_the_scan_judges_against_the_music(tmp_path: Path, music: Path) -> None:
    """Silence and hiss fail, the music itself passes: the verdicts the range is made of."""
    from rt_samplernn.export.usable import judge

    stats = audio_stats([music], 16000)
    audio = soundfile.read(str(music), dtype="float32")[0]
    assert judge(audio, 16000, stats, 1.0, 0.0).usable
    assert not judge(np.zeros(16000 * 10, np.float32), 16000, stats, 0.5, 0.0).usable
    hiss = np.random.default_rng(0).standard_normal(16000 * 10).astype(np.float32) * 0.1
    verdict = judge(hiss, 16000, stats, 1.5, 0.0)
    assert not verdict.usable and verdict.flatness > 0.3
    # and a whole scan over a tiny bundle returns a range on its grid
    path = bundle_with_clip(tmp_path, music, 4.0)
    usable = measure_usable(path, stats, seconds=2.0, temperatures=(0.9, 1.3), cuts=(0.0, 0.1))
    assert {(t["temperature"], t["min_p"]) for t in usable.tried} == {(0.9, 0.0), (0.9, 0.1), (1.3, 0.0), (1.3, 0.1)}


def test_the_watchdog_says_once_when_the_knob_makes_the_collapse() -> None:
    advice = KnobAdvice()

    def event(kind: str, at: float, voice: int = 0) -> Event:
        return Event(kind, voice, -20.0, 0.3, 0.4, at)

    assert advice.heard(event(HISS, 8.0), 1.4) is None  # once may be bad luck: re-priming may cure it
    said = advice.heard(event(HISS, 16.5), 1.4)  # again right after the recovery: the knob does it
    assert said == "hiss at T 1.40: turn the temperature down (or the tail cut up)" == advice.message
    assert advice.heard(event(HISS, 25.0), 1.4) is None  # said once
    assert advice.heard(event(HISS, 34.0), 1.2) == "hiss at T 1.20: turn the temperature down (or the tail cut up)"
    assert advice.heard(event(HISS, 100.0), 1.0) is None  # long after: not in a row
    assert advice.heard(event(SILENCE, 50.0, 1), 0.5) is None
    assert advice.heard(event(SILENCE, 53.0, 1), 0.5) == "silence at T 0.50: turn the temperature up"
