"""What the person reads: the text of each node in a language.

The runner sends exactly these strings and the validator measures exactly
these strings, so the 3-segment budget is checked on what is really sent.
"""
from __future__ import annotations

import string
from typing import Sequence

from . import model as m
from .segments import ADVISED_CHARS, MAX_SEGMENTS, count_segments


def say(fs: m.FlowSet, lang: str, name: str, **values: str) -> str:
    """A system text by name, translated, with ``{placeholders}`` filled."""
    text = fs.system.texts.get(name)
    if text is None:
        raise KeyError(f"system.yaml has no text named {name!r}")
    return fill(fs.translate(lang, text.msgid), text.msgid, values)


def in_every_language(fs: m.FlowSet, name: str) -> str:
    """A system text in each of the service's languages, one line each (for
    a first message whose language is unknown). Identical lines once."""
    lines = [say(fs, lang, name) for lang in fs.system.languages]
    return "\n".join(dict.fromkeys(lines))


def fill(template: str, fallback: str, values: dict[str, str]) -> str:
    """Format ``template``; if a translation broke its placeholders, use English.

    ``translations check`` refuses such catalogs, but a person must never get
    an error because of one.
    """
    if not values:
        return template
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return fallback.format(**values)


def placeholders(text: str) -> set[str]:
    """The ``{names}`` in a text; ``{{`` escapes are not placeholders."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return {"<unbalanced braces>"}


def option_labels(fs: m.FlowSet, node: m.Node, lang: str, voice: bool = False) -> tuple[str, ...]:
    """The labels a waiting node offers, in order; ``voice``: as a call says them."""
    if node.kind == m.MENU:
        return tuple(fs.translate(lang, (o.voice if voice and o.voice else o.label).msgid) for o in node.options)
    if node.kind == m.QUESTION:
        return tuple(say(fs, lang, f"answer_{a}") for a in m.ANSWERS)
    if node.kind == m.LANGUAGE:
        return tuple(fs.system.languages.values())
    return ()


def numbered(labels: Sequence[str]) -> str:
    return "\n".join(f"{i}. {label}" for i, label in enumerate(labels, 1))


def prompt(fs: m.FlowSet, node: m.Node, lang: str) -> str:
    """A waiting node's message: its text, then its numbered options."""
    text = fs.translate(lang, node.text.msgid)
    labels = option_labels(fs, node, lang)
    return f"{text}\n{numbered(labels)}" if labels else text


# The lines a re-prompt may open with, by why the question is asked again:
# not understood; and at a question (or a menu that records an answer) only,
# an answer that may mean two things ("no, nunca me pagan"), something told
# that is not an answer ("mi patrón no me paga"), or a question of the
# person's own ("¿quién lee esto?"). A flow set without the last three opens
# with `reprompt`.
REPROMPT_LEADS = ("reprompt", "reprompt_unsure", "reprompt_told", "reprompt_asked")


def reprompt_leads(node: m.Node) -> tuple[str, ...]:
    """The leads ``node``'s re-prompt may open with."""
    return REPROMPT_LEADS if node.kind == m.QUESTION or node.option_flags else REPROMPT_LEADS[:1]


def reprompt(fs: m.FlowSet, node: m.Node, lang: str, lead: str = "reprompt") -> str:
    """The short message when a reply did not answer: a line saying why (one of
    :data:`REPROMPT_LEADS`), then the options again."""
    if lead not in fs.system.texts:
        lead = "reprompt"
    return f"{say(fs, lang, lead)}\n{numbered(option_labels(fs, node, lang))}"


def changed(fs: m.FlowSet, node: m.Node, lang: str) -> str:
    """After a tap on a choice of an earlier message (WhatsApp): say so, then the choices here."""
    lead = "menu_changed" if "menu_changed" in fs.system.texts else "reprompt"
    return f"{say(fs, lang, lead)}\n{numbered(option_labels(fs, node, lang))}"


def contact(fs: m.FlowSet, lang: str, c: m.Contact) -> str:
    if c.kind == "chat":
        return say(fs, lang, "contact_chat", address=c.address)
    if c.keyword:
        return say(fs, lang, f"contact_{c.kind}_keyword", number=c.number, keyword=c.keyword)
    return say(fs, lang, f"contact_{c.kind}", number=c.number)


def contacts(fs: m.FlowSet, lang: str, h: m.Hotline) -> str:
    """How to reach a line; one number reached several ways is written once
    ("call or text 1-800-422-4453") when system.yaml has a text for that pair."""
    parts, i = [], 0
    while i < len(h.contacts):
        c = h.contacts[i]
        pair = h.contacts[i + 1] if i + 1 < len(h.contacts) else None
        combined = f"contact_{c.kind}_or_{pair.kind}" if pair else ""
        if pair and pair.number == c.number and not (c.keyword or pair.keyword) and combined in fs.system.texts:
            parts.append(say(fs, lang, combined, number=c.number))
            i += 2
        else:
            parts.append(contact(fs, lang, c))
            i += 1
    return ", ".join(parts)


def hotline(fs: m.FlowSet, lang: str, h: m.Hotline) -> str:
    """One directory line: ``Name: call 1-888-373-7888, text 233733. Note``."""
    how = contacts(fs, lang, h)
    line = f"{fs.translate(lang, h.name.msgid)}: {how}."
    if h.note:
        line += f" {fs.translate(lang, h.note.msgid)}"
    return line


def directory(fs: m.FlowSet, node: m.Node, lang: str) -> list[str]:
    """A directory node's messages: its entries, packed to fit the segment budget.

    Entries share a message while it stays within 3 SMS segments and the 320
    characters Twilio advises; a long list (Spanish is UCS-2 and costs more)
    goes out as more messages, never a cut.
    """
    lines = [hotline(fs, lang, fs.hotlines[e]) for e in node.entries if e in fs.hotlines]
    if node.text:
        lines[0:1] = [fs.translate(lang, node.text.msgid) + "\n" + lines[0]] if lines else []
    # A message after the first starts with a neutral line, never a hotline's
    # name: a locked phone shows the first line of each message.
    lead = say(fs, lang, "more_numbers") if "more_numbers" in fs.system.texts else None
    return pack(lines, lead)


def pack(lines: list[str], lead: str | None = None) -> list[str]:
    """Join lines into as few messages as fit ``MAX_SEGMENTS`` and
    ``ADVISED_CHARS`` each; every message after the first starts with
    ``lead`` when one is given."""
    messages: list[str] = []
    for line in lines:
        joined = f"{messages[-1]}\n{line}" if messages else line
        if messages and len(joined) <= ADVISED_CHARS and count_segments(joined).segments <= MAX_SEGMENTS:
            messages[-1] = joined
        else:
            messages.append(f"{lead}\n{line}" if messages and lead else line)
    return messages


def messages(fs: m.FlowSet, node: m.Node, lang: str) -> list[str]:
    """Every message this node can send, for the segment budget check."""
    if node.kind in m.WAITING_KINDS:
        return [prompt(fs, node, lang), *(reprompt(fs, node, lang, lead) for lead in reprompt_leads(node))]
    if node.kind == m.DIRECTORY:
        return directory(fs, node, lang)
    found = [fs.translate(lang, t.msgid) for t in (node.text, node.unavailable, node.still_waiting) if t]
    return found


def handoff_node(fs: m.FlowSet, position: str) -> tuple[str, m.Node] | None:
    """The hand-off a person is waiting at, as (qualified id, node), for its
    ``unavailable`` text once nobody can answer them: the node at ``position``;
    if the flows changed under them, the one the ``human`` keyword leads to,
    else the first there is. None if the flows have no hand-off at all."""
    candidates = [position, fs.keywords.gotos.get("human", "")]
    for target in candidates:
        node = fs.node(target) if target else None
        if node is not None and node.kind == m.HANDOFF:
            return target, node
    for flow_id, flow in fs.flows.items():
        for node in flow.nodes:
            if node.kind == m.HANDOFF:
                return f"{flow_id}.{node.id}", node
    return None
