"""``flask --app app call``: a phone call in the terminal, through the same engine.

Type a key (0-9, *, #) as if pressed on the keypad, or words as if said;
an empty line is silence. What the caller would hear is printed, with the
voice's language. The call runs in the simulator's key space (``hl:sim:``),
like ``flask chat``: it never shows among live conversations or figures.
Ctrl-D hangs up, which erases the call as Twilio's status callback does.
"""
from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext

from .channels import voice as twiml
from .helpline import Helpline
from .voice_calls import VoiceCalls

KEYS = set("0123456789*#")


def register(app) -> None:
    app.cli.add_command(call)


def _query(url: str | None) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url or "").query).items()}


@click.command("call")
@click.option("--lang", default=None, help="Answer the first question with this language (e.g. es).")
@with_appcontext
def call(lang: str | None) -> None:
    """Call the bot from the terminal: type keys or words, read what would be spoken."""
    content = current_app.extensions["content"]
    if not content.loaded:
        raise click.ClickException("the flows have problems: run `flask --app app flows check`")
    cfg = current_app.config
    live: VoiceCalls = current_app.extensions["voice"]
    helpline = Helpline(current_app.extensions["ops"].sim_store, content, cfg["SECRET_KEY"],
                        lock_wait=cfg["LOCK_WAIT"])
    calls = VoiceCalls(helpline, live.settings, cfg["SECRET_KEY"])
    form = {"CallSid": f"CLI{uuid.uuid4().hex}", "From": "terminal", "To": "terminal"}
    click.echo("Calling the bot. Type a key (0-9, * or #) or words; an empty line is silence; Ctrl-D hangs up.")

    def follow(answer) -> twiml.Heard:
        got = twiml.heard(answer.twiml)
        for lang_code, text in got.said:
            click.secho(f"[{lang_code}] {text}", fg="cyan")
        return got

    got = follow(calls.answer(form))
    if lang:
        offered = calls.offered_languages(helpline.flows())
        if lang not in offered:
            raise click.BadParameter(f"unknown language {lang!r}; offered: {', '.join(offered)}")
        got = follow(calls.answer({**form, "Digits": str(offered.index(lang) + 1)},
                                  **_where(got.action)))
    while True:
        if got.hangup:
            click.echo("(the call has ended)")
            calls.hung_up({**form, "CallStatus": "completed"})
            return
        if got.dial:
            click.echo(f"(putting the call through to {got.dial})")
            try:
                answered = click.confirm("did they answer?", default=False)
            except (EOFError, click.exceptions.Abort):
                answered = False
            status = "completed" if answered else "no-answer"
            got = follow(calls.dialed({**form, "DialCallStatus": status}, to=_query(got.dial_action).get("to", "")))
            continue
        try:
            typed = click.prompt("you", prompt_suffix="> ", default="", show_default=False).strip()
        except (EOFError, click.exceptions.Abort):
            click.echo("\n(you hung up: the call is erased)")
            calls.hung_up({**form, "CallStatus": "completed"})
            return
        if not typed:
            got = follow(calls.answer(form, **_where(got.redirect)))
        elif typed in KEYS:
            got = follow(calls.answer({**form, "Digits": typed}, **_where(got.action)))
        else:
            got = follow(calls.answer({**form, "SpeechResult": typed}, **_where(got.action)))


def _where(url: str | None) -> dict:
    """The ``at`` and ``silence`` of a URL the TwiML names, as the webhook reads them."""
    query = _query(url)
    silence = query.get("silence", "0")
    return {"at": query.get("at", ""), "silence": int(silence) if silence.isdigit() else 0}
