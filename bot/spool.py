"""Quick exits and opt-outs asked for while Redis could not be reached.

When the store is down, a person who texts SALIR or STOP still gets their one
line at once (see ``bot/engine/stateless.py``), and what they asked for is
written here, to be done as soon as Redis answers again: the session erased,
the opt-out recorded. A line holds the contact id (the HMAC of the number,
as in every key), the action, when, and for a quick exit its MessageSid (so
that the message itself can be deleted at Twilio with the rest); or only the
sid of the quick exit's answer to delete at Twilio, when its status came
during the outage. Never the number, never a text.

The file is ``<BOT_DATA_DIR>/outage-spool``, mode 0600, shared by every
process of the deployment (gunicorn's workers append to it; whichever of them
sees Redis answer first replays it). Appends hold an flock on the file for
the length of one write; a replay holds a second lock, ``outage-spool.lock``,
so only one process replays at a time, reads what is there, does it, and then
cuts exactly the lines it read from the front of the file: lines appended
meanwhile stay for the next replay. An entry that cannot be done (Redis went
away again) stops the replay and stays, with everything after it.

Small by design: past ``MAX_BYTES`` (about ten thousand lines) nothing more is
added, so that an outage cannot fill the disk; the person still gets their
line, and a quick exit's session still expires with ``SESSION_TTL``.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from dataclasses import dataclass
from typing import Callable, Iterator

log = logging.getLogger(__name__)

NAME = "outage-spool"
# An entry that only asks for a message to be deleted at Twilio: the answer to a
# quick exit, whose status callback came while Redis could not be reached.
DELETE = "delete"
MAX_BYTES = 1_000_000


@dataclass(frozen=True)
class Entry:
    cid: str
    action: str  # "quick_exit", "opt_out", or DELETE (then cid is "")
    t: float  # when the person asked (epoch seconds)
    sid: str = ""  # a quick exit's MessageSid


class Spool:
    def __init__(self, folder: str | os.PathLike[str]):
        self.path = os.path.join(os.fspath(folder), NAME)
        self.lock_path = self.path + ".lock"

    def add(self, entry: Entry) -> bool:
        """Append ``entry``; False if the spool is full or cannot be written."""
        line = json.dumps({"c": entry.cid, "a": entry.action, "t": round(entry.t, 3), "m": entry.sid},
                          separators=(",", ":")) + "\n"
        try:
            with _open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT) as fd:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_size + len(line) > MAX_BYTES:
                    log.error("the outage spool is full (%s bytes); a %s was answered but not kept",
                              MAX_BYTES, entry.action)
                    return False
                os.write(fd, line.encode())
                os.fsync(fd)  # a promise made to the person: on disk before they are answered
                return True
        except OSError as exc:
            log.error("the outage spool cannot be written (%s); a %s was answered but not kept",
                      type(exc).__name__, entry.action)
            return False

    def pending(self) -> bool:
        try:
            return os.stat(self.path).st_size > 0
        except OSError:
            return False

    def holds(self, cid: str) -> bool:
        """Whether something asked for by ``cid`` is waiting to be done."""
        if not self.pending():
            return False
        try:
            with _open(self.path, os.O_RDONLY) as fd:
                fcntl.flock(fd, fcntl.LOCK_SH)
                data = _read_all(fd)
        except OSError:
            return False
        return any(entry is not None and entry.cid == cid for entry in map(_parse, data.splitlines()))

    def replay(self, do: Callable[[Entry], None], wait: bool = False) -> int:
        """Do every entry, oldest first, and drop the ones done; returns how many
        were left undone (0: the spool is empty, or another process is replaying it).

        ``do`` raises if an entry cannot be done now: the replay stops there.
        ``wait``: if another process is replaying, wait for it to finish, then
        replay what is left (for a turn that must not start before it).
        """
        try:
            with _open(self.lock_path, os.O_RDWR | os.O_CREAT) as guard:
                try:
                    fcntl.flock(guard, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return 0  # another process is replaying
                return self._replay(do)
        except OSError as exc:
            log.error("the outage spool cannot be read (%s)", type(exc).__name__)
            return 1

    def _replay(self, do: Callable[[Entry], None]) -> int:
        with _open(self.path, os.O_RDWR | os.O_CREAT) as fd:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = _read_all(fd)
        entries = [(line, _parse(line)) for line in data.splitlines(keepends=True) if line.endswith(b"\n")]
        done = 0  # bytes of the lines done (or unreadable, which nothing could ever do)
        left = 0
        for i, (line, entry) in enumerate(entries):
            if entry is not None:
                try:
                    do(entry)
                except Exception as exc:  # noqa: BLE001 - kept for the next replay, with everything after it
                    # The type only: an exception's message could quote something.
                    log.warning("outage spool: replay stopped, %d left: %s", len(entries) - i, type(exc).__name__)
                    left = len(entries) - i
                    break
            else:
                log.error("outage spool: an unreadable line was dropped")
            done += len(line)
        if done:
            with _open(self.path, os.O_RDWR) as fd:
                fcntl.flock(fd, fcntl.LOCK_EX)
                rest = _read_all(fd)[done:]  # lines appended while we replayed
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, rest)
                os.ftruncate(fd, len(rest))
        return left


def _parse(line: bytes) -> Entry | None:
    try:
        data = json.loads(line)
        return Entry(str(data["c"]), str(data["a"]), float(data["t"]), str(data.get("m") or ""))
    except (ValueError, KeyError, TypeError):
        return None


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


@contextlib.contextmanager
def _open(path: str, flags: int) -> Iterator[int]:
    """``os.open`` with mode 0600 for a new file, closed (and its flock released) on exit."""
    fd = os.open(path, flags, 0o600)
    try:
        yield fd
    finally:
        os.close(fd)
