"""`rt-samplernn devices`: list audio outputs and inputs (PortAudio) and MIDI inputs (python-rtmidi)."""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  rt-samplernn devices
  rt-samplernn play my-bundle --device 3          # by index
  rt-samplernn play my-bundle --device "USB"      # by name substring
  rt-samplernn play my-bundle --midi "nanoKONTROL"
  rt-samplernn play my-bundle --midi virtual --input 2   # a live input as a seed slot, by index
"""


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    p = sub.add_parser(
        "devices",
        help="list audio outputs, audio inputs and MIDI inputs",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=formatter,
    )
    p.add_argument(
        "--midi-api",
        choices=("auto", "alsa", "jack", "coremidi", "winmm"),
        default="auto",
        help="rtmidi API for the MIDI list (auto: the platform's; JACK where there is no ALSA sequencer)",
    )
    p.set_defaults(func=run)


def _midi_inputs(api_name: str) -> tuple[str, list[str]]:
    """(API used, port names) or raises UserError saying why MIDI cannot be listed."""
    from rt_samplernn.live.midi import ports

    api = ports.choose_api(api_name)
    return ports.api_name(api), ports.list_input_ports(api)


def run(args: argparse.Namespace) -> int:
    from rt_samplernn.errors import UserError
    from rt_samplernn.live.devices import NoOutputDevice, list_input_devices, list_output_devices

    print("audio outputs:")
    try:
        outputs = list_output_devices()
    except NoOutputDevice as e:
        outputs = []
        print(f"  none: {e}")
    else:
        if not outputs:
            print(
                "  none (no sound card or audio server): `rt-samplernn play --record OUT.wav` or "
                "`--stdout` (piped into ffmpeg) play without one"
            )
    for d in outputs:
        mark = "*" if d.is_default else " "
        print(f"{mark} {d.index:3d}  {d.name}  ({d.hostapi}, {d.channels} ch, {d.sample_rate} Hz)")
    if outputs:
        print("  (* default; --device takes the index or a part of the name)")
    print("audio inputs:")
    try:
        inputs = list_input_devices()
    except NoOutputDevice:  # PortAudio is missing: said above
        inputs = []
    if not inputs:
        print("  none (`rt-samplernn play --input` needs one)")
    for d in inputs:
        mark = "*" if d.is_default else " "
        print(f"{mark} {d.index:3d}  {d.name}  ({d.hostapi}, {d.channels} ch, {d.sample_rate} Hz)")
    if inputs:
        print("  (* default; play --input takes the index or a part of the name)")

    print("MIDI inputs:")
    try:
        api, ports = _midi_inputs(args.midi_api)
    except UserError as e:
        print(f"  unavailable: {e}")
    else:
        if not ports:
            print(f"  none ({api}); `rt-samplernn play --midi virtual` opens a port others can connect to")
        for i, name in enumerate(ports):
            print(f"  {i:3d}  {name}  ({api})")
    return 0
