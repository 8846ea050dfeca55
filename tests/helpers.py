"""Helpers shared by the tests: a signed Twilio request, TwiML parsing, menu options from the flows."""
from __future__ import annotations

import functools
import itertools
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from twilio.request_validator import RequestValidator

REPO = Path(__file__).resolve().parents[1]
AUTH_TOKEN = "test-auth-token"
_sids = itertools.count(1)


def new_sid() -> str:
    return f"SM{next(_sids):032d}"


def sign(url: str, params: dict, token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature for ``url`` and ``params``, computed by the twilio library."""
    return RequestValidator(token).compute_signature(url, params)


def inbound(text: str = "hola", sender: str = "+15550001111", **extra) -> dict:
    """The form Twilio posts for an inbound SMS (or WhatsApp with a whatsapp: sender)."""
    form = {
        "MessageSid": new_sid(),
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "whatsapp:+15559990000" if sender.startswith("whatsapp:") else "+15559990000",
        "Body": text,
        "NumMedia": "0",
    }
    form.update(extra)
    return form


def post_signed(client, path: str, form: dict, base: str = "http://localhost", token: str = AUTH_TOKEN, headers=None):
    """POST ``form`` to ``path`` with a valid Twilio signature."""
    h = {"X-Twilio-Signature": sign(base + path, form, token)}
    h.update(headers or {})
    return client.post(path, data=form, headers=h, base_url=base)


def messages(twiml: bytes | str) -> list[str]:
    """The texts of the <Message> elements of a TwiML response."""
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    return [m.text or "" for m in root.findall("Message")]


# --- where the menus lead, read from the flows ---------------------------------------------


@functools.lru_cache(maxsize=None)
def real_flows():
    """The repository's flows and catalogs, loaded and checked once per run."""
    from bot.published_flows import load

    fs, problems = load(str(REPO / "flows"), str(REPO / "locales"))
    assert fs is not None, [str(p) for p in problems]
    return fs


def option(target: str, menu: str | None = None, fs=None) -> str:
    """The number a person types at ``menu`` (default: the main menu) to go to ``target``.

    ``target`` is a qualified node (``help.person``) or a flow id (``numbers``,
    for an option whose goto is that flow's start). Read from the flows, so a
    test says *what* it picks and keeps working when the options move.
    """
    fs = fs or real_flows()
    node = fs.node(menu or fs.system.main_menu)
    found = [i for i, o in enumerate(node.options, 1) if o.goto == target or o.goto.split(".")[0] == target]
    if "." not in target:  # a flow id: only an option that goes to the flow's start
        found = [i for i in found if node.options[i - 1].goto == fs.flows[target].start]
    assert len(found) == 1, f"{menu or fs.system.main_menu} has {len(found)} options leading to {target}"
    return str(found[0])


def stream_events(r, key: str = "hl:events", after: str = "") -> list[dict]:
    """Every event in the stream (after the entry id ``after``), one dict each (a
    stream entry holds one turn's events under `ev`, with the turn's
    conversation, channel, language and time)."""
    from bot.engine.events import read_entry

    found = []
    for _, entry in r.xrange(key, min=f"({after}" if after else "-"):
        turn = read_entry(entry)
        if turn is not None:
            common = {k: v for k, v in turn.items() if k != "ev"}
            found += [{**common, **event} for event in turn["ev"]]
        else:
            found.append(entry)  # e.g. a delivery status
    return found


def last_event_id(r, key: str = "hl:events") -> str:
    """The stream's newest entry id ('' for none): where a test's own events start
    (not a count of entries: a quick exit's turns leave the stream)."""
    last = r.xrevrange(key, count=1)
    ident = last[0][0] if last else ""
    return ident.decode() if isinstance(ident, bytes) else ident


def stored_session(r, key: str) -> dict:
    """The session stored at ``key`` (one JSON value, ``Session.to_fields``'s
    shape), {} if there is none."""
    raw = r.get(key)
    return json.loads(raw) if raw else {}


def store_session(r, key: str, fields: dict, ttl: int = 86400) -> None:
    """Write a session at ``key`` as the store does (to damage or age one)."""
    r.set(key, json.dumps(fields), ex=ttl)


def every_value(r, key: str):
    """(where, value) for every field of every Redis type the store uses;
    nothing for a key gone since it was listed (a lock, a wake-up: they live
    for milliseconds)."""
    kind = r.type(key)
    if kind == "none":
        return
    if kind == "string":
        yield key, r.get(key)
    elif kind == "hash":
        for name, value in r.hgetall(key).items():
            yield f"{key}#{name}", value
            yield f"{key}#{name}(name)", name
    elif kind == "list":
        for i, value in enumerate(r.lrange(key, 0, -1)):
            yield f"{key}[{i}]", value
    elif kind == "set":
        for member in r.smembers(key):
            yield f"{key}{{{member}}}", member
    elif kind == "zset":
        for member, _ in r.zrange(key, 0, -1, withscores=True):
            yield f"{key}<{member}>", member
    elif kind == "stream":
        for entry_id, fields in r.xrange(key):
            for name, value in fields.items():
                yield f"{key}/{entry_id}#{name}", f"{name}={value}"
    else:
        raise AssertionError(f"{key}: unexpected type {kind}")


def everything_stored(r) -> str:
    """Every key and value in Redis, as text: what an erase must leave nothing of."""
    return "\n".join(f"{where} {value!r}" for key in r.scan_iter("*") for where, value in every_value(r, key))


def replace_language_question(welcome, new_text_line: str) -> None:
    """welcome.yaml with the language question's whole text (a block of three lines) replaced."""
    body = welcome.read_text(encoding="utf-8")
    start = body.index("    text: |-\n      Choose a language / Elija un idioma:\n")
    end = body.index("\n", body.index("      Otros idiomas:", start)) + 1
    welcome.write_text(body[:start] + new_text_line + body[end:], encoding="utf-8")
