"""The canned replies beside a hand-off's reply box (:mod:`bot.canned_replies`):
read from ``flows/console/replies.yaml`` and the catalogs of the flow set
being served, in the person's language, each time the page is drawn (a staff
edit shows at the next page; the file is small)."""
from __future__ import annotations

import logging

from flask import current_app

from ... import canned_replies
from .blueprint import bp

log = logging.getLogger(__name__)


@bp.app_template_global("canned_replies")
def canned_replies_in(lang: str) -> list[dict]:
    """The replies for a person who writes in ``lang``; none if they cannot be
    read (the reply box works without them; ``flows check`` says what is wrong)."""
    try:
        fs = current_app.extensions["content"]()
        return canned_replies.for_console(current_app.config["FLOWS_DIR"], fs, lang)
    except Exception as exc:  # noqa: BLE001 - a broken data file must not take the hand-off page down
        log.warning("canned replies unavailable: %s", type(exc).__name__)
        return []
