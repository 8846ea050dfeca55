"""The flow set the service runs: loaded, checked, and swapped as a whole.

``load`` reads flows/ and locales/ and runs every check; the server refuses
to start on errors (each printed as ``path:line: message``), and a reload that
finds errors keeps the last good set.
"""
from __future__ import annotations

import datetime
import logging
import threading

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


class Content:
    """Holds the current FlowSet; callable, so services can ask for it per turn."""

    def __init__(self, flows_dir: str, locales_dir: str):
        self.flows_dir = flows_dir
        self.locales_dir = locales_dir
        self._current: FlowSet | None = None
        self._lock = threading.Lock()

    def __call__(self) -> FlowSet:
        if self._current is None:
            raise FlowsError([])
        return self._current

    @property
    def loaded(self) -> bool:
        return self._current is not None

    def reload(self) -> list[Problem]:
        """Load again; on errors keep the last good set and raise FlowsError."""
        fs, problems = load(self.flows_dir, self.locales_dir)
        if fs is None or errors(problems):
            raise FlowsError(problems)
        with self._lock:
            self._current = fs
        for p in problems:
            log.warning("%s", p)
        return problems
