"""Gunicorn settings for production (Procfile: ``gunicorn -c gunicorn.conf.py app:app``).

Every setting can be tuned from the environment, as PaaS platforms expect:

* ``PORT`` (default 5000): listens on 0.0.0.0:$PORT.
* ``WEB_CONCURRENCY`` (default 2) worker processes, each with
  ``GUNICORN_THREADS`` (default 4) threads: requests mostly wait on Redis
  and Twilio, so threads are cheap concurrency.
* ``GUNICORN_ACCESS_LOG``: unset, no access log; ``-`` for stdout or a path.
* ``REDIS_URL``: the store. When it is unset, the master starts (or attaches
  to) ONE embedded Redis under ``BOT_DATA_DIR`` before the workers fork and
  hands its socket to them as ``REDIS_URL``. One server per deployment,
  never one per worker: per-worker servers would each hold different
  sessions (see bot/store/embedded.py).

The app is not preloaded: each worker imports ``app`` and calls
``create_app()`` itself, so no Redis connection, lock or thread is ever
shared across a fork.
"""

import importlib.util
import os
import sys
from pathlib import Path

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
preload_app = False

# Twilio gives up on a webhook after 15 s; a request stuck longer than this
# is killed and its worker replaced. On SIGTERM, requests in flight get the
# same time to finish (PaaS platforms send SIGKILL after 30 s).
timeout = 20
graceful_timeout = 20

accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"


def _embedded_redis_module():
    """Load bot/store/embedded.py by path rather than as ``bot.store.embedded``.

    Importing the ``bot`` package would run bot/__init__.py (Flask, the
    store, the flows) in the master: exactly what preload_app=False avoids.
    """
    name = "_helpline_embedded_redis"
    if name not in sys.modules:
        path = Path(__file__).resolve().parent / "bot" / "store" / "embedded.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _prometheus_dir(server) -> None:
    """Workers keep their own counters; /metrics adds them up from this folder
    (prometheus-client's multiprocess mode). Emptied at start: files of dead
    workers from an earlier run would be counted again."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        folder = os.path.join(os.path.abspath(os.environ.get("BOT_DATA_DIR", "var")), "prometheus")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder  # inherited by every worker
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.unlink(os.path.join(folder, name))


def child_exit(server, worker):
    """A worker that died leaves its counters behind; gauges of live workers only."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_starting(server):
    """In the master, once, before any worker exists: make sure REDIS_URL is set."""
    _prometheus_dir(server)
    if os.environ.get("REDIS_URL"):
        return
    data_dir = os.environ.get("BOT_DATA_DIR", "var")
    embedded = _embedded_redis_module().ensure_server(data_dir)
    os.environ["REDIS_URL"] = embedded.url  # inherited by every worker
    # Kept on the arbiter, not in a global here: a SIGHUP reload re-reads
    # this file, and on_exit must still find the handle.
    server.helpline_embedded_redis = embedded
    server.log.info(
        "Embedded Redis %s at %s (data in %s)",
        "started" if embedded.owned else "attached",
        embedded.url,
        embedded.data_dir,
    )


def on_exit(server):
    """Stop the embedded Redis if this master started it."""
    embedded = getattr(server, "helpline_embedded_redis", None)
    if embedded is None or not embedded.owned:
        return
    if server.reexec_pid:
        # After a USR2 binary upgrade the new master (attached, not owner)
        # keeps serving from this server: leave it running.
        server.log.info("Leaving embedded Redis running for the new master")
        return
    embedded.stop()
    server.log.info("Embedded Redis stopped")
