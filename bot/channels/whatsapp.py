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
        types = {LIST_PICKER: {"body": BODY, "button": button,
                               "items": [{"item": t, "id": i} for t, i in zip(labels, ids)]}}
    return {"friendly_name": friendly_name(position, lang, prefix), "language": lang,
            "variables": {"1": prompt}, "types": types}


def templates(fs: m.FlowSet, prefix: str = "hl") -> dict[str, Template]:
    """Every template the flows need, by key."""
    found: dict[str, Template] = {}
    for flow_id, flow in fs.flows.items():
        for node in flow.nodes:
            if not node.waits:
                continue
            position = f"{flow_id}.{node.id}"
            for lang in fs.system.languages:
                d = definition(fs, position, node, lang, prefix)
                if d is not None:
                    key = template_key(position, lang)
                    found[key] = Template(key, position, lang, d)
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
    return reply[: -len(tail)]


def content_variables(body: str) -> str:
    """``ContentVariables`` for a template of :func:`definition`."""
    return json.dumps({"1": body}, ensure_ascii=False)
