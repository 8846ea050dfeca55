"""``GET /healthz``: 200 when Redis answers and flows are loaded, else 503."""
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
    return jsonify(body), 200 if redis_ok and content.loaded else 503
