"""What a bundle knows about its music (torch-free): the clip its voices start from, and the knob ranges inside
which it stays musical (model.json `clip` and `usable`, docs/bundle.md).

    clip = bundle_clip(bundle)                       # an audio.ArrayClip at the model rate, or None
    engine.prime_voices(voice_clips(clip, engine.voices))   # each voice from its own stretch of the clip
    primer = ClipPrimer(clip, engine.voices)         # the watchdog's re-prime: back to the music, not to zeros
    specs = knob_specs(bundle)                       # temperature and min_p knobs over the usable range
    add_clip(bundle_dir, "track.ogg", seconds=20)    # after export too: the graphs are untouched
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import soundfile

from rt_samplernn.atomic import write_atomically
from rt_samplernn.audio import ArrayClip, load_for_model, read_audio
from rt_samplernn.config import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from rt_samplernn.errors import UserError
from rt_samplernn.live.bundle import MANIFEST, Bundle, sha256_file, update_manifest
from rt_samplernn.live.declarations import DECLARATIONS, FloatSpec
from rt_samplernn.live.lift import QuietLift
from rt_samplernn.structured import read_structured

CLIP_KEY = "clip"
USABLE_KEY = "usable"
CLIP_FILE = "clip.flac"
DEFAULT_CLIP_SECONDS = 20.0
PRIME_SECONDS = 4.0  # each voice primes on this much of the clip: enough to set the frame tiers' states
USABLE_KNOBS = ("temperature", "min_p")  # the declared floats whose travel a bundle's `usable` range narrows


@dataclass(frozen=True)
class Usable:
    """The settings at which the bundle stays inside its training music's ranges (`export` measures them):
    ``temperature`` and ``min_p`` as (low, high), the ``defaults`` to start at, and ``seconds`` generated per
    setting tried. ``tried``: each setting tried and its verdict, for the record. ``lift``: the quiet lift the
    settings were judged with and the engine plays with (live/lift.py), or None."""

    temperature: tuple[float, float]
    min_p: tuple[float, float]
    defaults: Mapping[str, float]
    seconds: float
    tried: tuple[Mapping[str, Any], ...] = ()
    lift: QuietLift | None = None

    def range_of(self, name: str) -> tuple[float, float]:
        return self.temperature if name == "temperature" else self.min_p

    def to_manifest(self) -> dict[str, Any]:
        return {
            "temperature": list(self.temperature),
            "min_p": list(self.min_p),
            "defaults": dict(self.defaults),
            "seconds": self.seconds,
            "tried": [dict(t) for t in self.tried],
            **({"lift": self.lift.to_manifest()} if self.lift is not None else {}),
        }

    @classmethod
    def from_manifest(cls, entry: Any, where: Path | str) -> Usable:
        try:
            t_lo, t_hi = (float(x) for x in entry["temperature"])
            c_lo, c_hi = (float(x) for x in entry["min_p"])
            defaults = {k: float(entry["defaults"][k]) for k in USABLE_KNOBS}
            seconds = float(entry.get("seconds", 0.0))
            tried = tuple(entry.get("tried", ()))
            lift = None if entry.get("lift") is None else QuietLift.from_manifest(entry["lift"], str(where))
        except (KeyError, TypeError, ValueError) as e:
            raise UserError(
                f"{where}: '{USABLE_KEY}' is malformed ({type(e).__name__}: {e}); re-export the bundle"
            ) from None
        values = (t_lo, t_hi, c_lo, c_hi, *defaults.values())
        cut = DECLARATIONS["min_p"].spec
        top = cut.maximum if cut is not None else 1.0  # the tail cut's one range: its declaration's
        if not all(math.isfinite(v) for v in values) or not (0 < t_lo <= t_hi and 0 <= c_lo <= c_hi <= top):
            raise UserError(f"{where}: '{USABLE_KEY}' ranges {entry['temperature']}, {entry['min_p']} make no sense")
        return cls((t_lo, t_hi), (c_lo, c_hi), defaults, seconds, tried, lift)


def bundle_usable(bundle: Bundle) -> Usable | None:
    """The bundle's measured usable range, or None (bundles exported without the scan)."""
    entry = bundle.manifest.get(USABLE_KEY)
    return None if entry is None else Usable.from_manifest(entry, bundle.root / MANIFEST)


def bundle_lift(bundle: Bundle) -> QuietLift | None:
    """The quiet lift the bundle's scan chose (model.json `usable.lift`), or None."""
    usable = bundle_usable(bundle)
    return None if usable is None else usable.lift


def knob_specs(bundle: Bundle, full_range: bool = False) -> dict[str, FloatSpec]:
    """The temperature and min_p knobs' specs: their travel over the bundle's usable range (declared curve and
    smoothing kept), or {} (the declared ranges) with ``full_range`` or without a measured range."""
    usable = bundle_usable(bundle)
    if usable is None or full_range:
        return {}
    specs = {}
    for name in USABLE_KNOBS:
        declared = DECLARATIONS[name].spec
        assert declared is not None
        lo, hi = (declared.clamp(v) for v in usable.range_of(name))
        if hi - lo < 1e-6:  # one setting only: a knob needs some travel, so it keeps the declared one
            continue
        default = min(max(usable.defaults[name], lo), hi)
        specs[name] = FloatSpec(lo, hi, default, declared.curve, declared.power, declared.smoothing_ms)
    return specs


def start_settings(bundle: Bundle, temperature: float | None = None, min_p: float | None = None) -> dict[str, float]:
    """Where the knobs start: the user's values, else the bundle's usable defaults, else the declared ones."""
    usable = bundle_usable(bundle)
    asked = {"temperature": temperature, "min_p": min_p}
    out = {}
    for name in USABLE_KNOBS:
        declared = DECLARATIONS[name].spec
        assert declared is not None
        value = asked[name]
        out[name] = float(value if value is not None else usable.defaults[name] if usable else declared.default)
    return out


# ----------------------------------------------------------------------------------------------------------
# The clip
# ----------------------------------------------------------------------------------------------------------


def musical_start(audio: np.ndarray, rate: int, seconds: float) -> int:
    """The first sample of the `seconds` stretch of mono audio whose quietest second is loudest (1-s steps):
    a clip with no lead-in, fade or pause in it."""
    size = int(round(seconds * rate))
    if len(audio) <= size:
        return 0
    whole = len(audio) // rate
    x = audio[: whole * rate].astype(np.float64).reshape(whole, rate)
    level = np.mean((x - x.mean(axis=1, keepdims=True)) ** 2, axis=1)  # AC power per second
    span = max(1, int(math.ceil(seconds)))
    if whole <= span:
        return 0
    quietest = np.lib.stride_tricks.sliding_window_view(level, span).min(axis=1)
    return int(np.argmax(quietest)) * rate


def add_clip(
    bundle_dir: str | Path, source: str | Path, seconds: float = DEFAULT_CLIP_SECONDS, start_s: float | None = None
) -> dict[str, Any]:
    """Store `seconds` of `source` (any audio file; mono, resampled to the model rate, peak-normalized) in a
    bundle as 16-bit FLAC, checksummed under model.json's `clip`; returns that entry. Without `start_s` the
    stretch whose quietest second is loudest is taken. The graphs are untouched, so a clip can be added to a
    bundle after export; the clip file, then the manifest, are each replaced atomically."""
    root = Path(bundle_dir)
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise UserError(f"{root}: not a bundle (no {MANIFEST}); `rt-samplernn export` makes one")
    if not seconds > 0:
        raise UserError(f"clip seconds {seconds}: must be > 0")
    manifest = read_structured(manifest_path, "bundle manifest", "json")
    rate = manifest.get("sample_rate") if isinstance(manifest, dict) else None
    if not isinstance(rate, int) or isinstance(rate, bool) or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise UserError(
            f"{manifest_path}: sample_rate {str(rate)[:40]} is not a rate in {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE}"
        )
    audio = load_for_model(source, rate)
    size = int(round(seconds * rate))
    if len(audio) < rate:
        raise UserError(f"{source}: under a second of audio; a clip needs at least one (better: {seconds:g} s)")
    start = musical_start(audio, rate, seconds) if start_s is None else int(round(start_s * rate))
    if not 0 <= start < len(audio):
        raise UserError(f"clip start {start_s} s: outside {source} ({len(audio) / rate:.1f} s long)")
    clip = audio[start : start + size]
    buf = io.BytesIO()
    soundfile.write(buf, clip, rate, subtype="PCM_16", format="FLAC")
    path = write_atomically(root / CLIP_FILE, buf.getvalue(), "the bundle's music clip")
    entry = {
        "file": CLIP_FILE,
        "sha256": sha256_file(path),
        "sample_rate": rate,
        "seconds": round(len(clip) / rate, 3),
        "source": Path(source).name,
        "start_s": round(start / rate, 3),
    }
    update_manifest(root, CLIP_KEY, entry)
    return entry


def bundle_clip(bundle: Bundle) -> ArrayClip | None:
    """The bundle's music clip (checked against its checksum when the bundle loaded), or None."""
    entry = bundle.manifest.get(CLIP_KEY)
    if entry is None:
        return None
    path = bundle.root / str(entry["file"])
    try:
        audio, rate = read_audio(path)
    except UserError as e:
        why = str(e).removeprefix(f"{path}: ")
        raise UserError(f"{path}: the bundle's music clip is unreadable ({why}); re-export with --clip") from None
    return ArrayClip(audio[:, 0] if audio.shape[1] == 1 else audio, rate)


def voice_clips(clip: ArrayClip, voices: int, turn: int = 0, prime_seconds: float = PRIME_SECONDS) -> list[ArrayClip]:
    """One stretch of `prime_seconds` of the clip per voice, each from a different offset (spread over the
    clip, moved on by `turn`: each re-prime starts elsewhere), so the voices start from different music."""
    audio = clip.audio
    size = min(len(audio), max(1, int(round(prime_seconds * clip.rate))))
    span = len(audio) - size
    golden = (math.sqrt(5.0) - 1.0) / 2.0  # turns land far from the offsets before them
    out = []
    for v in range(voices):
        start = int(((v / voices + turn * golden) % 1.0) * span)
        out.append(ArrayClip(audio[start : start + size], clip.rate))
    return out


class VoicePriming(Protocol):
    """A producer that primes each voice from its own clip (rt_samplernn.live.engine.Engine, live.hotswap.HotSwap)."""

    @property
    def bundle(self) -> Bundle: ...

    @property
    def voices(self) -> int: ...

    @property
    def seed(self) -> int: ...

    def reset(self, seed: int | None = None) -> None: ...

    def prime_voices(self, clips: Sequence[ArrayClip], rate: int | None = None, seed: int | None = None) -> None: ...


class ClipPrimer:
    """Primes every voice from the bundle's clip, each from its own stretch, a new stretch each time: what the
    watchdog re-primes from when the user gave no seed (rt_samplernn.live.watchdog.Reprimer). When the
    producer plays another bundle by then (a hot-swap), that bundle's clip is read (none: a reset)."""

    def __init__(self, clip: ArrayClip, voices: int, root: Path | None = None) -> None:
        self.clip: ArrayClip | None = clip
        self.voices = int(voices)
        self.root = root
        self.turn = 0

    def __call__(self, producer: VoicePriming, noise_seed: int | None = None) -> None:
        bundle = producer.bundle
        if self.root is not None and bundle.root != self.root:  # swapped: the music of the bundle now playing
            self.clip, self.root = bundle_clip(bundle), bundle.root
        if self.clip is None:
            producer.reset(noise_seed)
            return
        producer.prime_voices(voice_clips(self.clip, self.voices, self.turn), seed=noise_seed)
        self.turn += 1


def start_from_music(engine: VoicePriming, cold: bool = False) -> ClipPrimer | None:
    """How play, gui and generate start without a seed: every voice primed from the bundle's clip, each from
    its own stretch, with the engine's noise seed (so --seed still picks the take). Returns the primer for
    the watchdog's re-primes; None (the model's initial state, as before clips) with `cold` or no clip."""
    clip = None if cold else bundle_clip(engine.bundle)
    if clip is None:
        return None
    primer = ClipPrimer(clip, engine.voices, engine.bundle.root)
    primer(engine, engine.seed)
    return primer
