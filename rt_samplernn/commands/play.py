"""`rt-samplernn play`: run a bundle live on the sound card (or into a WAV file / raw PCM on stdout)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rt_samplernn.live.declarations import SEED_SLOTS  # plain data: no numpy, no onnxruntime

if TYPE_CHECKING:
    from pathlib import Path

    from rt_samplernn.live.bookmarks import BookmarkFile
    from rt_samplernn.live.meters import PlayerMetrics
    from rt_samplernn.live.osc import OscServer
    from rt_samplernn.live.rig import Rig
    from rt_samplernn.live.sinks import Sink
    from rt_samplernn.live.tempo import Tempo

EPILOG = """\
examples:
  rt-samplernn play                                   # the bundled demo model on the default output
  rt-samplernn play my-bundle --voices 4 --temperature 0.9 --seed-audio intro.wav
  rt-samplernn play --temperature 1.3 --min-p 0.05                # hotter, with the hiss cut off
  rt-samplernn play my-bundle --device "USB Audio" --latency-ms 80 --record take1.wav
  rt-samplernn play my-bundle --midi virtual          # knobs from a MIDI controller
  rt-samplernn play my-bundle --osc 9000              # OSC on udp 127.0.0.1:9000 (/temperature 0.8, /bundle s, ...)
  rt-samplernn play my-bundle --osc 9000 --bookmarks set1.npz   # bookmarks kept in a file, read at the start
  rt-samplernn play my-bundle --midi virtual --input system   # call and response: a pad primes from the input
  rt-samplernn play --fx reverb:room_size=0.8 --osc 9000   # /fx/master/reverb/room_size 0.3 turns it
  rt-samplernn play --limiter off                     # no safety limiter (on by default at -1 dBFS)
  rt-samplernn play my-bundle --bpm 120 --loop-beats 4 --midi virtual   # pads recall and prime on the beat
  rt-samplernn play my-bundle --midi-clock virtual --loop-beats 4       # the tempo of another program's clock
  rt-samplernn play my-bundle --stdout | ffmpeg -f s16le -ar 16000 -ac 1 -i - -c:a libopus out.ogg

Without a sound card, --record OUT.wav or --stdout play in real time with a software clock
(--device none does that explicitly; --stdout alone never uses the sound card unless --device is given).
With no sound card and neither, play writes --seconds (default 30) of the model to a WAV file instead and
says where.
Ctrl-C (or SIGTERM) stops cleanly; the recording is complete and valid.
"""


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    from rt_samplernn.commands import _checks as check
    from rt_samplernn.commands.voice_options import add_force_voices_argument
    from rt_samplernn.live.input import DEFAULT_INPUT_SECONDS
    from rt_samplernn.live.player import (
        DEFAULT_LATENCY_MS,  # numpy only: no torch, no onnxruntime
    )

    p = sub.add_parser(
        "play",
        help="play a bundle live (sound card, WAV file or raw PCM on stdout)",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=formatter,
    )
    p.add_argument(
        "bundle",
        nargs="?",
        default=None,
        help="bundle folder made by `rt-samplernn export`; None: the bundled demo model",
    )
    p.add_argument(
        "--device",
        metavar="NAME|INDEX",
        default=None,
        help="audio output: an index or a name substring (`rt-samplernn devices` lists them); "
        "'none' for no sound card (software clock); None: the system's default output",
    )
    p.add_argument(
        "--latency-ms",
        "--ring-ms",
        dest="latency_ms",
        metavar="MS",
        type=check.latency_ms,
        default=DEFAULT_LATENCY_MS,
        help="ring fill target: how much audio is generated ahead of the playhead (more: safer "
        "against underruns). A knob is heard about this plus half a chunk plus the device's own "
        "latency later; the status line shows that knob-to-sound figure, from the worker's "
        "timings",
    )
    p.add_argument(
        "--temperature",
        type=check.temperature,
        default=None,
        help="sampling temperature, lower: more conservative (default: the bundle's usable default, else 1.0)",
    )
    p.add_argument(
        "--min-p",
        type=check.min_p,
        default=None,
        metavar="P",
        help=f"tail cut (min-p), 0 to {check.MAX_MIN_P:g}: never draw a level less likely than this fraction of the most likely "
        "one; 0.02-0.1 keeps a high temperature from hissing (default: the bundle's usable default, else 0 = off; bundles exported before the cut play with it off)",
    )
    p.add_argument("--gain", type=check.gain, default=1.0, help="output gain")
    p.add_argument(
        "--cold",
        action="store_true",
        help="start from the model's initial (all-zero) state instead of the bundle's music clip; the watchdog "
        "then resets to it too",
    )
    p.add_argument(
        "--full-range",
        action="store_true",
        help="MIDI knobs travel the whole declared temperature and tail-cut ranges instead of the bundle's "
        "usable range (measured by `export`)",
    )
    p.add_argument(
        "--voices",
        type=check.voices,
        default=1,
        help="independent voices, mixed (spread across stereo); play starts with as many of them as this CPU "
        "plays in real time (a second's calibration, remembered per bundle and CPU) and says so",
    )
    add_force_voices_argument(p, "expect underruns")
    p.add_argument("--seed", type=check.seed, default=0, help="seed of the sampling noise (same seed, same music)")
    p.add_argument(
        "--seed-audio",
        metavar="FILE",
        default=None,
        help="prime the model with this clip (any length: read in blocks; more than ~30 s buys little); "
        "the watchdog re-primes from it, reading it again",
    )
    p.add_argument(
        "--seconds", type=check.play_seconds, default=None, help="stop after this many seconds; None: until Ctrl-C"
    )
    p.add_argument("--record", metavar="OUT.wav", default=None, help="also write what is played to this file")
    p.add_argument("--force", action="store_true", help="overwrite the --record file if it exists")
    p.add_argument(
        "--stdout",
        action="store_true",
        help="write raw s16le PCM to stdout (for ffmpeg); rate and channels are printed on stderr",
    )
    p.add_argument(
        "--no-watchdog",
        action="store_true",
        help="do not re-prime when the output collapses into silence or blows up into noise",
    )
    p.add_argument("--provider", choices=check.PROVIDERS, default="auto", help="onnxruntime provider")
    p.add_argument(
        "--chunk-frames",
        type=check.int_in(1, 65536),
        default=None,
        help="samples per engine call; None: 256. Smaller lowers latency and costs overhead",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no status line")
    p.add_argument(
        "--bookmarks",
        metavar="FILE.npz",
        default=None,
        help="keep the bookmark slots (saved and recalled by MIDI pads or /bookmark/save i, /bookmark/recall i "
        "over OSC) in this file: read at the start if it exists, written whenever a slot is saved and at exit; "
        "the same file the window keeps with its session (gui-bookmarks.npz), e.g. --bookmarks set1.npz --osc 9000",
    )
    from rt_samplernn.commands.midi_options import (
        add_midi_arguments,  # rtmidi loads when a port opens
        add_osc_arguments,
    )

    add_midi_arguments(p)  # --midi, --midi-map, --midi-channel, --midi-api, --seed-slot
    add_osc_arguments(p)  # --osc, --osc-host
    g = p.add_argument_group("call and response")
    g.add_argument(
        "--input",
        metavar="NAME|INDEX",
        default=None,
        help="an audio input (index or name substring; `rt-samplernn devices` lists them): its last "
        "--input-seconds, mono at the model's rate, are the seed slot after the --seed-slot files, so "
        "its pad (or /prime over OSC) primes the model from what was just played into it, while audio "
        "goes on; e.g. --input system --midi virtual",
    )
    g.add_argument(
        "--input-seconds",
        metavar="S",
        type=check.float_in(0.1, 600.0),
        default=DEFAULT_INPUT_SECONDS,
        help="how much of the live input its seed slot keeps (a phrase: a few seconds; longer buys little)",
    )
    from rt_samplernn.commands.fx_options import add_effect_arguments
    from rt_samplernn.live.declarations import DEFAULT_CEILING_DB

    add_effect_arguments(
        p,
        limiter_default=f"{DEFAULT_CEILING_DB:g}",
        limiter_help=f"default: {DEFAULT_CEILING_DB:g} dBFS (it delays the sound by its 5 ms lookahead)",
        live=True,
    )
    p.set_defaults(func=run)


def format_status(m: PlayerMetrics, osc: OscServer | None = None, tempo: Tempo | None = None) -> str:
    """The one-line status `rt-samplernn play` prints once a second: what plays, how it keeps up (the worker's
    time per block, p50/p99/worst of the last 10 s, against the block's real-time budget), what it costs. The
    meters read as in the window (rt_samplernn.live.meters); counts are of the last 10 s, totals beside. With
    OSC: its messages applied and ignored (malformed, unknown). With a tempo: its BPM, "clock" when a MIDI
    clock sets it."""
    from rt_samplernn.live.meters import METERS_BY_NAME

    def meter(name: str) -> str:
        shown = METERS_BY_NAME[name]
        return f"{shown.short} {shown.format(m, unmeasured='--')}"  # '--': no RTF measured yet

    temps = m.temperatures
    temp = (
        "T --"
        if not temps
        else f"T {temps[0]:.2f}"
        if min(temps) == max(temps)
        else f"T {min(temps):.2f}-{max(temps):.2f}"
    )
    watchdog = meter("watchdog_events") if m.watchdog_enabled else "watchdog off"
    if m.reprime_failures:  # never shown as recoveries: the seed could not be read, the model was reset
        watchdog += f" ({m.reprime_failures} re-prime{'s' * (m.reprime_failures > 1)} failed: reset instead)"
    if m.advice:
        watchdog += f" ({m.advice})"  # a collapse re-priming cannot cure: the knob's setting makes it
    cuts = m.min_p
    cut = "" if not cuts or max(cuts) == 0 else f"cut {min(cuts):.2f}"
    if cut and min(cuts) != max(cuts):
        cut += f"-{max(cuts):.2f}"
    blocks = [METERS_BY_NAME[name] for name in ("block_p50", "block_p99", "block_worst")]
    block = (
        f"block p50/p99/worst {'/'.join(format(b.value(m), '.1f') for b in blocks)} of {m.deadlines.budget_ms:.1f} ms"
        if blocks[1].measured(m)
        else "block --"
    )
    return " | ".join(
        [
            f"{m.seconds_played:7.1f} s",
            temp,
            *([cut] if cut else []),
            f"gain {m.gain:.2f}",
            meter("realtime_factor"),
            block,
            meter("ring_fill"),
            meter("underruns"),
            meter("host_underflows"),
            meter("knob_latency"),
            meter("process_cpu"),
            watchdog,
        ]
        + ([f"OSC {osc.messages} ok, {osc.ignored} ignored"] if osc is not None else [])
        + ([f"{tempo.bpm:.1f} BPM{' (clock)' if tempo.following else ''}"] if tempo is not None else [])
    )


def _bundle_path(args: argparse.Namespace):
    from pathlib import Path

    from rt_samplernn.errors import UserError
    from rt_samplernn.models import DEMO_BUNDLE

    if args.bundle is None:
        if not (DEMO_BUNDLE / "model.json").exists():
            raise UserError(
                f"the demo bundle is not installed ({DEMO_BUNDLE} has no model.json); "
                "give a bundle made by `rt-samplernn export`"
            )
        return DEMO_BUNDLE
    path = Path(args.bundle)
    if not path.exists():
        raise UserError(f"{path}: no such bundle folder; `rt-samplernn export CHECKPOINT -o {path}` makes one")
    return path


NO_CARD_WAV = "rt-samplernn-play.wav"
NO_CARD_SECONDS = 30.0


def _choose_device(args: argparse.Namespace):
    """--device as given; else none for --stdout; else the default output (None), or none when recording
    without one; NoOutputDevice when there is no output and nothing to record."""
    import sys

    from rt_samplernn.live.devices import NO_DEVICE, NoOutputDevice, find_output_device

    if args.device is not None:
        return NO_DEVICE if args.device.strip().lower() == NO_DEVICE else args.device
    if args.stdout:
        return NO_DEVICE
    try:
        find_output_device(None)
    except NoOutputDevice:
        if args.record:
            print("rt-samplernn play: no sound card; recording only, in real time", file=sys.stderr)
            return NO_DEVICE
        raise
    return None


def _unused_path(name: str):
    from pathlib import Path

    path, n = Path(name), 1
    while path.exists():
        path, n = Path(f"{Path(name).stem}-{n}.wav"), n + 1
    return path


def rig_from_args(args: argparse.Namespace, slot_count: int = SEED_SLOTS, live: bool = True) -> Rig:
    """The rig the flags ask for (not opened yet): voices (live: as many as this CPU plays in real time, or
    all of them with --force-voices), seed, provider, where the knobs start, the seed clip or the bundle's music,
    the watchdog."""
    from rt_samplernn.audio import FileClip
    from rt_samplernn.live.rig import Rig

    return Rig(
        voices=args.voices,
        seed=args.seed,
        provider=args.provider,
        slot_count=slot_count,
        temperature=args.temperature,
        min_p=args.min_p,
        gain=args.gain,
        seed_audio=FileClip(args.seed_audio) if args.seed_audio else None,  # read in blocks, never held whole
        cold=args.cold,
        full_range=args.full_range,
        watchdog=not args.no_watchdog,
        fit_voices=live,
        force=args.force_voices,
    )


def open_rig(rig: Rig, bundle: Path) -> None:
    """Open the bundle in the rig, with a progress bar while a long seed clip primes; say its notices (a
    graph replaced after its check on this CPU, the voices this CPU plays)."""
    import sys

    from rt_samplernn.commands.progress import priming_progress

    with priming_progress(rig.seed_audio) as progress:
        rig.open(bundle, progress=progress)
    for notice in rig.notices:
        print(f"rt-samplernn play: {notice}", file=sys.stderr)


def render_without_card(args: argparse.Namespace, bundle) -> int:
    """No sound card and nothing asked for: write what would play (the chains, the limiter, the tempo) to a WAV
    file instead, and say where."""
    import sys

    import soundfile

    from rt_samplernn.commands.fx_options import build_rack, build_tempo, worker_blocks

    path = _unused_path(NO_CARD_WAV)
    seconds = args.seconds or NO_CARD_SECONDS
    print(
        f"rt-samplernn play: no sound card here; writing {seconds:g} s to {path.resolve()} instead "
        "(--record OUT.wav or --stdout play in real time)",
        file=sys.stderr,
    )
    rig = rig_from_args(args, live=False)  # not in real time: every voice asked for
    open_rig(rig, bundle)
    engine = rig.engine
    assert engine is not None  # open_rig opened it
    total = int(round(seconds * engine.sample_rate))
    try:
        rack = build_rack(args, engine.sample_rate, engine.voices)
        blocks = worker_blocks(engine, rack, build_tempo(args, engine), total, mixed=True, progress=not args.quiet)
        with soundfile.SoundFile(str(path), "w", engine.sample_rate, 1 if engine.voices == 1 else 2, "PCM_16") as out:
            for audio in blocks:
                out.write(audio.T)
    finally:
        rig.close()
    print(f"rt-samplernn play: wrote {path.resolve()}", file=sys.stderr)
    return 0


def _sync_bookmarks(marks: BookmarkFile | None) -> None:
    """Write the --bookmarks file if a slot changed; a failure is said, and play goes on."""
    import sys

    from rt_samplernn.errors import UserError

    try:
        if marks is not None:
            marks.sync()
    except UserError as e:
        print(f"rt-samplernn play: {e}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    import signal
    import sys
    import threading

    from rt_samplernn.commands.midi_options import check_midi_arguments, control_plan, open_controls
    from rt_samplernn.errors import UserError
    from rt_samplernn.live.bookmarks import BookmarkFile
    from rt_samplernn.live.devices import NoOutputDevice
    from rt_samplernn.live.sinks import WavSink, stdout_sink

    check_midi_arguments(args)
    if args.input is not None and args.midi is None and getattr(args, "osc", None) is None:
        raise UserError(
            f"--input {args.input}: its seed slot is primed from a pad or /prime; add --midi PORT (e.g. --midi "
            "virtual) or --osc PORT to prime from it"
        )
    if args.bookmarks is not None and args.midi is None and getattr(args, "osc", None) is None:
        raise UserError(
            f"--bookmarks {args.bookmarks}: bookmarks are saved and recalled from pads or OSC; add --midi PORT "
            "(e.g. --midi virtual) or --osc PORT"
        )
    bundle = _bundle_path(args)
    try:
        device = _choose_device(args)
    except NoOutputDevice:
        return render_without_card(args, bundle)
    sinks: list[Sink] = []
    if args.record:
        sinks.append(WavSink(args.record, force=args.force))
    if args.stdout:
        sinks.append(stdout_sink())

    plan = control_plan(args)  # the MIDI map and the seed slot files, read before anything loads
    rig = rig_from_args(args, plan.slot_count)
    open_rig(rig, bundle)  # onnxruntime: only once the arguments are known to be good
    engine = rig.engine
    assert engine is not None  # open_rig opened it
    try:
        from rt_samplernn.commands.fx_options import build_rack, build_tempo

        control = rig.control
        rack = build_rack(args, engine.sample_rate, engine.voices, None if control is None else control.notices.say)
        player = rig.prepare(
            device,
            args.latency_ms,
            seconds=args.seconds,
            chunk_frames=args.chunk_frames,
            sinks=sinks,
            effects=rack,
            producer=build_tempo(args, engine),
        )
    except BaseException:
        rig.close()
        raise
    marks: BookmarkFile | None = None
    swap_said = 0

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, on_term) if main_thread else None
    tty = sys.stderr.isatty()
    interrupted = False
    try:
        open_controls(args, rig, plan)  # seed slots, --input, --midi, --osc (/bundle s: another bundle, playing)
        if args.bookmarks is not None and rig.control is not None:
            marks = BookmarkFile(args.bookmarks, rig.control.params, engine.state_spec(), bundle.name)
            print(f"rt-samplernn play: {marks.load()} bookmark(s) from {marks.path}", file=sys.stderr)
        player.start()
        m = player.metrics()
        where = player.device.label
        print(
            f"rt-samplernn play: {bundle} ({engine.sample_rate} Hz, {engine.voices} voice"
            f"{'s' if engine.voices > 1 else ''}, {engine.provider}) -> {where}, {m.device_rate} Hz, "
            f"{m.channels} ch; knob-to-sound latency {m.knob_latency_ms:.0f} ms (ring fill target "
            f"{m.target_latency_ms:.0f} ms, device {m.output_latency_ms:.1f} ms); Ctrl-C stops",
            file=sys.stderr,
        )
        if args.stdout:
            print(
                f"rt-samplernn play: stdout: raw s16le, {m.device_rate} Hz, {m.channels} ch "
                f"(ffmpeg -f s16le -ar {m.device_rate} -ac {m.channels} -i -)",
                file=sys.stderr,
            )
        while not player.wait(1.0):
            _sync_bookmarks(marks)
            if not args.quiet:
                line = format_status(player.metrics(), rig.osc, rig.locked.tempo if rig.locked else None)
                if engine.message_version != swap_said:
                    swap_said = engine.message_version
                    print(("\n" if tty else "") + f"rt-samplernn play: {engine.message}", file=sys.stderr)
                print(("\r" + line) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the WAV short
        try:
            rig.close()  # MIDI, OSC, the live input, a swap still loading, then the player
        finally:
            player.stop()
            if main_thread:
                signal.signal(signal.SIGINT, signal.default_int_handler)
                if old_term is not None:
                    signal.signal(signal.SIGTERM, old_term)
    _sync_bookmarks(marks)
    m = player.metrics()
    if tty and not args.quiet:
        print(file=sys.stderr)
    summary = (
        f"rt-samplernn play: {'stopped' if interrupted else 'done'} after {m.seconds_played:.1f} s; "
        f"underruns {m.underruns}, host underflows {m.output_underflows}, watchdog events "
        f"{m.watchdog_events}"
    )
    if m.watchdog_events:
        summary += (
            f" (silence {m.silence_events}, drone {m.drone_events}, hiss {m.hiss_events}, blow-up {m.noise_events})"
        )
    if m.reprime_failures:
        summary += f"; {m.reprime_failures} re-prime(s) failed, last: {m.reprime_error}"
    if args.record:
        summary += f"; recorded {m.recorded_seconds:.1f} s to {args.record}"
    print(summary, file=sys.stderr)
    if player.error is not None:
        print(f"rt-samplernn play: error: {player.error}", file=sys.stderr)
        return 1
    return 0
