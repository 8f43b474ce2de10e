"""`rt-samplernn gui [BUNDLE]`: the PyQt6 performance window (no torch imported)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, formatter: type) -> None:
    p = sub.add_parser(
        "gui", help="the performance window: dials, seeds, MIDI learn, meters, recording",
        description="Open the performance window. Without BUNDLE it opens the bundle used last time, "
                    "else the demo bundle, else asks for one.",
        formatter_class=formatter,
        epilog=(
            "examples:\n"
            "  rt-samplernn gui                          # last bundle, or the demo\n"
            "  rt-samplernn gui my-bundle --midi virtual --start\n"
            "  rt-samplernn gui my-bundle --voices 2 --device system --latency-ms 100\n"
        ),
    )
    p.add_argument("bundle", nargs="?", help="bundle folder (made by `rt-samplernn export`)")
    p.add_argument("--device", help="audio output: index or name substring (`rt-samplernn devices` lists them)")
    p.add_argument("--latency-ms", type=float, help="ring fill target, ms (knob-to-sound latency)")
    p.add_argument("--midi", help="MIDI input port name substring, or 'virtual' for a virtual port")
    p.add_argument("--voices", type=int, help="voices generated at once (one temperature dial each)")
    p.add_argument("--start", action="store_true", help="start playing at once")
    p.add_argument("--settings", metavar="FILE", help="keep settings in this INI file instead of the user's")
    p.add_argument("--screenshot", metavar="PNG", help="save a picture of the window after --quit-after seconds")
    p.add_argument("--quit-after", type=float, metavar="SECONDS", help="close the window after this long")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rt_samplernn.errors import UserError

    if args.bundle is not None and not (Path(args.bundle) / "model.json").is_file():
        raise UserError(f"{args.bundle}: not a bundle (no model.json); `rt-samplernn export` makes one")
    if args.voices is not None and args.voices < 1:
        raise UserError(f"--voices {args.voices}: must be 1 or more")
    if args.screenshot and args.quit_after is None:
        args.quit_after = 3.0
    from rt_samplernn.gui.app import main
    from rt_samplernn.gui.session import VIRTUAL_PORT

    midi = VIRTUAL_PORT if args.midi == "virtual" else args.midi
    return main(args.bundle, settings_path=args.settings, device=args.device, latency_ms=args.latency_ms,
                midi=midi, voices=args.voices, start=args.start, screenshot=args.screenshot,
                quit_after_s=args.quit_after)
