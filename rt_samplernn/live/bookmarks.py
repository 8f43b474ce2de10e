"""Bookmark slots in a file: the one reader and writer the window's session and `play --bookmarks` share (torch-free).

The file is rt_samplernn.live.snapshot's bookmarks .npz (`save_states` / `load_states`: every slot checked
against the engine's `StateSpec` before its data is read). Loading replaces `Parameters.bookmarks`, padded
with empty slots or cut to the slot count the parameters keep; a slot of another bundle stays in its place and
refuses to recall with a notice. A damaged file is a one-line UserError naming the file and the member, and
the slots are left as they were (what plays goes on).

    marks = BookmarkFile("set.npz", params, engine.state_spec(), "my-bundle")
    marks.load()        # at the start: the number of filled slots read (0: no file yet)
    marks.sync()        # from time to time and at exit: writes the file when the slots changed since
"""

from __future__ import annotations

from pathlib import Path

from rt_samplernn.live.params import Parameters, next_version
from rt_samplernn.live.snapshot import StateSpec, load_states, save_states


def load_bookmarks(params: Parameters, path: str | Path, spec: StateSpec) -> int:
    """Read the slots in `path` into ``params.bookmarks`` (checked against `spec`; UserError if damaged, the
    slots then untouched); returns how many filled slots it holds, of those the parameters keep."""
    states = load_states(path, spec)
    count = len(params.bookmarks)
    params.bookmarks = (states + [None] * count)[:count]
    params.bookmarks_version = next_version()
    return sum(s is not None for s in params.bookmarks)


def save_bookmarks(params: Parameters, path: str | Path, bundle_name: str = "") -> None:
    """Write ``params.bookmarks`` to `path`, all or nothing (UserError if it cannot be written)."""
    save_states(list(params.bookmarks), path, bundle_name)


class BookmarkFile:
    """A bookmarks file kept in step with `Parameters` (see the module docstring). ``sync`` may run on any one
    thread besides the producer: the slots are replaced whole by the producer, never changed in place."""

    def __init__(self, path: str | Path, params: Parameters, spec: StateSpec, bundle_name: str = ""):
        self.path = Path(path)
        self.params = params
        self.spec = spec
        self.bundle_name = bundle_name
        self._written = params.bookmarks_version

    def load(self) -> int:
        """The file's slots into the parameters (none when there is no file yet); returns the filled ones."""
        if not self.path.exists():
            return 0
        filled = load_bookmarks(self.params, self.path, self.spec)
        self._written = self.params.bookmarks_version
        return filled

    def sync(self) -> bool:
        """Write the file if the slots changed since the last load or write; True when it wrote."""
        version = self.params.bookmarks_version
        if version == self._written:
            return False
        save_bookmarks(self.params, self.path, self.bundle_name)
        self._written = version
        return True
