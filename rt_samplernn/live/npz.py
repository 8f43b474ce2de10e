"""Reading and writing .npz files of plain arrays with bounded memory (torch-free).

`write_npz` writes one all or nothing (np.savez: members stored, no pickle). `NpzFile` reads one that anyone
may have written, as a reader of untrusted files must: the zip directory first, then, for each member asked
for, only its .npy header (dtype and shape), so the caller can compare both with what it expects before a
byte of data is allocated; `read` then fills an array of exactly that size. What nothing here allocates for:

* a member whose header claims more elements than the zip directory says it holds (a 10^9-element header on
  a few bytes), or whose directory entry claims more bytes than the file has;
* compressed members (a few kilobytes that inflate to gigabytes): np.savez stores its members, so any
  compressed one is refused;
* members that overlap in the file: everything read from one file together is at most the file's size.

Every failure is a one-line UserError naming the file and the member. A folder, a pipe or a device given as
the file is refused before it is opened (a pipe would block the reader).
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from types import TracebackType

import numpy as np
from numpy.lib import format as npy_format

from rt_samplernn.atomic import replacing
from rt_samplernn.errors import UserError, one_line

MAX_HEADER_BYTES = 10_000  # an .npy header is a short dict literal; numpy's own limit
READ_BYTES = 1 << 20  # data is read into its array this much at a time


def write_npz(path: Path, arrays: dict[str, np.ndarray], what: str) -> None:
    """np.savez to `path`, all or nothing (rt_samplernn.atomic.replacing; UserError if it cannot be written)."""
    with replacing(path, what) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub takes ** for allow_pickle too


class NpzFile:
    """An .npz opened for bounded reading (see the module docstring); use it as a context manager.

    Example::

        with NpzFile(path, "bookmarks") as z:
            dtype, shape = z.header("slots")  # the .npy header only
            slots = z.read("slots")  # exactly the header's size, all of it inside the file
    """

    def __init__(self, path: str | Path, what: str):
        self.path = Path(path)
        self.what = what
        if not self.path.exists():
            raise UserError(f"{self.path}: no such file")
        if not self.path.is_file():
            raise UserError(f"{self.path}: not a file (a folder, a pipe or a device); give a {what} file")
        self.size = self.path.stat().st_size
        self._budget = self.size  # bytes all members read together may take: what the file holds
        try:
            self._zip = zipfile.ZipFile(self.path)
            self._entries = {
                info.filename.removesuffix(".npy"): info for info in self._zip.infolist() if not info.is_dir()
            }
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, MemoryError) as e:
            raise UserError(f"{self.path}: not a readable {what} file ({one_line(e)})") from None
        self._headers: dict[str, tuple[np.dtype, tuple[int, ...], int]] = {}

    def __enter__(self) -> NpzFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def _damaged(self, name: str, problem: str) -> UserError:
        return UserError(f"{self.path}: member {name} {problem}; the {self.what} file is damaged or was edited")

    def header(self, name: str) -> tuple[np.dtype, tuple[int, ...]]:
        """(dtype, shape) from member `name`'s .npy header, checked against its size in the zip directory;
        reads the header only. UserError if the member is missing or its entry is not what np.savez writes."""
        if name not in self._headers:
            self._headers[name] = self._read_header(name)
        dtype, shape, _ = self._headers[name]
        return dtype, shape

    def _read_header(self, name: str) -> tuple[np.dtype, tuple[int, ...], int]:
        info = self._entries.get(name)
        if info is None:
            raise self._damaged(name, "is missing")
        if info.compress_type != zipfile.ZIP_STORED:
            raise self._damaged(name, "is compressed (np.savez stores its members)")
        if info.compress_size != info.file_size or info.header_offset + info.file_size > self.size:
            raise self._damaged(name, f"claims {info.file_size} bytes in the zip directory, more than the file holds")
        try:
            with self._zip.open(info) as f:
                version = npy_format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = npy_format.read_array_header_1_0(f, max_header_size=MAX_HEADER_BYTES)
                elif version == (2, 0):
                    shape, fortran, dtype = npy_format.read_array_header_2_0(f, max_header_size=MAX_HEADER_BYTES)
                else:
                    raise ValueError(f".npy version {version[0]}.{version[1]}, not 1.0 or 2.0")
                offset = f.tell()
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, SyntaxError, TypeError) as e:
            raise self._damaged(name, f"is not an array ({one_line(e)})") from None
        if dtype.hasobject or fortran:
            raise self._damaged(name, "holds Python objects or a Fortran-ordered array (np.savez writes neither)")
        elements = math.prod(shape)
        if offset + elements * dtype.itemsize != info.file_size:
            raise self._damaged(
                name,
                f"claims {elements} elements of {dtype} ({elements * dtype.itemsize} bytes) in its header but holds "
                f"{info.file_size - offset} bytes",
            )
        return dtype, tuple(int(n) for n in shape), offset

    def read(self, name: str) -> np.ndarray:
        """Member `name`'s array: exactly the size its header claims (check `header` first), read from the file."""
        dtype, shape = self.header(name)
        offset = self._headers[name][2]
        info = self._entries[name]
        if info.file_size > self._budget:
            raise self._damaged(name, "overlaps other members (they claim more bytes than the file holds)")
        self._budget -= info.file_size
        out = np.empty(shape, dtype)
        flat = out.reshape(-1).view(np.uint8)
        try:
            with self._zip.open(info) as f:
                f.read(offset)
                got = 0
                while got < len(flat):
                    chunk = f.read(min(READ_BYTES, len(flat) - got))
                    if not chunk:
                        raise EOFError("the file ends inside it")
                    flat[got : got + len(chunk)] = np.frombuffer(chunk, np.uint8)
                    got += len(chunk)
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:  # BadZipFile: its checksum is wrong
            raise self._damaged(name, f"cannot be read ({one_line(e)})") from None
        return out
