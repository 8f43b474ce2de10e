"""The `rt-samplernn` command: a thin parser over the library; each subcommand lives in rt_samplernn/commands/.

Command modules import only argparse at module level, so `rt-samplernn play` never imports torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from rt_samplernn import __version__
from rt_samplernn.errors import UserError

COMMANDS = ("train", "generate", "export", "bench", "play", "devices", "gui", "measure")


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the examples in epilogs as written and shows defaults."""


class Parser(argparse.ArgumentParser):
    """A bad flag or value is one line (the usage is in --help), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (`{self.prog} --help` lists the options)\n")


def get_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rt-samplernn",
        description="SampleRNN from training to the stage: train, export to ONNX, play live.",
        formatter_class=HelpFormatter,
        epilog=(
            "examples:\n"
            "  rt-samplernn play                                  # the bundled demo model, live\n"
            "  rt-samplernn train music/ --preset live --out runs/a\n"
            "  rt-samplernn export runs/a/best.pt -o my-bundle --verify\n"
            "  rt-samplernn play my-bundle --midi virtual\n"
        ),
    )
    parser.add_argument("--version", action="version", version=f"rt-samplernn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"rt_samplernn.commands.{name}")
        module.register(sub, HelpFormatter)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"rt-samplernn {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rt-samplernn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
