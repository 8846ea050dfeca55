"""``flask --app app ops …``: operators' accounts and the figures, from the server's shell."""
from __future__ import annotations

import sys

import click

from .accounts import ROLES, AccountError
from .blueprint import bp, console


@bp.cli.command("add-user")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True,
              help="responder: takes hand-offs and replies; viewer: looks only; "
                   "editor: a responder who also edits, publishes and rolls back the flows.")
def add_user(name: str, role: str) -> None:
    """Create an operator (or change their role and password).

    The password is read from standard input: typed twice at a terminal,
    else the first line (``printf '%s\\n' "$PW" | flask --app app ops add-user ana --role viewer``).
    """
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        new = console().accounts.add(name, role, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    console().throttle.forget(name)  # a new password: any wait from guessing the old one goes
    name = name.strip().lower()
    click.echo(f"{'Added' if new else 'Updated'} {name} ({role})."
               + ("" if new else " Browsers signed in as them are signed out."))


@bp.cli.command("remove-user")
@click.argument("name")
def remove_user(name: str) -> None:
    """Remove an operator; their open consoles are signed out."""
    try:
        gone = console().accounts.remove(name)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    if not gone:
        raise click.ClickException(f"there is no operator {name!r}")
    click.echo(f"Removed {name}.")


@bp.cli.command("users")
def list_users() -> None:
    """List the operators and their roles."""
    for name, role in console().accounts.names():
        click.echo(f"{name}\t{role}")


@bp.cli.command("figures-update")
def figures_update() -> None:
    """Count the events not counted yet into the daily figures (for cron)."""
    n = console().figures.catch_up(max_batches=10_000)
    click.echo(f"Counted {n} new event entries.")
