"""``flask --app app ...`` commands for staff and developers.

* ``flows check``: every problem in flows/ (the console's canned replies too) and the catalogs, as
  ``path:line: message``.
* ``chat``: talk to the bot in the terminal, through the same engine and store
  (in the simulator's key space, never a live conversation's).
* ``translations update`` / ``check``: pybabel extract + update; refuse
  untranslated, fuzzy or placeholder-mismatched entries.
"""
from __future__ import annotations

import getpass
import os
import sys
import uuid

import click
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import write_po
from flask import Flask, current_app
from flask.cli import AppGroup

from . import canned_replies, i18n, published_flows
from .channels.twilio import IncomingMessage
from .engine.problems import WARNING, Problem, errors
from .outcomes import problems as outcome_problems
from .engine.render import placeholders
from .engine.segments import count_segments
from .engine.translations import EMPTY, FOUND, HIDDEN, MISSING, NO_CATALOG, PLACEHOLDERS, hidden_character
from .helpline import Helpline


def register(app: Flask) -> None:
    app.cli.add_command(flows_cli)
    app.cli.add_command(translations_cli)
    app.cli.add_command(chat)
    from . import call_cli  # `flask call`: the phone line in the terminal
    call_cli.register(app)
    from .whatsapp_cli import whatsapp_cli  # WhatsApp's templates (bot/whatsapp_sync.py)

    app.cli.add_command(whatsapp_cli)


def _relative(p: Problem) -> Problem:
    """Paths as staff type them (flows/main.yaml), when under the current folder."""
    rel = os.path.relpath(p.path)
    return p if rel.startswith("..") else p.moved(rel)


def _report(problems: list[Problem], ok_message: str) -> None:
    for p in problems:
        click.echo(str(_relative(p)))
    n_err = len(errors(problems))
    n_warn = sum(1 for p in problems if p.severity == WARNING)
    if n_err:
        click.echo(f"{n_err} error(s), {n_warn} warning(s).", err=True)
        sys.exit(1)
    click.echo(ok_message + (f" ({n_warn} warning(s))" if n_warn else ""), err=True)


# --- flows ---------------------------------------------------------------------------

flows_cli = AppGroup("flows", help="Check and work with the conversation flows.")


@flows_cli.command("check")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Judge review dates as of this day (YYYY-MM-DD) instead of today: what will be due.")
def flows_check(as_of) -> None:
    """Check every flow, the keyword file and the catalogs; exit 1 on errors."""
    cfg = current_app.config
    fs, problems = published_flows.load(cfg["FLOWS_DIR"], cfg["LOCALES_DIR"], today=as_of.date() if as_of else None)
    # The console's canned replies and wrap-up outcomes too.
    problems = sorted(problems + canned_replies.check(cfg["FLOWS_DIR"], fs) + outcome_problems(cfg["FLOWS_DIR"]))
    _report(problems, f"Flows OK: {cfg['FLOWS_DIR']}")


@flows_cli.command("publish")
def flows_publish() -> None:
    """Check the flows in FLOWS_DIR and, if they pass, make every worker serve them.

    A set with errors is refused (each printed as path:line: message) and the
    running service keeps the last good set.
    """
    cfg = current_app.config
    version, problems = published_flows.publish(cfg["FLOWS_DIR"], cfg["LOCALES_DIR"],
                                        current_app.extensions["flows_version"], by=getpass.getuser())
    for p in problems:
        click.echo(str(_relative(p)))
    if version is None:
        click.echo("Refused: the service keeps serving the last good flows. Fix the problems above and publish again.",
                   err=True)
        sys.exit(1)
    click.echo(f"Published flows version {version}: every worker serves it within "
               f"{cfg['FLOWS_CHECK_SECONDS']:g} s.", err=True)


@flows_cli.command("graph")
@click.argument("flow", required=False)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write one <flow>.mmd file per flow into this folder instead of printing.")
def flows_graph(flow: str | None, out_dir: str | None) -> None:
    """Draw a flow (or every flow) as a Mermaid flowchart."""
    from .graph import mermaid

    cfg = current_app.config
    fs, problems = published_flows.load(cfg["FLOWS_DIR"], cfg["LOCALES_DIR"])
    if fs is None:
        raise click.ClickException("the flows cannot be read: run `flask --app app flows check`")
    names = [flow] if flow else sorted(fs.flows)
    for name in names:
        if name not in fs.flows:
            raise click.BadParameter(f"no flow `{name}`; flows: {', '.join(sorted(fs.flows))}", param_hint="FLOW")
    for name in names:
        text = mermaid(fs, name)
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            path = os.path.join(out_dir, f"{name}.mmd")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
            click.echo(f"wrote {path}")
        else:
            if len(names) > 1:
                click.echo(f"%% --- {name} ---")
            click.echo(text)


@flows_cli.command("test")
def flows_test() -> None:
    """Run the staff-written conversation tests in flows/tests/; exit 1 if any fails."""
    from . import flowtests

    cfg = current_app.config
    fs, problems = published_flows.load(cfg["FLOWS_DIR"], cfg["LOCALES_DIR"])
    if fs is None:
        raise click.ClickException("the flows cannot be read: run `flask --app app flows check`")
    tests, test_problems = flowtests.load_tests(cfg["FLOWS_DIR"])
    for problem in test_problems:
        click.echo(str(_relative(problem)))
    failed = 0
    for test in tests:
        result = flowtests.run(test, fs)
        if result.passed:
            click.echo(f"ok    {test.name}")
        else:
            failed += 1
            click.echo(f"FAIL  {test.name}")
            for failure in result.failures:
                click.echo(str(_relative(failure)))
    summary = f"{len(tests) - failed} passed, {failed} failed"
    if failed or test_problems:
        click.echo(summary + (f", {len(test_problems)} test file problem(s)" if test_problems else ""), err=True)
        sys.exit(1)
    click.echo(summary, err=True)


# --- translations ----------------------------------------------------------------------

translations_cli = AppGroup("translations", help="Extract, update and check the translation catalogs.")


def _paths() -> tuple[str, str, str]:
    locales = current_app.config["LOCALES_DIR"]
    return locales, os.path.join(locales, "babel.cfg"), os.path.join(locales, "messages.pot")


def _languages() -> list[str]:
    return list(i18n.languages(current_app.config["FLOWS_DIR"], current_app.config["LOCALES_DIR"]))


def _pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


@translations_cli.command("update")
def translations_update() -> None:
    """Extract flow text into messages.pot and merge it into every catalog."""
    locales, cfg, pot = _paths()
    flows_dir = current_app.config["FLOWS_DIR"]
    if not os.path.isfile(cfg):
        raise click.ClickException(f"{cfg} is missing: it says which files hold text to translate; "
                                   "bring it back from the project's history (git checkout -- locales/babel.cfg)")
    template = i18n.template(flows_dir, cfg)
    if not len(template):
        # Merging an empty template would empty every catalog: every translation lost.
        raise click.ClickException(f"no text to translate found in {flows_dir} with the patterns of {cfg}: "
                                   "the catalogs were left as they are")
    with open(pot, "wb") as fh:
        write_po(fh, template, width=None, sort_by_file=True)
    for lang in _languages():
        if os.path.exists(i18n.po_path(locales, lang)):
            # --previous: a fuzzy entry keeps the old English as `#| msgid`, so
            # the reviewer sees what changed.
            _pybabel("update", "-i", pot, "-d", locales, "-l", lang, "--no-wrap", "--ignore-obsolete", "--previous")
        else:
            _pybabel("init", "-i", pot, "-d", locales, "-l", lang, "--no-wrap")
        click.echo(f"updated {i18n.po_path(locales, lang)}")
    click.echo("Now translate the empty and fuzzy entries, then run: flask --app app translations check")


def catalog_problems(flows_dir: str, locales: str) -> list[Problem]:
    """Untranslated, fuzzy or placeholder-mismatched catalog entries, and
    English texts the catalogs do not have yet: each at its catalog line."""
    cfg = os.path.join(locales, "babel.cfg")
    if not os.path.isfile(cfg):
        return [Problem(cfg, 1, "babel-cfg-missing")]
    state, catalogs = i18n.project_state(flows_dir, locales)
    problems = list(catalogs.problems)
    for lang, language in state.items():
        po = i18n.po_path(locales, lang)
        if language.catalog == NO_CATALOG:
            problems.append(Problem(po, 1, "catalog-not-found", {"lang": lang}))
        if language.catalog != FOUND:
            continue  # an unreadable one is reported once, where it cannot be read
        for t in language.todo:
            about = {"lang": lang, "msgid": t.msgid}
            if t.state == MISSING:
                first = t.places[0]
                problems.append(Problem(po, 1, "catalog-missing-text", {**about, "file": first.path, "file_line": first.line}))
            elif t.state == EMPTY:
                problems.append(Problem(po, t.translation.where.line, "catalog-empty-translation", about))
            elif t.state == PLACEHOLDERS:
                problems.append(Problem(po, t.translation.where.line, "placeholder-mismatch",
                                        {**about, "wanted": tuple(sorted(placeholders(t.msgid))),
                                         "found": tuple(sorted(placeholders(t.msgstr)))}))
            elif t.state == HIDDEN:
                problems.append(Problem(po, t.translation.where.line, "hidden-character",
                                        {**about, "char": hidden_character(t.msgstr)}))
            else:  # fuzzy, or translated before the English changed
                problems.append(Problem(po, t.translation.where.line, "catalog-fuzzy-translation",
                                        {**about, "previous": t.previous}))
    return problems


@translations_cli.command("check")
def translations_check() -> None:
    """Exit 1 if any catalog has untranslated, fuzzy or mismatched entries."""
    _report(catalog_problems(current_app.config["FLOWS_DIR"], current_app.config["LOCALES_DIR"]), "Translations OK")


# --- chat --------------------------------------------------------------------------------


@click.command("chat")
@click.option("--lang", default=None, help="Start in this language (e.g. es); default: detected from your first text.")
@click.option("--channel", type=click.Choice(["sms", "whatsapp"]), default="sms", show_default=True)
@click.option("--segments/--no-segments", default=True, help="Show how many SMS segments each reply costs.")
@click.option("--explain", is_flag=True, help="Say why each message went where it went: the keyword, answer, option or "
              "phrase of flows/understanding.yaml it matched, where that is written, and the language found.")
def chat(lang: str | None, channel: str, segments: bool, explain: bool) -> None:
    """Talk to the bot in the terminal, through the same engine and store.

    In the simulator's key space (``hl:sim:``), as the console's simulator
    does: a trial never shows in the live list, the figures or the hand-off
    queue, and never touches a live conversation.
    """
    fs = current_app.extensions["content"]
    if not fs.loaded:
        raise click.ClickException("the flows have problems: run `flask --app app flows check`")
    cfg = current_app.config
    helpline = Helpline(current_app.extensions["ops"].sim_store, fs, cfg["SECRET_KEY"], lock_wait=cfg["LOCK_WAIT"])
    address = f"terminal:{getpass.getuser()}"
    if channel == "whatsapp":
        address = "whatsapp:" + address
    click.echo(f"Chatting with the bot as a test contact over {channel}. "
               "Type EXIT to erase the chat, Ctrl-D to leave.")

    def send(text: str) -> None:
        msg = IncomingMessage(address=address, channel=channel, text=text, message_sid=f"CLI{uuid.uuid4().hex}")
        handled = helpline.handle(msg)
        if explain and handled.turn is not None:
            for reading in handled.turn.readings:
                click.secho(f"  why: {reading}", fg="yellow")
        for reply in handled.replies:
            click.secho(reply, fg="cyan")
            if segments:
                seg = count_segments(reply)
                click.secho(f"  ({seg.segments} segment(s), {seg.encoding}, {seg.units} characters)", dim=True)

    if lang:
        words = fs().keywords.languages.get(lang)
        if not words:
            raise click.BadParameter(f"unknown language {lang!r}; known: {', '.join(fs().keywords.languages)}")
        send(sorted(words)[0])
    while True:
        try:
            text = click.prompt("you", prompt_suffix="> ", default="", show_default=False)
        except (EOFError, click.exceptions.Abort):
            click.echo()
            return
        send(text)
