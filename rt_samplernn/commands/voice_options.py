"""The voice flag shared by `play` and the window's command: --force-voices."""

from __future__ import annotations

import argparse


def add_force_voices_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, otherwise: str) -> None:
    """--force-voices: the one declaration, for `play` and `gui`; ``otherwise``: what happens there without it."""
    parser.add_argument(
        "--force-voices",
        action="store_true",
        help=f"play every one of --voices even where this CPU cannot keep up ({otherwise}), e.g. --voices 4 "
        "--force-voices",
    )
