"""`rt-samplernn gui [BUNDLE]`: the PyQt6 performance window (no torch imported)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    from rt_samplernn.commands import _checks as check
    from rt_samplernn.commands.midi_options import add_midi_port_argument, add_seed_slot_argument
    from rt_samplernn.commands.voice_options import add_force_voices_argument

    p = sub.add_parser(
        "gui",
        help="the performance window: dials, seeds, MIDI learn, meters, recording",
        description="Open the performance window. Without BUNDLE it opens the bundle used last time, "
        "else the demo bundle, else asks for one.",
        formatter_class=formatter,
        epilog=(
            "examples:\n"
            "  rt-samplernn gui                          # last bundle, or the demo\n"
            "  rt-samplernn gui my-bundle --midi virtual --start\n"
            "  rt-samplernn gui my-bundle --voices 2 --device system --latency-ms 100\n"
            "  rt-samplernn gui --voices 4 --min-p 0.05 --full-range   # the demo, hiss cut, knobs' whole travel\n"
            "  rt-samplernn gui my-bundle --device none --seed-slot a.wav --start   # no sound card\n"
            "  rt-samplernn gui my-bundle --osc 9000       # OSC on udp 127.0.0.1:9000 (/bookmark/recall 1, ...)\n"
            "  rt-samplernn gui --fx reverb:room_size=0.8 --limiter -1 --bpm 120 --loop-beats 4   # as `play` takes them\n"
            "  rt-samplernn gui --midi-clock virtual --quantize bar   # another program's tempo; pads land on the bar\n"
        ),
    )
    p.add_argument("bundle", nargs="?", help="bundle folder (made by `rt-samplernn export`)")
    p.add_argument(
        "--device",
        help="audio output: index, name substring, or 'none' (no sound card: a software "
        "clock paces playback; record to WAV)",
    )
    p.add_argument(
        "--latency-ms",
        type=check.latency_ms,
        help="audio generated ahead of the speaker, ms (the ring's fill target; the meters show the "
        "knob-to-sound latency it gives), 10..2000 in the window; default: the last setting, else the same as `play`",
    )
    add_midi_port_argument(p)
    p.add_argument(
        "--voices", type=check.voices, help="voices generated at once, 1..8 in the window (one temperature dial each)"
    )
    p.add_argument(
        "--provider",
        choices=check.PROVIDERS,
        default="auto",
        help="onnxruntime execution provider (auto: CUDA where it works)",
    )
    add_seed_slot_argument(p, "with --start, slot 1 primes first")
    p.add_argument(
        "--min-p",
        type=check.min_p,
        default=None,
        metavar="P",
        help=f"tail cut (min-p) to start at, 0 to {check.MAX_MIN_P:g}: never draw a level less likely than this fraction of the "
        "most likely one (default: the bundle's usable default, else 0 = off)",
    )
    p.add_argument(
        "--cold",
        action="store_true",
        help="start from the model's initial (all-zero) state instead of the bundle's music clip",
    )
    p.add_argument(
        "--full-range",
        action="store_true",
        help="temperature and tail-cut dials over their whole declared ranges, not the bundle's usable range "
        "(the window's 'Full range' box does the same)",
    )
    add_force_voices_argument(p, "the window otherwise starts with the voices that fit, and says so")
    p.add_argument("--start", action="store_true", help="start playing at once")
    from rt_samplernn.commands.midi_options import add_osc_arguments

    add_osc_arguments(p)  # --osc, --osc-host
    add_window_effect_arguments(p)
    p.add_argument("--settings", metavar="FILE", help="keep settings in this INI file instead of the user's")
    p.add_argument("--screenshot", metavar="PNG", help="save a picture of the window after --quit-after seconds")
    p.add_argument(
        "--quit-after",
        type=check.play_seconds,
        metavar="SECONDS",
        help="close the window after this long (Ctrl-C or SIGTERM also close it cleanly, settings saved)",
    )
    p.set_defaults(func=run)


def add_window_effect_arguments(parser: argparse.ArgumentParser) -> None:
    """The window's effect and tempo flags, as `play`'s: --fx, --vst3, --limiter (on at -1 dBFS), --bpm,
    --loop-*, --quantize, --midi-clock (rt_samplernn.gui.session_fx.effect_options parses the same)."""
    from rt_samplernn.commands.fx_options import add_effect_arguments
    from rt_samplernn.live.declarations import DEFAULT_CEILING_DB

    add_effect_arguments(
        parser,
        limiter_default=f"{DEFAULT_CEILING_DB:g}",
        limiter_help=f"default: {DEFAULT_CEILING_DB:g} dBFS, as play (it delays the sound by its 5 ms lookahead)",
        live=True,
    )


def run(args: argparse.Namespace) -> int:
    import os
    import sys
    from pathlib import Path

    from rt_samplernn.errors import UserError

    if args.bundle is not None and not (Path(args.bundle) / "model.json").is_file():
        raise UserError(f"{args.bundle}: not a bundle (no model.json); `rt-samplernn export` makes one")
    for f in args.seed_slot:
        if not Path(f).is_file():
            raise UserError(f"--seed-slot {f}: no such file")
    if args.device is not None and args.device != "none":
        from rt_samplernn.live.devices import NoOutputDevice, find_output_device

        try:
            find_output_device(args.device)  # a UserError naming the outputs, before any window opens
        except NoOutputDevice:
            raise UserError(
                f"--device {args.device}: there is no audio output here; use --device none "
                "(a software clock paces playback) and record to WAV"
            ) from None
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    ):
        raise UserError(
            "no display (DISPLAY and WAYLAND_DISPLAY are unset); run it in a desktop session, "
            "or set QT_QPA_PLATFORM=offscreen (e.g. with --screenshot)"
        )
    if args.screenshot and args.quit_after is None:
        args.quit_after = 3.0
    from rt_samplernn.gui.app import main
    from rt_samplernn.gui.session_midi import VIRTUAL_PORT_CHOICE
    from rt_samplernn.gui.settings import LATENCY_MS_RANGE, MAX_VOICES

    # the window's own limits (its spin boxes and its settings file): tighter than `play`'s
    if args.voices is not None and args.voices > MAX_VOICES:
        raise UserError(f"--voices {args.voices}: the window plays 1..{MAX_VOICES} voices (`play` takes more)")
    low, high = LATENCY_MS_RANGE
    if args.latency_ms is not None and not low <= args.latency_ms <= high:
        raise UserError(f"--latency-ms {args.latency_ms:g}: the window takes {low}..{high} ms")

    midi = VIRTUAL_PORT_CHOICE if args.midi == "virtual" else args.midi
    return main(
        args.bundle,
        settings_path=args.settings,
        device=args.device,
        latency_ms=args.latency_ms,
        midi=midi,
        voices=args.voices,
        provider=args.provider,
        force=args.force_voices,
        seeds=args.seed_slot,
        start=args.start,
        osc=None if args.osc is None else (args.osc, args.osc_host),
        screenshot=args.screenshot,
        quit_after_s=args.quit_after,
        min_p=args.min_p,
        cold=args.cold,
        full_range=args.full_range,
        effects=args,  # the effect and tempo flags, read by rt_samplernn.commands.fx_options as `play` reads them
    )
