"""The flow set the service runs: loaded, checked, and swapped as a whole.

``load`` reads flows/ and locales/ and runs every check; the server refuses
to start on errors (each printed as ``path:line: message``).

Live reload, across every worker: ``publish`` checks the files in FLOWS_DIR
and, only if they pass, raises a version number in Redis. Each worker's
:class:`PublishedFlows` looks at that number every few seconds (``FLOWS_CHECK_SECONDS``)
and, when it moved, loads and checks the files itself, then swaps the whole
new set in at once (one reference assignment: a turn sees the old set or the
new one, never a mix). A set that does not pass is never swapped in: the last
good one keeps serving and the problems are logged. Sessions whose node
disappeared recover to the main menu (the engine does that).

The last good set also outlives a restart: every publish keeps the files it
checked, byte for byte, as a **snapshot** in Redis (``<prefix>:flows:snapshot``,
with its version; every worker and every machine reads the same one). A
server that starts while the files on disk do not pass serves that snapshot
instead of refusing to start, and says so: an error in the log, ``/healthz``,
and a banner on the console's Flows page (:attr:`PublishedFlows.fallback`). It keeps
serving it until files that pass are published. With no snapshot either (a
line that never published: it says so at start), it refuses to start, as before.
"""
from __future__ import annotations

import datetime
import functools
import json
import logging
import os
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Callable, Mapping

from . import i18n
from .engine.loader import forget_schemas, is_language_code, load_files, read_dir
from .engine.model import FlowSet
from .engine.problems import Problem, errors
from .engine.validate import check
from .store.flows import PublishedVersion

log = logging.getLogger(__name__)


class FlowsError(RuntimeError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in errors(problems)))


@dataclass(frozen=True)
class FlowFiles:
    """The files a flow set is made of, as bytes: what is checked is what is kept."""

    flows: Mapping[str, bytes]  # name in FLOWS_DIR (the YAML files, schema.json) -> content
    catalogs: Mapping[str, bytes]  # language -> its .po

    @classmethod
    def read(cls, flows_dir: str, locales_dir: str) -> "FlowFiles":
        return cls(read_dir(flows_dir), i18n.read_catalog_files(locales_dir))

    def check(self, flows_dir: str, locales_dir: str,
              today: datetime.date | None = None) -> tuple[FlowSet | None, list[Problem]]:
        """Check these files as if they were in ``flows_dir`` and ``locales_dir``
        (the paths in problems and in the flow set are the real ones)."""
        fs, problems = _checked(flows_dir, locales_dir, _frozen(self.flows), _frozen(self.catalogs),
                                _files_under(flows_dir), today or datetime.date.today())
        return fs, list(problems)


def _frozen(files: Mapping[str, bytes]) -> tuple[tuple[str, bytes], ...]:
    return tuple(sorted(files.items()))


def _files_under(flows_dir: str) -> tuple[str, ...]:
    """The files in the flows folder's subfolders (the calls' recordings under
    audio/), whose presence the check reports on."""
    found = []
    for folder, _, names in os.walk(flows_dir):
        if folder != flows_dir:
            found += (os.path.relpath(os.path.join(folder, name), flows_dir) for name in names)
    return tuple(sorted(found))


# The same files are checked more than once in a worker's life: at start and
# again by its own follow loop after it published them, on each editor check
# of a draft that did not change, and by every app a process builds (the
# tests build thousands). A check depends on nothing but the files' bytes,
# the folders they are named by, which recordings exist beside them and the
# day that dates the review checks, and a FlowSet never changes once built,
# so the last few results are kept whole. What is kept is staff's flow
# files, never anything a person wrote.
@functools.lru_cache(maxsize=4)
def _checked(flows_dir: str, locales_dir: str, flows: tuple[tuple[str, bytes], ...],
             catalogs: tuple[tuple[str, bytes], ...], files_under: tuple[str, ...],
             today: datetime.date) -> tuple[FlowSet | None, tuple[Problem, ...]]:
    fs, problems = check(load_files(flows_dir, dict(flows)), i18n.catalogs_from(locales_dir, dict(catalogs)), today)
    return fs, tuple(problems)


def forget_checked() -> None:
    """Drop the kept checks and schemas (bench/flows.py times checks from nothing)."""
    _checked.cache_clear()
    forget_schemas()


def load(flows_dir: str, locales_dir: str, today: datetime.date | None = None) -> tuple[FlowSet | None, list[Problem]]:
    """Load and check everything; problems include warnings (review dates are
    judged against ``today``, the real date when not given)."""
    return FlowFiles.read(flows_dir, locales_dir).check(flows_dir, locales_dir, today)


@dataclass(frozen=True)
class Snapshot:
    """A published flow set, kept whole so that a server can start from it."""

    version: int
    digest: str
    by: str
    at: float
    files: FlowFiles

    def pack(self) -> bytes:
        def text(files: Mapping[str, bytes]) -> dict[str, str]:
            return {k: v.decode("utf-8", "surrogateescape") for k, v in files.items()}
        data = {"version": self.version, "digest": self.digest, "by": self.by, "at": self.at,
                "flows": text(self.files.flows), "catalogs": text(self.files.catalogs)}
        return zlib.compress(json.dumps(data, sort_keys=True).encode("utf-8"), 9)

    @classmethod
    def unpack(cls, raw: bytes) -> "Snapshot":
        """ValueError (or KeyError, TypeError) unless ``raw`` is a snapshot whose names are
        a flow folder's file names and language codes: nothing else may become a path."""
        data = json.loads(zlib.decompress(raw))

        def blobs(files: Mapping[str, str], name_ok: Callable[[str], bool]) -> dict[str, bytes]:
            if not all(isinstance(k, str) and name_ok(k) for k in files):
                raise ValueError("a name in the snapshot is not a file name")
            return {k: v.encode("utf-8", "surrogateescape") for k, v in files.items()}
        flows = blobs(data["flows"], lambda name: os.path.basename(name) == name and name not in ("", ".", ".."))
        catalogs = blobs(data["catalogs"], is_language_code)
        return cls(int(data["version"]), str(data["digest"]), str(data["by"]), float(data["at"]),
                   FlowFiles(flows, catalogs))


class FlowsVersion:
    """The published flow-set version, a counter in Redis every worker follows,
    and the snapshot of the set last published."""

    def __init__(self, records: PublishedVersion):
        self.records = records
        # Run on a checked set before it is published; a text back refuses it
        # (WhatsApp's templates, when Twilio cannot be reached: bot/whatsapp_sync.py).
        self.before_publish: Callable[[FlowSet], str | None] | None = None

    def get(self) -> int:
        return self.records.get()

    def publish(self, digest: str, by: str, files: FlowFiles | None = None) -> int:
        version = self.records.next()
        at = time.time()
        self.records.describe({"version": str(version), "digest": digest, "by": by, "at": f"{at:.0f}"})
        if files is not None:
            self.records.keep_snapshot(Snapshot(version, digest, by, at, files).pack())
        return version

    def info(self) -> dict[str, str]:
        """version, digest, by and at of the last publish."""
        return self.records.info()

    def has_snapshot(self) -> bool:
        return self.records.has_snapshot()

    def snapshot(self) -> Snapshot | None:
        raw = self.records.snapshot()
        if raw is None:
            return None
        try:
            return Snapshot.unpack(raw)
        except (zlib.error, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error("the snapshot of the published flows cannot be read (%s)", type(exc).__name__)
            return None


def publish(flows_dir: str, locales_dir: str, version: FlowsVersion, by: str) -> tuple[int | None, list[Problem]]:
    """Check the files on disk; if they pass, keep them as the snapshot and tell
    every worker to reload them.

    Returns the new version (None when refused) and the problems found.
    """
    files = FlowFiles.read(flows_dir, locales_dir)
    fs, problems = files.check(flows_dir, locales_dir)
    if fs is None or errors(problems):
        return None, problems
    refusal = version.before_publish(fs) if version.before_publish is not None else None
    if refusal:
        return None, problems + [Problem(os.path.join(flows_dir, "system.yaml"), 1, "publish-refused", {"why": refusal})]
    return version.publish(fs.version, by, files), problems


class PublishedFlows:
    """Holds the current FlowSet; callable, so the helpline can ask for it per turn."""

    def __init__(self, flows_dir: str, locales_dir: str, version: Callable[[], int] | None = None,
                 check_every: float = 2.0, published: FlowsVersion | None = None):
        self.flows_dir = flows_dir
        self.locales_dir = locales_dir
        self._version = version
        self._check_every = check_every
        self._snapshots = published
        self._current: FlowSet | None = None
        self._loaded_version: int | None = None  # the published version the current set answers to
        self._next_check = 0.0
        self._lock = threading.Lock()
        # The snapshot being served because the files on disk did not pass at
        # start; None once files that pass are loaded.
        self.fallback: Snapshot | None = None

    def __call__(self) -> FlowSet:
        if self._version is not None and time.monotonic() >= self._next_check:
            self._follow()
        if self._current is None:
            raise FlowsError([])
        return self._current

    @property
    def loaded(self) -> bool:
        return self._current is not None

    def current(self) -> FlowSet | None:
        """The set served now, without looking for a newer one (no Redis read); None before any."""
        return self._current

    @property
    def loaded_version(self) -> int | None:
        return self._loaded_version

    def start(self) -> list[Problem]:
        """Load at start: the files on disk, or, when they do not pass, the last
        published snapshot (logged as an error). Raises FlowsError with the
        files' problems when neither can be served."""
        try:
            problems = self.reload()
        except FlowsError as exc:
            self._start_from_snapshot(exc)
            return exc.problems
        return problems

    def warn_if_never_published(self) -> None:
        """Say once, when serving, that a start on broken files would have nothing to fall back on."""
        if self._snapshots is None or self._loaded_version is None:  # None: Redis did not answer
            return
        try:
            if not self._snapshots.has_snapshot():
                log.warning("no flows were ever published here, so a start on broken flow files would find "
                            "nothing to fall back on: run `flask --app app flows publish` once")
        except Exception as exc:  # noqa: BLE001 - Redis down: texts get the fail-safe; said elsewhere
            log.warning("cannot look for the published flows' snapshot: %s", type(exc).__name__)

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
            self.fallback = None
        return problems

    def _start_from_snapshot(self, broken: FlowsError) -> None:
        published = self._published()
        snapshot = None
        if self._snapshots is not None:
            try:
                snapshot = self._snapshots.snapshot()
            except Exception as exc:  # noqa: BLE001 - Redis down: nothing to fall back on
                log.error("cannot read the snapshot of the published flows: %s", type(exc).__name__)
        if snapshot is None:
            raise broken
        fs, problems = snapshot.files.check(self.flows_dir, self.locales_dir)
        if fs is None or errors(problems):
            log.error("the snapshot of flows version %s does not pass today's checks either:\n%s", snapshot.version,
                      "\n".join(str(p) for p in errors(problems)))
            raise broken
        with self._lock:
            self._current = fs
            self._loaded_version = published
            self.fallback = snapshot
        when = datetime.datetime.fromtimestamp(snapshot.at, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        log.error("THE FLOW FILES ON DISK DO NOT PASS THEIR CHECKS. Serving the flows last published instead "
                  "(version %s, published by %s, %s), from their snapshot in Redis, until files that pass are "
                  "published; the files on disk are not served. Fix these problems (`flask --app app flows check`), "
                  "then publish:\n%s", snapshot.version, snapshot.by, when,
                  "\n".join(str(p) for p in errors(broken.problems)))

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
            self.fallback = None
        log.info("now serving flows version %s (%s)", published, fs.version)
