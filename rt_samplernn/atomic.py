"""Writing files all or nothing: the one writer every command uses (torch-free).

`replacing(target)` yields a binary file under a unique hidden name in the target's folder
(`.NAME.RANDOM.part`), so two runs on one target never write into one temporary. On a clean exit the
file is flushed, fsynced and renamed over the target, and the folder is fsynced; on any failure
(an exception in the body included) the temporary is removed and the target is untouched. Only a
regular file is ever replaced: a folder, a device node, a pipe or a symlink to one of them is refused.
Write failures are one-line UserErrors naming the file: a full disk, a permission, a file-size limit.

`open_exclusive(target, replace)` is for files written in place as they grow (a recording): it creates
the file exclusively (or, with replace, takes a regular file), and holds an advisory lock on it, so a
second process writing to the same file is refused instead of splicing into it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from rt_samplernn.errors import UserError

TEMP_SUFFIX = ".part"
DEFAULT_FIX = "check the free space and the permissions, or choose another file"


def temporary_name(target: Path) -> Path:
    """A fresh hidden name beside target for its temporary file."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def leftover_temporaries(folder: Path, pattern: str = "*") -> list[Path]:
    """Temporary files a killed write left in folder, for targets whose names match pattern."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f".{pattern}.*{TEMP_SUFFIX}") if p.is_file() and not p.is_symlink())


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_replaceable(target: Path) -> None:
    """UserError unless target is absent, a regular file, or a symlink to a regular file (or to nothing)."""
    try:
        mode = target.stat().st_mode  # follows a symlink: what it points at decides
    except FileNotFoundError:
        return
    except OSError as e:
        raise UserError(f"{target}: cannot check it ({e.strerror or e}); choose another file") from None
    if not stat.S_ISREG(mode):
        raise UserError(f"{target}: is {_kind(mode)}; only a regular file is replaced: choose another file name")


FULL_BYTES = 1 << 20  # a write that failed without saying why, on a disk with less free than this: a full disk


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < FULL_BYTES
    except OSError:
        return False


def write_error(target: Path, what: str, error: BaseException, fix: str = DEFAULT_FIX) -> UserError:
    """The one-line error for a failed write of target: disk full, permission, size limit, or the system's words."""
    code = getattr(error, "errno", None)
    if code == errno.ENOSPC or code == errno.EDQUOT:
        detail = "the disk is full"
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        detail = "permission denied" if code != errno.EROFS else "read-only file system"
    elif code == errno.EFBIG:
        detail = "file too large"
    elif isinstance(error, OSError) and error.strerror:
        detail = error.strerror
    elif _nearly_full(target.parent):  # libsndfile ("System error.") and torch lose the errno: look
        detail = "the disk is full"
    else:  # libsndfile names what went wrong; torch's zip writer only that the write failed
        words = str(getattr(error, "error_string", "")).strip().splitlines()
        detail = words[0][:160] if words else "the write stopped part-way"
    return UserError(f"{target}: cannot write{' ' + what if what else ''} ({detail}); {fix}")


def _create(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some file systems cannot open a folder; the rename itself is done
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def replacing(target: str | Path, what: str = "", fix: str = DEFAULT_FIX) -> Iterator[BinaryIO]:
    """Yield a file (binary, read-write, seekable) that becomes target on a clean exit; see the module doc."""
    target = Path(target)
    check_replaceable(target)
    tmp = temporary_name(target)
    try:
        fd = _create(tmp)
    except OSError as e:
        raise write_error(target, what, e, fix) from None
    try:
        with os.fdopen(fd, "w+b") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        check_replaceable(target)  # again: something may have appeared there while we wrote
        os.replace(tmp, target)
        _fsync_folder(target.parent)
    except (OSError, RuntimeError) as e:  # libsndfile and torch report short writes as RuntimeError
        raise write_error(target, what, e, fix) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(target: str | Path, data: bytes, what: str = "", fix: str = DEFAULT_FIX) -> Path:
    """Write data as target, all or nothing (see `replacing`)."""
    with replacing(target, what, fix) as f:
        f.write(data)
    return Path(target)


def open_exclusive(target: str | Path, replace: bool, what: str = "", fix: str = DEFAULT_FIX) -> BinaryIO:
    """Open target for writing in place, held under an exclusive lock for as long as the file is open.

    Without replace an existing target is refused (created with O_EXCL: of two processes, one wins);
    with replace only a regular file is taken, and only when no other process holds its lock. The file
    is emptied once the lock is held. Returns the open file (binary, read-write, seekable).
    """
    target = Path(target)
    if not replace:
        if target.exists() or target.is_symlink():
            raise UserError(f"{target}: exists; pass --force to overwrite it")
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL
    else:
        check_replaceable(target)
        flags = os.O_RDWR | os.O_CREAT
    try:
        fd = os.open(target, flags | getattr(os, "O_CLOEXEC", 0), 0o666)
    except FileExistsError:
        raise UserError(f"{target}: exists (another process just created it); choose another file") from None
    except OSError as e:
        raise write_error(target, what, e, fix) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UserError(f"{target}: is {_kind(os.fstat(fd).st_mode)}; only a regular file is written")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"{target}: another process is writing to it; choose another file") from None
        os.ftruncate(fd, 0)
        return os.fdopen(fd, "w+b")
    except BaseException:
        os.close(fd)
        raise
