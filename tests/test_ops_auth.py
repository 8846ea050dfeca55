"""The console's door: accounts, signing in, CSRF, slowing down guessing, roles."""
from __future__ import annotations

import subprocess
import sys

import pytest

from bot.web.console.accounts import Throttle
from tests.helpers import REPO, inbound, post_signed
from tests.fixtures_console import PASSWORD, csrf_token, ops_routes, post_form, sign_in

pytestmark = pytest.mark.slow  # most tests here take a second or more: an app each, servers, waits


def test_every_console_route_needs_a_signed_in_operator(console_app):
    client = console_app.test_client()
    routes = ops_routes(console_app)
    assert len(routes) >= 19, routes
    for method, path in routes:
        response = client.open(path, method=method)
        if method == "GET" and not path.endswith((".json", ".csv", "/events", "/queue")):
            assert response.status_code == 302, (method, path)
            assert response.headers["Location"].startswith("/ops/login?next="), (method, path)
        else:
            assert response.status_code == 401, (method, path)


def test_the_login_page_and_the_stylesheet_are_open(console_app):
    client = console_app.test_client()
    page = client.get("/ops/login")
    assert page.status_code == 200
    assert 'name="username"' in page.text and 'name="password"' in page.text
    assert client.get("/ops/static/ops.css").status_code == 200


def test_signing_in_and_out(console_app):
    client = console_app.test_client()
    response = sign_in(client)
    assert response.status_code == 302 and response.headers["Location"] == "/ops/"
    page = client.get("/ops/")
    assert page.status_code == 200 and "rita" in page.text and "Waiting for a person" in page.text
    assert post_form(client, "/ops/logout").status_code == 302
    assert client.get("/ops/").status_code == 302


def test_a_webhook_answer_sets_no_cookie_and_console_forms_need_the_token(console_app):
    """Twilio's webhooks get no session and no cookie; the console's forms
    still need the CSRF token, and signing in and out works."""
    client = console_app.test_client()
    answer = post_signed(client, "/twilio/messages", inbound("hola", sender="+15550001143"))
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    assert sign_in(client).status_code == 302
    assert client.post("/ops/duty", data={"on": "1"}).status_code == 400
    assert post_form(client, "/ops/duty", {"on": "1"}).status_code in (200, 302)
    assert post_form(client, "/ops/logout").status_code == 302


def test_after_signing_in_the_operator_goes_where_they_were_going_but_never_off_site(console_app):
    client = console_app.test_client()
    token = csrf_token(client)
    form = {"username": "rita", "password": PASSWORD, "csrf_token": token}
    assert client.post("/ops/login?next=/ops/figures", data=form).headers["Location"] == "/ops/figures"
    for evil in ("https://evil.example/ops/", "//evil.example/ops/", "/ops/\\evil", "/elsewhere"):
        client = console_app.test_client()
        form["csrf_token"] = csrf_token(client)
        assert client.post("/ops/login", query_string={"next": evil}, data=form).headers["Location"] == "/ops/"


@pytest.mark.parametrize("name, password", [("rita", "wrong password!"), ("nobody", PASSWORD), ("", "")])
def test_a_failed_sign_in_never_says_whether_the_account_exists(console_app, name, password):
    client = console_app.test_client()
    response = sign_in(client, name, password)
    assert response.status_code == 401
    assert "Wrong username or password." in response.text
    assert client.get("/ops/").status_code == 302


def test_csrf_token_is_required_on_every_form(console_app):
    client = console_app.test_client()
    # Signing in without the token is refused even with the right password.
    response = client.post("/ops/login", data={"username": "rita", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/ops/").status_code == 302
    sign_in(client)
    for path, data in [("/ops/duty", {"on": "1"}), ("/ops/logout", {}), ("/ops/simulator/send", {"text": "hola"}),
                       ("/ops/handoff/c0ffee/claim", {}), ("/ops/handoff/c0ffee/reply", {"text": "hi"})]:
        assert client.post(path, data=data).status_code == 400, path
        assert client.post(path, data={**data, "csrf_token": "forged"}).status_code == 400, path
    # Nothing happened: still signed in, not on duty.
    assert client.get("/ops/").status_code == 200
    assert not console_app.extensions["duty"].is_on()


def test_scripts_send_the_token_in_a_header(console_app):
    client = console_app.test_client()
    sign_in(client)
    token = csrf_token(client, "/ops/")
    response = client.post("/ops/duty", data={"on": "1"}, headers={"X-CSRFToken": token})
    assert response.status_code == 302
    assert console_app.extensions["duty"].is_on()


def test_repeated_failed_sign_ins_are_slowed_down_for_that_name(console_app, redis_client):
    client = console_app.test_client()
    for _ in range(3):  # a few typos are free
        assert sign_in(client, "rita", "not it at all").status_code == 401
    fourth = sign_in(client, "rita", "still not it")
    assert fourth.status_code == 401 and "wait" in fourth.text
    # Now even the right password waits: it is not looked at.
    refused = sign_in(client, "rita", PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed sign-ins. Wait" in refused.text
    assert client.get("/ops/").status_code == 302
    # Another operator, from the same place, is not held up by it.
    assert sign_in(console_app.test_client(), "rosa", PASSWORD).status_code == 302
    # The same for a name that does not exist: the answer cannot tell them apart.
    for _ in range(4):
        sign_in(client, "ghost", "guess guess")
    assert sign_in(client, "ghost", "guess guess").status_code == 429


def test_signing_out_ends_the_sign_in_on_the_server_so_a_copied_cookie_is_worthless(console_app):
    """Before: sign-out only cleared the browser's cookie; a copy of it stayed good for 12 hours."""
    browser, thief = console_app.test_client(), console_app.test_client()
    sign_in(browser)
    stolen = browser.get_cookie("session").value
    thief.set_cookie("session", stolen)
    assert thief.get("/ops/").status_code == 200  # a copy works while the sign-in lasts ...
    assert post_form(browser, "/ops/logout").status_code == 302
    assert thief.get("/ops/").status_code == 302  # ... and not after it ends
    assert thief.get("/ops/sessions.json").status_code == 401
    # Signing in again is a new sign-in; the old cookie stays dead.
    sign_in(browser)
    assert browser.get("/ops/").status_code == 200 and thief.get("/ops/").status_code == 302


def test_a_sign_in_is_kept_on_the_server_for_twelve_hours_only(console_app, redis_client):
    client = console_app.test_client()
    sign_in(client)
    [key] = redis_client.scan_iter("hl:ops:signin:*")
    assert redis_client.get(key) == "rita" and 12 * 3600 - 60 < redis_client.ttl(key) <= 12 * 3600
    redis_client.delete(key)  # what its expiry does
    assert client.get("/ops/").status_code == 302


def test_someone_guessing_a_name_cannot_lock_its_owner_out_of_her_own_browser(console_app):
    """Before: one wrong guess every 5 minutes kept "rita" refused, right password or not, forever.

    Now (OWASP's device cookies): the browser rita signed in from before is
    known, and its tries count only against itself.
    """
    rita = console_app.test_client()
    assert sign_in(rita).status_code == 302  # she has signed in from this browser before
    post_form(rita, "/ops/logout")
    attacker = console_app.test_client()
    for _ in range(6):
        sign_in(attacker, "rita", "guess guess", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert sign_in(attacker, "rita", PASSWORD, environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 429
    # A browser that never signed in as rita waits too, wherever it is ...
    stranger = console_app.test_client()
    assert sign_in(stranger, "rita", PASSWORD, environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 429
    # ... but hers is let in at once.
    assert sign_in(rita).status_code == 302
    assert rita.get("/ops/").status_code == 200
    # Setting her password again (flask ops add-user) clears the wait for the others.
    console_app.extensions["ops"].throttle.forget("rita")
    assert sign_in(stranger, "rita", PASSWORD, environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 302


def test_a_known_browser_guessing_is_slowed_down_on_its_own(console_app):
    rita = console_app.test_client()
    sign_in(rita)
    post_form(rita, "/ops/logout")
    for _ in range(Throttle.FREE["device"]):
        assert sign_in(rita, "rita", "not it at all").status_code == 401
    assert sign_in(rita, "rita", "still not it").status_code == 401
    assert sign_in(rita, "rita", PASSWORD).status_code == 429
    # A forged or someone else's device cookie is just a browser like any other.
    other = console_app.test_client()
    other.set_cookie(Throttle.device_cookie("rosa"), rita.get_cookie(Throttle.device_cookie("rita"), path="/ops/").value,
                     path="/ops/")
    for _ in range(3):
        sign_in(other, "rosa", "not hers")
    assert sign_in(other, "rosa", "not hers either").status_code == 401
    assert sign_in(other, "rosa", PASSWORD).status_code == 429


def test_forty_guesses_at_once_check_no_more_passwords_than_forty_in_a_row(console_app):
    """Before: the wait was read before any guess was counted, so 40 sent
    together had 11 passwords checked. Now the try is counted in the same
    Redis script that checks the wait."""
    import threading

    tokens, clients = [], []
    for _ in range(40):
        client = console_app.test_client()
        clients.append(client)
        tokens.append(csrf_token(client))
    start = threading.Barrier(40)
    statuses = []

    def guess(client, token, n):
        start.wait()
        response = client.post("/ops/login", data={"username": "rita", "password": f"guess {n}",
                                                   "csrf_token": token})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(c, t, n)) for n, (c, t) in enumerate(zip(clients, tokens))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    checked = statuses.count(401)  # a wrong password said so; 429: refused without looking
    assert len(statuses) == 40 and checked + statuses.count(429) == 40
    assert checked <= Throttle.FREE["user"] + 1, statuses


def test_the_wait_grows_with_each_failure_and_ends(console_app):
    throttle = console_app.extensions["ops"].throttle
    now = [1000.0]
    throttle.clock = lambda: now[0]
    waits = []
    for _ in range(7):
        assert throttle.attempt("rita", "10.0.0.1") == 0  # each try after the last wait is over
        waits.append(throttle.wait("rita", "10.0.0.1"))
        now[0] += waits[-1]
    assert waits == [0, 0, 0, 2, 4, 8, 16, 32][:7]
    now[0] -= 1
    assert throttle.attempt("rita", "10.0.0.1") == 1  # during the wait: refused, and not counted
    now[0] += 1
    assert throttle.attempt("rita", "10.0.0.1") == 0 and throttle.wait("rita", "10.0.0.1") == 32
    throttle.succeeded("rita", "10.0.0.1")
    assert throttle.wait("rita", "10.0.0.2") == 0


def test_one_address_guessing_many_names_is_slowed_down_too(console_app):
    client = console_app.test_client()
    for i in range(11):
        sign_in(client, f"name{i}", "guess guess")
    assert sign_in(client, "rita", PASSWORD).status_code == 429


def test_a_viewer_looks_but_cannot_act(console_app):
    client = console_app.test_client()
    sign_in(client, "vic")
    for path in ("/ops/", "/ops/figures", "/ops/simulator", "/ops/figures.csv"):
        assert client.get(path).status_code == 200, path
    page = client.get("/ops/").text
    assert "Go on duty" not in page
    assert client.get("/ops/handoff/c0ffee").status_code == 403
    for path in ("/ops/duty", "/ops/handoff/c0ffee/claim", "/ops/handoff/c0ffee/reply",
                 "/ops/handoff/c0ffee/release", "/ops/handoff/c0ffee/close"):
        assert post_form(client, path, {"on": "1", "text": "hello"}).status_code == 403, path
    assert not console_app.extensions["duty"].is_on()


def test_accounts_store_a_salted_hash_and_a_new_password_signs_old_browsers_out(console_app, redis_client):
    accounts = console_app.extensions["ops"].accounts
    accounts.add("ana", "viewer", "same password here")
    accounts.add("ben", "viewer", "same password here")
    a, b = redis_client.hget("hl:ops:user:ana", "hash"), redis_client.hget("hl:ops:user:ben", "hash")
    assert a != b and "same password" not in a and a.startswith(("scrypt:", "pbkdf2:"))
    client = console_app.test_client()
    sign_in(client, "ana", "same password here")
    assert client.get("/ops/").status_code == 200
    accounts.add("ana", "viewer", "a brand new password")
    assert client.get("/ops/").status_code == 302
    accounts.remove("ben")
    assert sign_in(console_app.test_client(), "ben", "same password here").status_code == 401


def test_a_sign_in_lasts_twelve_hours(console_app):
    client = console_app.test_client()
    sign_in(client)
    with client.session_transaction() as session:
        session["ops_t"] -= 12 * 3600 + 1
    response = client.get("/ops/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/ops/login")


def _flask(args: list[str], stdin: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], input=stdin, capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=60)


def test_add_user_reads_the_password_from_standard_input(redis_client, redis_url, tmp_path):
    import os

    env = {**os.environ, "REDIS_URL": redis_url, "SECRET_KEY": "test-secret", "BOT_DATA_DIR": str(tmp_path)}
    done = _flask(["ops", "add-user", "Maria", "--role", "responder"], "a secret of hers\n", env)
    assert done.returncode == 0, done.stderr
    assert "Added maria (responder)" in done.stdout
    stored = redis_client.hgetall("hl:ops:user:maria")
    assert stored["role"] == "responder" and "a secret of hers" not in str(stored)
    assert stored["hash"].startswith("scrypt:32768:8:1$")  # a deployment's cost (tests hash more cheaply)
    short = _flask(["ops", "add-user", "kim", "--role", "viewer"], "short\n", env)
    assert short.returncode != 0 and "at least 10 characters" in short.stderr
    bad_role = _flask(["ops", "add-user", "kim", "--role", "admin"], "long enough pw\n", env)
    assert bad_role.returncode != 0
    listed = _flask(["ops", "users"], "", env)
    assert "maria\tresponder" in listed.stdout
