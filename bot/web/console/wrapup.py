"""The wrap-up: how a chat ended (an outcome from flows/console/outcomes.yaml)
and an optional internal note, asked for when a responder ends the chat or
hands the person back (the routes: :mod:`.handoff`; the note's store:
:class:`bot.store.sessions.WrapupNotes`). Outcomes are counted per day in the
figures; the note never leaves the console."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import current_app
from flask_login import current_user

from ...desk import ActionRefused
from ...figures import Period
from ...outcomes import Outcome, OutcomesError, load
from ...store import STORE_DOWN, PresenceRecords
from .blueprint import bp, console

log = logging.getLogger(__name__)


def outcomes() -> list[Outcome]:
    """The outcomes staff set; [] if the file cannot be used (then ending a chat asks for none)."""
    try:
        return load(current_app.config["FLOWS_DIR"])
    except OutcomesError as exc:
        log.warning("wrap-up outcomes not available: %s", exc)
        return []


def outcome_asked(form) -> tuple[str, str]:
    """The outcome id and note posted, or ActionRefused (an outcome not in the file)."""
    outcome = (form.get("outcome") or "").strip()
    known = {o.id for o in outcomes()}
    if outcome and outcome not in known:
        raise ActionRefused("Pick how the chat ended from the list.")
    return outcome, form.get("note", "")


@bp.app_template_global("wrapup_outcomes")
def _wrapup_outcomes() -> list[Outcome]:
    return outcomes()


def wrapup_counts(period: Period) -> list[tuple[str, int]]:
    """(label, count) per outcome for the figures page, in the file's order; ids no longer in the file last."""
    counts = period.group("wrapup")
    known = outcomes()
    rows = [(o.label, counts.get(o.id, 0)) for o in known]
    ids = {o.id for o in known}
    rows += [(k.replace("_", " ").capitalize(), v) for k, v in sorted(counts.items()) if k not in ids]
    return rows


# --- presence: who has the console open ---------------------------------------------------------

PRESENT_FOR = 75  # seconds a console counts as open after its event stream last renewed it (every 20 s)


def presence() -> PresenceRecords:
    return current_app.extensions["store"].presence


def marker(name: str):
    """A function that records ``name``'s console as open, for the event stream
    to call as it renews duty (made in the request: the stream runs outside it)."""
    records = presence()

    def here() -> None:
        now = time.time()
        records.seen(name, now + PRESENT_FOR, now)
    return here


def online_responders() -> list[str]:
    """Who is on the console now and may answer people."""
    accounts = console().accounts
    found = []
    for name in presence().online(time.time()):
        op = accounts.get(name)
        if op is not None and op.can_respond:
            found.append(name)
    return found


@bp.app_template_global("transfer_targets")
def _transfer_targets() -> list[str]:
    """Colleagues this responder may hand the chat to: online, able to respond, not themselves."""
    try:
        return [n for n in online_responders() if n != current_user.name]
    except STORE_DOWN:
        return []


@dataclass
class Present:
    name: str
    on_duty: bool
    answering: list[str]  # the chats they hold, masked to the last two digits
    here: bool = True  # False: holds chats, but their console is closed (no heartbeat): a supervisor may take over


@bp.app_template_global("presence_view")
def _presence_view() -> list[Present]:
    """The supervisor's view on the Live page: who is on the console, on duty, and answering which chats."""
    c = console()
    try:
        names = presence().online(time.time())
        on_duty = set(c.duty.state().who)
        held: dict[str, list[str]] = {}
        for w in c.desk.queue(max_age=None):
            if w.holder:
                held.setdefault(w.holder, []).append(w.row.masked)
    except STORE_DOWN:
        return []
    gone = sorted(set(held) - set(names))
    return [Present(n, n in on_duty, held.get(n, [])) for n in names] + \
        [Present(n, n in on_duty, held[n], here=False) for n in gone]
