"""Translations: Babel catalogs for flow text, and the flow YAML extractor.

Flow text is written in English and is the msgid. ``pybabel extract`` (driven
by ``flask --app app translations update``) collects it with
:func:`extract_flows`, registered in ``locales/babel.cfg``, into
``locales/messages.pot``; ``pybabel update`` merges that into one catalog per
language. When the English of a text changes, the old translation comes back
marked *fuzzy*, and ``translations check`` / ``flows check`` refuse it until
someone has reviewed it: hotline wording must not drift silently.

Catalogs are read straight from the ``.po`` files (no compile step), so a
staff member's edit is live after a reload.
"""
from __future__ import annotations

import os
from typing import Iterator

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from .engine.loader import SPECIAL_FILES
from .engine.model import Translation, Where
from .engine.yamlsource import YamlSyntaxError, parse

DOMAIN = "messages"
# Fields whose text a texter reads, by the file they are in.
FLOW_TEXT_FIELDS = ("text", "unavailable", "label")
HOTLINE_TEXT_FIELDS = ("name", "note")


def po_path(locales_dir: str, lang: str) -> str:
    return os.path.join(locales_dir, lang, "LC_MESSAGES", f"{DOMAIN}.po")


def available_languages(locales_dir: str) -> list[str]:
    if not os.path.isdir(locales_dir):
        return []
    return sorted(
        lang for lang in os.listdir(locales_dir) if os.path.isfile(po_path(locales_dir, lang))
    )


def read_catalog(path: str, lang: str) -> Catalog:
    with open(path, "rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


def load_catalogs(locales_dir: str) -> dict[str, dict[str, Translation]]:
    """``lang -> msgid -> Translation`` for every catalog under ``locales_dir``."""
    catalogs: dict[str, dict[str, Translation]] = {}
    for lang in available_languages(locales_dir):
        path = po_path(locales_dir, lang)
        entries = {}
        for message in read_catalog(path, lang):
            if not message.id or not isinstance(message.id, str):
                continue  # the header, or a plural form (flows have none)
            msgstr = message.string if isinstance(message.string, str) else ""
            entries[message.id] = Translation(msgstr, message.fuzzy, Where(path, message.lineno or 1))
        catalogs[lang] = entries
    return catalogs


def iter_flow_texts(text: str, path: str) -> Iterator[tuple[int, str]]:
    """(line, English text) for every translatable string in one flow file."""
    source = parse(text, path)
    name = os.path.basename(path)
    if SPECIAL_FILES.get(name) == "keywords" or name == "schema.json":
        return
    data = source.data if isinstance(source.data, dict) else {}
    found: list[tuple[tuple, str]] = []
    if SPECIAL_FILES.get(name) == "system":
        for key, value in (data.get("texts") or {}).items():
            found.append((("texts", key), value))
    elif SPECIAL_FILES.get(name) == "hotlines":
        for i, entry in enumerate(data.get("hotlines") or []):
            for key in HOTLINE_TEXT_FIELDS:
                if isinstance(entry, dict) and key in entry:
                    found.append((("hotlines", i, key), entry[key]))
    else:
        for i, node in enumerate(data.get("nodes") or []):
            if not isinstance(node, dict):
                continue
            for key in ("text", "unavailable"):
                if key in node:
                    found.append((("nodes", i, key), node[key]))
            for j, option in enumerate(node.get("options") or []):
                if isinstance(option, dict) and "label" in option:
                    found.append((("nodes", i, "options", j, "label"), option["label"]))
    for at, value in found:
        if isinstance(value, str) and value:
            yield source.line(at), value


def extract_flows(fileobj, keywords, comment_tags, options):
    """Babel extraction method for flow YAML (see locales/babel.cfg).

    Yields ``(lineno, funcname, message, comments)`` as Babel expects. A file
    that is not valid YAML yields nothing here; ``flows check`` reports it.
    """
    text = fileobj.read().decode(options.get("encoding", "utf-8"))
    path = getattr(fileobj, "name", "flow.yaml")
    try:
        for line, message in iter_flow_texts(text, path):
            yield line, None, message, []
    except YamlSyntaxError:
        return
