"""Steps of the flows in words an operator understands.

The figures count visits per node id (``screening.held_for_ransom``); an
operator reads the question the person saw ("On the way, were you held
somewhere while someone asked your family for money?"), not the id, and not
"Question 2 of 13.", which says where a step is but not what it asks. So a
step is named by the first line of its English text that tells it apart
from the other steps of its flow; routing steps (branches) are never seen by
anyone and are not named at all (:func:`is_seen`).
"""
from __future__ import annotations

import re
from collections import Counter

from .engine.model import BRANCH

LONGEST = 90  # characters: a long first line is cut at a word, the full text is in the page's tooltip
_COUNTER = re.compile(r"^(question|pregunta)\s+\d+\s+(of|de)\s+\d+\.?$", re.I)


def humanised(node_id: str) -> str:
    """``held_for_ransom`` -> ``Held for ransom``: for a step without text, or no longer in the flows."""
    return node_id.replace("_", " ").strip().capitalize() or node_id


def is_seen(node) -> bool:
    """A step the person meets; a branch only routes them to the next one."""
    return node is None or node.kind != BRANCH


def _lines(node) -> list[str]:
    text = node.text.msgid if node is not None and node.text is not None else ""
    return [ln.strip() for ln in text.split("\n") if ln.strip() and not _COUNTER.match(ln.strip())]


def _short(line: str) -> str:
    if len(line) <= LONGEST:
        return line
    return line[:LONGEST].rsplit(" ", 1)[0].rstrip(",;:") + "…"


class StepNames:
    """``name(flow, node)`` for every step of a flow set (``None``: ids humanised)."""

    def __init__(self, fs=None):
        self.fs = fs
        self._names: dict[tuple[str, str], str] = {}
        for flow in (fs.flows.values() if fs is not None else ()):
            self._name_flow(flow)

    def _name_flow(self, flow) -> None:
        lines = {n.id: _lines(n) for n in flow.nodes}
        common = Counter(ln for ls in lines.values() for ln in set(ls))
        names: dict[str, str] = {}
        for node in flow.nodes:
            ls = lines[node.id]
            if node.kind == "question" or node.kind == "menu":  # the question itself
                asks = [ln for ln in ls if ln.endswith("?") or ln.endswith(":")]
                ls = asks[-1:] + ls
            own = [ln for ln in ls if common[ln] == 1 and len(ln) >= 12]
            pick = (own or ls or [""])[0]
            names[node.id] = _short(pick) if pick else humanised(node.id)
        twice = Counter(names.values())
        for node_id, name in names.items():
            if twice[name] > 1:  # "Where are you now?" asked in five places: say which
                name = f"{name} ({humanised(node_id).lower()})"
            self._names[(flow.id, node_id)] = name

    def name(self, flow: str, node: str) -> str:
        return self._names.get((flow, node)) or humanised(node)

    def full(self, flow: str, node: str) -> str:
        """The step's whole first text, for a tooltip."""
        n = self.fs.node(f"{flow}.{node}") if self.fs is not None else None
        return " ".join(_lines(n)) or self.name(flow, node)

    def flow_title(self, flow: str) -> str:
        f = self.fs.flows.get(flow) if self.fs is not None else None
        return f.title if f is not None else humanised(flow)

    def seen(self, flow: str, node: str) -> bool:
        return is_seen(self.fs.node(f"{flow}.{node}") if self.fs is not None else None)
