"""WhatsApp as people use it: menus as buttons and lists, taps read by id.

Pure: flows in, data out. A menu or a question (a *waiting node*) becomes one
Content API template per (node, language) (:func:`definition`): up to 3
choices as ``twilio/quick-reply`` buttons, up to 10 as a
``twilio/list-picker``, more stay numbered text. The template's body is the
variable ``{{1}}``, so one template serves every message that ends on the
node's choices (the question, the re-prompt after a reply the bot did not
understand, "that choice is from an earlier message"): what the engine wrote
above the numbered options goes in ``ContentVariables`` (:func:`split`).
Each choice's id is its stable id (:mod:`bot.engine.choices`); a tap comes
back as ``ButtonPayload`` / ``ListId`` with it (:func:`bot.channels.twilio.parse_incoming`).

These messages are sent inside the conversation WhatsApp opened when the
person wrote (the 24-hour window), so they need no approval by Meta; the bot
never sends a template to start or re-open a conversation.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..engine import choices, render
from ..engine import model as m

QUICK_REPLY = "twilio/quick-reply"
LIST_PICKER = "twilio/list-picker"
BODY = "{{1}}"
LIST_DESCRIPTION_MAX = 72  # a list row's second line


@dataclass(frozen=True)
class Template:
    """A template the flows need: where it is used and what it is."""

    key: str  # "<flow.node>|<lang>": where its ContentSid is kept
    position: str
    lang: str
    definition: dict

    @property
    def digest(self) -> str:
        """A hash of the definition: kept with the ContentSid, so that an unchanged
        template costs no call to Twilio at the next sync."""
        raw = json.dumps(self.definition, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(raw).hexdigest()[:16]


def template_key(position: str, lang: str) -> str:
    return f"{position}|{lang}"


def friendly_name(position: str, lang: str, prefix: str = "hl") -> str:
    """``<KEY_PREFIX>_<flow>_<node>_<lang>``: lower-case letters, digits and _ (what
    Twilio and WhatsApp accept). Two deployments on one Twilio account tell
    theirs apart by KEY_PREFIX."""
    return f"{prefix}_{position.replace('.', '_')}_{lang.lower()}".lower()


def definition(fs: m.FlowSet, position: str, node: m.Node, lang: str, prefix: str = "hl") -> dict | None:
    """The Content API definition of a waiting node's choices in ``lang``; None
    when they stay numbered text (more than 10, or none)."""
    ids = choices.ids(fs, position, node)
    kind = choices.widget(len(ids))
    if kind is None or not node.waits:
        return None
    labels = choices.labels(fs, node, lang)
    prompt = fs.translate(lang, node.text.msgid) if node.text else ""
    if kind == choices.BUTTONS:
        types = {QUICK_REPLY: {"body": BODY, "actions": [{"title": t, "id": i} for t, i in zip(labels, ids)]}}
    else:
        button = render.say(fs, lang, "list_button") if "list_button" in fs.system.texts else "Choose"
        items = [{"item": t, "id": i} for t, i in zip(labels, ids)]
        # A row with a short label shows the whole one under it, as WhatsApp's row description.
        for item, long in zip(items, render.option_labels(fs, node, lang)):
            if long != item["item"] and len(long) <= LIST_DESCRIPTION_MAX:
                item["description"] = long
        types = {LIST_PICKER: {"body": BODY, "button": button, "items": items}}
    return {"friendly_name": friendly_name(position, lang, prefix), "language": lang,
            "variables": {"1": prompt}, "types": types}


def templates(fs: m.FlowSet, prefix: str = "hl") -> dict[str, Template]:
    """Every template the flows need, by key: the choices of each waiting node,
    and a call button for each message of a directory that shows a number one can call."""
    found: dict[str, Template] = {}
    for flow_id, flow in fs.flows.items():
        for node in flow.nodes:
            position = f"{flow_id}.{node.id}"
            for lang in fs.system.languages:
                if node.waits:
                    d = definition(fs, position, node, lang, prefix)
                    if d is not None:
                        key = template_key(position, lang)
                        found[key] = Template(key, position, lang, d)
                elif node.kind == m.DIRECTORY:
                    for i, (text, call) in enumerate(call_buttons(fs, node, lang)):
                        if call is not None:
                            key = f"{template_key(position, lang)}|{i}"
                            found[key] = Template(key, position, lang, _call_definition(position, lang, i, text,
                                                                                          call, prefix))
    return found


def split(fs: m.FlowSet, position: str, lang: str, reply: str) -> str | None:
    """The text above the numbered choices of the node at ``position``, when
    ``reply`` ends with them: what goes in the template's ``{{1}}``. None when
    the reply is not one that ends on that node's choices (a message, a
    directory), or the node has no template (too many choices).

    >>> # "What would you like to do?\\n1. What happened to me?\\n2. ..." -> "What would you like to do?"
    """
    node = fs.node(position)
    if node is None or not node.waits or choices.widget(len(choices.keys(fs, node))) is None:
        return None
    tail = "\n" + render.numbered(render.option_labels(fs, node, lang))
    if not reply.endswith(tail) or len(reply) == len(tail):
        return None
    return for_buttons(fs, lang, reply[: -len(tail)])


# The re-prompts that ask for a number (system.yaml), each with a WhatsApp form for a list.
REPROMPTS = ("reprompt", "reprompt_unsure", "reprompt_told", "reprompt_asked")


def for_buttons(fs: m.FlowSet, lang: str, body: str) -> str:
    """``body`` with a re-prompt's "reply with a number:" said for buttons and rows, which
    show no numbers: system.yaml's ``whatsapp_<name>`` for the re-prompt ``<name>`` it ends
    with, when the flows have one."""
    for name in REPROMPTS:
        said = render.say(fs, lang, name) if name in fs.system.texts else None
        if said and body.endswith(said) and f"whatsapp_{name}" in fs.system.texts:
            return body[: -len(said)] + render.say(fs, lang, f"whatsapp_{name}")
    return body


def content_variables(body: str) -> str:
    """``ContentVariables`` for a template of :func:`definition`."""
    return json.dumps({"1": body}, ensure_ascii=False)


# --- tap-to-call -------------------------------------------------------------------------------------

CALL_TO_ACTION = "twilio/call-to-action"
CALL_ICON = "\N{TELEPHONE RECEIVER} "


@dataclass(frozen=True)
class Call:
    """A call button: the number as people read it (its title) and as dialled (E.164)."""

    title: str
    phone: str


def dialable(number: str) -> str | None:
    """The E.164 form of a directory number a button can dial from any phone, or
    None. Only US and Canadian numbers written whole (``1-888-373-7888``):
    a short code (911, 233733) has no E.164 form, and a national number
    (Mexico's 800 lines) reaches the line only from a phone of that country."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return f"+{digits}" if len(digits) == 11 and digits.startswith("1") else None


def call_buttons(fs: m.FlowSet, node: m.Node, lang: str) -> list[tuple[str, Call | None]]:
    """Each message of a directory node, with the call button it carries on
    WhatsApp: the first verified line in it that has a number one can call."""
    def compute() -> tuple:
        found = []
        for text in render.directory(fs, node, lang):
            call = None
            for entry in node.entries:
                h = fs.hotlines.get(entry)
                if h is None or not h.verified or render.hotline(fs, lang, h) not in text:
                    continue
                phone = next((dialable(c.number) for c in h.contacts if c.kind == "call" and dialable(c.number)), None)
                if phone:
                    number = next(c.number for c in h.contacts if c.kind == "call" and dialable(c.number) == phone)
                    call = Call(CALL_ICON + number, phone)
                    break
            found.append((text, call))
        return tuple(found)

    return list(fs.derived(("wa-calls", id(node), lang), compute))


def _call_definition(position: str, lang: str, i: int, text: str, call: Call, prefix: str) -> dict:
    return {"friendly_name": f"{friendly_name(position, lang, prefix)}_{i}", "language": lang,
            "variables": {"1": text},
            "types": {CALL_TO_ACTION: {"body": BODY, "actions": [
                {"type": "PHONE_NUMBER", "title": call.title, "phone": call.phone}]}}}


def _calls(fs: m.FlowSet, lang: str) -> dict[str, tuple[str, Call]]:
    """Directory message -> (its call template's key, its call button), in ``lang``."""
    def index() -> dict[str, tuple[str, Call]]:
        found: dict[str, tuple[str, Call]] = {}
        for flow_id, flow in fs.flows.items():
            for node in flow.nodes:
                if node.kind == m.DIRECTORY:
                    for i, (message, call) in enumerate(call_buttons(fs, node, lang)):
                        if call is not None:
                            found.setdefault(message, (f"{template_key(f'{flow_id}.{node.id}', lang)}|{i}", call))
        return found

    return fs.derived(("wa-calls-by-text", lang), index)


def call_template_key(fs: m.FlowSet, lang: str, text: str) -> str | None:
    """The key of the call-button template of a directory message, when ``text`` is one."""
    found = _calls(fs, lang).get(text)
    return found[0] if found else None


def appearance(fs: m.FlowSet, position: str, waiting: bool, lang: str, replies: list[str]) -> list[dict | None]:
    """How each reply of a turn looks on WhatsApp (the console's simulator draws it):
    None for plain text; ``{"body", "kind": "buttons"|"list", "button", "choices": [{"title", "id"}]}``
    for the last reply when it ends on the choices of the node the person is at
    (``waiting``); ``{"body", "call"}`` for a hotline screen with a call button."""
    looks: list[dict | None] = []
    for i, text in enumerate(replies):
        look = None
        if waiting and i == len(replies) - 1 and position:
            body = split(fs, position, lang, text)
            if body is not None:
                node = fs.node(position)
                ids = choices.ids(fs, position, node)
                kind = choices.widget(len(ids))
                button = render.say(fs, lang, "list_button") if "list_button" in fs.system.texts else "Choose"
                longs = render.option_labels(fs, node, lang)
                look = {"body": body, "kind": kind, "button": button,
                        "choices": [{"title": t, "id": c, "more": long if long != t and kind == choices.LIST else ""}
                                    for t, c, long in zip(choices.labels(fs, node, lang), ids, longs)]}
        if look is None and text in _calls(fs, lang):
            look = {"body": text, "call": _calls(fs, lang)[text][1].title}
        looks.append(look)
    return looks
