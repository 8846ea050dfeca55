"""A Redis that answers, but with an error that means it cannot serve now.

Out of memory (``maxmemory`` reached, ``noeviction``), a read-only replica, a
failed save to disk (MISCONF), a script running past its time limit (BUSY):
each on a redis-server of the test's own (``tests.servers.RedisProcess``),
brought to that state by what brings a production Redis there (filled up, made
a replica, its folder gone, a long script), never by a CONFIG SET on a shared
server.

* The console: every page and form answers 200 (reads still served) or 503
  "Storage unavailable" (JSON for the script's routes), never a 500; each 503
  is one warning line in the log, with Redis's code, no traceback, no number
  and no text. Any other error Redis answers (WRONGTYPE) is still a bug.
* Texters get the fail-safe reply (the webhook's behaviour, unchanged).
* ``GET /healthz``: ``{"redis": "cannot write", "redis_error": "OOM: ..."}``
  while Redis refuses writes (a PING alone said "ok"), still 200 (DESIGN.md:
  200 when Redis answers; the webhook's fail-safe still answers), "ok" once it
  takes them.
"""
from __future__ import annotations

import logging
import shutil
import threading

import pytest
import redis

from bot.channels.twilio import FAILSAFE_REPLIES
from tests.fixtures_console import PASSWORD, console_settings, csrf_token, ops_routes, sign_in, text
from tests.servers import RedisProcess, free_port, wait_until

pytestmark = pytest.mark.slow  # a redis-server and an app each

PERSON, OTHER = "+15550001177", "+15550001178"
WORDS, LATER, TRIAL = "hola necesito ayuda", "otra cosa por favor", "una prueba del simulador"
STATIC = ("/ops/static/", "/ops/vendor/")
PATHS = {"<conv>": "c0ffee", "<path:name>": "main.yaml", "<rid>": "1", "<flow_id>": "main",
         "<path:filename>": "mermaid/mermaid.min.js"}


class Refusing:
    """A redis-server of the test's own, and how to make it refuse (and serve again)."""

    def __init__(self, kind: str, folder):
        self.kind = kind
        self.data = folder / "data"
        self.data.mkdir(parents=True)
        config = {
            # Headroom for the app's own keys, then filled up by the test: an idle redis-server uses
            # about 1 MB, so a 1 MB cap would refuse before the app has signed anyone in.
            "full": dict(maxmemory="4mb", maxmemory_policy="noeviction"),
            "cannot save": dict(save="3600 1", stop_writes_on_bgsave_error="yes", dir=str(self.data)),
            "busy": dict(lua_time_limit="50"),
            "read-only": {},
        }[kind]
        self.server = RedisProcess(folder / "redis", **config).start()
        self.client = self.server.client(socket_timeout=5)
        self._script: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def refuse(self) -> str:
        """Bring the server to its refusing state; returns the code it now answers with."""
        if self.kind == "full":
            # Redis checks maxmemory before a command, so one write may take it over: here an 8 MB
            # string (from a SETRANGE of a few bytes), far enough over that nothing the app frees
            # meanwhile brings it back under.
            self.client.setrange("filler", 8 << 20, "x")
            with pytest.raises(redis.exceptions.OutOfMemoryError):
                self.client.set("one more", "x")
            return "OOM"
        if self.kind == "cannot save":
            shutil.rmtree(self.data)  # where the RDB file goes: the next save fails
            self.client.bgsave()
            wait_until(lambda: self.client.info("persistence")["rdb_last_bgsave_status"] == "err",
                       what="the save to fail")
            return "MISCONF"
        if self.kind == "busy":
            def run():  # a script that reads the clock for 60 s (SCRIPT KILL ends it, with an error)
                try:
                    self.server.client(socket_timeout=60).eval(
                        "local t = redis.call('TIME')[1] while redis.call('TIME')[1] - t < 60 do end", 0)
                except redis.RedisError:
                    pass

            self._script = threading.Thread(target=run, daemon=True)
            self._script.start()
            wait_until(lambda: busy(self.server), what="the script to make Redis busy")
            return "BUSY"
        self.client.replicaof("127.0.0.1", free_port())  # a primary that is not there
        return "READONLY"

    def serve_again(self) -> None:
        if self.kind == "full":
            self.client.delete("filler")
        elif self.kind == "cannot save":  # a folder again (Redis's own was deleted under it)
            self.data.mkdir()
            self.client.config_set("dir", str(self.data))  # the test's own server
            self.client.bgsave()
            wait_until(lambda: self.client.info("persistence")["rdb_last_bgsave_status"] == "ok",
                       what="the save to succeed")
        elif self.kind == "busy":
            self.client.script_kill()
            self._script.join(timeout=10)
        else:
            self.client.replicaof("NO", "ONE")

    def stop(self) -> None:
        if self._script is not None and self._script.is_alive():
            try:
                self.client.script_kill()
            except redis.RedisError:
                pass
            self._script.join(timeout=10)
        self.server.kill()


def busy(server) -> bool:
    try:
        server.client(socket_timeout=1).ping()
    except redis.ResponseError as exc:
        return str(exc).startswith("BUSY")
    return False


KINDS = ["full", "cannot save", "busy", "read-only"]


@pytest.fixture(params=KINDS)
def refusing(request, tmp_path):
    server = Refusing(request.param, tmp_path)
    yield server
    server.stop()


@pytest.fixture
def app_on(tmp_path, twilio_api, project):
    """``app_on(url)``: the console's app on that Redis, with an editor (Ed) and the flows copied."""
    from bot import create_app
    from bot.config import TestConfig

    made = []

    def make(url: str):
        app = create_app(TestConfig(url, str(tmp_path / "var"), FLOWS_DIR=str(project / "flows"),
                                    LOCALES_DIR=str(project / "locales"), REDIS_CLUSTER=False,  # one server
                                    **console_settings(twilio_api)))
        app.extensions["ops"].accounts.add("ed", "editor", PASSWORD)
        made.append(app)
        return app

    yield make
    for app in made:  # nothing of the app goes on asking the test's Redis once it is gone
        app.extensions["ops"].watch.stop()
        app.extensions["ops"].watch.join()
        background = app.extensions["background"]
        background.jobs.clear()
        background.wake()
        wait_until(background.idle, what="the app's background work to end")


def pages(app) -> list[str]:
    found = []
    for method, path in ops_routes(app):
        for name, value in PATHS.items():
            path = path.replace(name, value)
        if method == "GET" and not path.startswith(STATIC) and not path.endswith("/events"):
            found.append(path)
    return found


def unavailable(response) -> bool:
    """The console's 503: the page, or the JSON its script reads."""
    if response.status_code != 503:
        return False
    if response.is_json:
        return "cannot use its storage" in response.json["error"]
    return "Storage unavailable" in response.text and "nothing was read or changed" in response.text


# --- the console ---------------------------------------------------------------------------


def test_the_console_says_storage_unavailable_while_redis_refuses(refusing, app_on, caplog):
    app = app_on(refusing.url)
    assert text(app.test_client(), WORDS, sender=PERSON)  # something in the stream, the figures, the list
    ed = app.test_client()
    assert sign_in(ed, "ed").status_code == 302
    token = csrf_token(ed, "/ops/")
    script = {"X-CSRFToken": token, "Accept": "application/json"}
    anonymous = app.test_client()
    login_token = csrf_token(anonymous)

    code = refusing.refuse()
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    # The audit's routes (a 500 each, with a traceback, before), as the browser and the scripts send them.
    # An unhandled error would raise here: the test app propagates it.
    login = anonymous.post("/ops/login", data={"username": "ed", "password": PASSWORD, "csrf_token": login_token})
    assert unavailable(login), (login.status_code, login.text[:300])
    duty = ed.post("/ops/duty", data={"on": "1", "csrf_token": token})
    assert unavailable(duty), (duty.status_code, duty.text[:300])
    sent = ed.post("/ops/simulator/send", data={"body": TRIAL, "csrf_token": token}, headers=script)
    assert unavailable(sent) and sent.is_json, (sent.status_code, sent.text[:300])
    check = ed.post("/ops/flows/file/main.yaml/check", data={"text": "nodes: {}\n"}, headers=script)
    assert unavailable(check) and check.is_json, (check.status_code, check.text[:300])
    for path in ("/ops/figures", "/ops/simulator", "/ops/sessions.json", *pages(app)):
        response = ed.get(path, buffered=True)
        # A page that only reads may still be served (all but BUSY let reads through).
        assert response.status_code in (200, 302, 404) or unavailable(response), (path, response.status_code)
        if code == "BUSY" and path in ("/ops/figures", "/ops/simulator", "/ops/sessions.json"):
            assert unavailable(response), path
        if path.endswith(".json") and response.status_code == 503:
            assert response.is_json, path
    logout = ed.post("/ops/logout", data={"csrf_token": token})
    assert logout.status_code == 302 or unavailable(logout), logout.status_code

    # Each 503 is one warning line: what and where, Redis's code; no traceback, no number, no text.
    said = [r for r in caplog.records if "storage unavailable" in r.getMessage()]
    assert len(said) >= 4
    assert all(r.levelno == logging.WARNING and r.exc_info is None and f"({code})" in r.getMessage() for r in said)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR and "console" in r.name]
    # Texters still get the fail-safe reply with the numbers (the webhook's own rule: any failure).
    assert tuple(text(app.test_client(), LATER, sender=OTHER)) == FAILSAFE_REPLIES

    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert not [secret for secret in (PERSON[2:], OTHER[2:], WORDS, LATER, TRIAL) if secret in logged]


def test_any_other_error_redis_answers_is_still_a_bug(make_console, redis_client):
    """WRONGTYPE (a key of another type where the code expects a sorted set) is not "the store
    cannot serve now": it must show as the bug it is, not hide behind a 503."""
    app = make_console()
    rita = app.test_client()
    sign_in(rita)
    redis_client.set("hl:ops:duty:who", "not a sorted set")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        rita.post("/ops/duty", data={"on": "1", "csrf_token": csrf_token(rita, "/ops/")})


@pytest.mark.parametrize("error, code", [
    # As redis-py 8 raises them from Redis 7's replies: a class of its own, a code in the text,
    # a pipeline's, a command refused inside a script.
    (redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'.", status_code="OOM"),
     "OOM"),
    (redis.ResponseError("MISCONF Redis is configured to save RDB snapshots, but it is currently not able to "
                         "persist on disk."), "MISCONF"),
    (redis.ResponseError("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."),
     "BUSY"),
    (redis.ResponseError("NOREPLICAS Not enough good replicas to write."), "NOREPLICAS"),
    (redis.ResponseError("Command # 1 (ZADD hl:ops:duty:who 1.5 rita) of pipeline caused error: MISCONF Redis is "
                         "configured to save RDB snapshots"), "MISCONF"),
    (redis.ResponseError("Error running script (call to f_7243): @user_script:1: @user_script: 1: -OOM command "
                         "not allowed when used memory > 'maxmemory'."), "OOM"),
    (redis.exceptions.ReadOnlyError("You can't write against a read only replica.", status_code="READONLY"),
     "READONLY"),
    (redis.exceptions.BusyLoadingError("Redis is loading the dataset in memory", status_code="LOADING"), "LOADING"),
    # Bugs: not refusals, whatever words they carry.
    (redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"), None),
    (redis.ResponseError("BUSYKEY Target key name already exists."), None),
    (redis.ResponseError("BUSYGROUP Consumer Group name already exists"), None),
    (redis.ResponseError("Error running script (call to f_ad66): @user_script:1: WRONGTYPE Operation against a key "
                         "holding the wrong kind of value"), None),
    (redis.ResponseError("Command # 1 (SET hl:x -OOM BUSY -MISCONF ) of pipeline caused error: WRONGTYPE Operation"),
     None),
    (redis.exceptions.NoScriptError("No matching script.", status_code="NOSCRIPT"), None),
    (redis.ResponseError("ERR wrong number of arguments for 'set' command"), None),
])
def test_which_errors_mean_the_store_cannot_serve_now(error, code):
    from bot.store.connection import cannot_serve, refusal

    assert refusal(error) == code
    assert cannot_serve(error) is (code is not None)


# --- /healthz -----------------------------------------------------------------------------


def test_healthz_says_when_redis_answers_but_cannot_write(refusing, app_on):
    """Still 200 (Redis answers, and the webhook's fail-safe answers still reach people), with why."""
    app = app_on(refusing.url)
    client = app.test_client()
    version = app.extensions["content"]().version
    healthy = client.get("/healthz")
    assert (healthy.status_code, healthy.json) == (200, {"redis": "ok", "flows": version})

    code = refusing.refuse()
    if code in ("OOM", "READONLY"):
        assert refusing.client.ping(), "a PING alone still says all is well"
    refused = client.get("/healthz")
    assert refused.status_code == 200, refused.json
    assert refused.json["redis"] == "cannot write" and refused.json["flows"] == version
    assert refused.json["redis_error"].startswith(f"{code}: ")

    refusing.serve_again()
    again = client.get("/healthz")
    assert (again.status_code, again.json) == (200, {"redis": "ok", "flows": version})
    # The check's write: one tiny key under KEY_PREFIX, gone within a minute.
    assert 0 < refusing.client.pttl("hl:healthz") <= 60_000


def test_healthz_checks_every_primary_of_a_cluster(redis_cluster, tmp_path, monkeypatch):
    """Each primary holds some people's keys, and may be full on its own."""
    from bot import create_app
    from bot.config import TestConfig

    monkeypatch.setenv("REDIS_CLUSTER", "1")
    app = create_app(TestConfig(redis_cluster.url, str(tmp_path)))
    client = app.test_client()
    assert client.get("/healthz").json["redis"] == "ok"
    full = redis_cluster.nodes[-1].client(decode_responses=True)
    before = full.config_get("maxmemory*")
    full.config_set("maxmemory-policy", "noeviction")  # this run's throwaway cluster, not a shared server
    full.config_set("maxmemory", "1")
    try:
        resp = client.get("/healthz")
        assert (resp.status_code, resp.json["redis"]) == (200, "cannot write")
        assert resp.json["redis_error"].startswith("OOM: ")
    finally:
        full.config_set("maxmemory", before["maxmemory"])
        full.config_set("maxmemory-policy", before["maxmemory-policy"])
    assert client.get("/healthz").json["redis"] == "ok"
    probes = [key for node in redis_cluster.nodes for key in node.client().scan_iter("hl:healthz*")]
    assert len(probes) == len(redis_cluster.nodes), probes  # one on each
