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
        raise OutcomesError(found[0])
    return _read(path_in(flows_dir))


def problems(flows_dir: str) -> list[str]:
    """What is wrong with the outcomes file, in words for staff ([] if nothing)."""
    path = path_in(flows_dir)
    try:
        items = _read(path)
    except OutcomesError as exc:
        return [f"{path}: {exc}"]
    found, seen = [], set()
    if not items:
        found.append(f"{path}: list at least one outcome under `outcomes:`")
    for n, o in enumerate(items, 1):
        if not ID.match(o.id):
            found.append(f"{path}: outcome {n}: the id `{o.id}` must be lower-case letters, digits and _ "
                         "(at most 40), starting with a letter")
        if o.id in seen:
            found.append(f"{path}: outcome {n}: the id `{o.id}` is used twice")
        seen.add(o.id)
        if not o.label.strip():
            found.append(f"{path}: outcome {n} (`{o.id}`) has no label")
        elif len(o.label) > LABEL_MAX:
            found.append(f"{path}: outcome {n} (`{o.id}`): the label is longer than {LABEL_MAX} characters")
    return found


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
