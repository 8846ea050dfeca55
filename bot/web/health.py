"""``GET /healthz``: 200 when Redis answers and flows are loaded, else 503.

The check writes a tiny key with a short TTL (on a cluster, one on every
primary): a PING is not enough, a Redis out of memory or read-only answers it
and refuses every text's save. ``redis`` is ``ok``, ``unreachable`` (no
answer: 503), or ``cannot write`` with ``redis_error`` saying why (Redis's
error code and what it means; never the error's text, nor any setting).
``cannot write`` still answers 200, as the contract says ("when Redis
answers"): the webhook still gives every text its fail-safe answer (the
emergency numbers, a quick exit done), and a load balancer that read a 503
would take that away too. Whoever watches reads the body (or the Redis errors
counter in ``/metrics``).

When the flows are served from the published snapshot because the files on
disk do not pass (see :mod:`bot.published_flows`), the answer says so in ``flows_from``.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..store import ANSWERED_WITH_ERROR, STORE_DOWN, refusal

bp = Blueprint("health", __name__)

# What each refusal (bot/store/connection.py, REFUSALS) means, for whoever reads the answer.
REFUSED = {
    "OOM": "out of memory: used memory is over maxmemory and the eviction policy frees nothing",
    "READONLY": "a read-only replica: REDIS_URL must name the primary",
    "MISCONF": "its last save to disk failed, and it refuses writes until one succeeds (see its log)",
    "LOADING": "still loading its data into memory",
    "BUSY": "busy running a script past its time limit",
    "MASTERDOWN": "a replica that lost its link to the primary",
    "CLUSTERDOWN": "the cluster is down",
    "TRYAGAIN": "the cluster is moving keys between nodes",
    "NOREPLICAS": "fewer replicas than min-replicas-to-write answer",
}


def redis_state(store) -> dict:
    """``{"redis": "ok"}``, ``{"redis": "unreachable"}``, or ``{"redis": "cannot write", "redis_error": ...}``."""
    try:
        store.check_writes()
    except STORE_DOWN as exc:
        code = refusal(exc)
        if code is not None:
            return {"redis": "cannot write", "redis_error": f"{code}: {REFUSED.get(code, 'it refuses writes')}"}
        if isinstance(exc, ANSWERED_WITH_ERROR):  # another error answered to a plain SET: NOPERM (an ACL), say
            return {"redis": "cannot write", "redis_error": f"{type(exc).__name__}: Redis refused the write"}
        return {"redis": "unreachable"}
    return {"redis": "ok"}


@bp.get("/healthz")
def healthz():
    content = current_app.extensions["content"]
    body = {
        **redis_state(current_app.extensions["store"]),
        "flows": content().version if content.loaded else "not loaded",
    }
    if content.fallback is not None:  # still serving: 200, but whoever watches must know
        body["flows_from"] = (f"snapshot of published version {content.fallback.version}: "
                              "the flow files on disk do not pass their checks")
    return jsonify(body), 200 if body["redis"] != "unreachable" and content.loaded else 503
