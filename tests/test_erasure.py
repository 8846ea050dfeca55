"""Quick exit, everywhere a conversation leaves a copy: the embedded Redis's
files on disk, an outage, Twilio's message log.

* Disk: after SALIR the person's number and texts leave the embedded
  server's files within the rewrite interval (``AOF_REWRITE_SECONDS``, a
  minute by default; half a second here), as a grep of the folder shows.
  (That the folder is private whoever makes it first: test_embedded_redis.py.)
* Outage: with Redis down, SALIR and STOP get their own line, not the long
  fail-safe; the spool keeps only the contact id, the action and when; once
  Redis is back (restarted from its AOF, the session in it) the session is
  erased and the opt-out recorded.
* Twilio: on quick exit every message sid the conversation knew (the
  person's texts, the replies whose status Twilio reported, the answer to
  SALIR itself) is deleted through the REST API, off the request path,
  retried until Twilio answers 204 or 404; here the API is a local stand-in
  (``TWILIO_API_BASE``).
"""
from __future__ import annotations

import json
import stat
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import redis

from bot import create_app
from bot.channels.twilio import FAILSAFE_REPLIES
from bot.config import TestConfig
from bot.store.embedded import ensure_server
from bot.helpline import contact_id
from bot.spool import Entry
from tests.fixtures_voice import Call, start_in
from tests.helpers import everything_stored, inbound, messages, new_sid, option, post_signed, stored_session, stream_events
from tests.servers import RedisProcess, wait_until
from tests.twilio_standin import ACCOUNT_SID

PHONE = "+15558675309"
OTHER = "+15553141592"
PERSON = option("help.person")
SAID = ["mi patrón guarda mi pasaporte Qz7", "me deben tres meses de pago Qz7"]
ERASED_ES = "Listo. Chat cerrado."
PREFIX = "erase"


def key(what: str, phone: str = PHONE, prefix: str = "hl") -> str:
    return f"{prefix}:{{{contact_id('test-secret', phone)}}}:{what}"


def say(client, body: str, sender: str = PHONE, form: dict | None = None):
    resp = post_signed(client, "/twilio/messages", form or inbound(body, sender=sender))
    assert resp.status_code == 200
    return resp


def on_disk(folder: Path, needles: list[str]) -> dict[str, int]:
    """Bytes of each needle found in any file under ``folder``."""
    found: dict[str, int] = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_socket():
            data = path.read_bytes()
            for needle in needles:
                hits = data.count(needle.encode())
                if hits:
                    found[needle] = found.get(needle, 0) + hits * len(needle.encode())
    return found


# --- the embedded server's files ---------------------------------------------------------


@pytest.fixture
def embedded(tmp_path):
    """An embedded server of the test's own, in a data folder of its own."""
    servers = []

    def start(folder: Path):
        servers.append(ensure_server(folder))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def test_after_quick_exit_the_number_and_texts_leave_the_disk(embedded, tmp_path, redis_url):
    data = tmp_path / "var"
    server = embedded(data)
    app = create_app(TestConfig(None, str(data), AOF_REWRITE_SECONDS=0.5))
    assert app.config["REDIS_URL_RESOLVED"] == server.url, "the app attached to the embedded server"
    r = redis.Redis.from_url(server.url)
    r.set("hl:duty", "1")  # someone on duty: the hand-off keeps the texts for them
    client = app.test_client()
    for sender in (PHONE, OTHER):
        say(client, "hola", sender)
        say(client, PERSON, sender)
        for body in SAID:
            say(client, body if sender == PHONE else body.replace("Qz7", "Wk4"), sender)
    r.execute_command("CONFIG", "SET", "appendfsync", "always")  # what the grep sees is what Redis wrote
    r.set("flush", "1")
    # The conversation's random id too: the events stream's entries of its turns carry it.
    erased = [PHONE.lstrip("+"), *SAID, json.loads(r.get(key("session")))["conv"]]
    assert set(on_disk(data, erased)) == set(erased), "before: in the append-only file"

    assert messages(say(client, "SALIR").data) == [ERASED_ES]

    wait_until(lambda: not on_disk(data, erased), timeout=20)
    still = [OTHER.lstrip("+"), SAID[0].replace("Qz7", "Wk4")]
    assert set(on_disk(data, still)) == set(still), "the person who did not quit is still on disk (the grep works)"
    assert r.dbsize() > 0 and r.exists(key("session", OTHER))
    # Nor in the stream's memory: what a DUMP, a snapshot or a replica's copy would carry.
    r.config_set("rdbcompression", "no")
    kept = json.loads(r.get(key("session", OTHER)))["conv"]
    assert kept.encode() in r.dump("hl:events") and erased[-1].encode() not in r.dump("hl:events")


# --- an outage ---------------------------------------------------------------------------


@pytest.fixture
def restartable(tmp_path):
    """A Redis on a TCP port with an AOF (fsync always), killed and started again by the test."""
    folder = tmp_path / "redis"
    procs = [RedisProcess(folder, appendonly="yes", appendfsync="always").start()]

    class Handle:
        url = procs[0].url

        def kill(self):
            procs[-1].kill()

        def start(self):
            procs.append(RedisProcess(folder, procs[0].port, appendonly="yes", appendfsync="always").start())

        def client(self):
            return procs[-1].client(decode_responses=True)

    yield Handle()
    procs[-1].kill()


@pytest.mark.slow
def test_during_an_outage_quick_exit_and_stop_are_answered_and_done_once_redis_is_back(restartable, tmp_path):
    app = create_app(TestConfig(restartable.url, str(tmp_path / "var"), REDIS_TIMEOUT=0.3))
    client = app.test_client()
    wa = "whatsapp:" + OTHER
    sms_stop = "+15552718281"
    for sender in (PHONE, wa, sms_stop):
        say(client, "hola", sender)
        say(client, SAID[0], sender)
    r = restartable.client()
    assert all(r.exists(key("session", s)) for s in (PHONE, wa, sms_stop))

    restartable.kill()
    started = time.monotonic()
    # Read as when the store is up: not only the bare word.
    assert messages(say(client, "Salir ya, ahí viene").data) == [ERASED_ES]
    assert time.monotonic() - started < 5
    assert messages(say(client, "PARAR", wa).data) == ["No recibirá más mensajes de este número. "
                                                       "Escriba ALTA para volver a empezar. "
                                                       "En peligro, llame usted al 911. Línea 24/7: 1-888-373-7888. Celular mexicano: 800 5533 000."]
    assert messages(say(client, "STOP", sms_stop).data) == [], "Twilio answers its own STOP on SMS"
    assert tuple(messages(say(client, "hola", OTHER).data)) == FAILSAFE_REPLIES, "anything else: the fail-safe"

    spool = tmp_path / "var" / "outage-spool"
    assert oct(stat.S_IMODE(spool.stat().st_mode)) == "0o600"
    kept = [json.loads(line) for line in spool.read_text().splitlines()]
    assert [(e["c"], e["a"]) for e in kept] == [(contact_id("test-secret", PHONE), "quick_exit"),
                                                (contact_id("test-secret", wa), "opt_out"),
                                                (contact_id("test-secret", sms_stop), "opt_out")]
    raw = spool.read_text()
    for secret in (PHONE[-7:], OTHER[-7:], sms_stop[-7:], "Salir", "viene", "PARAR", "STOP", "Qz7"):
        assert secret not in raw

    # The session is still in the AOF (fsync always) that the restarted Redis reads back: the erase
    # must come from the spool. (Asked of the file, not of the restarted server: the spool's
    # drain may already have erased it by the time a client could look.)
    aof = b"".join(f.read_bytes() for f in (tmp_path / "redis").rglob("*.aof*") if f.is_file())
    assert key("session", PHONE).encode() in aof, "the session is kept in Redis's AOF"
    restartable.start()
    r = restartable.client()
    wait_until(lambda: not r.exists(key("session", PHONE)), timeout=15)
    wait_until(lambda: r.exists(f"hl:optout:{{{contact_id('test-secret', wa)}}}")
               and r.exists(f"hl:optout:{{{contact_id('test-secret', sms_stop)}}}"), timeout=15)
    assert stored_session(r, key("session", wa))["st"] == "opted_out"
    assert not [k for k in r.scan_iter(count=1000) if contact_id("test-secret", PHONE) in k]
    # The replay cuts the lines it did from the file once it has done them all (bot/spool.py):
    # a moment after the last one shows in Redis.
    wait_until(lambda: spool.read_text() == "", timeout=15)
    assert messages(say(client, "hola", wa).data) == [], "opted out: silence until ALTA"


@pytest.mark.parametrize("text,intent,line", [
    ("SALIR", "quick_exit", "Listo. Chat cerrado."),
    ("  ¡salir! ", "quick_exit", "Listo. Chat cerrado."),
    ("EXIT", "quick_exit", "Done. Chat closed."),
    ("Borrar", "quick_exit", "Listo. Chat cerrado."),
    ("PARAR", "opt_out", "No recibirá más mensajes de este número. Escriba ALTA para volver a empezar. En peligro, llame usted al 911. Línea 24/7: 1-888-373-7888. Celular mexicano: 800 5533 000."),
    ("stop", "opt_out", "You will get no more messages from this number. Text START to start again. In danger, call 911 yourself. Hotline 24/7: 1-888-373-7888. From a Mexican phone: 800 5533 000."),
    # Read as when the store is up: around words, said twice, a typo, a warning beside it.
    ("SALIR YA", "quick_exit", "Listo. Chat cerrado."),
    ("borrar todo", "quick_exit", "Listo. Chat cerrado."),
    ("exit now", "quick_exit", "Done. Chat closed."),
    ("salir salir", "quick_exit", "Listo. Chat cerrado."),
    ("bórralo, ahí viene", "quick_exit", "Listo. Chat cerrado."),
    ("ya no me manden mensajes", "opt_out", "No recibirá más mensajes de este número. Escriba ALTA para volver a empezar. En peligro, llame usted al 911. Línea 24/7: 1-888-373-7888. Celular mexicano: 800 5533 000."),
    ("hola", None, None),
    ("salir de aquí", None, None),  # a keyword is the whole message
    ("no puedo salir de la casa", None, None),
    ("", None, None),
])
def test_without_a_session_only_quick_exit_and_opt_out_have_a_line(text, intent, line):
    from bot.engine import stateless
    from tests.helpers import real_flows

    found = stateless.answer(real_flows(), text)
    if intent is None:
        assert found is None
    else:
        assert (found.intent, list(found.replies)) == (intent, [line])


@pytest.mark.slow
def test_a_spooled_quick_exit_does_not_erase_a_conversation_started_after_it(client, app, redis_client):
    helpline = app.extensions["helpline"]
    cid = contact_id("test-secret", PHONE)
    asked = time.time() - 60
    say(client, "hola")  # a new conversation, after the quick exit that was spooled
    helpline.replay(Entry(cid, "quick_exit", asked))
    assert redis_client.exists(key("session"))

    helpline.replay(Entry(cid, "opt_out", asked))  # they have texted since: not silenced
    assert not redis_client.exists(f"hl:optout:{{{cid}}}")

    helpline.replay(Entry(cid, "quick_exit", time.time() + 1))
    assert not redis_client.exists(key("session"))


def test_a_text_after_a_quick_exit_kept_through_an_outage_never_carries_on_the_erased_chat(client, app, redis_client):
    """SALIR answered while Redis was down is done when Redis answers again, by
    a background replay that comes round a few seconds later. Before, a text
    in those seconds carried on the erased chat ("VOLVER" gave its last
    question back); now the person's own spooled exit is done first."""
    helpline = app.extensions["helpline"]
    say(client, "hola")
    say(client, SAID[0])
    assert redis_client.exists(key("session"))
    # As without_store() keeps it while Redis is down; Redis is back, the replay not yet come round.
    assert helpline.spool.add(Entry(contact_id("test-secret", PHONE), "quick_exit", time.time()))
    replies = messages(say(client, "VOLVER").data)
    assert replies and replies[0].startswith("Hola."), replies  # a new conversation, from its greeting
    assert not helpline.spool.pending()
    assert "Qz7" not in everything_stored(redis_client)


# --- Twilio's copies ---------------------------------------------------------------------


@pytest.fixture
def deleting_app(redis_client, redis_url, tmp_path, twilio_api):
    """Deleting at once, through the stand-in. Keys of its own (``KEY_PREFIX``): a
    console test's app, still waiting to delete its own sids at its own (closed)
    stand-in, must not take these from the shared queue."""
    app = create_app(TestConfig(redis_url, str(tmp_path), TWILIO_ACCOUNT_SID=ACCOUNT_SID, KEY_PREFIX=PREFIX,
                                TWILIO_API_BASE=twilio_api.url, TWILIO_DELETE_AFTER=0.0))
    yield app
    wait_until(app.extensions["background"].idle, timeout=15)


def status_callback(client, url: str, sid: str, to: str, status: str = "delivered"):
    """Twilio reporting on a message it sent, at the ``action`` URL of its <Message> (signed, query and all)."""
    form = {"MessageSid": sid, "MessageStatus": status, "To": to, "AccountSid": ACCOUNT_SID}
    resp = post_signed(client, url.removeprefix("http://localhost"), form)
    assert resp.status_code == 204


def actions(resp) -> list[str]:
    """Where Twilio reports on each message of a reply: the last one's ``action``
    URL, the others through the Messaging Service's status callback (README)."""
    return [m.get("action") or "http://localhost/twilio/status" for m in ET.fromstring(resp.data).findall("Message")]


@pytest.mark.slow
def test_quick_exit_deletes_the_conversations_messages_at_twilio(deleting_app, twilio_api, redis_client):
    client = deleting_app.test_client()
    inbound_sids, outbound_sids = [], []
    for body in ("hola", *SAID):
        form = inbound(body, sender=PHONE)
        inbound_sids.append(form["MessageSid"])
        resp = say(client, body, form=form)
        for action in actions(resp):  # Twilio reports each reply sent, with its own sid
            outbound_sids.append(new_sid())
            status_callback(client, action, outbound_sids[-1], PHONE, "sent")
            status_callback(client, action, outbound_sids[-1], PHONE, "delivered")
    assert redis_client.scard(key("sids", prefix=PREFIX)) == len(inbound_sids) + len(outbound_sids)
    twilio_api.refuse[inbound_sids[0]] = [(409, 20009)]  # still being processed: try again later
    twilio_api.refuse[outbound_sids[0]] = [(404, 20404)]  # already gone: done
    copies = [job for job in deleting_app.extensions["background"].jobs if type(job).__name__ == "TwilioCopies"][0]
    copies.NOT_YET = 0.2

    salir = inbound("SALIR", sender=PHONE)
    resp = say(client, "SALIR", form=salir)
    assert messages(resp.data) == [ERASED_ES]
    (action,) = actions(resp)
    assert action.endswith("/twilio/status?erased=1")
    answer_sid = new_sid()
    status_callback(client, action, answer_sid, PHONE, "sent")
    # A reply from before, reported after the erase (the SALIR waited for it): deleted
    # at Twilio like the rest, and nothing of the contact comes back.
    late = new_sid()
    status_callback(client, actions(say(client, "x", sender=OTHER))[-1], late, PHONE)

    every = set(inbound_sids + outbound_sids + [salir["MessageSid"], answer_sid, late])
    wait_until(lambda: set(twilio_api.deleted) >= every and not redis_client.exists("erase:{erase:events}:purge"), timeout=15)
    assert twilio_api.deleted.count(inbound_sids[0]) == 2, "refused once (20009), then deleted"
    assert not [k for k in redis_client.scan_iter(count=1000) if contact_id("test-secret", PHONE) in k]
    assert not redis_client.exists(f"{PREFIX}:msg:{answer_sid}"), "the answer to SALIR leaves no delivery record"
    assert not redis_client.exists(f"{PREFIX}:msg:{late}"), "nor does a reply reported after it"
    assert not [sid for sid in outbound_sids if redis_client.exists(f"{PREFIX}:msg:{sid}")], \
        "the delivery records of the messages deleted at Twilio go with them"


@pytest.mark.slow
def test_the_answer_to_a_quick_exit_during_an_outage_and_its_earlier_messages_are_deleted_once_redis_is_back(
        restartable, tmp_path, twilio_api):
    app = create_app(TestConfig(restartable.url, str(tmp_path / "var"), REDIS_TIMEOUT=0.3, TWILIO_ACCOUNT_SID=ACCOUNT_SID,
                                TWILIO_API_BASE=twilio_api.url, TWILIO_DELETE_AFTER=0.0))
    client = app.test_client()
    say(client, "hola")
    earlier = new_sid()  # a message of the greeting whose sid never reached the bot
    twilio_api.logged(earlier, "+15559990000", PHONE)
    restartable.kill()
    resp = say(client, "SALIR")
    (action,) = actions(resp)
    answer_sid = new_sid()
    status_callback(client, action, answer_sid, PHONE, "delivered")  # Twilio reports it once, now
    wait_until(lambda: earlier in (tmp_path / "var" / "outage-spool").read_text(), timeout=10)  # found by the sweep
    spool = (tmp_path / "var" / "outage-spool").read_text()
    assert answer_sid in spool and PHONE[-7:] not in spool
    restartable.start()
    wait_until(lambda: {answer_sid, earlier} <= set(twilio_api.deleted), timeout=20)
    wait_until(app.extensions["background"].idle, timeout=15)  # done: nothing left to retry once Redis goes


@pytest.mark.slow
def test_a_call_that_ends_during_an_outage_is_deleted_at_twilio_once_redis_is_back(restartable, tmp_path, twilio_api):
    app = create_app(TestConfig(restartable.url, str(tmp_path / "var"), REDIS_TIMEOUT=0.3, TWILIO_ACCOUNT_SID=ACCOUNT_SID,
                                TWILIO_API_BASE=twilio_api.url, TWILIO_DELETE_AFTER=0.0))
    call = Call(app)
    start_in(call, "en")
    sid = call.form["CallSid"]
    restartable.kill()
    call.hang_up()
    spool = (tmp_path / "var" / "outage-spool").read_text()
    assert sid in spool and call.form["From"].lstrip("+") not in spool
    restartable.start()
    wait_until(lambda: twilio_api.deleted_from.get(sid) == "Calls", timeout=20)
    wait_until(app.extensions["background"].idle, timeout=15)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["says salir", "hangs up"])
def test_a_call_that_ends_during_an_outage_is_erased_with_its_last_words_once_redis_is_back(restartable, tmp_path, how):
    # SALIR said while Redis was down read the fail-safe's numbers aloud (to whoever came
    # near), and was not kept: only a hang-up's callback erased the call later. Either way the
    # call's last words said stayed in Redis for up to 4 hours after the replay.
    app = create_app(TestConfig(restartable.url, str(tmp_path / "var"), REDIS_TIMEOUT=0.3))
    call = Call(app)
    start_in(call, "es")
    call.press("1")
    r = restartable.client()
    assert r.exists(f"hl:{{{call.cid}}}:said") and r.exists(f"hl:{{{call.cid}}}:session")
    restartable.kill()
    if how == "says salir":
        assert call.say("salir") == ["[es] Listo. Esta llamada se borró. Adiós.", "<hang up>"]
    else:
        call.hang_up()
    spool = (tmp_path / "var" / "outage-spool").read_text()
    assert call.cid in spool and "salir" not in spool and call.form["From"].lstrip("+") not in spool
    restartable.start()
    r = restartable.client()
    wait_until(lambda: not [k for k in r.scan_iter(count=1000) if call.cid in k], timeout=15)


def test_texts_answered_with_silence_are_deleted_at_twilio_by_a_quick_exit(deleting_app, twilio_api, redis_client):
    """Opted out, a person's texts get no answer; they are still at Twilio, and SALIR deletes them too."""
    client = deleting_app.test_client()
    say(client, "hola")
    say(client, "PARAR")
    quiet = inbound("me estan vigilando", sender=PHONE)
    assert messages(say(client, "me estan vigilando", form=quiet).data) == []
    assert redis_client.sismember(key("sids", prefix=PREFIX), quiet["MessageSid"])
    say(client, "SALIR")
    wait_until(lambda: quiet["MessageSid"] in twilio_api.deleted, timeout=15)


LINE = "+15559990000"  # the helpline's number, as tests.helpers.inbound texts it


def copies_job(app):
    return [job for job in app.extensions["background"].jobs if type(job).__name__ == "TwilioCopies"][0]


def test_quick_exit_finds_in_twilios_log_the_messages_whose_sids_never_reached_the_bot(deleting_app, twilio_api,
                                                                                     redis_client):
    """Without a Messaging Service, of a reply of several only the last reports its
    sid; a text answered with the fail-safe is never stored. Twilio's log has them
    all: a quick exit lists the messages between the person and the line there,
    page after page, and deletes them too; nobody else's."""
    client = deleting_app.test_client()
    unreported = []
    for body in ("hola", SAID[0]):
        form = inbound(body, sender=PHONE)
        twilio_api.logged(form["MessageSid"], PHONE, LINE)
        resp = say(client, body, form=form)
        sent = [new_sid() for _ in actions(resp)]
        for sid in sent:
            twilio_api.logged(sid, LINE, PHONE)
        unreported += sent[:-1]
        status_callback(client, actions(resp)[-1], sent[-1], PHONE)  # only the last one's action reports
    assert unreported, "a reply of several messages, whose earlier sids never reached the bot"
    during_outage = new_sid()  # a text Twilio took while the bot answered with the fail-safe
    twilio_api.logged(during_outage, PHONE, LINE)
    others = [new_sid(), new_sid(), new_sid()]
    twilio_api.logged(others[0], LINE, OTHER)  # someone else's conversation
    twilio_api.logged(others[1], "+15554440000", PHONE)  # another number of the account, to the same phone
    twilio_api.logged(others[2], OTHER, LINE)

    say(client, "SALIR")
    wait_until(lambda: set(twilio_api.deleted) >= {*unreported, during_outage}, timeout=15)
    wait_until(deleting_app.extensions["background"].idle, timeout=15)
    assert twilio_api.listed == [{"To": PHONE, "From": LINE}, {"To": LINE, "From": PHONE}]
    assert not set(others) & set(twilio_api.deleted), "only this person's messages with the line"
    assert not [k for k in redis_client.scan_iter(count=1000) if contact_id("test-secret", PHONE) in k]


def held_from(roots, needle: str, depth: int = 8) -> list[str]:
    """Strings containing ``needle`` reachable from ``roots`` (what they keep alive, as the garbage collector sees it)."""
    import gc

    seen, found, todo = set(), [], [(root, 0) for root in roots]
    while todo:
        obj, level = todo.pop()
        if id(obj) in seen or level > depth:
            continue
        seen.add(id(obj))
        if isinstance(obj, (str, bytes)):
            if needle in (obj if isinstance(obj, str) else obj.decode("latin-1")):
                found.append(obj[:80])
            continue
        todo += [(o, level + 1) for o in gc.get_referents(obj) if not isinstance(o, type)]
    return found


def test_after_the_sweep_no_twilio_client_and_no_url_cache_holds_the_number(deleting_app, twilio_api):
    """Found by probing the privacy promise: the twilio library's HTTP client keeps its last
    request and response (the listing's number, a reply's number and text) until the next
    one, and the standard library keeps the last URLs it split (``?To=+1…``)."""
    from urllib.parse import urlsplit

    client = deleting_app.test_client()
    say(client, "hola")
    twilio_api.logged(new_sid(), LINE, PHONE)
    say(client, "SALIR")
    wait_until(lambda: len(twilio_api.listed) == 2, timeout=15)
    wait_until(deleting_app.extensions["background"].idle, timeout=15)
    sender = copies_job(deleting_app).sender
    assert held_from([sender.client(), urlsplit], PHONE.lstrip("+")) == []


def test_a_sweep_twilio_could_not_answer_is_tried_again(deleting_app, twilio_api):
    copies = copies_job(deleting_app)
    copies.UNREACHABLE = 0.2
    client = deleting_app.test_client()
    resp = say(client, "hola")
    earlier = new_sid()
    twilio_api.logged(earlier, LINE, PHONE)
    assert len(actions(resp)) > 1
    twilio_api.fail_listing = 2
    say(client, "SALIR")
    wait_until(lambda: earlier in twilio_api.deleted, timeout=15)
    assert len(twilio_api.listed) == 4, "refused twice (503), then both ways listed"


def test_a_sweep_gives_up_after_its_tries_and_holds_the_number_no_longer(deleting_app, twilio_api, caplog):
    copies = copies_job(deleting_app)
    copies.UNREACHABLE = 0.05
    client = deleting_app.test_client()
    say(client, "hola")
    earlier = new_sid()
    twilio_api.logged(earlier, LINE, PHONE)
    twilio_api.fail_listing = 1000
    say(client, "SALIR")
    wait_until(deleting_app.extensions["background"].idle, timeout=15)  # nothing left: the sweep was dropped
    assert len(twilio_api.listed) == copies.SWEEP_TRIES and earlier not in twilio_api.deleted
    assert "gave up listing" in caplog.text and PHONE[-7:] not in caplog.text


def test_a_call_that_is_over_is_deleted_from_twilios_call_log(deleting_app, twilio_api, redis_client):
    """Twilio's call log keeps the caller's number: hanging up deletes the call
    there, as a quick exit deletes a chat's messages (only the CallSid is queued)."""
    call = Call(deleting_app)
    start_in(call, "es")
    sid = call.form["CallSid"]
    assert sid not in twilio_api.deleted, "never while the call goes on"
    call.hang_up()
    wait_until(lambda: twilio_api.deleted_from.get(sid) == "Calls" and not redis_client.exists("erase:{erase:events}:purge"),
               timeout=15)
    assert call.form["From"].lstrip("+") not in " ".join(str(k) for k in redis_client.scan_iter(count=1000))


def test_the_call_a_caller_is_put_through_to_is_deleted_from_twilios_call_log_too(deleting_app, twilio_api):
    """The hotline call we place for a caller has its own record in Twilio's call log: deleted once it is over."""
    call = Call(deleting_app)
    start_in(call, "en")
    call.press("0")  # a person: nobody on duty, the hotline offered
    assert call.press("1")[-1].startswith("<dial ")
    put_through = "CA" + "7" * 32
    call.dialed("completed", put_through=put_through)
    wait_until(lambda: twilio_api.deleted_from.get(put_through) == "Calls", timeout=15)
    call.hang_up()
    wait_until(lambda: twilio_api.deleted_from.get(call.form["CallSid"]) == "Calls", timeout=15)


def test_without_twilio_credentials_no_sids_are_kept(client, redis_client):
    say(client, "hola")
    assert not redis_client.exists(key("sids"))


# --- the events stream -------------------------------------------------------------------


def conv_of(r, phone: str = PHONE) -> str:
    return stored_session(r, key("session", phone))["conv"]


def turns_of(r, conv: str) -> list[dict]:
    return [e for e in stream_events(r) if e.get("conv") == conv]


def test_quick_exit_drops_the_conversations_turns_from_the_events_stream_once_counted(app, client, redis_client):
    """Each turn's entry holds no number and no words, but under the
    conversation's id they are its path through the flows: after SALIR they
    go, and the day's figures still count the conversation and its exit."""
    for sender in (PHONE, OTHER):
        say(client, "hola", sender)
        say(client, "1", sender)
        say(client, "no me pagan", sender)
    erased, kept = conv_of(redis_client), conv_of(redis_client, OTHER)
    assert len(turns_of(redis_client, erased)) >= 3

    assert messages(say(client, "SALIR").data) == [ERASED_ES]
    wait_until(app.extensions["background"].idle, timeout=15)

    assert turns_of(redis_client, erased) == []
    assert len(turns_of(redis_client, kept)) >= 3, "the person who did not quit keeps their turns"
    assert not redis_client.exists("hl:{hl:events}:erased"), "nothing left queued"
    figures = app.extensions["ops"].figures
    figures.catch_up()
    today = figures.read(figures.today(), figures.today())
    assert today.total["conv"] == 2 and today.total["exit"] == 1
    assert sum(v for k, v in today.total.items() if k.startswith("left|exit|")) == 1
    assert redis_client.hget("hl:{stats}:pos", erased) is None, "the figures follow it no longer"


def test_turns_the_figures_have_not_counted_stay_until_they_are(app, client, redis_client):
    from bot.erasure import StreamEntries
    from bot.figures import Figures

    class Behind(Figures):
        """Figures that cannot count now (say, a long backlog still being counted)."""

        def catch_up(self, max_batches: int = 50) -> int:
            return 0

    stores = app.extensions["stores"]
    app.extensions["background"].stop()  # this test runs the job itself
    say(client, "hola")
    say(client, "1")
    conv = conv_of(redis_client)
    say(client, "SALIR")
    queued = stores.sessions.erased_trails
    assert queued.next_due() is not None

    behind = StreamEntries(queued, stores.events, Behind(stores.figures), after_drop=lambda: None)
    assert behind() is not None, "still queued, for later"
    assert len(turns_of(redis_client, conv)) >= 3, "not counted yet: kept"
    redis_client.zadd("hl:{hl:events}:erased", {m: 0 for m in redis_client.zrange("hl:{hl:events}:erased", 0, -1)})

    dropped = []
    job = StreamEntries(queued, stores.events, app.extensions["ops"].figures, after_drop=lambda: dropped.append(1))
    assert job() is None, "nothing left to do"
    assert turns_of(redis_client, conv) == [] and dropped == [1], "counted, then dropped; the disk rewrite asked for"
    figures = app.extensions["ops"].figures
    assert figures.read(figures.today(), figures.today()).total["exit"] == 1


def test_the_erase_queues_its_turns_in_the_same_write(app, client, redis_client):
    """Queued by the commit script that erases, not by a second command a crash could lose."""
    app.extensions["background"].stop()
    say(client, "hola")
    conv = conv_of(redis_client)
    started = float(stored_session(redis_client, key("session"))["t0"])
    say(client, "SALIR")
    queued = [m.split() for m in redis_client.zrange("hl:{hl:events}:erased", 0, -1)]
    assert [(c, round(float(t), 3)) for c, t in queued] == [(conv, round(started, 3))]


def test_a_host_clock_ahead_of_redis_still_finds_the_turns(app, client, redis_client):
    """The stream is read from the conversation's start by this host's clock, less
    five minutes; with the clock further ahead than that, the whole stream is read."""
    helpline = app.extensions["helpline"]
    helpline.clock = lambda: time.time() + 3600
    say(client, "hola")
    say(client, "1")
    conv = conv_of(redis_client)
    say(client, "SALIR")
    wait_until(app.extensions["background"].idle, timeout=15)
    assert turns_of(redis_client, conv) == []


@pytest.mark.parametrize("item", ["a inf", "b nan", "c", "d -5", " ", "e 1e300"])
def test_a_queued_item_that_is_not_a_conversation_and_a_time_is_read_and_let_go(app, redis_client, item):
    from bot.erasure import StreamEntries

    stores = app.extensions["stores"]
    app.extensions["background"].stop()
    redis_client.zadd("hl:{hl:events}:erased", {item: 0})
    job = StreamEntries(stores.sessions.erased_trails, stores.events, app.extensions["ops"].figures,
                        after_drop=lambda: None)
    assert job() is None
    assert not redis_client.exists("hl:{hl:events}:erased")

