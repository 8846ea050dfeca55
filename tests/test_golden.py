"""Golden transcripts: whole conversations replayed through the real service.

Each ``tests/transcripts/*.yaml`` is a conversation as a person would see it::

    description: what this conversation shows, and why it matters
    channel: sms            # or whatsapp
    on_duty: false          # optional: is an operator on duty for hand-offs?
    turns:
      - person: hola
        bot:
          - |-
            Hola. Esta es una línea...
      - note: optional remark for the reader, kept when the file is rewritten
        person: ""
        media: 1            # optional: pictures sent with the text
        bot: []             # nothing sent back

Every turn goes through :class:`bot.helpline.Helpline` with a
:class:`bot.store.SessionStore` on the test Redis, with a fixed clock and fixed
ids: the session is loaded from Redis, stepped, and saved back each turn, and
after each turn the session read back from Redis must equal the turn's own
(the round trip goflow's runner tests do through JSON). The replies must match
the file exactly, and each must fit 3 SMS segments.

When flows or translations change on purpose, regenerate the replies and
review the change as a diff::

    pytest tests/test_golden.py --update-golden
    git diff tests/transcripts/

Only the ``turns:`` part of a file is rewritten (the ``bot:`` lists, from what
the bot now says); the description and anything above ``turns:`` is kept
byte for byte, and each turn keeps its ``note``, ``person`` and ``media``.
Comments inside ``turns:`` are not kept: use ``note``. Files are read with
YAML's base loader, so ``person: YES`` or ``person: 911`` are the texts
"YES" and "911", never a boolean or a number.
"""
from __future__ import annotations

import difflib
import itertools
import json
import re
from pathlib import Path

import pytest
import yaml

from bot.channels.twilio import IncomingMessage
from bot.published_flows import load
from bot.engine.segments import MAX_SEGMENTS, count_segments
from bot.engine.session import Session
from bot.helpline import Helpline
from bot.store import SessionStore

REPO = Path(__file__).resolve().parents[1]
TRANSCRIPTS = REPO / "tests" / "transcripts"
FILES = sorted(TRANSCRIPTS.glob("*.yaml"))
T0 = 1767225600  # 2026-01-01T00:00:00Z
SECRET = "golden-transcripts"
ADDRESSES = {"sms": "+15550001111", "whatsapp": "whatsapp:+5215512345678"}

# The conversations the design contract's "What a texter sees" promises (DESIGN.md, outside this repository); each must have a transcript.
REQUIRED = [
    "en_first_contact_numbers",
    "es_first_contact_directory",
    "language_switch_mid_menu",
    "three_unknown_replies",
    "quick_exit_then_fresh_start",
    "stop_silence_start",
    "emergency_mid_menu",
    "human_off_duty",
    "human_on_duty",
    "whatsapp",
]

# The screening and the other content flows, in both languages: the outcomes of
# docs/CONTENT.md's routing, and the keywords in the middle of the questions.
CONTENT_REQUIRED = [
    f"{name}_{lang}"
    for name in (
        "screening_forced_labour_passport",
        "screening_smuggling_only",
        "screening_debt_to_smugglers",
        "screening_child_sold_for_sex",
        "screening_ransom_released",
        "screening_domestic_worker_unpaid",
        "screening_not_sure_to_everything",
        "screening_quick_exit",
        "screening_language_switch",
        "screening_emergency",
        "screening_stop",
        "screening_three_unknown_replies",
        "screening_in_mexico",
        "screening_not_safe_now",
        "rights_every_page",
        "difference",
    )
    for lang in ("en", "es")
]

FILE_KEYS = {"description", "channel", "on_duty", "turns"}
TURN_KEYS = ("note", "person", "media", "bot")


# --- reading and writing transcripts -----------------------------------------------------------


class TranscriptError(ValueError):
    pass


def read_transcript(path: Path) -> dict:
    """The transcript, every scalar a string; raises TranscriptError with the file's name."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    if not isinstance(data, dict):
        raise TranscriptError(f"{path.name}: expected a mapping with description, channel and turns")
    if set(data) - FILE_KEYS or not {"description", "channel", "turns"} <= set(data):
        raise TranscriptError(f"{path.name}: keys must be {sorted(FILE_KEYS)} (on_duty optional), got {sorted(data)}")
    if data["channel"] not in ADDRESSES:
        raise TranscriptError(f"{path.name}: channel must be sms or whatsapp, not {data['channel']!r}")
    if data.get("on_duty", "false") not in ("true", "false"):
        raise TranscriptError(f"{path.name}: on_duty must be true or false")
    if not isinstance(data["turns"], list) or not data["turns"]:
        raise TranscriptError(f"{path.name}: turns must be a non-empty list")
    for i, turn in enumerate(data["turns"], 1):
        if not isinstance(turn, dict) or "person" not in turn or set(turn) - set(TURN_KEYS):
            raise TranscriptError(f"{path.name}: turn {i} must have `person` (and may have {TURN_KEYS[2:]}, note)")
        if "bot" in turn and not (isinstance(turn["bot"], list) and all(isinstance(r, str) for r in turn["bot"])):
            raise TranscriptError(f"{path.name}: turn {i}: bot must be a list of texts")
    return data


class _Dumper(yaml.SafeDumper):
    """Readable YAML: block scalars for multi-line text, indented lists, unicode as is."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_turns(turns: list[dict]) -> str:
    """The ``turns:`` section, one blank line between turns."""
    blocks = []
    for turn in turns:
        ordered = {k: turn[k] for k in TURN_KEYS if k in turn}
        text = yaml.dump([ordered], Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10_000)
        blocks.append(textwrap_indent(text, "  "))
    return "turns:\n" + "\n".join(blocks)


def textwrap_indent(text: str, prefix: str) -> str:
    return "".join(prefix + line if line.strip() else line for line in text.splitlines(True))


_TURNS_LINE = re.compile(r"^turns:[ \t]*(#.*)?$", re.M)


def rewrite(path: Path, turns: list[dict]) -> None:
    """Replace the ``turns:`` section of ``path``, keeping everything above it."""
    text = path.read_text(encoding="utf-8")
    found = _TURNS_LINE.search(text)
    if not found:
        raise TranscriptError(f"{path.name}: no top-level `turns:` line to rewrite after")
    path.write_text(text[: found.start()] + dump_turns(turns), encoding="utf-8")


# --- running a transcript through the service -------------------------------------------------------


@pytest.fixture(scope="module")
def flows():
    fs, problems = load(str(REPO / "flows"), str(REPO / "locales"))
    assert fs is not None, [str(p) for p in problems]
    return fs


def play(redis_client, flows, data: dict) -> tuple[list[dict], str]:
    """Send each ``person`` text through Helpline; return the turns with what the bot said, and the address."""
    store = SessionStore(redis_client, prefix="hl", session_ttl=86400)
    clock = itertools.count(T0, 60)
    ids = itertools.count(1)
    on_duty = data.get("on_duty") == "true"
    helpline = Helpline(
        store,
        lambda: flows,
        SECRET,
        lock_wait=1.0,
        clock=lambda: float(next(clock)),
        new_id=lambda: f"conv{next(ids):04d}",
        on_duty=lambda: on_duty,
    )
    channel = data["channel"]
    address = ADDRESSES[channel]
    cid = helpline.cid(address)
    stored = store.load(cid)
    played = []
    for n, turn in enumerate(data["turns"], 1):
        msg = IncomingMessage(
            address=address,
            channel=channel,
            text=turn["person"],
            media_count=int(turn.get("media", "0")),
            message_sid=f"SM{n:032d}",
        )
        handled = helpline.handle(msg)
        where = f"turn {n} ({turn['person']!r})"
        for reply in handled.replies:
            seg = count_segments(reply)
            assert seg.segments <= MAX_SEGMENTS, f"{where}: a reply is {seg.units} {seg.encoding} units: {reply!r}"

        # The round trip: what Redis now holds is exactly the turn's session.
        action = handled.turn.action
        before, stored = stored, store.load(cid)
        if action == "save":
            assert stored is not None, f"{where}: the session was not saved"
            assert Session.from_fields(stored) == handled.turn.session, f"{where}: the session changed in Redis"
            assert 0 < redis_client.ttl(store.keys.contact(cid, "session")) <= 86400
        elif action == "erase":
            assert stored is None, f"{where}: quick exit left the session in Redis"
            assert_only_the_exit_answer_is_kept(redis_client, store, cid, msg.message_sid, handled.replies, where)
        else:
            assert stored == before, f"{where}: the stored session changed on a turn that keeps it"
        if handled.turn.opt_out is not None:
            assert store.optouts.is_opted_out(cid) is handled.turn.opt_out, where

        played.append({**{k: turn[k] for k in TURN_KEYS[:3] if k in turn}, "bot": list(handled.replies)})
    return played, address


def _values(r, key: str):
    """Everything a key holds, whatever its type: strings, hash fields and values, members."""
    kind = r.type(key)
    if kind == "string":
        return [r.get(key)]
    if kind == "hash":
        return [x for pair in r.hgetall(key).items() for x in pair]
    if kind == "list":
        return r.lrange(key, 0, -1)
    if kind == "set":
        return list(r.smembers(key))
    if kind == "zset":
        return r.zrange(key, 0, -1)
    raise AssertionError(f"{key}: unexpected type {kind}")


def assert_only_the_exit_answer_is_kept(r, store, cid: str, sid: str, replies: list[str], where: str) -> None:
    """After a quick exit, Redis keeps nothing of the person but what the contract allows.

    The design contract: quick exit erases the session and its history at once. What may
    stay is the answer to this very message (so that Twilio's retry of it gets
    the same neutral line, not a first greeting) and, for someone who opted
    out, the opt-out record. Checked by value, whatever the store's key layout:
    no earlier MessageSid, reply, answer or flag survives anywhere.
    """
    keys = [k for k in r.scan_iter(count=1000) if cid in k]
    opted_out = store.optouts.is_opted_out(cid)
    for key in keys:
        if opted_out and key == store.keys.optout(cid):
            continue
        for value in _values(r, key):
            if value == sid:
                continue
            try:
                kept = json.loads(value)
            except ValueError:
                kept = None
            assert kept == replies, f"{where}: after quick exit {key} still holds {value!r}"
    assert not r.exists(store.keys.contact(cid, "session")), where
    for _, event in r.xrange(store.keys.events()):
        assert not any(cid in v for v in event.values()), f"{where}: an event names the contact: {event}"


def unified(expected: list[dict], actual: list[dict]) -> str:
    a = dump_turns(expected).splitlines()
    b = dump_turns(actual).splitlines()
    return "\n".join(difflib.unified_diff(a, b, "transcript", "bot now says", lineterm="", n=4))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_transcript(path: Path, redis_client, flows, request):
    data = read_transcript(path)
    played, address = play(redis_client, flows, data)

    # Whatever was said, the event stream holds neither the number nor the words.
    digits = re.sub(r"\D", "", address)
    sentences = [t["person"] for t in data["turns"] if " " in t["person"].strip()]
    for _, event in redis_client.xrange("hl:events"):
        for value in event.values():
            assert digits not in value, event
            assert not any(s in value for s in sentences), event

    expected = [{k: t[k] for k in TURN_KEYS if k in t} for t in data["turns"]]
    if request.config.getoption("--update-golden"):
        if played != expected:
            rewrite(path, played)
        return
    missing = [n for n, t in enumerate(data["turns"], 1) if "bot" not in t]
    assert not missing, f"{path.name}: turns {missing} have no `bot:`; run pytest --update-golden"
    if played != expected:
        pytest.fail(
            f"{path.name}: the bot's replies differ from the transcript. If the change is intended, "
            f"run `pytest tests/test_golden.py --update-golden` and review the diff.\n"
            + unified(expected, played),
            pytrace=False,
        )


def test_the_promised_conversations_have_transcripts():
    assert sorted(set(REQUIRED + CONTENT_REQUIRED) - {p.stem for p in FILES}) == []


def test_transcript_writer_keeps_what_it_reads(tmp_path: Path):
    tricky = [
        {"note": "YAML would read these as true, 911 and null", "person": "YES", "bot": []},
        {"person": "911", "media": "2", "bot": ["one line", "two\nlines", "trailing space \nhere"]},
        {"person": "", "bot": ["Línea 24/7: ¿Sí? ñ 😀", "  leading spaces", "a: colon", "- dash", "#hash"]},
        {"person": "no", "bot": ["'quoted' \"both\"", "null", "~", "1.5", "{number}"]},
    ]
    path = tmp_path / "t.yaml"
    header = "# kept\ndescription: >\n  Folded text\n  over lines.\nchannel: sms\non_duty: true\n"
    path.write_text(header + "turns:\n  - person: old\n    bot: [stale]\n", encoding="utf-8")
    rewrite(path, tricky)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(header + "turns:\n")
    assert "Línea 24/7: ¿Sí? ñ 😀" in text and "|-\n" in text  # unicode as is, block scalars
    back = read_transcript(path)
    assert back["turns"] == tricky
    assert (back["description"], back["on_duty"]) == ("Folded text over lines.\n", "true")


@pytest.mark.parametrize(
    "text, problem",
    [
        ("channel: sms\nturns: []\n", "keys must be"),
        ("description: x\nchannel: fax\nturns: [{person: hi}]\n", "channel must be"),
        ("description: x\nchannel: sms\nturns: [{text: hi}]\n", "turn 1 must have `person`"),
        ("description: x\nchannel: sms\nturns: [{person: hi, bot: hello}]\n", "bot must be a list"),
        ("description: x\nchannel: sms\non_duty: maybe\nturns: [{person: hi}]\n", "on_duty must be"),
    ],
)
def test_a_malformed_transcript_says_what_is_wrong(tmp_path: Path, text, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TranscriptError, match=re.escape(problem)):
        read_transcript(path)
