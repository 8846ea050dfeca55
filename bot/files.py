"""Files the service writes: only inside the folder they belong to, and whole.

A name that comes from a flow file, a draft or an audit record (a language
code, a file name, a path relative to the project) becomes a path only
through :func:`inside`, which resolves it (``..``, symlinks) and refuses
anything that would land outside its folder: a typo or an attack in
``system.yaml`` must never reach the live catalogs or anywhere else.
:func:`write_atomic` writes a file so that a reader sees the old one or the
new one, never half.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import suppress


class OutsideFolder(ValueError):
    """A path that would leave the folder it belongs to."""


def inside(folder: str, *parts: str) -> str:
    """``folder/parts...``, refused unless it resolves to a place inside ``folder``.

    Returns the path as joined (not resolved), so that messages show it as
    staff know it; the check is made on the resolved path.
    """
    path = os.path.join(folder, *parts)
    base = os.path.realpath(folder)
    if os.path.commonpath([base, os.path.realpath(path)]) != base:
        raise OutsideFolder(f"{os.path.join(*parts) if parts else path} is outside {folder}")
    return path


def write_atomic(path: str, text: str | bytes) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never half of it.

    The file keeps the mode of the one it replaces (0644 for a new file).
    """
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        data = text.encode("utf-8") if isinstance(text, str) else text
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with suppress(OSError):  # the rename itself survives a crash once the folder is synced
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_or_remove(path: str, text: str | None, atomic: bool = True) -> None:
    """Make ``path`` hold ``text``, or not exist when ``text`` is None.

    ``atomic``: written as :func:`write_atomic` does, for files the running
    service reads; off for a scratch copy nobody else reads (no fsync).
    """
    if text is None:
        with suppress(FileNotFoundError):
            os.unlink(path)
    elif atomic:
        write_atomic(path, text)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
