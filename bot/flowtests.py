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
from .engine.problems import Problem
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
    failures: list[Problem] = field(default_factory=list)  # at the step: what was said, and what came back

    @property
    def passed(self) -> bool:
        return not self.failures


class TestFileError(ValueError):
    """A test written in a way that cannot be run: ``problem`` says where and why."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


def load_tests(flows_dir: str) -> tuple[list[FlowTest], list[Problem]]:
    """Every test under ``flows_dir/tests``, and the problems reading them."""
    folder = os.path.join(flows_dir, TESTS_FOLDER)
    tests: list[FlowTest] = []
    problems: list[Problem] = []
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
            problems.append(Problem(path, 1, "test-not-utf8"))
            continue
        except YamlSyntaxError as exc:
            problems.append(Problem(path, exc.line, exc.code, exc.data))
            continue
        data = source.data if isinstance(source.data, dict) else {}
        if not isinstance(data.get("tests"), list):
            problems.append(Problem(path, 1, "test-file-not-a-list"))
            continue
        for i, doc in enumerate(data["tests"]):
            try:
                tests.append(_one(doc, source, ("tests", i)))
            except TestFileError as exc:
                problems.append(exc.problem)
    return tests, problems


def _texts(value, path: str, line: int) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        return [str(v) for v in value]
    raise TestFileError(Problem(path, line, "test-expect-not-text"))


def _one(doc, source: Source, at: tuple) -> FlowTest:
    path = source.path
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list) or not doc["steps"]:
        raise TestFileError(Problem(path, source.line(at), "test-needs-steps"))
    steps = []
    for j, raw in enumerate(doc["steps"]):
        line = source.line(at + ("steps", j))
        if not isinstance(raw, dict) or ("say" not in raw and not raw.get("picture")):
            raise TestFileError(Problem(path, line, "test-step-needs-say"))
        say = raw.get("say", "")
        if isinstance(say, bool) or (say is None and not raw.get("picture")):
            raise TestFileError(Problem(path, line, "test-say-not-text"))
        steps.append(Step(str(say or ""), _texts(raw.get("expect"), path, line),
                          _texts(raw.get("not"), path, line), line, media=1 if raw.get("picture") else 0))
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
        said = {"test": test.name, "say": s.say, "answer": answer}
        for piece in s.expect:
            if piece.casefold() not in lowered:
                result.failures.append(Problem(test.path, s.line, "test-answer-lacks", {**said, "piece": piece}))
        for piece in s.refuse:
            if piece.casefold() in lowered:
                result.failures.append(Problem(test.path, s.line, "test-answer-has", {**said, "piece": piece}))
        if result.failures:
            break  # the steps after this one depend on it
    return result
