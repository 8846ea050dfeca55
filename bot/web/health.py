"""``GET /healthz``: 200 when Redis answers and flows are loaded, else 503.

When the flows are served from the published snapshot because the files on
disk do not pass (see :mod:`bot.published_flows`), the answer says so in ``flows_from``.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    redis_ok = current_app.extensions["store"].ping()
    content = current_app.extensions["content"]
    body = {
        "redis": "ok" if redis_ok else "unreachable",
        "flows": content().version if content.loaded else "not loaded",
    }
    if content.fallback is not None:  # still serving: 200, but whoever watches must know
        body["flows_from"] = (f"snapshot of published version {content.fallback.version}: "
                              "the flow files on disk do not pass their checks")
    return jsonify(body), 200 if redis_ok and content.loaded else 503
