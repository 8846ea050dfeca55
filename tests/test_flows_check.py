"""`flask --app app flows check`: every broken flow set and the exact lines it prints.

Each folder in ``tests/broken_flows/`` (except ``_base``) is one case, in the
manner of goflow's ``testdata/broken_flows``: a few files that break the small,
valid flow set in ``_base/`` and, in ``expected.txt``, every line the check
must print for it, in order. See ``tests/broken_flows/README.md``.

Most cases run through the checker function (``bot.published_flows.load``, what the
command calls) to stay fast; a few run through the real command, in-process
and as a subprocess, to hold the exit code and the printed lines.

    pytest tests/test_flows_check.py --update-golden

rewrites the ``expected.txt`` files from what the checker says now; review the
diff as carefully as a code change: it is what staff will read.
"""
from __future__ import annotations

import copy
import json
import datetime
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.published_flows import load
from bot.engine.loader import load_texts
from bot.engine.problems import ERROR
from bot.engine.validate import check as check_loaded
from bot.engine.validate import preview_words
from bot.i18n import load_catalogs

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
BROKEN = TESTS / "broken_flows"
BASE = BROKEN / "_base"
CASES = sorted(p.name for p in BROKEN.iterdir() if p.is_dir() and not p.name.startswith("_"))
CASE_FILES = ("expected.txt", "remove.txt")
SCHEMA = json.loads((REPO / "flows" / "schema.json").read_text(encoding="utf-8"))
BASE_CATALOGS = load_catalogs(str(BASE / "locales"))
LINE = re.compile(r"^(flows|locales)/[\w./-]+:\d+: (warning: )?\S.*$")


# --- building a case ---------------------------------------------------------------


def build(root: Path, case: str | None = None) -> Path:
    """A project folder at ``root``: the base set, the real schema, then the case."""
    shutil.copytree(BASE, root, dirs_exist_ok=True)
    shutil.copy(REPO / "flows" / "schema.json", root / "flows" / "schema.json")
    shutil.copy(REPO / "locales" / "babel.cfg", root / "locales" / "babel.cfg")
    if case:
        overlay(root, case)
    return root


def overlay(root: Path, case: str) -> None:
    """Copy the case's files over ``root`` and delete what its remove.txt lists."""
    src = BROKEN / case
    for path in src.rglob("*"):
        if path.is_file() and path.name not in CASE_FILES:
            dest = root / path.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
    removed = src / "remove.txt"
    if removed.exists():
        for rel in removed.read_text(encoding="utf-8").split():
            (root / rel).unlink()


def expected(case: str) -> list[str]:
    text = (BROKEN / case / "expected.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def update_expected(case: str, lines: list[str]) -> None:
    path = BROKEN / case / "expected.txt"
    comments = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    path.write_text("\n".join(comments + lines) + "\n", encoding="utf-8")


def check_texts(texts: dict[str, str], schema: dict, catalogs) -> tuple:
    """The checker on file contents in memory (no disk), for the property test."""
    return check_loaded(load_texts(texts, schema, folder="flows"), catalogs)


# The date the fixtures are checked "as of", so review dates never age the tests.
AS_OF = datetime.date(2026, 11, 22)


def check(root: Path) -> tuple[list[str], bool]:
    """The lines `flows check` prints for the project at ``root``, and whether it fails."""
    _, problems = load(str(root / "flows"), str(root / "locales"), today=AS_OF)
    lines = [str(p.moved(os.path.relpath(p.path, root))) for p in problems]
    return lines, any(p.severity == ERROR for p in problems)


# --- the fixtures themselves ----------------------------------------------------------


def test_the_preview_is_the_first_two_lines_however_long():
    """What `first_line_avoid` is held to: a locked phone shows the first lines
    of a message, and a long first line is all shown (no 200-character cut)."""
    assert "trafficking" in preview_words("a " * 150 + "trafficking\nok")
    assert "sex" not in preview_words("Question 13.\nPersonal.\nHas anyone made you have sex?")
    assert "sex" in preview_words("Question 13.\nHas anyone made you have sex?")


def test_base_set_passes(tmp_path):
    """Every case's expected lines come from the case alone."""
    assert check(build(tmp_path)) == ([], False)


def test_every_case_breaks_something_and_says_why():
    assert len(CASES) >= 40
    for case in CASES:
        folder = BROKEN / case
        files = [p for p in folder.rglob("*") if p.is_file() and p.name not in CASE_FILES]
        assert files or (folder / "remove.txt").exists(), f"{case}: changes nothing"
        text = (folder / "expected.txt").read_text(encoding="utf-8")
        assert text.startswith("# "), f"{case}/expected.txt: start with a `# ` line saying what is broken"


# --- every case through the checker ---------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_broken_flows(case, tmp_path, request):
    lines, failed = check(build(tmp_path, case))
    if request.config.getoption("--update-golden"):
        update_expected(case, lines)
    want = expected(case)
    assert want, f"{case}: expected.txt lists no problem"
    assert lines == want
    for line in lines:
        assert LINE.match(line), f"not `path:line: message`: {line}"
    # Only warnings: the check passes (exit 0); any error fails it (exit 1).
    assert failed == any(": warning: " not in line for line in lines)


def test_every_message_says_what_to_do_in_plain_words():
    """Messages are for staff who know no Python: after what is wrong comes,
    past a colon, semicolon or question mark, what to do; no Python leaks."""
    unclear = []
    for case in CASES:
        for line in expected(case):
            message = line.split(": ", 1)[1].removeprefix("warning: ")
            if not re.search(r"[:;?] \S", message) or re.search(r"\['|'\]|\bNone\b|Traceback|[A-Z]\w+Error\b", message):
                unclear.append(line)
    assert unclear == []


def test_one_typo_in_a_flow_is_one_problem(tmp_path):
    """A flow file with its own problems is left out; gotos into it and the
    reachability of what it links to are not reported on top of its problem."""
    lines, _ = check(build(tmp_path, "unknown_kind"))
    assert len(lines) == 1 and "questoin" in lines[0]
    # Without the suppression the same break would also report the goto into
    # `work` and its unreachable nodes: fixing the flow fixes all of them.
    (tmp_path / "flows" / "work.yaml").unlink()
    lines, _ = check(tmp_path)
    assert any("there is no flow `work`" in line for line in lines)


# --- files that cost far more to read than their size ---------------------------------------


def test_a_file_too_big_is_refused_at_the_line_where_it_passes_the_limit(tmp_path):
    """Read no further than the limit (a file dropped in flows/ must not fill the memory),
    and said at its line; a special file too big is not also reported missing."""
    from bot.engine.yamlsource import MAX_BYTES

    root = build(tmp_path)
    work = root / "flows" / "work.yaml"
    text = work.read_text(encoding="utf-8")
    filler = "# " + "x" * 98 + "\n"  # comment lines of 101 bytes
    work.write_text(text + filler * (MAX_BYTES // len(filler) + 1), encoding="utf-8")
    line = len(text.splitlines()) + (MAX_BYTES - len(text.encode("utf-8"))) // len(filler) + 1
    system = root / "flows" / "system.yaml"
    system.write_bytes(system.read_bytes() + b"#" * (5 * 1024 * 1024) + b"\n")

    lines, failed = check(root)

    assert failed
    assert f"flows/work.yaml:{line}: this file is over {MAX_BYTES // 1024} KB, the most a flow file may be (it" \
           " goes past that on this line): split it into smaller flows, or remove what was pasted here" in lines
    assert any(x.startswith("flows/system.yaml:") and f"is over {MAX_BYTES // 1024} KB" in x for x in lines)
    assert not any("missing" in x for x in lines)


def test_an_alias_alone_is_refused_too_with_what_to_do(tmp_path):
    """An alias needs no anchor in the file to be refused; a text starting with `*` is the likely cause."""
    root = build(tmp_path)
    work = root / "flows" / "work.yaml"
    text = work.read_text(encoding="utf-8")
    lines = text.splitlines()
    n = next(i for i, line in enumerate(lines, 1) if line.strip().startswith("text:"))
    lines[n - 1] = lines[n - 1].split("text:")[0] + "text: *note"
    work.write_text("\n".join(lines) + "\n", encoding="utf-8")
    lines, _ = check(root)
    assert lines == [f"flows/work.yaml:{n}: `*note` is a YAML alias, and flow files do not use aliases or anchors"
                     " (each text is written out where it is used); if the text starts with `*`, put it in quotes"]


# --- odd input never crashes the check ------------------------------------------------

ODD_VALUES = [None, True, 12, 1.5, [], {}, "x", ["a"], {"a": 1}, "{", "Main.Menu", "intro.menu", "work"]


def _base_texts() -> dict[str, str]:
    return {f"flows/{p.name}": p.read_text(encoding="utf-8") for p in sorted((BASE / "flows").glob("*.yaml"))}


def _positions(data, at=()):
    yield at
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        yield from _positions(value, at + (key,))


def _replace(data, at, value):
    if not at:
        return value
    data = copy.deepcopy(data)
    node = data
    for part in at[:-1]:
        node = node[part]
    node[at[-1]] = value
    return data


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.data())
@pytest.mark.slow
def test_odd_input_anywhere_gives_problems_never_a_crash(data):
    """Any value swapped for any other type, or any line deleted, cut or
    re-indented: the checker answers with `path:line: message`s."""
    texts = _base_texts()
    path = data.draw(st.sampled_from(sorted(texts)))
    if data.draw(st.booleans()):
        parsed = yaml.safe_load(texts[path])
        at = data.draw(st.sampled_from(list(_positions(parsed))))
        texts[path] = yaml.safe_dump(_replace(parsed, at, data.draw(st.sampled_from(ODD_VALUES))), allow_unicode=True)
    else:
        lines = texts[path].splitlines(True)
        i = data.draw(st.integers(0, len(lines) - 1))
        lines[i] = data.draw(st.sampled_from(["", lines[i].lstrip(), "  " + lines[i], lines[i][: len(lines[i]) // 2] + "\n"]))
        texts[path] = "".join(lines)
    _, problems = check_texts(texts, SCHEMA, BASE_CATALOGS)
    for p in problems:
        assert p.path in texts and p.line >= 1 and p.message


# --- the real command ---------------------------------------------------------------


def _app(redis_url: str, root: Path):
    from bot import create_app
    from bot.config import TestConfig

    config = TestConfig(redis_url, str(root / "var"),
                        FLOWS_DIR=str(root / "flows"), LOCALES_DIR=str(root / "locales"))
    return create_app(config)


@pytest.mark.parametrize("case", ["goto_unknown_flow", "translation_fuzzy", "too_long_spanish_only", "yaml_boolean_text",
                                  "yaml_alias_bomb", "yaml_deep_nesting"])
def test_cli_prints_each_problem_and_exits_1(case, tmp_path, redis_url, monkeypatch):
    app = _app(redis_url, build(tmp_path))  # the server starts on good flows...
    overlay(tmp_path, case)  # ...then staff break them and run the check
    monkeypatch.chdir(tmp_path)
    result = app.test_cli_runner().invoke(args=["flows", "check"])
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == expected(case)
    assert f"{len(expected(case))} error(s), 0 warning(s)." in result.stderr


def test_cli_passes_with_only_warnings(tmp_path, redis_url, monkeypatch):
    app = _app(redis_url, build(tmp_path, "unverified_hotline_warning"))
    monkeypatch.chdir(tmp_path)
    result = app.test_cli_runner().invoke(args=["flows", "check", "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == expected("unverified_hotline_warning")
    assert "Flows OK" in result.stderr and "(1 warning(s))" in result.stderr


def _flask(cwd: Path, redis_url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(REPO), "REDIS_URL": redis_url,
               "BOT_DATA_DIR": str(cwd / "var"), **env}
    environ.pop("FLASK_APP", None)
    flask = Path(sys.executable).with_name("flask")
    return subprocess.run([str(flask), "--app", "app", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_command_fails_on_broken_flows(tmp_path, redis_url):
    build(tmp_path, "duplicate_node_id")
    done = _flask(tmp_path, redis_url, "flows", "check", FLOWS_DIR="flows", LOCALES_DIR="locales")
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == expected("duplicate_node_id")
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_command_passes_on_the_real_flows(tmp_path, redis_url):
    done = _flask(REPO, redis_url, "flows", "check", BOT_DATA_DIR=str(tmp_path),
                  FLOWS_DIR=str(REPO / "flows"), LOCALES_DIR=str(REPO / "locales"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Flows OK" in done.stderr
    assert not [line for line in done.stdout.splitlines() if ": warning: " not in line]


def test_real_flows_have_no_errors():
    _, problems = load(str(REPO / "flows"), str(REPO / "locales"))
    assert [str(p) for p in problems if p.severity == ERROR] == []
