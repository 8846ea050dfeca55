"""Staff-written conversation tests (flows/tests/*.yaml) run by pytest, and the runner itself."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot import flowtests, published_flows

REPO = Path(__file__).resolve().parents[1]
FS, _ = published_flows.load(str(REPO / "flows"), str(REPO / "locales"))
TESTS, PROBLEMS = flowtests.load_tests(str(REPO / "flows"))


def test_staff_test_files_are_readable():
    assert PROBLEMS == []
    assert len(TESTS) >= 5


@pytest.mark.parametrize("test", TESTS, ids=[f"{Path(t.path).name}:{t.line} {t.name}" for t in TESTS])
def test_staff_conversation(test):
    result = flowtests.run(test, FS)
    assert result.passed, "\n".join(map(str, result.failures))


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "tests").mkdir(exist_ok=True)
    path = tmp_path / "tests" / "mine.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_wrong_expectation_fails_at_its_line_and_shows_the_answer(tmp_path):
    path = write(tmp_path, """\
        tests:
          - name: greeting
            steps:
              - say: hi
                expect: Hello
              - say: "1"
                expect: this text is nowhere
        """)
    tests, problems = flowtests.load_tests(str(tmp_path))
    assert problems == [] and len(tests) == 1
    result = flowtests.run(tests[0], FS)
    assert not result.passed
    assert str(result.failures[0]).startswith(f"{path}:6: after \"1\" the answer should contain \"this text is nowhere\"")
    assert "| A few questions about what happened." in str(result.failures[0])


def test_not_catches_a_forbidden_word(tmp_path):
    write(tmp_path, """\
        tests:
          - name: spanish greeting
            steps:
              - say: hola
                not: SALIR
        """)
    tests, _ = flowtests.load_tests(str(tmp_path))
    assert not flowtests.run(tests[0], FS).passed


@pytest.mark.parametrize("body, message", [
    ("steps: []\n", "a test file is a list under `tests:`"),
    ("tests:\n  - name: x\n", "a test needs `name:` and a list of `steps:`"),
    ("tests:\n  - name: x\n    steps:\n      - expect: hi\n", "each step needs `say:`"),
    ("tests:\n  - name: x\n    steps:\n      - say: yes\n", "`say:` was read as yes/no"),
    ("tests:\n  - name: x\n    steps:\n      - say: hi\n        expect: [true]\n", "`expect:` and `not:` take a text"),
    ("tests: [\n", "YAML syntax"),
])
def test_a_badly_written_test_file_gets_a_clear_message(tmp_path, body, message):
    path = write(tmp_path, body)
    tests, problems = flowtests.load_tests(str(tmp_path))
    assert tests == []
    assert len(problems) == 1 and str(problems[0]).startswith(f"{path}:") and message in str(problems[0]), problems


def test_cli_runs_the_staff_tests(app):
    result = app.test_cli_runner().invoke(args=["flows", "test"])
    assert result.exit_code == 0, result.output
    assert f"{len(TESTS)} passed, 0 failed" in result.output


def test_cli_fails_when_a_staff_test_fails(redis_url, tmp_path):
    import shutil

    from bot import create_app
    from bot.config import TestConfig

    flows = tmp_path / "flows"
    shutil.copytree(REPO / "flows", flows)
    (flows / "tests" / "broken.yaml").write_text(
        "tests:\n  - name: wrong\n    steps:\n      - say: hi\n        expect: Bonjour\n", encoding="utf-8")
    app = create_app(TestConfig(redis_url, str(tmp_path), FLOWS_DIR=str(flows)))
    result = app.test_cli_runner().invoke(args=["flows", "test"])
    assert result.exit_code == 1
    assert "FAIL  wrong" in result.output and "broken.yaml:4: after \"hi\" the answer should contain \"Bonjour\"" in result.output
