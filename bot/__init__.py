"""The helpline bot: a Flask webhook behind Twilio, flows in YAML, state in Redis.

``create_app()`` wires the parts; ``app.py`` holds ``app = create_app()`` and
nothing else. See README "Architecture".
"""
from __future__ import annotations

import logging

import click
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Config, reachable_from_outside
from .duty import Duty
from .helpline import Cached, Helpline
from .published_flows import FlowsError, FlowsVersion, PublishedFlows
from .staffed_hours import Hours, HoursError
from .store import STORE_DOWN, SessionStore, Stores
from .store.connection import check_cluster_url, redis_client

log = logging.getLogger("bot")


def resolve_redis_url(config: Config) -> str:
    """REDIS_URL, or the embedded server under BOT_DATA_DIR (started if needed)."""
    if config.REDIS_CLUSTER:  # never an embedded server: that is one Redis
        check_cluster_url(config.REDIS_URL)
        return config.REDIS_URL
    if config.REDIS_URL:
        return config.REDIS_URL
    from pathlib import Path

    from .store.embedded import ensure_server, socket_path_for

    try:
        server = ensure_server(config.BOT_DATA_DIR)
    except Exception as exc:  # the server must still start and answer with the fail-safe
        log.error("embedded Redis did not start (%s); texts will get the fail-safe reply", exc)
        return "unix://" + str(socket_path_for(Path(config.BOT_DATA_DIR)))
    if server.owned:
        server.stop_at_exit()
        _exit_on_sigterm()
        log.info("started embedded Redis in %s", config.BOT_DATA_DIR)
    return server.url


def _exit_on_sigterm() -> None:
    """Make SIGTERM a normal exit, so the atexit hook stops the embedded Redis.

    Python's default SIGTERM action kills the process without running atexit
    handlers: ``python app.py`` stopped by a service manager, ``docker stop``
    or ``kill`` would leave its daemonized redis-server running. Only when
    nobody else handles SIGTERM (gunicorn workers have their own handler, and
    gunicorn's master stops the server in its ``on_exit`` hook) and only from
    the main thread, where signal handlers can be set.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def exit_normally(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, exit_normally)


def unset_twilio_settings(settings) -> list[str]:
    """The settings (of ``app.config``) without which no webhook request can be
    checked, so that every one gets 403."""
    return [name for name in ("TWILIO_AUTH_TOKEN", "PUBLIC_URL") if not settings.get(name)]


class _NoSessionForTwilio(SecureCookieSessionInterface):
    """Twilio's webhooks carry no cookie and need no session, so none is
    opened for them (Flask's public session interface). The console keeps
    normal sessions."""

    def open_session(self, app, request):
        if request.path.startswith("/twilio/"):
            return self.null_session_class()
        return super().open_session(app, request)


def create_app(config: Config | None = None) -> Flask:
    config = config or Config()
    app = Flask(__name__)
    app.config.update(config.as_dict())
    app.session_interface = _NoSessionForTwilio()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if config.PROXY_COUNT:
        # Only behind proxies that overwrite these headers (deploy/nginx.conf):
        # the client's address for the sign-in throttle, and the scheme and
        # host for the console's links. Never X-Forwarded-Prefix: no proxy of
        # ours sets it, and it would move every URL the app builds. Signatures
        # never depend on them: they are checked against PUBLIC_URL.
        n = config.PROXY_COUNT
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=0)

    url = resolve_redis_url(config)
    app.config["REDIS_URL_RESOLVED"] = url
    client = redis_client(url, config.REDIS_TIMEOUT, cluster=config.REDIS_CLUSTER)
    # Deleting an erased conversation's messages at Twilio needs the REST API's credentials.
    twilio_deletes = bool(config.TWILIO_ACCOUNT_SID and config.TWILIO_AUTH_TOKEN)
    store = SessionStore(client, prefix=config.KEY_PREFIX, session_ttl=config.SESSION_TTL,
                         retry_window=config.RETRY_WINDOW, twilio_sids=twilio_deletes,
                         delete_after=config.TWILIO_DELETE_AFTER, queue_erased_trails=True)
    stores = Stores(store)
    # Every worker follows the published flows version (see bot/published_flows.py).
    flows_version = FlowsVersion(stores.published)
    content = PublishedFlows(config.FLOWS_DIR, config.LOCALES_DIR, version=flows_version.get,
                      check_every=config.FLOWS_CHECK_SECONDS, published=flows_version)
    # Under a `flask` command the warnings below are for the command to print
    # if it cares (`flows check` does), not for every command to repeat.
    serving = click.get_current_context(silent=True) is None
    try:
        warnings = content.start()  # the files on disk, or the last published snapshot if they do not pass
    except FlowsError as exc:
        problems = "\n".join(str(p) for p in exc.problems)
        if serving:
            # Serving (python app.py, gunicorn): refuse to run on broken flows.
            raise SystemExit(f"The flow files have problems; fix them and start again:\n{problems}") from None
        # Under the flask command: carry on, so `flows check` can report them.
        log.error("the flow files have problems; run `flask --app app flows check`")
    else:
        if serving:
            for problem in warnings:
                log.warning("%s", problem)
            content.warn_if_never_published()
    hours = None
    if config.HANDOFF_HOURS:
        try:
            hours = Hours.parse(config.HANDOFF_HOURS, config.OPS_TIMEZONE)
        except HoursError as exc:
            raise SystemExit(f"{exc} (see README, Operators' console)") from None
    duty = Duty(stores.duty, hours, ttl=config.OPS_DUTY_TTL)
    # Every text that asks for a person reads whether someone is on duty:
    # at most once every two seconds per process.
    helpline = Helpline(store, content, config.SECRET_KEY, lock_wait=config.LOCK_WAIT,
                        on_duty=Cached(duty.takes_handoffs, seconds=2.0))
    app.extensions["background"] = _background(config, url, client, store, helpline, twilio_deletes)
    _whatsapp(app, config, store, helpline, flows_version)
    app.extensions["helpline"] = helpline
    app.extensions["content"] = content
    app.extensions["flows_version"] = flows_version
    app.extensions["store"] = store
    app.extensions["stores"] = stores
    app.extensions["duty"] = duty

    if serving:
        for name in unset_twilio_settings(app.config):
            log.warning("%s is not set: the webhook will refuse every request (403); see README, "
                        "Point Twilio at it", name)
        if reachable_from_outside(config.PUBLIC_URL) and not config.METRICS_TOKEN:
            log.warning("PUBLIC_URL is set and METRICS_TOKEN is not: GET /metrics will refuse every request (403); "
                        "set METRICS_TOKEN and give it to Prometheus (see README, Production)")

    from . import metrics
    from .web import health, limits, webhook
    from . import cli

    app.register_blueprint(webhook.bp)
    from .web import voice  # phone calls: POST /twilio/voice, its status callback
    voice.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    cli.register(app)
    from .web import console as ops_console  # operators' console: blueprint, sign-in, CSRF, `flask ops` commands

    ops_console.init_app(app)
    limits.init_app(app)
    console = app.extensions["ops"]
    _erased_trails(app.extensions["background"], stores, console.figures, helpline)
    # Read from Redis when Prometheus scrapes, from the live index (one count,
    # whatever the number of sessions), so every worker answers alike.
    app.extensions["metrics_gauges"] = metrics.gauges_registry({
        "helpline_active_sessions": ("Conversations kept in Redis (not expired, not erased)", store.live_index.count),
        "helpline_handoffs_waiting": ("People who asked for a person whom no operator has answered yet",
                                      lambda: sum(1 for w in console.desk.queue(max_age=None) if not w.holder)),
    })
    return app


def _whatsapp(app: Flask, config: Config, store: SessionStore, helpline: Helpline, flows_version: FlowsVersion) -> None:
    """WhatsApp's templates (`flask whatsapp sync`) and, with WHATSAPP_INTERACTIVE,
    its replies by REST: buttons and lists, sent off the request path."""
    from .store.whatsapp import WhatsAppStore
    from .whatsapp_sync import Syncer

    wa = WhatsAppStore(store)
    syncer = Syncer(wa, config.TWILIO_ACCOUNT_SID, config.TWILIO_AUTH_TOKEN, config.TWILIO_API_BASE, config.KEY_PREFIX)
    app.extensions["whatsapp_sync"] = syncer
    if not config.WHATSAPP_INTERACTIVE:
        return
    sender_set = config.TWILIO_MESSAGING_SERVICE_SID or config.TWILIO_FROM_NUMBER
    if syncer.problem() or not sender_set or not config.PUBLIC_URL:
        log.warning("WHATSAPP_INTERACTIVE is on but TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, PUBLIC_URL and "
                    "TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER are not all set: WhatsApp gets numbered "
                    "text in TwiML, as SMS (see README, WhatsApp)")
        return
    from .whatsapp_sender import WhatsAppSender

    sender = WhatsAppSender(wa, config.TWILIO_ACCOUNT_SID, config.TWILIO_AUTH_TOKEN, config.PUBLIC_URL,
                            config.TWILIO_MESSAGING_SERVICE_SID, config.TWILIO_FROM_NUMBER, config.TWILIO_API_BASE)
    helpline.whatsapp = sender
    background = app.extensions["background"]
    background.jobs.append(sender)
    flows_version.before_publish = syncer.before_publish  # a publish makes the templates, or is refused
    app.extensions["whatsapp_sender"] = sender
    try:
        if click.get_current_context(silent=True) is None and wa.ready(1):
            background.wake()  # replies a process that stopped left unsent
    except STORE_DOWN:
        pass


def _erased_trails(background, stores: Stores, figures, helpline: Helpline) -> None:
    """A quick exit's turns dropped from the events stream once the figures have
    counted them (bot.erasure.StreamEntries), off the request path."""
    from .erasure import StreamEntries
    from .store.disk_rewrite import DiskRewrite

    def dropped() -> None:  # the embedded Redis's files lose them too: a disk rewrite after this
        helpline.after_erase()
        helpline.wake()

    job = StreamEntries(stores.sessions.erased_trails, stores.events, figures, after_drop=dropped)
    # Run before the disk rewrite: the rewrite a quick exit asks for then takes
    # the session and its turns at once, not the turns a minute later.
    rewrite = [i for i, other in enumerate(background.jobs) if isinstance(other, DiskRewrite)]
    background.jobs.insert(rewrite[0] if rewrite else len(background.jobs), job)
    if click.get_current_context(silent=True) is None:
        try:
            if stores.sessions.erased_trails.next_due() is not None:
                background.wake()  # what a process that stopped left undone
        except STORE_DOWN:
            pass  # Redis is down: the next quick exit wakes it


def _background(config: Config, url: str, client, store: SessionStore, helpline: Helpline, twilio_deletes: bool):
    """The work a quick exit leaves for later, off the request path (bot/background.py):
    what was asked for during an outage, Twilio's copies of the messages, and
    the embedded Redis's append-only file."""
    from .background import Background
    from .erasure import TwilioCopies
    from .store.disk_rewrite import DiskRewrite
    from .store.embedded import private_folder, server_url
    from .spool import Spool

    serving = click.get_current_context(silent=True) is None
    jobs = []
    try:
        helpline.spool = Spool(private_folder(config.BOT_DATA_DIR))
        jobs.append(helpline.replay_spool)
    except (OSError, RuntimeError) as exc:
        log.warning("no outage spool in BOT_DATA_DIR (%s): during a Redis outage a quick exit or opt-out "
                    "will be answered but not done", exc)
    if twilio_deletes:
        from .channels.twilio_rest import TwilioSender

        copies = TwilioCopies(store, TwilioSender(config.TWILIO_ACCOUNT_SID, config.TWILIO_AUTH_TOKEN,
                                                  api_base=config.TWILIO_API_BASE), queue=helpline.delete_at_twilio)
        helpline.sweep = copies.sweep
        jobs.append(copies)
    elif serving and not config.TESTING:
        log.warning("TWILIO_ACCOUNT_SID is not set: a quick exit cannot delete the conversation's messages "
                    "from Twilio's message log, nor a call from its call log (see README, Production)")
    if not config.REDIS_CLUSTER and url == server_url(config.BOT_DATA_DIR):
        rewrite = DiskRewrite(client, store.keys, config.AOF_REWRITE_SECONDS)
        helpline.after_erase = rewrite.erased
        jobs.append(rewrite)
    background = Background(jobs)
    helpline.wake = background.wake
    if serving:  # work a process that stopped left undone
        try:
            if (helpline.spool and helpline.spool.pending()) or (twilio_deletes and store.deletions.next_due() is not None):
                background.wake()
        except STORE_DOWN:
            pass  # Redis is down: the first quick exit or the spool wakes it
    return background
