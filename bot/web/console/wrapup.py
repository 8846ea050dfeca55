"""The wrap-up: how a chat ended (an outcome from flows/console/outcomes.yaml)
and an optional internal note, asked for when a responder ends the chat or
hands the person back (the routes: :mod:`.handoff`; the note's store:
:class:`bot.store.sessions.WrapupNotes`). Outcomes are counted per day in the
figures; the note never leaves the console."""
from __future__ import annotations

import logging

from flask import current_app

from ...desk import ActionRefused
from ...figures import Period
from ...outcomes import Outcome, OutcomesError, load
from .blueprint import bp

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
