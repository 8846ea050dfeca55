"""The Redis store against a real server: keys, TTLs, the per-contact lock,
de-duplication, opt-out and quick exit.

Concurrency is tested with real threads, each with its own Flask test client,
released together by a barrier; the checks are chosen so that any lost update
shows, whatever order the lock hands the turns out in.
"""
from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from redis.crc import key_slot

from bot.channels.twilio import FAILSAFE_REPLIES
from bot.helpline import contact_id
from bot.store import LockLost, LockTimeout, SessionStore
from tests.helpers import inbound, messages, option, post_signed, store_session, stored_session, stream_events

PHONE = "+15557654321"
DIGITS = PHONE.lstrip("+")
HELP_FIRST_LINE = "Reply with the number of an option."
REPROMPT = "Sorry, I did not understand. Reply with a number:"
NUMBERS = option("numbers")  # main menu -> "What kind of help do you need?"
PERSON = option("help.person")  # main menu -> talk to a person
CONTROLLED = option("numbers.exploitation", "numbers.by_need")  # "Someone controls me or my pay"


def cid_of(phone: str = PHONE) -> str:
    return contact_id("test-secret", phone)


def key(what: str, phone: str = PHONE) -> str:
    return f"hl:{{{cid_of(phone)}}}:{what}"


def text(client, body: str, sender: str = PHONE, **extra) -> list[str]:
    resp = post_signed(client, "/twilio/messages", inbound(body, sender=sender, **extra))
    assert resp.status_code == 200
    return messages(resp.data)


def contact_keys(r, phone: str = PHONE) -> set[str]:
    cid = cid_of(phone)
    return {k for k in r.scan_iter(count=1000) if cid in k}


def all_at_once(app, forms: list[dict]):
    """POST every form at the same moment, each from its own thread and test client."""
    barrier = threading.Barrier(len(forms))

    def one(form):
        client = app.test_client()
        barrier.wait()
        return post_signed(client, "/twilio/messages", form)

    with ThreadPoolExecutor(len(forms)) as pool:
        return list(pool.map(one, forms))


# --- keys ---------------------------------------------------------------------------


def test_keys_are_hash_tagged_per_contact_and_never_name_the_number(client, redis_client):
    redis_client.set("hl:duty", "1")  # an operator is on duty: the hand-off is taken
    forms = [inbound(body, sender=PHONE) for body in ("hi", PERSON, "my boss keeps my passport")]
    for form in forms:
        post_signed(client, "/twilio/messages", form)
    assert key("handoff") in contact_keys(redis_client)  # hash-tagged too
    assert redis_client.zrange("hl:{hl:events}:live:handoff", 0, -1) == [cid_of()]
    text(client, "STOP")  # leaving the hand-off drops what was said in it

    cid = cid_of()
    assert re.fullmatch(r"[0-9a-f]{20}", cid) and cid != cid_of("+15557654322")
    mine = contact_keys(redis_client)
    assert mine == {
        f"hl:{{{cid}}}:session",
        f"hl:{{{cid}}}:answers",
        f"hl:optout:{{{cid}}}",
    }
    assert len({key_slot(k.encode()) for k in mine}) == 1  # one Redis Cluster slot
    everything = set(redis_client.scan_iter(count=1000))
    marks = {k for k in everything if k.startswith("hl:{hl:events}:seen:")}
    assert everything - mine - marks == {"hl:events", "hl:duty", "hl:{hl:events}:live"}
    assert not [k for k in everything if DIGITS in k or DIGITS[-7:] in k]
    # The seen marks: one per text, named by neither the MessageSid nor the contact, holding nothing.
    assert len(marks) == 4
    for mark in marks:
        assert not any(form["MessageSid"] in mark or form["MessageSid"][-12:] in mark for form in forms)
        assert cid not in mark
        assert redis_client.get(mark) == "1" and 0 < redis_client.ttl(mark) <= 86400
    # The live index names the contact, as its keys do, with the time of the last save.
    assert [cid] == redis_client.zrange("hl:{hl:events}:live", 0, -1)
    assert redis_client.zcard("hl:{hl:events}:live:handoff") == 0, "no longer in a hand-off"


def test_the_helplines_contact_ids_are_contact_id(app):
    helpline = app.extensions["helpline"]
    for address in (PHONE, "whatsapp:+5215550001111", "+15550001111", "ñ"):
        assert helpline.cid(address) == contact_id("test-secret", address)
    assert helpline.cid(PHONE) == helpline.cid(PHONE)  # the kept HMAC state is copied, never fed


def test_the_session_expires_after_session_ttl(make_app, redis_client):
    for ttl in (86400, 600):
        redis_client.flushdb()
        client = make_app(SESSION_TTL=ttl).test_client()
        text(client, "hola")
        assert ttl - 5 <= redis_client.ttl(key("session")) <= ttl
        text(client, "1")  # every turn starts the clock again
        assert ttl - 5 <= redis_client.ttl(key("session")) <= ttl


@pytest.mark.parametrize("window", [3600, 120])
def test_a_retry_answer_lives_the_retry_window(window, make_app, redis_client):
    client = make_app(RETRY_WINDOW=window).test_client()
    form = inbound("hola", sender=PHONE)
    resp = post_signed(client, "/twilio/messages", form)
    assert window - 5 <= redis_client.ttl(key("answers")) <= window
    assert redis_client.hget(key("answers"), form["MessageSid"]) is not None
    assert post_signed(client, "/twilio/messages", form).data == resp.data


def test_the_answers_kept_for_retries_are_capped(client, redis_client):
    """Past ANSWERS_KEPT answers the older ones go at once, the newest stays,
    and the next retries are still answered from the record."""
    from bot.store.sessions import ANSWERS_KEPT

    forms = [inbound("qwerty", sender=PHONE) for _ in range(ANSWERS_KEPT + 5)]
    responses = [post_signed(client, "/twilio/messages", form) for form in forms]
    kept = redis_client.hkeys(key("answers"))
    assert sorted(kept) == sorted(f["MessageSid"] for f in forms[ANSWERS_KEPT:])
    assert redis_client.ttl(key("answers")) > 0
    for form, resp in zip(forms[-3:], responses[-3:]):
        assert post_signed(client, "/twilio/messages", form).data == resp.data
    assert redis_client.hlen(key("answers")) == 5, "a retry is not a new answer"


# --- the lock -----------------------------------------------------------------------


def test_a_second_claim_waits_for_the_first_and_sees_its_update(app, redis_client):
    store = app.extensions["store"]
    cid = cid_of()

    first = store.open_turn(cid, "SM1", wait=0)
    with pytest.raises(LockTimeout):
        store.open_turn(cid, "SM2", wait=0.2)
    store.commit(first, action="save", fields={"v": "3", "cid": cid, "node": "one"}, replies=["one"])

    second = store.open_turn(cid, "SM2", wait=0.2)
    assert second.fields["node"] == "one"
    assert store.open_turn(cid, "SM1", wait=0).duplicate == ["one"]  # a retry never needs the lock
    store.release(second)
    assert not redis_client.exists(key("lock"))


def test_a_save_writes_the_whole_session_as_one_value(app, redis_client):
    store = app.extensions["store"]
    cid = cid_of()
    before = {"v": "3", "cid": cid, "node": "one", "h": ["main.menu"], "f": {"debt": "y"}, "miss": "0"}
    store.commit(store.open_turn(cid, "SM1", wait=0), action="save", fields=before, replies=[])
    assert redis_client.type(key("session")) == "string"
    assert stored_session(redis_client, key("session")) == before

    claim = store.open_turn(cid, "SM2", wait=0)
    assert claim.fields == before
    after = {"v": "3", "cid": cid, "node": "two", "h": ["main.menu", "screening.safe"], "f": {}, "miss": "0"}
    store.commit(claim, action="save", fields=after, replies=[])
    assert stored_session(redis_client, key("session")) == after
    assert 86400 - 5 <= redis_client.ttl(key("session")) <= 86400


@pytest.mark.parametrize("protocol", [2, 3])
def test_the_claim_reads_the_session_over_either_protocol(protocol, app, redis_client, redis_url):
    """The session comes back from the claim script whichever protocol the client speaks."""
    if app.extensions["store"].cluster:
        pytest.skip("a plain client here: the cluster's own client is tested by every other test")
    store = SessionStore(redis.Redis.from_url(redis_url, protocol=protocol))
    cid = cid_of()
    fields = {"v": "3", "cid": cid, "node": "one", "h": ["main.menu"], "addr": "+15550001111 ñ"}
    store.commit(store.open_turn(cid, "SM1", wait=0), action="save", fields=fields, replies=["one"])

    claim = store.open_turn(cid, "SM2", wait=0)
    assert claim.fields == fields
    store.release(claim)
    assert store.open_turn(cid, "SM1", wait=0).duplicate == ["one"]


def test_a_byte_that_is_not_utf8_in_the_session_reads_as_a_replacement(app, redis_client, redis_url):
    store = app.extensions["store"]
    cid = cid_of()
    redis_client.set(key("session"), b'{"v":"3","cid":"' + cid.encode() + b'","lang":"e\xc3","node":"one"}')
    claim = store.open_turn(cid, "SM1", wait=0)
    assert claim.fields == {"v": "3", "cid": cid, "lang": "e\ufffd", "node": "one"}
    store.commit(claim, action="save", fields={**claim.fields, "lang": "es"}, replies=[])
    assert stored_session(redis_client, key("session"))["lang"] == "es"


@pytest.mark.parametrize("damage", ["list", "hash"])
def test_a_session_key_of_another_type_is_dropped_under_the_lock(damage, app, redis_client):
    """A list, or a hash (sessions were hashes, "schema 2", for twelve hours
    before any release: no deployment has one): damage, and the person starts afresh."""
    store = app.extensions["store"]
    cid = cid_of()
    if damage == "list":
        redis_client.rpush(key("session"), "not", "a session")
    else:
        redis_client.hset(key("session"), mapping={"v": "2", "cid": cid, "st": "in_flow", "node": "menu"})
    assert store.load(cid) is None
    claim = store.open_turn(cid, "SM1", wait=0)
    assert claim.fields is None and claim.token
    assert not redis_client.exists(key("session"))
    store.commit(claim, action="save", fields={"v": "3", "cid": cid, "node": "one"}, replies=[])
    assert stored_session(redis_client, key("session")) == {"v": "3", "cid": cid, "node": "one"}


@pytest.mark.parametrize("damage", ["not json", "[1, 2]", '"a string"'])
def test_a_session_that_is_not_a_json_object_reads_as_unreadable(damage, app, redis_client):
    """{}: not no session (None), so the service logs it and starts afresh."""
    store = app.extensions["store"]
    cid = cid_of()
    redis_client.set(key("session"), damage)
    claim = store.open_turn(cid, "SM1", wait=0)
    assert claim.fields == {} and claim.token
    store.commit(claim, action="save", fields={"v": "3", "cid": cid, "node": "one"}, replies=[])
    assert stored_session(redis_client, key("session")) == {"v": "3", "cid": cid, "node": "one"}


def test_a_save_without_a_loaded_session_replaces_whatever_is_there(app, redis_client):
    store = app.extensions["store"]
    cid = cid_of()
    claim = store.open_turn(cid, "SM1", wait=0)
    store_session(redis_client, key("session"), {"stray": "x"})  # not loaded by the claim: not the turn's
    store.commit(claim, action="save", fields={"v": "3", "cid": cid, "node": "one"}, replies=[])
    assert stored_session(redis_client, key("session")) == {"v": "3", "cid": cid, "node": "one"}


def test_a_turn_whose_lock_expired_writes_nothing(app, redis_client):
    store = app.extensions["store"]
    claim = store.open_turn(cid_of(), "SM1", wait=0)
    redis_client.delete(key("lock"))  # as if the turn outlived LOCK_MS

    with pytest.raises(LockLost):
        store.commit(claim, action="save", fields={"v": "1", "cid": claim.cid}, replies=["x"])
    assert contact_keys(redis_client) == set()


def test_a_wait_whose_count_ran_out_leaves_no_key_of_the_contact(app, redis_client):
    """A text that waits out the lock of a turn that died (a crashed worker, a
    hung Redis) may outlive its waiters count. Before, giving up its place
    made the count again at -1, with no expiry: a key of the contact's that
    their quick exit never erased, kept in every rewrite of the AOF."""
    store = app.extensions["store"]
    redis_client.set(key("lock"), "dead-turn:1", px=1500)
    opened = []
    waiting = threading.Thread(target=lambda: opened.append(store.open_turn(cid_of(), None, wait=5)))
    waiting.start()
    from tests.servers import wait_until

    wait_until(lambda: redis_client.exists(key("waiters")), timeout=2)
    redis_client.delete(key("waiters"))  # as when it expires while the text waits
    waiting.join(5)
    store.release(opened[0])
    assert contact_keys(redis_client) == set()


def test_a_wrap_up_note_is_not_written_once_the_lock_has_run_out(app, redis_client):
    # Meanwhile a SALIR may have taken the lock and erased the chat: the note must not come after it.
    store = app.extensions["store"]
    claim = store.open_turn(cid_of(), None, wait=0)
    store.notes.write(claim, {"by": "rita", "text": "while the lock holds"})
    assert store.notes.read(claim.cid)["text"] == "while the lock holds"
    store.notes.erase(claim.cid)
    redis_client.delete(key("lock"))  # as if the responder's action outlived LOCK_MS
    with pytest.raises(LockLost):
        store.notes.write(claim, {"by": "rita", "text": "too late"})
    assert contact_keys(redis_client) == set()


def test_twenty_texts_at_once_are_all_processed_exactly_once(app, redis_client):
    """20 unrecognised replies at the main menu, all at the same moment.

    Each turn adds one to ``misses`` (every third miss shows the help text
    and resets it). If two turns ever read the same session, the later save
    drops the other's miss: with k lost updates the help is shown
    (20 - k) // 3 times and ``misses`` ends at (20 - k) % 3, and only k = 0
    gives 6 and 2. Every turn also leaves one ``missed`` event and its answer.
    """
    client = app.test_client()
    text(client, "hi")
    forms = [inbound(f"qwerty {i}", sender=PHONE) for i in range(20)]

    responses = all_at_once(app, forms)

    replies = [messages(r.data) for r in responses]
    assert all(r.status_code == 200 for r in responses)
    assert not [m for m in replies if tuple(m) == FAILSAFE_REPLIES]
    helps = [m for m in replies if m[0].startswith(HELP_FIRST_LINE)]
    reprompts = [m for m in replies if m[0].startswith(REPROMPT)]
    assert (len(helps), len(reprompts)) == (6, 14)
    session = stored_session(redis_client, key("session"))
    assert session["miss"] == "2"
    assert set(redis_client.hkeys(key("answers"))) >= {f["MessageSid"] for f in forms}
    kinds = [e["kind"] for e in stream_events(redis_client)]
    assert kinds.count("missed") == 20
    assert not redis_client.exists(key("lock"))


def test_the_same_message_sid_at_once_advances_once(app, redis_client):
    client = app.test_client()
    text(client, "hi")
    pick = inbound(NUMBERS, sender=PHONE)  # main menu -> numbers

    responses = all_at_once(app, [pick] * 10)

    assert {r.status_code for r in responses} == {200}
    assert len({r.data for r in responses}) == 1, "every copy gets the same TwiML"
    assert messages(responses[0].data)[0].startswith("What kind of help do you need?")
    session = stored_session(redis_client, key("session"))
    assert (session["flow"], session["node"]) == ("numbers", "by_need")
    assert redis_client.hkeys(key("answers")).count(pick["MessageSid"]) == 1
    visits = [e for e in stream_events(redis_client) if e.get("node") == "by_need"]
    assert len(visits) == 1


def test_the_lock_is_released_when_a_turn_raises(make_app, redis_client):
    # With a short LOCK_WAIT, a lock left behind would turn the next text into
    # a LockTimeout, i.e. the fail-safe reply, instead of the greeting.
    app = make_app(LOCK_WAIT=0.5)
    helpline = app.extensions["helpline"]
    good_flows = helpline.flows

    def exploding_flows():
        raise RuntimeError("the flows blew up")

    helpline.flows = exploding_flows
    failed = inbound("hola", sender=PHONE)
    resp = post_signed(app.test_client(), "/twilio/messages", failed)
    assert tuple(messages(resp.data)) == FAILSAFE_REPLIES
    assert not redis_client.exists(key("lock"))
    assert contact_keys(redis_client) == set(), "a failed turn stores nothing, not even its reply"

    helpline.flows = good_flows
    assert text(app.test_client(), "hola")[0].startswith("Hola.")
    # Twilio's retry of the failed message is processed, not answered from a record.
    again = post_signed(app.test_client(), "/twilio/messages", failed)
    assert tuple(messages(again.data)) != FAILSAFE_REPLIES


def test_a_connection_redis_closed_between_texts_is_opened_again(client, redis_client):
    """A thread keeps its connection for the turn's scripts from one text to the
    next. When Redis drops it (a restart, a proxy's idle timeout, CLIENT KILL)
    the next text reconnects and is answered as if nothing happened, its
    answer kept once."""
    if client.application.extensions["store"].cluster:
        pytest.skip("one Redis: a cluster client routes each command itself")
    control = "+15550002222"  # the same two texts, with no connection dropped
    text(client, "hola", sender=control)
    expected = text(client, NUMBERS, sender=control)

    assert text(client, "hola")[0].startswith("Hola.")
    me, db = redis_client.client_id(), redis_client.connection_pool.connection_kwargs.get("db", 0)
    theirs = [c["id"] for c in redis_client.client_list() if int(c["db"]) == db and int(c["id"]) != me]
    assert theirs, "the app's connections are open"
    for conn_id in theirs:  # this database's clients: the app's, none of another test database's
        redis_client.client_kill_filter(_id=conn_id)
    form = inbound(NUMBERS, sender=PHONE)
    resp = post_signed(client, "/twilio/messages", form)
    assert resp.status_code == 200
    assert messages(resp.data) == expected
    assert redis_client.hkeys(key("answers")).count(form["MessageSid"]) == 1
    assert not redis_client.exists(key("lock"))


# --- opt-out --------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["deleted", "expired"])
def test_the_opt_out_outlives_the_session(how, client, redis_client):
    sender = "whatsapp:" + PHONE  # on WhatsApp the bot itself confirms STOP
    text(client, "hola", sender)
    assert text(client, "PARAR", sender) == ["No recibirá más mensajes de este número. Escriba ALTA para volver a empezar. En peligro, llame usted al 911. Línea 24/7: 1-888-373-7888. Celular mexicano: 800 5533 000."]
    optout = f"hl:optout:{{{cid_of(sender)}}}"
    assert redis_client.ttl(optout) == -1  # exists, no TTL
    session = key("session", sender)
    assert redis_client.ttl(session) > 0

    if how == "deleted":
        redis_client.delete(session)
    else:
        redis_client.pexpire(session, 1)
        time.sleep(0.05)
    assert not redis_client.exists(session)

    for body in ("hola", "1", "AYUDA", "911"):
        assert text(client, body, sender) == [], body
    assert redis_client.exists(optout)

    back = text(client, "ALTA", sender)
    assert f"{option('welcome.language')}. Español / English" in back[-1]  # the main menu (its language is the engine's guess)
    assert not redis_client.exists(optout)
    assert "7. " in text(client, NUMBERS, sender)[0]  # and the conversation goes on: numbers by need


# --- quick exit -------------------------------------------------------------------------


def test_quick_exit_leaves_nothing_of_the_person(client, redis_client):
    redis_client.set("hl:duty", "1")
    text(client, "hola")
    text(client, NUMBERS)
    text(client, CONTROLLED)  # numbers for someone who is controlled
    text(client, "menu")
    text(client, PERSON)  # hand-off to a person
    for i in range(25):  # more texts than answers are kept for retries
        text(client, f"mi patrón tiene mi pasaporte {i}")
    assert redis_client.llen(key("handoff")) == 1 + 25  # when they asked (the queue's wait), then their texts
    assert redis_client.hlen(key("answers")) > 1
    assert contact_keys(redis_client) == {key("session"), key("handoff"), key("answers")}

    salir = inbound("SALIR", sender=PHONE)
    resp = post_signed(client, "/twilio/messages", salir)

    assert messages(resp.data) == ["Listo. Chat cerrado."]
    # Nothing under the contact's hash tag, not even the answer to this message,
    # and the contact is out of the live index.
    assert contact_keys(redis_client) == set()
    assert redis_client.zscore("hl:{hl:events}:live", cid_of()) is None
    assert redis_client.zscore("hl:{hl:events}:live:handoff", cid_of()) is None
    # Twilio's retry of SALIR is known by its seen mark and gets the same line.
    assert post_signed(client, "/twilio/messages", salir).data == resp.data
    assert contact_keys(redis_client) == set()
    # The next text is a stranger's first.
    assert text(client, "hello")[0].startswith("Hello. This is a confidential information line")


def test_a_captured_request_replayed_after_quick_exit_brings_nothing_back(client, redis_client):
    """Signed requests can be captured and sent again. After SALIR, none of
    them may bring the conversation back, nor store the number again."""
    redis_client.set("hl:duty", "1")
    captured = [inbound(body, sender=PHONE) for body in ("hola", PERSON, "mi jefe tiene mi pasaporte")]
    for form in captured:
        post_signed(client, "/twilio/messages", form)
    assert stored_session(redis_client, key("session"))["st"] == "handed_off"
    salir = inbound("SALIR", sender=PHONE)
    assert messages(post_signed(client, "/twilio/messages", salir).data) == ["Listo. Chat cerrado."]

    for form in captured:
        resp = post_signed(client, "/twilio/messages", form)
        assert resp.status_code == 200
        assert messages(resp.data) == [], form["Body"]
    assert messages(post_signed(client, "/twilio/messages", salir).data) == ["Listo. Chat cerrado."]

    assert contact_keys(redis_client) == set()
    assert redis_client.zscore("hl:{hl:events}:live", cid_of()) is None
    assert not [k for k in redis_client.scan_iter(count=1000)
                for where, value in [(k, redis_client.dump(k) or b"")] if DIGITS.encode() in value]
    # The number's next text is a stranger's first.
    assert text(client, "hola")[0].startswith("Hola. Esta es una línea de información confidencial.")


@pytest.mark.parametrize("before,answer", [
    ("hello", ["Done. Chat closed."]),  # an English conversation: its line, whatever word they typed
    ("PARAR", []),  # opted out: silence, for the retry too
])
def test_twilios_retry_of_a_quick_exit_gets_the_same_twiml(before, answer, client, redis_client):
    text(client, before, sender="whatsapp:" + PHONE)
    salir = inbound("SALIR", sender="whatsapp:" + PHONE)
    first = post_signed(client, "/twilio/messages", salir)
    assert messages(first.data) == answer

    assert post_signed(client, "/twilio/messages", salir).data == first.data
    marks = [k for k in redis_client.scan_iter("hl:{hl:events}:seen:*")]
    assert sorted(redis_client.get(k) for k in marks) == sorted(["1", "en" if answer else "0"])


def test_a_request_replayed_after_its_answer_expired_changes_nothing(client, redis_client):
    """Past the retry window the kept answer is gone; the seen mark (a day) still
    knows the MessageSid: the replay is answered with nothing and moves nothing."""
    text(client, "hi")
    numbers = inbound(NUMBERS, sender=PHONE)
    post_signed(client, "/twilio/messages", numbers)
    text(client, "menu")
    before = stored_session(redis_client, key("session"))
    redis_client.delete(key("answers"))  # as when RETRY_WINDOW has passed

    resp = post_signed(client, "/twilio/messages", numbers)

    assert resp.status_code == 200 and messages(resp.data) == []
    assert stored_session(redis_client, key("session")) == before, "still at the main menu"
    assert not redis_client.exists(key("lock"))


def test_what_was_said_in_a_hand_off_goes_when_the_person_leaves_it(client, redis_client):
    redis_client.set("hl:duty", "1")
    text(client, "hi")
    text(client, PERSON)  # hand-off to a person
    text(client, "my boss keeps my passport")
    assert redis_client.llen(key("handoff")) == 2  # when they asked, and their text
    text(client, "MENU")  # the person goes back to the bot themselves
    assert not redis_client.exists(key("handoff"))
    assert stored_session(redis_client, key("session"))["st"] == "in_flow"


def test_turns_from_many_threads_at_once_each_keep_their_own_answer(app, redis_client):
    """Threads sharing the store's client: every turn is saved, and a retry
    of each gets back exactly the answer given to it, never another's."""
    store = app.extensions["store"]
    errors = []

    def turns(n: int) -> None:
        try:
            for i in range(3):
                claim = store.open_turn(cid_of(f"+1555000{n:04d}"), f"SM{n}-{i}", wait=2)
                store.commit(claim, action="save", fields={"v": "3", "cid": claim.cid, "node": f"n{n}-{i}"},
                             replies=[f"answer {n}-{i}"])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=turns, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for n in range(4):
        cid = cid_of(f"+1555000{n:04d}")
        assert store.load(cid)["node"] == f"n{n}-2"
        for i in range(3):
            assert store.open_turn(cid, f"SM{n}-{i}", wait=0).duplicate == [f"answer {n}-{i}"]


def test_a_process_forked_after_texts_talks_to_redis_on_its_own_connection(app):
    """A thread keeps its connection between texts. A child forked after the
    parent's texts must not send on the parent's socket: with both texting at
    once, replies would cross (one side reading the other's session or lock)."""
    import os

    store = app.extensions["store"]

    def texts(phone: str, n: int) -> int:
        done, cid = 0, cid_of(phone)
        for i in range(n):
            opened = store.open_turn(cid, f"SM{phone[-4:]}{i}", wait=2)
            assert opened.fields in (None, {"v": "3", "cid": cid, "n": str(i - 1)})
            store.commit(opened, action="save", fields={"v": "3", "cid": cid, "n": str(i)}, replies=[str(i)])
            done += 1
        return done

    assert texts("+15550007001", 1) == 1  # the parent's thread now keeps a connection
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            os.write(write, str(texts("+15550007002", 200)).encode())
        finally:
            os._exit(0)
    os.close(write)
    mine = texts("+15550007003", 200)
    os.waitpid(child, 0)
    theirs = os.read(read, 100).decode()
    os.close(read)
    assert (mine, theirs) == (200, "200")


def test_a_forked_worker_draws_its_own_lock_tokens(app):
    """Tokens are a per-process random prefix and a counter a forked child
    inherits: the child must draw a new prefix, or two workers could hand out
    the same token and each take the other's lock for its own."""
    import os

    store = app.extensions["store"]
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            claim = store.open_turn(cid_of("+15550009998"), None, wait=1)
            os.write(write, claim.token.encode())
        finally:
            os._exit(0)
    mine = store.open_turn(cid_of("+15550009999"), None, wait=1).token  # the same count as the child's
    os.waitpid(child, 0)
    os.close(write)
    theirs = os.read(read, 100).decode()
    os.close(read)
    assert theirs and mine and theirs != mine
