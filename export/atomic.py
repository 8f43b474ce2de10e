"""Writing a bundle folder all or nothing: build it in a temporary folder beside the target, then swap it in.

A failure (disk full, read-only, parity check failed) before the swap removes the temporary folder; a
kill leaves it as a hidden `.NAME.part-PID` that the next export to the same target removes (once that PID
is gone: two exports to one target never remove each other's work). Either way
the old bundle is untouched. The swap is two renames in one folder; if a kill lands between them, the
old bundle waits in `.NAME.old` and the next export puts it back before anything else.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rt_samplernn.errors import UserError
from rt_samplernn.live.bundle import MANIFEST


def _hidden(out: Path, tag: str) -> Path:
    return out.with_name(f".{out.name}.{tag}")


def recover(out: Path) -> None:
    """Undo what a killed export left beside out: restore a bundle moved aside, remove unfinished folders."""
    old = _hidden(out, "old")
    if old.is_dir():
        if out.exists():
            shutil.rmtree(old)
        else:
            old.rename(out)
    for part in out.parent.glob(f".{out.name}.part-*"):
        if not _running(part.name.rsplit("-", 1)[-1]):  # another export to the same target may be under way
            shutil.rmtree(part, ignore_errors=True)


def _running(pid_text: str) -> bool:
    """True when pid_text names a process that is alive (on this machine)."""
    try:
        os.kill(int(pid_text), 0)
    except (ValueError, ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def check_replaceable(out: Path, force: bool) -> None:
    """out may be written: absent, an empty folder, or (with force) a bundle; never a folder of other files.

    First puts back what a killed export left (see recover), so the check sees the real old bundle.
    """
    recover(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder; choose another -o")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise UserError(f"{out}: already exists; pass --force to replace it or choose another -o")
        if not (out / MANIFEST).is_file():
            raise UserError(
                f"{out}: holds files but no {MANIFEST}, so it is not a bundle; --force only replaces "
                "a bundle: choose another -o"
            )


@contextmanager
def replacing_dir(out: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside out; on a clean exit it replaces out whole, else it is removed."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    recover(out)
    tmp = out.with_name(f".{out.name}.part-{os.getpid()}")
    try:
        tmp.mkdir()
    except OSError as e:
        raise UserError(f"{out}: cannot write in {out.parent} ({e.strerror}); choose another -o") from None
    try:
        yield tmp
        _swap_in(tmp, out)
    except OSError as e:
        raise UserError(
            f"{out}: cannot write the bundle ({e.strerror or e}); the old one, if any, is "
            "unchanged; check the free space or choose another -o"
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(new: Path, out: Path) -> None:
    """new becomes out; the old out (if any) is moved aside first and deleted only after."""
    old = _hidden(out, "old")
    if out.exists():
        out.rename(old)
    new.rename(out)
    shutil.rmtree(old, ignore_errors=True)
