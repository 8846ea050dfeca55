"""``flask --app app ...`` commands for staff and developers.

* ``flows check``: every problem in flows/ and the catalogs, as ``path:line: message``.
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
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import CommandLineInterface, parse_mapping_cfg
from flask import Flask, current_app
from flask.cli import AppGroup

from . import content, i18n
from .channels.twilio import IncomingMessage
from .engine.problems import WARNING, Problem, errors
from .engine.render import placeholders
from .engine.segments import count_segments
from .engine.validate import SOURCE_LANGUAGE, braces, language_name, short_text
from .services import Helpline


def register(app: Flask) -> None:
    app.cli.add_command(flows_cli)
    app.cli.add_command(translations_cli)
    app.cli.add_command(chat)


def _relative(p: Problem) -> Problem:
    """Paths as staff type them (flows/main.yaml), when under the current folder."""
    rel = os.path.relpath(p.path)
    return p if rel.startswith("..") else Problem(rel, p.line, p.message, p.severity)


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
    _, problems = content.load(cfg["FLOWS_DIR"], cfg["LOCALES_DIR"], today=as_of.date() if as_of else None)
    _report(problems, f"Flows OK: {cfg['FLOWS_DIR']}")


@flows_cli.command("publish")
def flows_publish() -> None:
    """Check the flows in FLOWS_DIR and, if they pass, make every worker serve them.

    A set with errors is refused (each printed as path:line: message) and the
    running service keeps the last good set.
    """
    cfg = current_app.config
    version, problems = content.publish(cfg["FLOWS_DIR"], cfg["LOCALES_DIR"],
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
    fs, problems = content.load(cfg["FLOWS_DIR"], cfg["LOCALES_DIR"])
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
    fs, problems = content.load(cfg["FLOWS_DIR"], cfg["LOCALES_DIR"])
    if fs is None:
        raise click.ClickException("the flows cannot be read: run `flask --app app flows check`")
    tests, test_problems = flowtests.load_tests(cfg["FLOWS_DIR"])
    for problem in test_problems:
        click.echo(_relative_path_line(problem))
    failed = 0
    for test in tests:
        result = flowtests.run(test, fs)
        if result.passed:
            click.echo(f"ok    {test.name}")
        else:
            failed += 1
            click.echo(f"FAIL  {test.name}")
            for failure in result.failures:
                click.echo(_relative_path_line(failure))
    summary = f"{len(tests) - failed} passed, {failed} failed"
    if failed or test_problems:
        click.echo(summary + (f", {len(test_problems)} test file problem(s)" if test_problems else ""), err=True)
        sys.exit(1)
    click.echo(summary, err=True)


def _relative_path_line(line: str) -> str:
    path, sep, rest = line.partition(":")
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    return f"{rel if not rel.startswith('..') else path}{sep}{rest}"


# --- translations ----------------------------------------------------------------------

translations_cli = AppGroup("translations", help="Extract, update and check the translation catalogs.")


def _paths() -> tuple[str, str, str, str]:
    locales = current_app.config["LOCALES_DIR"]
    root = os.path.dirname(current_app.config["FLOWS_DIR"])
    return locales, os.path.join(locales, "babel.cfg"), os.path.join(locales, "messages.pot"), root


def _languages() -> list[str]:
    """The languages system.yaml lists, read even when the flow set does not
    pass its checks yet (a new language has no catalog until `update` makes it)."""
    from .engine.loader import load_dir

    system = load_dir(current_app.config["FLOWS_DIR"]).system
    if system is not None:
        return list(system.languages)
    return sorted(set(i18n.available_languages(current_app.config["LOCALES_DIR"])) | {"en", "es"})


def _pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


@translations_cli.command("update")
def translations_update() -> None:
    """Extract flow text into messages.pot and merge it into every catalog."""
    locales, cfg, pot, root = _paths()
    _pybabel("extract", "-F", cfg, "-o", pot, "--no-wrap", "--sort-by-file",
             "--project", "helpline", "--msgid-bugs-address", "-", os.path.relpath(root))
    for lang in _languages():
        if os.path.exists(i18n.po_path(locales, lang)):
            # --previous: a fuzzy entry keeps the old English as `#| msgid`, so
            # the reviewer sees what changed.
            _pybabel("update", "-i", pot, "-d", locales, "-l", lang, "--no-wrap", "--ignore-obsolete", "--previous")
        else:
            _pybabel("init", "-i", pot, "-d", locales, "-l", lang, "--no-wrap")
        click.echo(f"updated {i18n.po_path(locales, lang)}")
    click.echo("Now translate the empty and fuzzy entries, then run: flask --app app translations check")


def catalog_problems(locales: str, cfg: str, root: str, languages: list[str]) -> list[Problem]:
    """Untranslated, fuzzy or placeholder-mismatched catalog entries, and
    English texts the catalogs do not have yet."""
    if not os.path.isfile(cfg):
        return [Problem(cfg, 1, "babel.cfg is missing: it tells `translations update` where the flow texts are; put it back (it is in git)")]
    with open(cfg, encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, cfg)
    wanted = {}
    for filename, lineno, message, _, _ in extract_from_dir(root, method_map, options_map):
        wanted.setdefault(message, (filename, lineno))
    catalogs = i18n.load_catalogs(locales)
    problems = list(catalogs.problems)
    for lang in languages:
        if lang == SOURCE_LANGUAGE or lang in catalogs.unreadable:
            continue
        po = i18n.po_path(locales, lang)
        catalog = catalogs.get(lang)
        if catalog is None:
            problems.append(Problem(po, 1, f"no catalog for {language_name(lang)}: run `flask --app app translations update`"))
            continue
        name = language_name(lang)
        for msgid, (filename, lineno) in wanted.items():
            entry = catalog.get(msgid)
            quoted = f"\"{short_text(msgid)}\""
            if entry is None:
                problems.append(Problem(po, 1, f"{quoted} ({filename}:{lineno}) is not in the {name} catalog: run `flask --app app translations update`, then translate it"))
            elif not entry.msgstr:
                problems.append(Problem(po, entry.where.line, f"{quoted} has no {name} translation: write it between the quotes of the `msgstr` below it"))
            elif entry.fuzzy:
                problems.append(Problem(po, entry.where.line, f"the {name} translation of {quoted} is marked fuzzy (the English changed; the old English is on the `#|` line above): check it, then remove `fuzzy` from the `#,` line"))
            elif placeholders(entry.msgstr) != placeholders(msgid):
                problems.append(Problem(po, entry.where.line, f"the {name} translation of {quoted} must contain {braces(placeholders(msgid))} as in the English, written the same way; it has {braces(placeholders(entry.msgstr))}"))
    return problems


@translations_cli.command("check")
def translations_check() -> None:
    """Exit 1 if any catalog has untranslated, fuzzy or mismatched entries."""
    locales, cfg, _, root = _paths()
    _report(catalog_problems(locales, cfg, root, _languages()), "Translations OK")


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
