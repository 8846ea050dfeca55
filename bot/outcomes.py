"""The wrap-up outcomes a responder picks when a chat ends (flows/console/outcomes.yaml).

Staff edit the file; :func:`problems` is what ``flows check`` says about it.
An outcome's id is what the figures count under (``wrapup|<id>``), so it is
checked to be a short plain word: it ends up in the events stream and the CSV.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import yaml

from .engine.problems import Problem

OUTCOMES_FILE = os.path.join("console", "outcomes.yaml")
ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
LABEL_MAX = 60


@dataclass(frozen=True)
class Outcome:
    id: str
    label: str


class OutcomesError(ValueError):
    """The outcomes file cannot be used; the message says why, for staff."""


def path_in(flows_dir: str) -> str:
    return os.path.join(flows_dir, OUTCOMES_FILE)


def load(flows_dir: str) -> list[Outcome]:
    """The outcomes, in the file's order; OutcomesError if the file is missing or wrong."""
    found = problems(flows_dir)
    if found:
        raise OutcomesError(str(found[0]))
    return _read(path_in(flows_dir))


def problems(flows_dir: str) -> list[Problem]:
    """What is wrong with the outcomes file ([] if nothing), as ``flows check`` reports it.

    No file: nothing to check (as for the canned replies); ending a chat then asks for no outcome.
    """
    path = path_in(flows_dir)
    if not os.path.exists(path):
        return []
    try:
        items = _read(path)
    except OutcomesError as exc:
        return [Problem(path, 1, "outcomes-file", {"why": str(exc)})]
    lines = _lines(path)
    found, seen = [], set()
    if not items:
        found.append(Problem(path, 1, "outcomes-file", {"why": "list at least one outcome under `outcomes:`"}))
    for n, o in enumerate(items, 1):
        line = next((i for i, text in enumerate(lines, 1) if o.id and o.id in text and "id" in text), 1)
        why = []
        if not ID.match(o.id):
            why.append(f"outcome {n}: the id `{o.id}` must be lower-case letters, digits and _ (at most 40), "
                       "starting with a letter")
        if o.id in seen:
            why.append(f"outcome {n}: the id `{o.id}` is used twice")
        seen.add(o.id)
        if not o.label.strip():
            why.append(f"outcome {n} (`{o.id}`) has no label")
        elif len(o.label) > LABEL_MAX:
            why.append(f"outcome {n} (`{o.id}`): the label is longer than {LABEL_MAX} characters")
        found += [Problem(path, line, "outcomes-file", {"why": w}) for w in why]
    return found


def _lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def _read(path: str) -> list[Outcome]:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise OutcomesError("the file is missing") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise OutcomesError(f"cannot be read ({type(exc).__name__})") from None
    items = data.get("outcomes") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise OutcomesError("expected `outcomes:` with a list of `id:` and `label:`")
    found = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("label"), str):
            raise OutcomesError(f"outcome {n} needs an `id:` and a `label:`, both text")
        found.append(Outcome(item["id"], item["label"]))
    return found
