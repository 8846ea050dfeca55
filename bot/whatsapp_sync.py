"""The WhatsApp templates the flows need, made at Twilio from the flows themselves.

``flask --app app whatsapp sync`` (and every publish, when
``WHATSAPP_INTERACTIVE`` is on) makes one Content API template per waiting
node and language (bot/channels/whatsapp.py), through the twilio library's
Content API client (``client.content.v1.contents``), and keeps each
ContentSid in Redis with a hash of its definition:

* a template whose definition is unchanged costs no call;
* a changed one is updated in place (same ContentSid);
* a template of a node that is gone, or of a language no longer served, is
  deleted, at Twilio and here;
* ``verify``: also list what Twilio has, make again any kept template that is
  gone there (deleted in its console), and delete leftovers named as ours
  whose ContentSid nobody keeps (a sync that died between making one and
  keeping its sid).

Until a node's template exists, its menus go out as numbered text, never
silence (bot/whatsapp_sender.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .channels import whatsapp
from .engine.model import FlowSet
from .store.whatsapp import WhatsAppStore

log = logging.getLogger(__name__)


class SyncFailed(RuntimeError):
    """Twilio could not be reached, or refused a template; says which and why, without any secret."""


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return len(self.created) + len(self.updated) + len(self.deleted)

    def summary(self) -> str:
        return (f"{len(self.created)} created, {len(self.updated)} updated, {len(self.deleted)} deleted, "
                f"{len(self.unchanged)} unchanged")


def sync(fs: FlowSet, store: WhatsAppStore, client, prefix: str = "hl", verify: bool = False) -> SyncReport:
    """Make Twilio's templates match the flows; raises SyncFailed (what was done stays kept)."""
    from twilio.base.exceptions import TwilioException, TwilioRestException

    from twilio.rest.content.v1.content import ContentList

    contents = client.content.v1.contents

    wanted = whatsapp.templates(fs, prefix)
    kept = store.content()
    report = SyncReport()
    try:
        at_twilio = {c.sid: c.friendly_name for c in contents.list()} if verify else None
        for key, t in sorted(wanted.items()):
            have = kept.get(key)
            gone = at_twilio is not None and have is not None and have["sid"] not in at_twilio
            if have is not None and have["digest"] == t.digest and not gone:
                report.unchanged.append(key)
                continue
            if have is not None and not gone:
                try:
                    contents(have["sid"]).update(ContentList.ContentUpdateRequest(t.definition))
                    store.keep_content(key, have["sid"], t.digest)
                    report.updated.append(key)
                    continue
                except TwilioRestException as exc:
                    if exc.status != 404:
                        raise
                    # Deleted at Twilio meanwhile: make it again.
            made = contents.create(ContentList.ContentCreateRequest(t.definition))
            store.keep_content(key, made.sid, t.digest)
            report.created.append(key)
        for key, have in sorted(kept.items()):
            if key in wanted:
                continue
            try:
                contents(have["sid"]).delete()
            except TwilioRestException as exc:
                if exc.status != 404:  # already gone: fine
                    raise
            store.forget_content(key)
            report.deleted.append(key)
        if at_twilio is not None:
            ours = {t.definition["friendly_name"] for t in wanted.values()}
            known = {v["sid"] for v in store.content().values()}
            for sid, name in sorted(at_twilio.items()):
                if name in ours and sid not in known:
                    contents(sid).delete()
                    report.deleted.append(f"{name} ({sid}, kept by nobody)")
    except TwilioRestException as exc:
        raise SyncFailed(f"Twilio refused a WhatsApp template (HTTP {exc.status}, error {exc.code}); "
                         f"so far: {report.summary()}") from None
    except (TwilioException, OSError) as exc:
        raise SyncFailed(f"Twilio could not be reached to make the WhatsApp templates ({type(exc).__name__}); "
                         f"so far: {report.summary()}") from None
    return report


class Syncer:
    """``sync`` with this deployment's settings: the store, the Twilio account, KEY_PREFIX."""

    def __init__(self, store: WhatsAppStore, account_sid: str | None, auth_token: str | None,
                 api_base: str | None = None, prefix: str = "hl"):
        self.store = store
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_base = api_base
        self.prefix = prefix

    def problem(self) -> str | None:
        missing = [n for n, v in (("TWILIO_ACCOUNT_SID", self.account_sid), ("TWILIO_AUTH_TOKEN", self.auth_token))
                   if not v]
        return f"WhatsApp templates cannot be made: set {' and '.join(missing)} (see README, WhatsApp)" \
            if missing else None

    def __call__(self, fs: FlowSet, verify: bool = False) -> SyncReport:
        problem = self.problem()
        if problem:
            raise SyncFailed(problem)
        from .channels.twilio_api import rest_client

        client = rest_client(self.account_sid, self.auth_token, self.api_base, logger_name="bot.whatsapp.sync")
        report = sync(fs, self.store, client, self.prefix, verify=verify)
        log.info("WhatsApp templates: %s", report.summary())
        return report

    def before_publish(self, fs: FlowSet) -> str | None:
        """Run by every publish (FlowsVersion.before_publish): None when the templates
        are made, else why the flows must not go live (their menus would be numbered text)."""
        try:
            self(fs)
        except SyncFailed as exc:
            return str(exc)
        return None
