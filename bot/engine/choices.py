"""What a person can tap: the choices of a waiting node, by stable id.

On WhatsApp a menu or a question goes out as buttons (up to 3 choices) or a
list (up to 10); a tap comes back with the id of the choice, never its
label, so a translated or renamed label cannot break a choice. An id is the
node's place and a key of the choice: ``main.menu#numbers.by_need``,
``screening.force#yes``, ``welcome.language#es``. A menu option's key is
what it does (the flags it sets, else where it leads), so moving an option
up or down the menu keeps its id; two options that do the same thing (which
the validator would not stop) get ``~2``, ``~3`` after the first.

WhatsApp's limits (Twilio's Content API): a button title is at most 20
characters, a list row at most 24. ``short:`` on an option gives the label
for a button or row when the long one does not fit; :func:`check_labels`
measures every language for ``flows check``.
"""
from __future__ import annotations

from . import model as m
from .problems import Problem
from .render import option_labels

BUTTONS_MAX = 3  # twilio/quick-reply: WhatsApp shows at most 3 buttons
LIST_MAX = 10  # twilio/list-picker: at most 10 rows
BUTTON_TITLE_MAX = 20
LIST_ROW_MAX = 24

BUTTONS, LIST = "buttons", "list"


def widget(count: int) -> str | None:
    """How ``count`` choices are shown on WhatsApp: BUTTONS, LIST, or None (numbered text)."""
    if 0 < count <= BUTTONS_MAX:
        return BUTTONS
    if count <= LIST_MAX:
        return LIST
    return None


def label_limit(count: int) -> int:
    return BUTTON_TITLE_MAX if count <= BUTTONS_MAX else LIST_ROW_MAX


def keys(fs: m.FlowSet, node: m.Node) -> tuple[str, ...]:
    """The stable key of each choice of a waiting node, in the order shown.

    >>> n = m.Node("where", m.MENU, m.Where("f", 1), options=(m.Option(None, "r.here", ("in_us",)),
    ...     m.Option(None, "r.here", ("in_mx",)), m.Option(None, "main.menu"), m.Option(None, "main.menu")))
    >>> keys(None, n)
    ('in_us', 'in_mx', 'main.menu', 'main.menu~2')
    """
    if node.kind == m.QUESTION:
        return m.ANSWERS
    if node.kind == m.LANGUAGE:
        return tuple(fs.system.languages)
    found: list[str] = []
    for option in node.options:
        key = "+".join(option.sets) or option.goto
        n = 1
        while (key if n == 1 else f"{key}~{n}") in found:
            n += 1
        found.append(key if n == 1 else f"{key}~{n}")
    return tuple(found)


def ids(fs: m.FlowSet, position: str, node: m.Node) -> tuple[str, ...]:
    """The id of each choice at ``position`` (the node's qualified id)."""
    return tuple(f"{position}#{key}" for key in keys(fs, node))


def pick(fs: m.FlowSet, position: str, node: m.Node, choice: str) -> int | None:
    """The index of the choice ``choice`` names at ``position``; None when it
    names another node (an older message) or a choice this node no longer has."""
    place, _, key = choice.partition("#")
    if place != position:
        return None
    found = keys(fs, node)
    return found.index(key) if key in found else None


def labels(fs: m.FlowSet, node: m.Node, lang: str) -> tuple[str, ...]:
    """What each button or row says: the option's ``short:`` when it has one, else its label."""
    def compute() -> tuple[str, ...]:
        if node.kind == m.MENU:
            return tuple(fs.translate(lang, (o.short or o.label).msgid) for o in node.options)
        return option_labels(fs, node, lang)

    return fs.derived(("tap-labels", id(node), lang), compute)


def check_labels(fs: m.FlowSet, loaded) -> list[Problem]:
    """Every button and list row fits WhatsApp's limit, in every language.

    Said where the label is written: at ``short:`` when the option has one
    (it is what is too long), else at the option's ``label:``; the answers of
    questions and the language names at system.yaml.
    """
    problems: list[Problem] = []
    reported: set[tuple] = set()

    def measure(where: m.Where, text: str, lang: str, limit: int, count: int, short: bool) -> None:
        if len(text) <= limit or (where, lang) in reported:
            return
        reported.add((where, lang))
        problems.append(Problem.at(where, "whatsapp-label-too-long", label=text, lang=lang, length=len(text),
                                   limit=limit, widget="button" if count <= BUTTONS_MAX else "list row",
                                   short=short))

    for lang in fs.system.languages:
        for flow in fs.flows.values():
            for node in flow.nodes:
                if not node.waits:
                    continue
                count = len(keys(fs, node))
                if widget(count) is None:
                    continue  # numbered text on WhatsApp too: no limit but the SMS segments
                limit = label_limit(count)
                if node.kind == m.MENU:
                    for o in node.options:
                        text = o.short or o.label
                        if text is not None:
                            measure(text.where, fs.translate(lang, text.msgid), lang, limit, count, o.short is not None)
                elif node.kind == m.QUESTION:
                    for answer in m.ANSWERS:
                        text = fs.system.texts.get(f"answer_{answer}")
                        if text is not None:
                            measure(text.where, fs.translate(lang, text.msgid), lang, limit, count, True)
                else:
                    for name in fs.system.languages.values():
                        measure(fs.system.where, name, lang, limit, count, True)
    return problems
