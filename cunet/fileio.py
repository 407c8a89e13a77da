"""Atomic writes: every output is written to a temporary file beside it, then renamed.

Temporary files are named `.<name>.cunet-partial-<pid>-XXXX<suffix>`: recognisable, and
owned by a process id, so a later run can tell the leftovers of a killed run (swept by
`sweep_partials`) from the work of a run still going (`live_partials`).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

PARTIAL = ".cunet-partial-"


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "", replace: bool = True) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it becomes `path`.

    `suffix` keeps the extension libraries use to pick a format (".keras", ".wav").
    `replace` False: an existing `path` is never replaced, even one that appeared while
    writing (`publish`). On any exception the temporary file is removed and `path` is
    left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=partial_prefix(path), suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():  # mkstemp makes files private (0600); outputs follow the umask
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        publish(tmp, path, replace)
    finally:
        if tmp.exists():
            tmp.unlink()


def publish(tmp: Path, path: Path, replace: bool = True) -> None:
    """Rename `tmp` to `path`; with `replace` False, raise `FileExistsError` rather than
    replace a file that exists (a hard link then unlink: atomic, never replacing)."""
    if replace:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "output exists", str(path)) from None
    except OSError as exc:  # a filesystem without hard links: claim the name, then rename onto the claim
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            raise FileExistsError(errno.EEXIST, "output exists", str(path)) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def partial_prefix(path: Path) -> str:
    """The start of the names of `path`'s temporary files written by this process."""
    return f".{path.name}{PARTIAL}{os.getpid()}-"


def _partials(path: Path) -> Iterator[tuple[Path, int]]:
    """(temporary file, owner pid) of every partial file of `path` in its folder."""
    start = f".{path.name}{PARTIAL}"
    for found in Path(path.parent).glob(f"{glob.escape(start)}*"):
        pid = found.name[len(start) :].split("-", 1)[0]
        if pid.isdigit():
            yield found, int(pid)


def pid_alive(pid: int) -> bool:
    """Whether a process `pid` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def live_partials(path: str | Path) -> list[int]:
    """The ids of other running processes writing `path` now."""
    return sorted({pid for _, pid in _partials(Path(path)) if pid != os.getpid() and pid_alive(pid)})


def sweep_partials(path: str | Path) -> list[Path]:
    """Remove the temporary files of `path` left by processes that no longer run (killed
    with SIGKILL, or a lost machine); returns what was removed."""
    removed = []
    for found, pid in _partials(Path(path)):
        if pid != os.getpid() and not pid_alive(pid):
            with contextlib.suppress(FileNotFoundError):
                found.unlink()
                removed.append(found)
    return removed


def make_folders(folder: str | Path) -> list[Path]:
    """Create `folder` and its missing parents; returns the folders created, outermost first."""
    folder = Path(folder)
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    created = []
    for f in reversed(missing):
        with contextlib.suppress(FileExistsError):
            f.mkdir()
            created.append(f)
    return created


def remove_empty_folders(folders) -> None:
    """Remove the folders `make_folders` created that are still empty, innermost first."""
    for f in reversed(list(folders)):
        with contextlib.suppress(OSError):
            f.rmdir()


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
