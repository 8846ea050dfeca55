"""Flow maps as Mermaid flowcharts (``flask --app app flows graph``).

Mermaid is text: it renders on GitHub and GitLab, in many editors, and in the
console, with nothing to install. Each node shows its id, its kind and the
start of its English text; edges carry the option, answer or condition that
takes them; a goto into another flow is drawn as that flow's node, dashed.
Optional per-node counts (visits from the figures) are added to the labels.
"""
from __future__ import annotations

from typing import Mapping

from .engine import model as m

_SHAPES = {
    m.MENU: ('["', '"]'),
    m.QUESTION: ('{"', '"}'),
    m.BRANCH: ('{{"', '"}}'),
    m.END: ('(["', '"])'),
    m.HANDOFF: ('[/"', '"/]'),
    m.DIRECTORY: ('[["', '"]]'),
    m.LANGUAGE: ('["', '"]'),
    m.MESSAGE: ('("', '")'),
}
_CONDITION_NAMES = {
    ("any", frozenset({"yes"})): "any yes",
    ("all", frozenset({"yes"})): "all yes",
    ("any", frozenset({"yes", "not_sure"})): "any yes / not sure",
    ("any", frozenset({"not_sure"})): "any not sure",
    ("all", frozenset({"no"})): "all no",
}


def _id(qualified: str) -> str:
    return qualified.replace(".", "__")


def _clean(text: str, limit: int = 40) -> str:
    one_line = " ".join(text.split()).replace('"', "'")
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def mermaid(fs: m.FlowSet, flow_id: str, counts: Mapping[str, int] | None = None) -> str:
    """A ``flowchart TD`` for one flow; ``counts`` maps ``flow.node`` to visits."""
    flow = fs.flows[flow_id]
    lines = ["flowchart TD", f"  %% {flow.title}"]
    outside: set[str] = set()

    def label(node: m.Node, qualified: str) -> str:
        text = f"{node.id} ({node.kind})"
        if node.text:
            text += f"<br/>{_clean(node.text.msgid)}"
        if node.outcome:
            text += f"<br/>outcome: {node.outcome}"
        if counts is not None:
            n = counts.get(qualified, 0)
            text += f"<br/><b>{n} visit{'' if n == 1 else 's'}</b>"
        return text

    for node in flow.nodes:
        qualified = f"{flow.id}.{node.id}"
        left, right = _SHAPES.get(node.kind, ('["', '"]'))
        lines.append(f"  {_id(qualified)}{left}{label(node, qualified)}{right}")
    lines.append(f"  start(((start))) --> {_id(flow.start)}")

    for node in flow.nodes:
        here = _id(f"{flow.id}.{node.id}")
        edges: list[tuple[str, str]] = []
        for i, option in enumerate(node.options, 1):
            edges.append((option.goto, f"{i}. {_clean(option.label.msgid, 24)}"))
        if node.kind == m.QUESTION:
            for answer in m.ANSWERS:
                target = node.on.get(answer) or node.next
                if target:
                    edges.append((target, answer.replace("_", " ")))
        else:
            for branch in node.branches:
                name = _CONDITION_NAMES.get((branch.when.mode, branch.when.answers), branch.when.mode)
                edges.append((branch.goto, f"{name}: {', '.join(branch.when.flags)}"))
            if node.default:
                edges.append((node.default, "otherwise"))
            if node.next:
                edges.append((node.next, "nobody on duty" if node.kind == m.HANDOFF else ""))
        merged: dict[str, list[str]] = {}
        for target, text in edges:
            merged.setdefault(target, []).append(text)
        for target, texts in merged.items():
            if not target.startswith(f"{flow.id}."):
                outside.add(target)
            text = " / ".join(t for t in texts if t)
            arrow = f' -- "{_clean(text, 48)}" --> ' if text else " --> "
            lines.append(f"  {here}{arrow}{_id(target)}")

    for target in sorted(outside):
        lines.append(f'  {_id(target)}["{target}"]')
        lines.append(f"  style {_id(target)} stroke-dasharray: 4 3")
    return "\n".join(lines) + "\n"
