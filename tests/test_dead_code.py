"""No dead names: nothing is imported, or assigned in a function, that nothing
uses (pyflakes), in the app, its benchmarks and its tests. A name left behind
by a change sends the next reader looking for a use that is not there.

A line may keep an import on purpose by saying why, with ``# noqa: F401``
(the console's route modules, imported for the routes they add).
"""
from __future__ import annotations

from pathlib import Path

from pyflakes import api, messages
from pyflakes.reporter import Reporter

REPO = Path(__file__).resolve().parent.parent
CHECKED = ["bot", "bench", "tests", "app.py", "gunicorn.conf.py"]
# The kinds of finding that mean a name nobody uses, or a real mistake.
DEAD = (messages.UnusedImport, messages.UnusedVariable, messages.RedefinedWhileUnused, messages.UndefinedName,
        messages.ImportStarUsed)


class Found(Reporter):
    def __init__(self):
        self.problems: list[str] = []

    def flake(self, message) -> None:
        if not isinstance(message, DEAD):
            return
        line = Path(message.filename).read_text(encoding="utf-8").splitlines()[message.lineno - 1]
        if isinstance(message, messages.UnusedImport) and "# noqa: F401" in line:
            return
        self.problems.append(str(message))

    def syntaxError(self, filename, msg, lineno, offset, text) -> None:
        self.problems.append(f"{filename}:{lineno}: {msg}")

    def unexpectedError(self, filename, msg) -> None:
        self.problems.append(f"{filename}: {msg}")


def dead_names(paths) -> list[str]:
    found = Found()
    api.checkRecursive([str(p) for p in paths], found)
    return found.problems


def test_no_name_is_left_unused():
    problems = dead_names(REPO / p for p in CHECKED)
    assert not problems, "\n".join(problems)


def test_the_check_finds_an_unused_import_and_honours_a_reason(tmp_path):
    (tmp_path / "left.py").write_text("import os\nimport re  # noqa: F401 - kept for its side effect\n\n"
                                      "def f():\n    unused = 1\n")
    problems = dead_names([tmp_path])
    assert len(problems) == 2, problems
    assert "'os' imported but unused" in problems[0] and "'unused'" in problems[1]
