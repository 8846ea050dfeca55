"""``flask --app app whatsapp sync``: make Twilio's WhatsApp templates match the flows."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from . import published_flows
from .engine.problems import errors
from .whatsapp_sync import SyncFailed

whatsapp_cli = AppGroup("whatsapp", help="WhatsApp: the buttons and lists made from the flows.")


@whatsapp_cli.command("sync")
@click.option("--verify", is_flag=True, help="Also list Twilio's templates: make again any deleted there, "
                                             "delete leftovers named as ours that nobody keeps.")
def whatsapp_sync(verify: bool) -> None:
    """Create, update and delete the Content API templates the flows need (one per menu or
    question and language); an unchanged template costs no call. Idempotent."""
    cfg = current_app.config
    fs, problems = published_flows.load(cfg["FLOWS_DIR"], cfg["LOCALES_DIR"])
    if fs is None or errors(problems):
        click.echo("Refused: the flows have problems; run `flask --app app flows check`.", err=True)
        sys.exit(1)
    try:
        report = current_app.extensions["whatsapp_sync"](fs, verify=verify)
    except SyncFailed as exc:
        click.echo(f"Refused: {exc}", err=True)
        sys.exit(1)
    for what, keys in (("created", report.created), ("updated", report.updated), ("deleted", report.deleted)):
        for key in keys:
            click.echo(f"{what}: {key}")
    click.echo(f"WhatsApp templates: {report.summary()}.", err=True)
