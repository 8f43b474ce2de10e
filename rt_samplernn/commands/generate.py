"""`rt-samplernn generate` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, formatter: type) -> None:
    p = sub.add_parser("generate", help="(not yet available)", formatter_class=formatter)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print("rt-samplernn generate: not yet available")
    return 1
