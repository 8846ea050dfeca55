"""The flow set the service runs: loaded, checked, and swapped as a whole.

``load`` reads flows/ and locales/ and runs every check; the server refuses
to start on errors (each printed as ``path:line: message``).

Live reload, across every worker: ``publish`` checks the files in FLOWS_DIR
and, only if they pass, raises a version number in Redis. Each worker's
:class:`Content` looks at that number every few seconds (``FLOWS_CHECK_SECONDS``)
and, when it moved, loads and checks the files itself, then swaps the whole
new set in at once (one reference assignment: a turn sees the old set or the
new one, never a mix). A set that does not pass is never swapped in: the last
good one keeps serving and the problems are logged. Sessions whose node
disappeared recover to the main menu (the engine does that).
"""
from __future__ import annotations

import datetime
import logging
import threading
import time
from typing import Callable

from . import i18n
from .engine.model import FlowSet
from .engine.problems import Problem, errors
from .engine.validate import build

log = logging.getLogger(__name__)


class FlowsError(RuntimeError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in errors(problems)))


def load(flows_dir: str, locales_dir: str, today: datetime.date | None = None) -> tuple[FlowSet | None, list[Problem]]:
    """Load and check everything; problems include warnings (review dates are
    judged against ``today``, the real date when not given)."""
    return build(flows_dir, i18n.load_catalogs(locales_dir), today)


class FlowsVersion:
    """The published flow-set version, a counter in Redis every worker follows."""

    def __init__(self, client, prefix: str):
        self.r = client
        self.key = f"{prefix}:flows:version"
        self.info_key = f"{prefix}:flows:published"

    def get(self) -> int:
        return int(self.r.get(self.key) or 0)

    def publish(self, digest: str, by: str) -> int:
        version = int(self.r.incr(self.key))
        self.r.hset(self.info_key, mapping={"version": version, "digest": digest, "by": by, "at": f"{time.time():.0f}"})
        return version


def publish(flows_dir: str, locales_dir: str, version: FlowsVersion, by: str) -> tuple[int | None, list[Problem]]:
    """Check the files on disk; if they pass, tell every worker to reload them.

    Returns the new version (None when refused) and the problems found.
    """
    fs, problems = load(flows_dir, locales_dir)
    if fs is None or errors(problems):
        return None, problems
    return version.publish(fs.version, by), problems


class Content:
    """Holds the current FlowSet; callable, so services can ask for it per turn."""

    def __init__(self, flows_dir: str, locales_dir: str, version: Callable[[], int] | None = None,
                 check_every: float = 2.0):
        self.flows_dir = flows_dir
        self.locales_dir = locales_dir
        self._version = version
        self._check_every = check_every
        self._current: FlowSet | None = None
        self._loaded_version: int | None = None  # the published version the current set answers to
        self._next_check = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> FlowSet:
        if self._version is not None and time.monotonic() >= self._next_check:
            self._follow()
        if self._current is None:
            raise FlowsError([])
        return self._current

    @property
    def loaded(self) -> bool:
        return self._current is not None

    @property
    def loaded_version(self) -> int | None:
        return self._loaded_version

    def reload(self) -> list[Problem]:
        """Load again; on errors keep the last good set and raise FlowsError.

        Returns the warnings, for the caller to show where it is read.
        """
        published = self._published()
        fs, problems = load(self.flows_dir, self.locales_dir)
        if fs is None or errors(problems):
            raise FlowsError(problems)
        with self._lock:
            self._current = fs
            self._loaded_version = published
        return problems

    def _published(self) -> int | None:
        if self._version is None:
            return None
        try:
            return self._version()
        except Exception as exc:  # noqa: BLE001 - Redis down: keep serving what we have
            log.warning("cannot read the published flows version: %s", type(exc).__name__)
            return None

    def _follow(self) -> None:
        """Reload if a new version was published since the current set was loaded."""
        with self._lock:
            if time.monotonic() < self._next_check:
                return  # another thread just looked
            self._next_check = time.monotonic() + self._check_every
        published = self._published()
        if published is None or published == self._loaded_version:
            return
        fs, problems = load(self.flows_dir, self.locales_dir)
        with self._lock:
            if fs is None or errors(problems):
                # Never swap in a broken set; do not retry it until the next publish.
                self._loaded_version = published
                log.error("flows version %s has problems; still serving the last good set:\n%s", published,
                          "\n".join(str(p) for p in errors(problems)))
                return
            self._current = fs
            self._loaded_version = published
        log.info("now serving flows version %s (%s)", published, fs.version)
