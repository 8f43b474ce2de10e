"""Reading JSON and TOML that anyone may have written (torch-free): the one helper every such file goes through.

Bundle manifests, MIDI maps and training configs are read with `read_structured`. Whatever the text, the
result is a plain tree of dicts, lists, strings, bools, floats and integers of at most 64 bits, nested at
most MAX_DEPTH deep, or a one-line UserError naming the file: not valid JSON/TOML, nested too deep (the
parser's own recursion included), a number with thousands of digits, a file too large or not UTF-8.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from rt_samplernn.errors import UserError

MAX_DEPTH = 32  # tables and lists inside each other; the deepest file this project writes has 4
MAX_BYTES = 64 << 20  # a bundle manifest with learned initial states is well under a megabyte
MAX_INT = 2**63  # integers beyond +-2^63 are no count, size or seed this project uses


def _check_tree(data: Any, path: Path) -> None:
    """Depth and integer size of a parsed tree, walked without recursion."""
    pending: list[tuple[Any, int]] = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                raise UserError(f"{path}: nested more than {MAX_DEPTH} levels deep; this is not a file of ours")
            children = value.values() if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)
        elif isinstance(value, int) and not isinstance(value, bool) and not -MAX_INT <= value <= MAX_INT:
            raise UserError(f"{path}: holds a whole number of {len(str(abs(value)))} digits; no field takes one")


def parse_structured(text: str, path: Path, fmt: str) -> Any:
    """Parse text ("json" or "toml") read from path into a checked tree; a one-line UserError otherwise."""
    name = fmt.upper()
    try:
        data = json.loads(text) if fmt == "json" else tomllib.loads(text)
    except RecursionError:
        raise UserError(f"{path}: not valid {name} (nested too deep)") from None
    except ValueError as e:  # JSONDecodeError and TOMLDecodeError are ValueErrors; so is a 5000-digit number
        raise UserError(f"{path}: not valid {name} ({str(e).splitlines()[0][:160]})") from None
    _check_tree(data, path)
    return data


def read_structured(path: str | Path, what: str, fmt: str | None = None) -> Any:
    """Read and parse a JSON or TOML file (fmt, else by its suffix: .json is JSON, anything else TOML).

    what: the kind of file for the messages ("MIDI map", "bundle manifest", "config file").
    """
    path = Path(path)
    fmt = fmt or ("json" if path.suffix.lower() == ".json" else "toml")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"{path}: no such {what}") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    if len(raw) > MAX_BYTES:
        raise UserError(f"{path}: larger than {MAX_BYTES >> 20} MB; not a {what} of ours")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (byte {e.start}); not a {what}") from None
    return parse_structured(text, path, fmt)
