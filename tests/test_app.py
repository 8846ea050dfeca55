"""The README's commands, run as a newcomer and a PaaS would run them.

Each test starts real processes (``python app.py``, ``flask``, gunicorn as
the Procfile says) on a free port with ``BOT_DATA_DIR`` in a temp dir and,
unless the test says otherwise, ``REDIS_URL`` unset, so each gets its own
embedded redis-server; and each makes sure that everything it started is
gone when it ends, even when an assertion fails.

Besides the README, they hold these contracts of DESIGN.md ("Contracts"):

* ``python app.py`` prints the webhook, console and simulator URLs, and
  they are the server's real routes.
* All ``flask`` commands use the same store as the server: with no
  ``REDIS_URL``, they attach to the embedded server already running under
  ``BOT_DATA_DIR`` (and leave it running when they exit).
* Procfile: under gunicorn ``REDIS_URL`` always wins, even over an embedded
  server already running in ``BOT_DATA_DIR``.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis
import requests

from bot.store.embedded import ensure_server
from tests.fixtures_console import PASSWORD
from tests.helpers import AUTH_TOKEN, REPO, inbound, messages, sign
from tests.servers import free_port, wait_until

# How long a start may take before the test gives up: a bound for a hung start, not a speed check
# (on a loaded 2-core machine, with the suite on every core, a start has taken more than 10 s).
START_TIMEOUT = 30.0
SECRET = "test-secret"  # the gunicorn test's SECRET_KEY: contact ids in Redis are keyed with it

pytestmark = pytest.mark.slow

# Settings a fresh machine does not have (``extra`` may set some back).
UNSET = ("REDIS_URL", "REDIS_CLUSTER", "TWILIO_AUTH_TOKEN", "PUBLIC_URL", "TWILIO_ACCOUNT_SID", "TWILIO_FROM_NUMBER",
         "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_API_BASE", "FLOWS_DIR", "LOCALES_DIR", "SECRET_KEY",
         "GUNICORN_ACCESS_LOG", "PROMETHEUS_MULTIPROC_DIR")


def clean_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment of a fresh machine: no REDIS_URL, nothing of Twilio, data and HOME in tmp."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(PORT=str(port), BOT_DATA_DIR=str(tmp_path / "var"), HOME=str(tmp_path), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def redis_servers(data_dir: Path) -> list[int]:
    """Pids of live redis-server processes serving ``data_dir`` (its socket is in their title)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"redis-server" in cmdline and str(data_dir).encode() in cmdline and state not in ("Z", "X"):
            pids.append(int(proc.name))
    return pids


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return None, b""


def healthy(port: int, proc: subprocess.Popen):
    if proc.poll() is not None:
        raise AssertionError(f"exited with {proc.returncode}:\n{proc.stdout.read()}")
    status, body = get(f"http://127.0.0.1:{port}/healthz")
    return json.loads(body) if status == 200 else None


def as_in_a_terminal() -> None:
    """In the child, before it runs: Ctrl-C (SIGINT) does what it does in a terminal.

    A shell without job control starts a background job with SIGINT ignored,
    and the tests' children would inherit that (``bash .ci/run &`` in a
    script): Python then never raises KeyboardInterrupt, and the Ctrl-C test
    would wait for an exit that cannot come.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def spawn(tmp_path):
    """Start processes; afterwards kill any still running, and their embedded Redis."""
    procs: list[subprocess.Popen] = []

    def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdin=subprocess.DEVNULL, preexec_fn=as_in_a_terminal,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
    for pid in redis_servers(tmp_path / "var"):  # only servers of this test's data dir
        os.kill(pid, signal.SIGKILL)


# --- python app.py ----------------------------------------------------------------------


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_python_app_py_serves_with_an_embedded_redis_and_stops_it(stop_signal, spawn, tmp_path):
    port = free_port()
    data_dir = tmp_path / "var"
    base = f"http://127.0.0.1:{port}"
    urls = {"webhook": f"{base}/twilio/messages", "console": f"{base}/ops/", "simulator": f"{base}/ops/simulator"}
    proc = spawn([sys.executable, "app.py"], clean_env(tmp_path, port))

    health = wait_until(lambda: healthy(port, proc), timeout=START_TIMEOUT, what="GET /healthz 200")

    assert health["redis"] == "ok" and health["flows"] not in ("", "not loaded")
    servers = redis_servers(data_dir)
    assert len(servers) == 1
    assert (data_dir / "redis.sock").exists()
    assert int((data_dir / "redis.pid").read_text()) == servers[0]
    # No TWILIO_AUTH_TOKEN: the webhook refuses, and the server said so.
    req = urllib.request.Request(urls["webhook"], data=b"Body=hola&From=%2B1555", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=2)
    assert refused.value.code == 403
    # The console and the simulator are the server's own too: they ask for a sign-in.
    for name in ("console", "simulator"):
        resp = requests.get(urls[name], allow_redirects=False, timeout=5)
        assert resp.status_code == 302 and "/ops/login" in resp.headers["Location"], (name, resp.status_code)

    proc.send_signal(stop_signal)
    output, _ = proc.communicate(timeout=START_TIMEOUT)

    printed = re.findall(r"https?://\S+", output)  # whole URLs: ".../ops/" is also the start of ".../ops/simulator"
    for name, url in urls.items():
        assert url in printed, f"no {name} URL ({url}) among those printed:\n{output}"
    assert "TWILIO_AUTH_TOKEN is not set" in output
    wait_until(lambda: not redis_servers(data_dir), timeout=START_TIMEOUT, what="the embedded redis-server to stop")
    assert not (data_dir / "redis.sock").exists()


def test_a_flask_command_attaches_to_the_dev_servers_embedded_redis(spawn, tmp_path):
    """With no REDIS_URL, a ``flask`` command uses the embedded server ``python app.py`` is already
    running under BOT_DATA_DIR: one store for both, and the server still running when it exits."""
    port = free_port()
    data_dir = tmp_path / "var"
    env = clean_env(tmp_path, port)
    server = spawn([sys.executable, "app.py"], env)
    wait_until(lambda: healthy(port, server), timeout=START_TIMEOUT, what="GET /healthz 200")
    [server_pid] = redis_servers(data_dir)

    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "ops", "add-user", "dana", "--role", "viewer"],
                          input=PASSWORD + "\n", capture_output=True, text=True, cwd=REPO, env=env, timeout=60)

    assert done.returncode == 0, done.stdout + done.stderr
    assert redis_servers(data_dir) == [server_pid], "one server for the data dir, still running"
    assert healthy(port, server)
    # The server sees the account the command made: they share one store.
    base = f"http://127.0.0.1:{port}"
    browser = requests.Session()
    token = re.search(r'name="csrf-token" content="([^"]+)"', browser.get(base + "/ops/login", timeout=5).text).group(1)
    signed_in = browser.post(base + "/ops/login", data={"username": "dana", "password": PASSWORD, "csrf_token": token},
                             allow_redirects=False, timeout=10)
    assert signed_in.status_code == 302, f"dana could not sign in: {signed_in.status_code}"
    page = browser.get(base + "/ops/simulator", allow_redirects=False, timeout=5)
    assert page.status_code == 200 and "Simulator" in page.text


def break_flows(tmp_path: Path) -> tuple[Path, list[str]]:
    """A copy of flows/ with two mistakes; returns it and the ``path:line:`` each must be reported at."""
    flows = tmp_path / "flows"
    shutil.copytree(REPO / "flows", flows)
    expected = []
    for name, old, new in [("main.yaml", "goto: safety\n", "goto: nowhere\n"),
                           ("help.yaml", "next: main.menu\n", "next: main.nope\n")]:
        path = flows / name
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        lineno = next(i for i, line in enumerate(lines, 1) if line.endswith(old))
        lines[lineno - 1] = lines[lineno - 1].replace(old, new)
        path.write_text("".join(lines), encoding="utf-8")
        expected.append(f"{path}:{lineno}: ")
    return flows, expected


def test_python_app_py_refuses_broken_flows_with_path_and_line(spawn, tmp_path):
    flows, expected = break_flows(tmp_path)
    port = free_port()
    proc = spawn([sys.executable, "app.py"], clean_env(tmp_path, port, FLOWS_DIR=str(flows)))

    output, _ = proc.communicate(timeout=START_TIMEOUT)

    assert proc.returncode != 0
    for where in expected:
        line = next((line for line in output.splitlines() if line.startswith(where)), None)
        assert line is not None, f"no `{where}message` in:\n{output}"
        assert re.fullmatch(r"\S+\.yaml:\d+: \S.*", line)
    assert "nowhere" in output and "nope" in output
    assert get(f"http://127.0.0.1:{port}/healthz")[0] is None, "nothing may serve"
    assert not redis_servers(tmp_path / "var")


# --- gunicorn, as the Procfile says ---------------------------------------------------------


def procfile_web_command() -> list[str]:
    line = next(line for line in (REPO / "Procfile").read_text().splitlines() if line.startswith("web:"))
    args = shlex.split(line.split(":", 1)[1])
    assert args[0] == "gunicorn" and args[-1] == "app:app"
    return [str(Path(sys.executable).with_name("gunicorn")), *args[1:]]


def test_procfile_runs_gunicorn_with_one_embedded_redis_for_two_workers(spawn, tmp_path):
    port = free_port()
    data_dir = tmp_path / "var"
    proc = spawn(procfile_web_command(), clean_env(tmp_path, port, WEB_CONCURRENCY="2"))

    wait_until(lambda: healthy(port, proc), timeout=START_TIMEOUT, what="GET /healthz 200")

    def workers():
        found = []
        for p in Path("/proc").iterdir():
            try:
                if p.name.isdigit() and int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == proc.pid:
                    found.append(int(p.name))
            except OSError:
                continue
        return found if len(found) == 2 else None

    assert len(wait_until(workers, timeout=START_TIMEOUT, what="two gunicorn workers")) == 2
    # Every worker has imported the app by now; each would have started its
    # own server had it not been handed the master's.
    for _ in range(6):
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    assert len(redis_servers(data_dir)) == 1

    proc.terminate()
    output, _ = proc.communicate(timeout=START_TIMEOUT + 20)  # gunicorn's graceful_timeout

    assert "Embedded Redis started" in output and "Embedded Redis stopped" in output
    wait_until(lambda: not redis_servers(data_dir), timeout=START_TIMEOUT, what="the embedded redis-server to stop")


def test_under_gunicorn_redis_url_wins_over_an_embedded_server_in_bot_data_dir(spawn, tmp_path, redis_client,
                                                                               redis_url):
    """The Procfile on a PaaS: REDIS_URL is the store, even with an embedded server already
    running in BOT_DATA_DIR; gunicorn neither attaches to it nor starts another."""
    data_dir = tmp_path / "var"
    # Already running, there to be attached to (spawn's teardown stops it: it serves tmp_path/var).
    embedded = ensure_server(data_dir)
    [embedded_pid] = redis_servers(data_dir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(tmp_path, port, REDIS_URL=redis_url, WEB_CONCURRENCY="1", TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                    PUBLIC_URL=base, SECRET_KEY=SECRET)
    if os.environ.get("REDIS_CLUSTER"):  # a --redis-cluster run: REDIS_URL names a node of the run's cluster
        env["REDIS_CLUSTER"] = os.environ["REDIS_CLUSTER"]
    proc = spawn(procfile_web_command(), env)

    wait_until(lambda: healthy(port, proc), timeout=START_TIMEOUT, what="GET /healthz 200")
    form = inbound("hola", sender="+15550007002")
    resp = requests.post(base + "/twilio/messages", data=form,
                         headers={"X-Twilio-Signature": sign(base + "/twilio/messages", form)}, timeout=10)
    assert resp.status_code == 200
    assert messages(resp.content), "the greeting"

    proc.terminate()
    output, _ = proc.communicate(timeout=START_TIMEOUT + 20)  # gunicorn's graceful_timeout

    from bot.helpline import contact_id

    assert redis_client.exists(f"hl:{{{contact_id(SECRET, '+15550007002')}}}:session"), "the text went to REDIS_URL"
    on_embedded = redis.Redis.from_url(embedded.url, decode_responses=True)
    try:
        assert list(on_embedded.scan_iter("hl:*")) == [], "nothing of the text in the embedded server"
    finally:
        on_embedded.close()
    assert "Embedded Redis" not in output, output
    assert redis_servers(data_dir) == [embedded_pid], "no other server started, and the test's left running"
