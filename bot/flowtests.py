"""Conversation tests written by hotline staff, in YAML, under ``flows/tests/``.

A staff member pins what matters without Python::

    tests:
      - name: A Spanish first text gets the greeting and the way out
        steps:
          - say: hola
            expect: [Hola, SALIR]          # every piece must be in the bot's answer
          - say: "1"
            expect: Pregunta
            not: [tráfico de personas]    # none of these may be

``expect`` and ``not`` are compared with the whole answer of that step (all
its messages together), ignoring case. Optional per test: ``channel`` (sms or
whatsapp) and ``on_duty`` (true when a person can take a hand-off); per step,
``picture: true`` sends a picture with no text.

The tests run the same engine the service runs, on the flows in FLOWS_DIR,
with nothing stored: ``flask --app app flows test`` and ``pytest`` both run
them. A failure names the file and line of the step, and what was said.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from .engine import model as m
from .engine.runner import ERASE, Context, Inbound, step
from .engine.session import Session
from .engine.yamlsource import Source, YamlSyntaxError, parse

TESTS_FOLDER = "tests"


@dataclass
class Step:
    say: str
    expect: list[str]
    refuse: list[str]
    line: int
    media: int = 0


@dataclass
class FlowTest:
    name: str
    path: str
    line: int
    steps: list[Step]
    channel: str = "sms"
    on_duty: bool = False


@dataclass
class Result:
    test: FlowTest
    failures: list[str] = field(default_factory=list)  # "path:line: what went wrong"

    @property
    def passed(self) -> bool:
        return not self.failures


class TestFileError(ValueError):
    """A test written in a way that cannot be run; the message says where."""


def load_tests(flows_dir: str) -> tuple[list[FlowTest], list[str]]:
    """Every test under ``flows_dir/tests``, and the problems reading them (path:line: message)."""
    folder = os.path.join(flows_dir, TESTS_FOLDER)
    tests: list[FlowTest] = []
    problems: list[str] = []
    if not os.path.isdir(folder):
        return tests, problems
    for name in sorted(os.listdir(folder)):
        if not name.endswith((".yaml", ".yml")):
            continue
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8") as fh:
                source = parse(fh.read(), path)
        except UnicodeDecodeError:
            problems.append(f"{path}:1: not UTF-8 text: save the file as UTF-8")
            continue
        except YamlSyntaxError as exc:
            problems.append(f"{path}:{exc.line}: {exc.message}")
            continue
        data = source.data if isinstance(source.data, dict) else {}
        if not isinstance(data.get("tests"), list):
            problems.append(f"{path}:1: a test file is a list under `tests:` (see flows/tests/README.md)")
            continue
        for i, doc in enumerate(data["tests"]):
            try:
                tests.append(_one(doc, source, ("tests", i)))
            except TestFileError as exc:
                problems.append(str(exc))
    return tests, problems


def _texts(value, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        return [str(v) for v in value]
    raise TestFileError(f"{where}: `expect:` and `not:` take a text, or a list of texts, in quotes")


def _one(doc, source: Source, at: tuple) -> FlowTest:
    path = source.path
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list) or not doc["steps"]:
        raise TestFileError(f"{path}:{source.line(at)}: a test needs `name:` and a list of `steps:`")
    steps = []
    for j, raw in enumerate(doc["steps"]):
        line = source.line(at + ("steps", j))
        if not isinstance(raw, dict) or ("say" not in raw and not raw.get("picture")):
            raise TestFileError(f"{path}:{line}: each step needs `say:` (what the person sends)")
        say = raw.get("say", "")
        if isinstance(say, bool) or (say is None and not raw.get("picture")):
            raise TestFileError(f"{path}:{line}: `say:` was read as yes/no or as nothing: put the text in quotes")
        steps.append(Step(str(say or ""), _texts(raw.get("expect"), f"{path}:{line}"),
                          _texts(raw.get("not"), f"{path}:{line}"), line, media=1 if raw.get("picture") else 0))
    return FlowTest(str(doc.get("name") or os.path.basename(path)), path, source.line(at), steps,
                    channel=str(doc.get("channel", "sms")), on_duty=bool(doc.get("on_duty", False)))


def run(test: FlowTest, fs: m.FlowSet) -> Result:
    """Play one test through the engine; stop at the first step that does not match."""
    result = Result(test)

    def fresh() -> Session:
        return Session(cid="flow-test", address="flow-test", channel=test.channel)

    session = fresh()
    for n, s in enumerate(test.steps):
        ctx = Context(now=1_800_000_000.0 + n, on_duty=test.on_duty, new_id=lambda: "flowtest")
        turn = step(session, Inbound(s.say, s.media), fs, ctx)
        session = fresh() if turn.action == ERASE else turn.session
        answer = "\n".join(turn.replies)
        lowered = answer.casefold()
        for piece in s.expect:
            if piece.casefold() not in lowered:
                result.failures.append(f"{test.path}:{s.line}: after \"{s.say}\" the answer should contain "
                                       f"\"{piece}\", but it was:\n{_indent(answer)}")
        for piece in s.refuse:
            if piece.casefold() in lowered:
                result.failures.append(f"{test.path}:{s.line}: after \"{s.say}\" the answer must not contain "
                                       f"\"{piece}\", but it was:\n{_indent(answer)}")
        if result.failures:
            break  # the steps after this one depend on it
    return result


def _indent(text: str) -> str:
    return "\n".join(f"    | {line}" for line in (text or "(nothing)").splitlines())
