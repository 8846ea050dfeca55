"""How much a request may send: little everywhere, more only for the flow editor.

Flask refuses a body over the limit with 413 from its Content-Length alone,
so nobody can make a worker read, parse or spool to disk more than this.
Slow bodies are another matter: a worker thread waits for every byte, which
is why production runs behind a buffering proxy (``deploy/nginx.conf``,
whose ``client_max_body_size`` says the same numbers).

* Twilio's webhooks: ``TWILIO_MAX_BYTES`` (``webhook.py`` also refuses an
  unsigned or non-form request, or one of unknown length, before reading it).
* The console (sign-in, replies, the simulator): ``CONSOLE_MAX_BYTES``. A
  reply is at most a few thousand characters.
* The flow editor's check and save (a whole file and its translations, as
  typed): ``EDITOR_MAX_BYTES``. A draft may hold at most 256 KB a file and
  512 KB in all (``bot/flow_editing.py``, which refuses more with the line
  where it goes over); form encoding can triple non-ASCII text, so one
  megabyte carries any draft that fits, and nothing much bigger. Only
  signed-in operators get that far: the console refuses anyone else before
  reading.
"""
from __future__ import annotations

from flask import Flask, request

# Twilio's webhook forms are a few kilobytes. The longest Body it sends is
# 1,600 characters (twilio.com/docs/messaging/guides/webhook-request): at
# most 4 bytes each in UTF-8 and 3 characters a byte once form-encoded, 19 KB;
# the other fields (sender, ids, ten media URLs, WhatsApp's profile name) add
# a few more. 64 KiB leaves three times that, and bounds what an anonymous
# sender can make the server parse and hash before the signature says no.
TWILIO_MAX_BYTES = 64 * 1024
CONSOLE_MAX_BYTES = 64 * 1024
EDITOR_MAX_BYTES = 1024 * 1024
EDITOR_ENDPOINTS = frozenset({"ops.flow_check", "ops.flow_save"})


def init_app(app: Flask) -> None:
    """Set the cap every request gets (the editor's endpoints get more: :func:`editor_allows_more`)."""
    app.config["MAX_CONTENT_LENGTH"] = CONSOLE_MAX_BYTES


def editor_allows_more() -> None:
    """The console's first hook, before its guard reads the form for the CSRF token
    (only the console has the editor's endpoints, so a text never pays for this)."""
    if request.endpoint in EDITOR_ENDPOINTS:
        request.max_content_length = EDITOR_MAX_BYTES
