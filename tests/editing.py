"""Editing flows from the console as the editor page does: the check it posts as the editor types,
publishing, and the menu text the tests change (tests/test_ops_flows.py, tests/test_whatsapp.py)."""
from __future__ import annotations

import hashlib
from pathlib import Path

from tests.fixtures_console import csrf_token

OLD_MENU = "What would you like to do?"
NEW_MENU = "What can we help you with?"
OLD_MENU_ES = "¿Qué desea hacer?"
NEW_MENU_ES = "¿En qué le podemos ayudar?"


def digest_tree(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


def token(client) -> str:
    """The session's CSRF token, from the live page: the flows page would check the
    whole draft (a copy of the project, Babel, every file parsed) just to show it."""
    return csrf_token(client, "/ops/")


def check(client, name: str, body: str | None, tr: dict | None = None, csrf: bool = True):
    """What the editor page's script posts as the editor types."""
    data = {} if body is None else {"text": body}
    for i, (msgid, langs) in enumerate((tr or {}).items()):
        data[f"msgid.{i}"] = msgid
        for lang, value in langs.items():
            data[f"tr.{lang}.{i}"] = value
    headers = {"Accept": "application/json"}
    if csrf:
        headers["X-CSRFToken"] = token(client)
    return client.post(f"/ops/flows/file/{name}/check", data=data, headers=headers)


def post(client, path: str, data: dict | None = None, **kwargs):
    return client.post(path, data={**(data or {}), "csrf_token": token(client)}, **kwargs)


def main_yaml(project: Path) -> str:
    return (project / "flows" / "main.yaml").read_text(encoding="utf-8")


def publish_new_menu(client, project: Path, note: str = "clearer question"):
    body = main_yaml(project).replace(OLD_MENU, NEW_MENU)
    response = check(client, "main.yaml", body, {NEW_MENU: {"es": NEW_MENU_ES}})
    assert response.status_code == 200 and response.json["ok"], response.json["problems"]
    return post(client, "/ops/flows/publish", {"note": note})
