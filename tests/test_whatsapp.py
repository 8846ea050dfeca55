"""WhatsApp as people use it (issue 18): buttons and lists from the flows, taps by id,
replies by REST in order, media answered kindly; against a local stand-in of Twilio's
Messages and Content APIs (tests/twilio_standin.py), through signed webhooks and the real Redis.
"""
from __future__ import annotations

import json
import shutil
import socket
import time

import pytest
from prometheus_client import REGISTRY

from bot.channels import whatsapp
from bot.channels.twilio import parse_incoming
from bot.engine import choices, render
from bot.helpline import contact_id
from tests.helpers import REPO, inbound, messages, post_signed, real_flows
from tests.servers import wait_until
from tests.twilio_standin import ACCOUNT_SID, TwilioStandIn

PERSON = "whatsapp:+5215550001818"
SENDER = "+15559990000"


@pytest.fixture
def twilio(twilio_api):
    """The Twilio stand-in (tests/fixtures_console.py), under a shorter name: every test here talks to it."""
    return twilio_api


@pytest.fixture
def make_app(redis_client, redis_url, tmp_path, twilio):
    from bot import create_app
    from bot.config import TestConfig

    def make(**overrides):
        settings = dict(TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_FROM_NUMBER=SENDER, TWILIO_API_BASE=twilio.url,
                        WHATSAPP_INTERACTIVE=True)
        return create_app(TestConfig(redis_url, str(tmp_path / "var"), **{**settings, **overrides}))

    return make


@pytest.fixture
def app(make_app):
    return make_app()


def synced(app):
    return app.extensions["whatsapp_sync"](real_flows())


def fallbacks(reason: str) -> float:
    return REGISTRY.get_sample_value("helpline_whatsapp_fallbacks_total", {"reason": reason}) or 0.0


def send_failures(reason: str) -> float:
    return REGISTRY.get_sample_value("helpline_whatsapp_send_failures_total", {"reason": reason}) or 0.0


def send(client, twilio, text: str = "", expect: int = 1, **extra) -> list[dict]:
    """The person sends a WhatsApp message; returns the REST messages it brought (waits for ``expect``)."""
    before = len(twilio.messages)
    form = inbound(text, sender=PERSON, **extra)
    response = post_signed(client, "/twilio/messages", form)
    assert response.status_code == 200
    assert messages(response.data) == [], "a WhatsApp turn answers the webhook at once, with nothing in it"
    wait_until(lambda: len(twilio.messages) >= before + expect, timeout=10)
    time.sleep(0.1)  # nothing more than expected
    got = twilio.messages[before:]
    assert len(got) == expect, got
    return got


def template(twilio, sent: dict) -> dict:
    return next(d for sid, d in twilio.templates.items() if sid == sent["ContentSid"])


def body_of(sent: dict) -> str:
    return json.loads(sent["ContentVariables"])["1"]


def choice_id(position: str, goto_flow: str) -> str:
    fs = real_flows()
    node = fs.node(position)
    ids = choices.ids(fs, position, node)
    return next(i for i, o in zip(ids, node.options) if o.goto.split(".")[0] == goto_flow)


# --- the webhook form -> a message -------------------------------------------------------------------

TAPS = [
    # (label, form fields, text, choice, media)
    ("typed text", {"Body": "hola"}, "hola", None, 0),
    ("button: the id picks, the title is kept", {"Body": "Sí", "ButtonText": "Sí", "ButtonPayload": "s.q#yes"},
     "Sí", "s.q#yes", 0),
    ("list row", {"Body": "Mis derechos", "ListTitle": "Mis derechos", "ListId": "main.menu#rights.place"},
     "Mis derechos", "main.menu#rights.place", 0),
    ("a payload that is not ours is read as typed", {"Body": "", "ButtonPayload": "AGENT"}, "AGENT", None, 0),
    ("voice note", {"Body": "", "NumMedia": "1", "MessageType": "audio"}, "", None, 1),
    ("sticker without NumMedia", {"Body": "", "MessageType": "sticker"}, "", None, 1),
    ("location: neither its place nor its coordinates are read",
     {"Body": "Calle Falsa 123", "Latitude": "19.4326", "Longitude": "-99.1332", "MessageType": "location"}, "", None, 1),
    # a caption is what the person typed: "SALIR" or "EMERGENCIA" under a photo must be heard
    ("a picture's caption is read", {"Body": "SALIR", "NumMedia": "1", "MessageType": "image"}, "SALIR", None, 1),
    ("a video's caption is read", {"Body": "EMERGENCIA", "NumMedia": "1", "MessageType": "video"}, "EMERGENCIA", None, 1),
    ("a document's caption is read", {"Body": "borra todo", "NumMedia": "1", "MessageType": "document"}, "borra todo", None, 1),
]


@pytest.mark.parametrize("label, fields, text, choice, media", TAPS, ids=[t[0] for t in TAPS])
def test_parse_incoming(label, fields, text, choice, media):
    msg = parse_incoming({"From": PERSON, "MessageSid": "SM1", "NumMedia": "0", **fields})
    assert (msg.text, msg.choice, msg.media_count, msg.channel) == (text, choice, media, "whatsapp")


# --- what the flows make: one template per (node, language) --------------------------------------


def test_templates_buttons_up_to_three_lists_up_to_ten_labels_within_limits():
    fs = real_flows()
    made = whatsapp.templates(fs)
    for t in made.values():
        node = fs.node(t.position)
        if not node.waits:
            continue  # a hotline screen's call button (below)
        ids = choices.ids(fs, t.position, node)
        (kind, content), = t.definition["types"].items()
        if len(ids) <= 3:
            assert kind == "twilio/quick-reply"
            assert [a["id"] for a in content["actions"]] == list(ids)
            assert all(len(a["title"]) <= 20 for a in content["actions"])
        else:
            assert kind == "twilio/list-picker"
            assert [i["id"] for i in content["items"]] == list(ids)
            assert all(len(i["item"]) <= 24 for i in content["items"])
        assert content["body"] == "{{1}}" and t.definition["language"] == t.lang
    items = made["main.menu|en"].definition["types"]["twilio/list-picker"]["items"]
    assert {"item": "Smuggling or trafficking", "id": "main.menu#difference.smuggling",
            "description": "Smuggling or trafficking: what's the difference?"} in items, "the long label below the short"
    assert all("description" not in i for i in items if i["item"] == "My rights")
    question = next(t for t in made.values() if fs.node(t.position).kind == "question" and t.lang == "es")
    actions = question.definition["types"]["twilio/quick-reply"]["actions"]
    assert [a["title"] for a in actions] == ["Sí", "No", "No sé"]


def test_split_takes_what_is_above_the_numbered_choices():
    fs = real_flows()
    node = fs.node("main.menu")
    assert whatsapp.split(fs, "main.menu", "es", render.prompt(fs, node, "es")) == fs.translate("es", node.text.msgid)
    assert whatsapp.split(fs, "main.menu", "es", "Hola") is None


# --- sync -----------------------------------------------------------------------------------------------


def flows_copy(tmp_path, edit=None):
    """The repository's flows and catalogs in a temporary folder, ``edit``ed, loaded."""
    from bot.published_flows import load

    root = tmp_path / "copy"
    shutil.copytree(REPO / "flows", root / "flows")
    shutil.copytree(REPO / "locales", root / "locales")
    if edit:
        edit(root / "flows")
    fs, _ = load(str(root / "flows"), str(root / "locales"))
    assert fs is not None
    return fs


def test_sync_creates_then_costs_nothing_then_updates_and_deletes(app, twilio, tmp_path):
    syncer = app.extensions["whatsapp_sync"]
    fs = real_flows()
    first = syncer(fs)
    wanted = whatsapp.templates(fs)
    assert sorted(first.created) == sorted(wanted) and len(twilio.templates) == len(wanted)
    assert {d["friendly_name"] for d in twilio.templates.values()} == {"hl_" + k.replace(".", "_").replace("|", "_")
                                                                       for k in wanted}
    assert "hl_main_menu_es" in twilio.by_name() and "hl_numbers_emergency_en_0" in twilio.by_name()
    calls = len(twilio.content_calls)
    again = syncer(fs)
    assert again.calls == 0 and len(again.unchanged) == len(wanted)
    assert len(twilio.content_calls) == calls, "unchanged: no call at all"

    def relabel_and_add(folder):
        text = (folder / "main.yaml").read_text()
        text = text.replace('- label: "My rights"', '- label: "Rights"')
        text += ('  - id: extra\n    kind: menu\n    text: "Extra?"\n    options:\n'
                 '      - label: "Main menu"\n        goto: menu\n')
        (folder / "main.yaml").write_text(text)

    sid_before = twilio.by_name()["hl_main_menu_en"]["sid"]
    changed = syncer(flows_copy(tmp_path, relabel_and_add))
    assert sorted(changed.updated) == ["main.menu|en", "main.menu|es"]
    assert sorted(changed.created) == ["main.extra|en", "main.extra|es"]
    menu = twilio.by_name()["hl_main_menu_en"]
    assert menu["sid"] == sid_before, "updated in place: the same ContentSid"
    assert "Rights" in [i["item"] for i in menu["types"]["twilio/list-picker"]["items"]]

    extra = {twilio.by_name()[f"hl_main_extra_{lang}"]["sid"] for lang in ("en", "es")}
    back = syncer(fs)  # the extra node is gone again, and the label is back
    assert sorted(back.deleted) == ["main.extra|en", "main.extra|es"]
    assert sorted(back.updated) == ["main.menu|en", "main.menu|es"]
    assert {path.rsplit("/", 1)[-1] for method, path in twilio.writes() if method == "DELETE"} == extra
    assert "hl_main_extra_en" not in twilio.by_name() and len(twilio.templates) == len(wanted)


def test_sync_verify_makes_again_what_was_deleted_at_twilio(app, twilio):
    syncer = app.extensions["whatsapp_sync"]
    syncer(real_flows())
    gone = twilio.by_name()["hl_main_menu_es"]["sid"]
    del twilio.templates[gone]  # deleted by hand in Twilio's console
    assert syncer(real_flows()).calls == 0, "without --verify nothing is asked"
    report = syncer(real_flows(), verify=True)
    assert report.created == ["main.menu|es"]
    assert twilio.by_name()["hl_main_menu_es"]["sid"] != gone


def test_sync_command(app, twilio):
    result = app.test_cli_runner().invoke(args=["whatsapp", "sync"])
    assert result.exit_code == 0, result.output
    assert "created: main.menu|es" in result.output
    result = app.test_cli_runner().invoke(args=["whatsapp", "sync"])
    assert result.exit_code == 0 and "0 created, 0 updated, 0 deleted" in result.output


def test_publish_runs_the_sync_or_refuses_when_twilio_cannot_be_reached(make_app, twilio):
    down = make_app(TWILIO_API_BASE="http://127.0.0.1:9")  # nothing listens there
    result = down.test_cli_runner().invoke(args=["flows", "publish"])
    assert result.exit_code == 1
    assert "not published: Twilio could not be reached to make the WhatsApp templates" in result.output
    assert down.extensions["flows_version"].get() == 0

    up = make_app()
    result = up.test_cli_runner().invoke(args=["flows", "publish"])
    assert result.exit_code == 0, result.output
    assert "hl_main_menu_es" in twilio.by_name()


# --- a WhatsApp conversation ------------------------------------------------------------------------------


def test_a_conversation_with_buttons_and_lists(app, twilio):
    synced(app)
    client = app.test_client()
    greeting, menu = send(client, twilio, "hola", expect=2)
    assert greeting["Body"].startswith("Hola.") and "ContentSid" not in greeting
    assert greeting["From"] == "whatsapp:" + SENDER and greeting["To"] == PERSON
    assert greeting["StatusCallback"] == "http://localhost/twilio/status"
    assert menu["ContentSid"] == twilio.by_name()["hl_main_menu_es"]["sid"] and "Body" not in menu
    assert body_of(menu) == "¿Qué desea hacer?"

    # A list row: its id picks, whatever its title says.
    [numbers] = send(client, twilio, "whatever the label", ListId=choice_id("main.menu", "numbers"),
                     ListTitle="Renamed label")
    assert numbers["ContentSid"] == twilio.by_name()["hl_numbers_by_need_es"]["sid"]

    # A row of the main menu, tapped now (scrolled back): said so, with the choices here.
    [stale] = send(client, twilio, "", ListId=choice_id("main.menu", "rights"), ListTitle="Mis derechos")
    assert stale["ContentSid"] == numbers["ContentSid"]
    assert body_of(stale) == render.say(real_flows(), "es", "menu_changed")

    # Typing a number still works: the person leaves the list it answers.
    before = len(twilio.messages)
    post_signed(client, "/twilio/messages", inbound("2", sender=PERSON))
    wait_until(lambda: len(twilio.messages) > before)
    session = _session(app)
    assert (session["flow"], session["node"]) != ("numbers", "by_need")


def test_a_question_as_three_buttons_and_a_tap_on_one(app, twilio):
    synced(app)
    client = app.test_client()
    send(client, twilio, "hello", expect=2)
    intro, question = send(client, twilio, "", expect=2, ListId=choice_id("main.menu", "screening"),
                           ListTitle="What happened to me?")
    assert intro["Body"].startswith("A few questions") and "ContentSid" not in intro
    made = template(twilio, question)
    assert made["friendly_name"] == "hl_screening_safe_en"
    actions = made["types"]["twilio/quick-reply"]["actions"]
    assert [(a["title"], a["id"]) for a in actions] == [("Yes", "screening.safe#yes"), ("No", "screening.safe#no"),
                                                         ("Not sure", "screening.safe#not_sure")]
    # The tap's id answers, whatever its title says ("Yes" would be yes).
    send(client, twilio, "", expect=2, ButtonPayload="screening.safe#not_sure", ButtonText="Yes")
    assert _session(app)["flags"]["safe_now"] == "not_sure"


def test_an_earlier_row_whose_title_is_a_keyword_does_what_the_word_does(app, twilio):
    # Scrolled back, "Emergencia" tapped on an earlier list: the emergency numbers at once, as
    # the word typed gives them. It had said "that choice is from an earlier message".
    synced(app)
    client = app.test_client()
    send(client, twilio, "hola", expect=2)
    send(client, twilio, "4", expect=1)  # the numbers, by need: a list
    send(client, twilio, "MENU", expect=1)
    send(client, twilio, "1", expect=2)  # the screening: its intro and "¿Puede hablar…?"
    send(client, twilio, "1", expect=1)  # "¿Dónde está ahora?"
    emergency, again = send(client, twilio, "Emergencia", expect=2, ListId="numbers.by_need#numbers.emergency",
                            ListTitle="Emergencia")
    assert "911" in emergency["Body"] and body_of(again).startswith("¿Dónde está ahora?"), (emergency, again)
    assert _session(app)["node"] == "where"


def test_a_tap_after_a_stop_is_no_opt_in(app, twilio):
    # "Yes" on a button from before STOP answered that message; it is an opt-in word, but the
    # tap is no request to be written to again.
    synced(app)
    client = app.test_client()
    send(client, twilio, "hi", expect=2)
    send(client, twilio, "1", expect=2)  # "Is it safe for you to text right now?": Yes / No / Not sure
    send(client, twilio, "STOP", expect=1)
    send(client, twilio, "Yes", expect=0, ButtonPayload="screening.safe#yes", ButtonText="Yes")
    assert _session(app)["state"] == "opted_out"
    send(client, twilio, "START", expect=2)  # the word typed still is one


def test_a_rows_short_title_typed_goes_where_the_tap_does(app, twilio):
    synced(app)
    client = app.test_client()
    send(client, twilio, "hola", expect=2)
    send(client, twilio, "4", expect=1)
    title = choices.labels(real_flows(), real_flows().node("numbers.by_need"), "es")[0]
    assert title == "Me controlan, sin pago"  # the row's short title, not the option's label
    tapped_or_typed = send(client, twilio, title, expect=4)  # the lines' messages, then "¿Y ahora?"
    assert body_of(tapped_or_typed[-1]) == "¿Y ahora?"
    assert (_session(app)["flow"], _session(app)["node"]) == ("numbers", "more")


def test_a_reply_not_understood_above_a_list_asks_for_a_choice_not_a_number(app, twilio):
    # Buttons and rows show no numbers: "Responda con un número:" asked for what the person could not see.
    synced(app)
    client = app.test_client()
    send(client, twilio, "hola", expect=2)
    [again] = send(client, twilio, "qwerty", expect=1)
    assert "ContentSid" in again and body_of(again) == "Perdón, no entendí. Elija una opción:"


def _session(app) -> dict:
    from bot.engine.session import Session

    fields = app.extensions["store"].load(contact_id("test-secret", PERSON))
    return Session.from_fields(fields).__dict__ if fields else {}


def test_a_retried_delivery_sends_nothing_twice(app, twilio):
    synced(app)
    client = app.test_client()
    form = inbound("hola", sender=PERSON)
    assert messages(post_signed(client, "/twilio/messages", form).data) == []
    wait_until(lambda: len(twilio.messages) >= 2)
    retry = post_signed(client, "/twilio/messages", form)  # Twilio's retry: the same MessageSid
    assert retry.status_code == 200 and messages(retry.data) == []
    time.sleep(0.5)
    assert len(twilio.messages) == 2


def test_replies_of_turns_in_a_row_arrive_in_order(app, twilio):
    synced(app)
    client = app.test_client()
    for text in ("hola", "4", "MENU", "AYUDA"):
        assert messages(post_signed(client, "/twilio/messages", inbound(text, sender=PERSON)).data) == []
    wait_until(lambda: len(twilio.messages) >= 5)
    time.sleep(0.3)
    sent = twilio.messages
    names = [template(twilio, m)["friendly_name"] if "ContentSid" in m else m["Body"][:12] for m in sent]
    assert names[1] == "hl_main_menu_es" and names[2] == "hl_numbers_by_need_es" and names[3] == "hl_main_menu_es"
    assert sent[0]["Body"].startswith("Hola.")
    assert "ContentSid" not in sent[4], "AYUDA's numbers are text"


def test_a_refused_template_message_falls_back_to_numbered_text_and_is_counted(app, twilio):
    synced(app)
    client = app.test_client()
    twilio.refuse_content = True
    before = fallbacks("refused")
    greeting, refused, text = send(client, twilio, "hola", expect=3)
    assert "ContentSid" in refused
    fs = real_flows()
    assert text["Body"] == render.prompt(fs, fs.node("main.menu"), "es")
    assert fallbacks("refused") == before + 1
    scrape = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'helpline_whatsapp_fallbacks_total{reason="refused"}' in scrape


def test_before_any_sync_menus_are_numbered_text_never_silence(app, twilio):
    client = app.test_client()
    before = fallbacks("no_template")
    greeting, menu = send(client, twilio, "hola", expect=2)
    fs = real_flows()
    assert menu["Body"] == render.prompt(fs, fs.node("main.menu"), "es") and "ContentSid" not in menu
    assert fallbacks("no_template") == before + 1


def test_a_slow_twilio_holds_up_only_its_own_persons_replies(app, twilio):
    # One sender for every outbox of a process: with Twilio slow, each person's replies waited for
    # everyone's before them (a SALIR line too). Three people write; their first replies are with
    # Twilio at the same time, before any answer has come back.
    synced(app)
    client = app.test_client()
    twilio.stall = (3.0,)  # each answer 3 s in coming, within the client's timeout
    for n in range(3):
        form = inbound("hola", sender=f"whatsapp:+52155500030{n}")
        assert messages(post_signed(client, "/twilio/messages", form).data) == []
    wait_until(lambda: len(twilio.messages) >= 3, timeout=2.5)
    assert twilio.answered == [], "the three were asked for while the first answer was still to come"
    assert len({m["To"] for m in twilio.messages[:3]}) == 3
    wait_until(lambda: len(twilio.answered) >= 6, timeout=15)  # then each person's menu, in its turn


@pytest.mark.parametrize("status, code", [(429, 20429), (503, 20503)])
def test_twilio_too_busy_keeps_the_replies_and_sends_them_in_order_later(app, twilio, redis_client, status, code):
    # Twilio answering that it cannot take a message now was read as a refusal: the menu fell back
    # to text, that was refused too, and both were dropped; the person got nothing, ever.
    synced(app)
    client = app.test_client()
    twilio.fail_with = (status, code)
    before = send_failures("not_taken_now")
    assert messages(post_signed(client, "/twilio/messages", inbound("hola", sender=PERSON)).data) == []
    wait_until(lambda: send_failures("not_taken_now") > before)
    cid = contact_id("test-secret", PERSON)
    assert redis_client.llen(f"hl:{{{cid}}}:wa:outbox") == 2  # both kept, in order
    asked = len(twilio.messages)
    twilio.fail_with = None  # Twilio takes them again
    wait_until(lambda: len(twilio.messages) >= asked + 2, timeout=15)
    greeting, menu = twilio.messages[asked:asked + 2]
    assert greeting["Body"].startswith("Hola.") and template(twilio, menu)["friendly_name"] == "hl_main_menu_es"


def test_twilio_unreachable_keeps_the_replies_and_sends_them_in_order_later(make_app, redis_client):
    # Twilio's address refuses connections (a port bound but not listening),
    # then Twilio comes up on that same address: nothing in the app is touched.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        app = make_app(TWILIO_API_BASE=f"http://127.0.0.1:{port}")
        client = app.test_client()
        before = send_failures("unreachable")
        assert messages(post_signed(client, "/twilio/messages", inbound("hola", sender=PERSON)).data) == []
        cid = contact_id("test-secret", PERSON)
        wait_until(lambda: send_failures("unreachable") > before)  # tried, and refused
        assert redis_client.llen(f"hl:{{{cid}}}:wa:outbox") == 2  # both kept, in order
    with TwilioStandIn(port=port) as twilio:  # Twilio is back
        wait_until(lambda: len(twilio.messages) == 2, timeout=15)
        assert twilio.messages[0]["Body"].startswith("Hola.")
        # Twilio has the second message once it is asked; the sender takes it
        # out of the outbox once Twilio has answered, a moment later.
        wait_until(lambda: redis_client.llen(f"hl:{{{cid}}}:wa:outbox") == 0, timeout=5, what="an empty outbox")


def test_media_gets_a_kind_answer_and_a_location_is_never_kept(app, twilio, redis_client, caplog):
    synced(app)
    client = app.test_client()
    send(client, twilio, "hola", expect=2)
    kind, menu = send(client, twilio, "", expect=2, NumMedia="1", MessageType="audio", MediaContentType0="audio/ogg")
    assert kind["Body"] == render.say(real_flows(), "es", "media_only") and "1-888-373-7888" in kind["Body"]
    assert menu["ContentSid"] == twilio.by_name()["hl_main_menu_es"]["sid"]
    caplog.clear()
    kind, _ = send(client, twilio, "Calle Falsa 123", expect=2, Latitude="19.4326", Longitude="-99.1332",
                   MessageType="location", Address="Calle Falsa 123")
    assert kind["Body"] == render.say(real_flows(), "es", "media_only")
    assert _session(app)["misses"] == 0
    for key in redis_client.keys("*"):
        kind_of = redis_client.type(key)
        dump = repr(redis_client.dump(key))
        assert "19.43" not in dump and "Falsa" not in dump, (key, kind_of)
    assert "19.43" not in caplog.text and "Falsa" not in caplog.text


def test_a_caption_under_a_picture_is_heard(app, twilio, redis_client):
    # Found by probing: a WhatsApp photo captioned EMERGENCIA got "I can only read text", and one
    # captioned SALIR kept the chat. A caption is what the person wrote.
    synced(app)
    client = app.test_client()
    send(client, twilio, "hola", expect=2)
    emergency = send(client, twilio, "EMERGENCIA", expect=2, NumMedia="1", MessageType="image",
                     MediaContentType0="image/jpeg")
    assert any("911" in m.get("Body", "") for m in emergency)
    erased = send(client, twilio, "SALIR", expect=1, NumMedia="1", MessageType="image", MediaContentType0="image/jpeg")
    assert erased[0]["Body"] == render.say(real_flows(), "es", "erased")
    assert _session(app) == {}


def test_sms_is_unchanged(app, twilio):
    synced(app)
    client = app.test_client()
    response = post_signed(client, "/twilio/messages", inbound("hola", sender="+15550001818"))
    replies = messages(response.data)
    assert replies[1].startswith("¿Qué desea hacer?\n1. ")
    time.sleep(0.3)
    assert twilio.messages == []


def test_without_the_setting_whatsapp_is_numbered_text_in_twiml(make_app, twilio):
    app = make_app(WHATSAPP_INTERACTIVE=False)
    response = post_signed(app.test_client(), "/twilio/messages", inbound("hola", sender=PERSON))
    assert messages(response.data)[1].startswith("¿Qué desea hacer?\n1. ")
    assert twilio.messages == []


def test_a_hotline_screen_carries_a_call_button_for_a_verified_number(app, twilio):
    synced(app)
    client = app.test_client()
    send(client, twilio, "hello", expect=2)
    send(client, twilio, "", ListId=choice_id("main.menu", "numbers"))
    fs = real_flows()
    node = fs.node("numbers.by_need")
    emergency = next(i for i, o in zip(choices.ids(fs, "numbers.by_need", node), node.options)
                     if o.goto == "numbers.emergency")
    lines = render.directory(fs, fs.node("numbers.emergency"), "en")  # its numbers, in as many messages as they take
    screen, *rest, more = send(client, twilio, "", expect=len(lines) + 1, ListId=emergency)
    made = template(twilio, screen)
    [button] = made["types"]["twilio/call-to-action"]["actions"]
    # 911 has no number a button can dial (E.164): the national hotline's button, from the directory.
    assert button == {"type": "PHONE_NUMBER", "title": "\N{TELEPHONE RECEIVER} 1-888-373-7888", "phone": "+18883737888"}
    assert body_of(screen) == lines[0]
    assert "911" in body_of(screen)
    assert template(twilio, more)["friendly_name"] == "hl_numbers_more_en"


def test_only_verified_lines_get_a_call_button():
    fs = real_flows()
    phones = {a["phone"] for t in whatsapp.templates(fs).values()
              for a in t.definition["types"].get("twilio/call-to-action", {}).get("actions", [])}
    verified = {whatsapp.dialable(c.number) for h in fs.hotlines.values() if h.verified for c in h.contacts
                if c.kind == "call"}
    assert phones and phones <= verified
    assert whatsapp.dialable("911") is None and whatsapp.dialable("800 5533 000") is None


def test_quick_exit_by_rest_is_deleted_at_twilio_and_leaves_nothing_of_the_person(app, twilio, redis_client):
    synced(app)
    client = app.test_client()
    send(client, twilio, "hola", expect=2)
    [erased] = send(client, twilio, "SALIR")
    assert erased["Body"] == render.say(real_flows(), "es", "erased") and "ContentSid" not in erased
    assert erased["StatusCallback"] == "http://localhost/twilio/status?erased=1", "its status callback deletes it"
    cid = contact_id("test-secret", PERSON)
    wait_until(lambda: not [k for k in redis_client.keys("*") if cid in k])
    assert not redis_client.zscore("hl:{hl:events}:wa:ready", cid)


def test_after_a_quick_exit_nothing_said_before_it_reaches_the_phone(make_app, redis_client):
    """Twilio slow to take each message: the greeting is on its way, the menu still
    waits in the outbox, when the person sends SALIR. The menu must never follow the
    erase line (someone may be reading the phone now), and the line must still go."""
    with TwilioStandIn(stall=(0.8,)) as slow:
        app = make_app(TWILIO_API_BASE=slow.url)
        client = app.test_client()
        post_signed(client, "/twilio/messages", inbound("hola", sender=PERSON))
        wait_until(lambda: slow.requests, timeout=5)  # the greeting has reached Twilio; the menu waits
        post_signed(client, "/twilio/messages", inbound("SALIR", sender=PERSON))
        wait_until(lambda: len(slow.answered) >= 2, timeout=10)
        time.sleep(1.0)  # nothing more comes
        bodies = [m["Body"] for m in slow.messages]
        fs = real_flows()
        assert bodies[-1] == render.say(fs, "es", "erased")
        assert len(bodies) == 2 and "ContentSid" not in slow.messages[-1], bodies
        cid = contact_id("test-secret", PERSON)
        wait_until(lambda: not [k for k in redis_client.keys("*") if cid in k])


def test_an_operator_reply_after_the_window_is_refused_with_when_it_closed_in_their_zone(make_app, redis_client, twilio):
    """Issue 18, item 7: the bot only answers; outside WhatsApp's 24 hours an operator's reply is
    refused with the exact time the window closed, in OPS_TIMEZONE, and nothing re-opens it."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from bot.desk import ActionRefused
    from tests.helpers import store_session, stored_session

    app = make_app(OPS_TIMEZONE="America/Chicago")
    desk = app.extensions["ops"].desk
    app.extensions["ops"].duty.switch(True, "rita")
    client = app.test_client()
    for body in ("hola", "PERSONA"):
        post_signed(client, "/twilio/messages", inbound(body, sender=PERSON))
    wait_until(lambda: len(twilio.messages) == 3)  # the greeting, the menu, "a person will answer"
    key = f"hl:{{{contact_id('test-secret', PERSON)}}}:session"
    last = time.time() - 24 * 3600 - 600
    session = stored_session(redis_client, key)
    store_session(redis_client, key, {**session, "t": f"{last:.3f}"})
    app.extensions["ops"].live_sessions.refresh()
    desk.claim(session["conv"], "rita")
    sent = len(twilio.messages)
    with pytest.raises(ActionRefused) as refused:
        desk.reply(session["conv"], "rita", "Hola")
    closed = dt.datetime.fromtimestamp(last + 24 * 3600, ZoneInfo("America/Chicago"))
    assert f"{closed:%a %d %b %Y at %H:%M} (America/Chicago)" in str(refused.value)
    assert "Nothing was sent" in str(refused.value)
    time.sleep(0.3)
    assert len(twilio.messages) == sent, "nothing sent, no template to re-open the chat"


def test_publishing_in_the_console_makes_the_templates_or_is_refused(redis_client, redis_url, tmp_path, twilio):
    """The console's Publish runs the sync too: with Twilio unreachable nothing is written or published,
    and the editor reads why; with Twilio there, the changed menu's template follows the change."""
    from bot import create_app
    from bot.config import TestConfig
    from tests.editing import NEW_MENU, digest_tree, main_yaml, publish_new_menu
    from tests.fixtures_console import PASSWORD, sign_in

    project = tmp_path / "project"
    shutil.copytree(REPO / "flows", project / "flows")
    shutil.copytree(REPO / "locales", project / "locales")

    def console(base: str):
        app = create_app(TestConfig(redis_url, str(tmp_path / "var"), FLOWS_DIR=str(project / "flows"),
                                    LOCALES_DIR=str(project / "locales"), FLOWS_CHECK_SECONDS=0.0,
                                    TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_FROM_NUMBER=SENDER, TWILIO_API_BASE=base,
                                    WHATSAPP_INTERACTIVE=True))
        app.extensions["ops"].accounts.add("ed", "editor", PASSWORD)
        ed = app.test_client()
        sign_in(ed, "ed")
        return app, ed

    app, ed = console("http://127.0.0.1:9")  # nothing listens there
    before = digest_tree(project)
    page = publish_new_menu(ed, project)
    page = ed.get(page.headers["Location"]).text if page.status_code == 302 else page.text
    assert "Not published: Twilio could not be reached to make the WhatsApp templates" in page
    assert "The previous files were put back." in page
    assert digest_tree(project) == before and app.extensions["flows_version"].get() == 0

    app, ed = console(twilio.url)
    response = publish_new_menu(ed, project)
    assert response.status_code == 302 and app.extensions["flows_version"].get() == 1
    assert NEW_MENU in main_yaml(project)
    assert twilio.by_name()["hl_main_menu_en"]["variables"] == {"1": NEW_MENU}


def test_a_turn_that_is_not_saved_sends_the_fail_safe_only(app, twilio, redis_client):
    """The lock lapsed before the save (a stalled worker): the turn is not saved, the webhook
    answers with the fail-safe, and its replies are taken back from the outbox: never both."""
    from bot.channels.twilio import FAILSAFE_REPLIES

    synced(app)
    helpline = app.extensions["helpline"]
    cid = contact_id("test-secret", PERSON)
    content = helpline.flows

    def flows_after_the_lock_lapsed():
        redis_client.delete(f"hl:{{{cid}}}:lock")  # what the lock's expiry does to a stalled turn
        return content()

    helpline.flows = flows_after_the_lock_lapsed
    response = post_signed(app.test_client(), "/twilio/messages", inbound("hola", sender=PERSON))
    assert tuple(messages(response.data)) == FAILSAFE_REPLIES
    time.sleep(0.5)
    assert twilio.messages == [] and redis_client.llen(f"hl:{{{cid}}}:wa:outbox") == 0
