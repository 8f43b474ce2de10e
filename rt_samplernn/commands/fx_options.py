"""The effect and tempo flags shared by `generate`, `play` and the window: --fx, --vst3, --limiter, --bpm, --loop-*,
--quantize, --midi-clock.

One parser helper (`add_effect_arguments`) and two builders (`build_rack`, `build_tempo`), so a render and
a performance take the same settings the same way. `render_block` is the worker's block path for a file:
the same calls, in the same order, as `Player._push` (rt_samplernn/live/player.py); `worker_blocks` runs it
over a whole render.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Generator
from typing import TYPE_CHECKING

import numpy as np

from rt_samplernn.errors import UserError

if TYPE_CHECKING:
    from rt_samplernn.live.control import ControlledEngine
    from rt_samplernn.live.effects import Notice, Rack
    from rt_samplernn.live.tempo import TempoLocked

FX_EXAMPLES = (
    "--fx reverb:room_size=0.8,wet_level=0.3  --fx delay:delay_seconds=0.375,feedback=0.4  "
    "--fx voice2=lowpass:cutoff_frequency_hz=1500"
)


LIMITER_AUTO = "auto"  # generate's default: -1 dBFS on a mix (what play plays), off for voices written apart
QUANTIZE = ("beat", "bar", "off")  # live/tempo.py's QUANTIZE_BEATS (the parser imports no live code)
LOOP_ALIGN = ("onset", "start")  # live/tempo.py's LOOP_ALIGNS


def add_effect_arguments(
    parser: argparse.ArgumentParser, limiter_default: str, limiter_help: str, live: bool = False, tempo: bool = True
) -> None:
    """Add the effect and tempo flags; ``limiter_default``: 'off', a ceiling in dBFS ('-1') or LIMITER_AUTO,
    ``limiter_help`` says what that default is; ``live``: also --quantize and --midi-clock (pads and a clock);
    ``tempo``: False for a command that has no tempo (bench times the chains only)."""
    from rt_samplernn.live.cpu import pedalboard_runs_here
    from rt_samplernn.live.tempo import BEATS_PER_BAR

    if pedalboard_runs_here():
        from rt_samplernn.live.effects import EFFECTS

        effect_names = ", ".join(EFFECTS)
    else:
        effect_names = "none on this CPU (pedalboard needs AVX)"

    g = parser.add_argument_group("effects and tempo" if tempo else "effects")
    g.add_argument(
        "--fx",
        metavar="[CHAIN=]EFFECT[:PARAM=VALUE,...]",
        action="append",
        default=[],
        help=f"add an effect to a chain (repeatable, in order): CHAIN is master (the default) or voiceN; "
        f"effects: {effect_names}; e.g. {FX_EXAMPLES}",
    )
    g.add_argument(
        "--vst3",
        metavar="[CHAIN=]PATH",
        action="append",
        default=[],
        help="add a VST3 effect plugin to a chain (repeatable), e.g. --vst3 ~/.vst3/MyVerb.vst3 or "
        "--vst3 voice1=/usr/lib/vst3/Filter.vst3",
    )
    g.add_argument(
        "--limiter",
        metavar="DBFS|off",
        default=limiter_default,
        help="a brickwall limiter at the end of the master chain, so that no blow-up of the model reaches the "
        f"speakers above its ceiling: the ceiling in dBFS (e.g. -1, -0.3) or 'off'; {limiter_help}",
    )
    if not tempo:
        return
    g.add_argument("--bpm", type=float, default=None, help="tempo in beats per minute, 20..400 (e.g. 120)")
    g.add_argument(
        "--loop-beats",
        type=int,
        default=None,
        metavar="N",
        help="recall the state of the first beat every N beats: a loop on the tempo's grid (needs --bpm; "
        "e.g. --bpm 120 --loop-beats 4)",
    )
    g.add_argument(
        "--loop-variation",
        type=float,
        default=0.0,
        metavar="P",
        help="probability 0..1 that a due recall is skipped, so the voice drifts on (drawn from --seed; "
        "default: 0, every recall); a knob too (loop.variation: MIDI learn, OSC /loop/variation)",
    )
    g.add_argument(
        "--loop-align",
        choices=LOOP_ALIGN,
        default="onset",
        help="where the loop sits on the beat: 'onset' (default) puts its strongest onset on the beat (its "
        "first pass is heard as it comes and measured, then each recall lands that much before its beat); "
        "'start' recalls on the beat itself, e.g. --bpm 120 --loop-beats 1 --loop-align start",
    )
    if not live:
        return
    g.add_argument(
        "--quantize",
        choices=QUANTIZE,
        default=None,
        help="with a tempo, when a pad's bookmark recall or seed prime lands: on the next beat (default), "
        f"the next bar ({BEATS_PER_BAR} beats), or at once (off); a loop then repeats from what the pad "
        "brought, e.g. --bpm 120 --loop-beats 4 --quantize bar",
    )
    g.add_argument(
        "--midi-clock",
        metavar="PORT",
        default=None,
        help="follow the tempo of another program's MIDI clock (24 pulses a beat; its start puts beat 1 here): "
        "a MIDI port's name substring or index, 'virtual' (a port named 'rt-samplernn clock' to connect "
        "the clock to), or the --midi port's own value to take the clock from the controller's port; until "
        "the clock runs the tempo is --bpm (default 120), e.g. --midi-clock 'Midi Through' --loop-beats 4",
    )


def parse_fx(text: str) -> tuple[str, str, dict[str, float]]:
    """'voice2=lowpass:cutoff_frequency_hz=1500' -> ('voice2', 'lowpass', {'cutoff_frequency_hz': 1500.0})."""
    head, _, rest = text.partition(":")
    chain, _, effect = head.rpartition("=")
    values: dict[str, float] = {}
    for item in filter(None, rest.split(",")):
        name, eq, value = item.partition("=")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            eq = ""
        if not eq:
            raise UserError(f"--fx {text}: {item!r} is not PARAM=NUMBER; e.g. --fx reverb:room_size=0.8")
    return chain or "master", effect, values


def parse_limiter(text: str) -> float | None:
    """'off' -> None, '-1' -> -1.0, 'auto' (not resolved by the command) -> the default ceiling; else a UserError."""
    from rt_samplernn.live.declarations import DEFAULT_CEILING_DB

    word = text.strip().lower()
    if word in ("off", "none"):
        return None
    if word == LIMITER_AUTO:
        return DEFAULT_CEILING_DB
    try:
        return float(text)
    except ValueError:
        raise UserError(f"--limiter {text}: give a ceiling in dBFS (e.g. -1) or 'off'") from None


def build_rack(args: argparse.Namespace, sample_rate: int, voices: int, on_notice: Notice | None = None) -> Rack | None:
    """The chains the flags ask for (None when there are none and the limiter is off)."""
    ceiling = parse_limiter(args.limiter)
    if not args.fx and not args.vst3 and ceiling is None:
        return None
    from rt_samplernn.live.cpu import pedalboard_runs_here

    if not pedalboard_runs_here():  # importing pedalboard would stop the process: say so instead
        if args.fx or args.vst3:
            raise UserError(
                "--fx and --vst3 need a CPU with AVX (pedalboard's effects); this one has none: leave them out"
            )
        (on_notice or logging.getLogger(__name__).warning)(
            "the limiter is off: it needs a CPU with AVX (pedalboard), and this one has none"
        )
        return None
    from rt_samplernn.live.effects import Rack, load_vst3

    rack = Rack(sample_rate, voices, ceiling, on_notice)
    for text in args.fx:
        chain, effect, values = parse_fx(text)
        rack.chain(chain).add(effect, values)
    for text in args.vst3:
        chain, eq, path = text.partition("=")
        if not eq or "/" in chain:
            chain, path = "master", text
        plugin = load_vst3(path)
        rack.chain(chain).add_plugin(plugin, plugin_name(path)).source = path
    return rack


def plugin_name(path: str) -> str:
    """A plugin's name in its chain: the file's stem as an identifier ('My Verb.vst3' -> 'my_verb')."""
    from pathlib import Path

    stem = "".join(c if c.isalnum() else "_" for c in Path(path).stem.lower()).strip("_")
    return stem if stem and stem[0].isalpha() else f"vst3_{stem}"


def build_tempo(args: argparse.Namespace, engine: ControlledEngine) -> TempoLocked | None:
    """The tempo-locked producer the flags ask for (None without --bpm or --midi-clock)."""
    clock, quantize = getattr(args, "midi_clock", None), getattr(args, "quantize", None)
    if args.bpm is None and clock is None:
        for flag, value in (("--loop-beats", args.loop_beats), ("--quantize", quantize)):
            if value is not None:
                raise UserError(f"{flag} {value} needs a tempo: add --bpm (e.g. --bpm 120) or --midi-clock PORT")
        return None
    from rt_samplernn.live.tempo import DEFAULT_BPM, Loop, Tempo, TempoLocked, check_bpm

    bpm = DEFAULT_BPM if args.bpm is None else check_bpm(args.bpm)
    loop = None
    if args.loop_beats is not None:
        loop = Loop(args.loop_beats, args.loop_variation, int(args.seed), align=args.loop_align)
    return TempoLocked(engine, Tempo(bpm), loop, quantize=quantize or "beat")


def render_block(audio: np.ndarray, rack: Rack | None, mix: np.ndarray | None, gain: float = 1.0) -> np.ndarray:
    """One generated block (voices, n) through the worker's path: voice chains, mix, gain, master chain, clip.

    ``mix``: the (voices, channels) matrix (rt_samplernn.live.devices.mix_matrix), or None to keep the voices
    apart (no master chain then). Returns (channels or voices, n) float32 in [-1, 1].
    """
    if rack is not None:
        audio = rack.process_voices(audio)
    if mix is None:
        return np.clip(audio, -1.0, 1.0)
    out = np.ascontiguousarray(audio.T @ mix)  # (n, channels), as Player._push
    if gain != 1.0:
        out *= np.float32(gain)
    if rack is not None:
        out = rack.process_master(out)
    return np.clip(out, -1.0, 1.0).T


def worker_blocks(
    engine: ControlledEngine, rack: Rack | None, tempo: TempoLocked | None, total: int, mixed: bool, progress: bool
) -> Generator[np.ndarray, None, None]:
    """The player's worker path, offline: chunks of the player's size through the tempo, the chains and the mix
    (``mixed``: as `play` mixes, one voice mono, more stereo; else the voices apart, no master chain), gathered
    into `RENDER_BLOCK` blocks; ``progress``: a bar on stderr."""
    from rt_samplernn.live.devices import mix_matrix
    from rt_samplernn.live.player import DEFAULT_CHUNK_FRAMES
    from rt_samplernn.progress import progress_bar

    producer = tempo or engine
    mix = mix_matrix(engine.voices, 1 if engine.voices == 1 else 2) if mixed else None
    parts: list[np.ndarray] = []
    held = 0
    with progress_bar(total=total, unit="sample", unit_scale=True, leave=False, disable=not progress) as bar:
        for start in range(0, total, DEFAULT_CHUNK_FRAMES):
            n = min(DEFAULT_CHUNK_FRAMES, total - start)
            audio = producer.generate(n, apply_gain=False)  # the gain after the voices' chains, as the player
            parts.append(render_block(audio, rack, mix, float(engine.gain)))
            held += n
            if held >= RENDER_BLOCK:
                yield np.concatenate(parts, axis=1)
                bar.update(held)
                parts, held = [], 0
        if parts:
            yield np.concatenate(parts, axis=1)
            bar.update(held)


RENDER_BLOCK = 16384  # samples gathered per block of a render: its memory, not the whole output
