"""Translations: Babel catalogs for flow text, and the flow YAML extractor.

Flow text is written in English and is the msgid. ``flask --app app
translations update`` collects it with Babel's extraction (:func:`extract`),
through :func:`extract_flows`, registered in ``locales/babel.cfg``, into
``locales/messages.pot``; ``pybabel update`` merges that into one catalog per
language. When the English of a text changes, the old translation comes back
marked *fuzzy*, and ``translations check`` / ``flows check`` refuse it until
someone has reviewed it: hotline wording must not drift silently.

Catalogs are read straight from the ``.po`` files (no compile step), so a
staff member's edit is live after a reload.
"""
from __future__ import annotations

import io
import os
import re
from typing import Iterator, Mapping

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import DEFAULT_HEADER, parse_mapping_cfg
from babel.messages.pofile import PoFileError, read_po, unescape

from .engine.loader import SCHEMA_FILE, SPECIAL_FILES, is_language_code, load_files, read_dir
from .engine.model import System, Translation, Where
from .engine.problems import Problem
from .engine.translations import LanguageState, language_name, translation_state
from .engine.yamlsource import YamlSyntaxError, parse
from .files import inside

DOMAIN = "messages"
HOTLINE_TEXT_FIELDS = ("name", "note")  # what a texter reads of a hotline


def po_path(locales_dir: str, lang: str) -> str:
    """The catalog of ``lang``; ValueError unless ``lang`` is a language code and the
    path stays inside ``locales_dir`` (system.yaml is checked too: this is the second lock)."""
    if not is_language_code(lang):
        raise ValueError(f"`{lang}` is not a language code")
    return inside(locales_dir, lang, "LC_MESSAGES", f"{DOMAIN}.po")


def available_languages(locales_dir: str) -> list[str]:
    """The languages with a catalog: folders of ``locales_dir`` named by a language code."""
    if not os.path.isdir(locales_dir):
        return []
    found = []
    for lang in sorted(os.listdir(locales_dir)):
        try:
            if is_language_code(lang) and os.path.isfile(po_path(locales_dir, lang)):
                found.append(lang)
        except ValueError:  # a symlink leading out of the folder
            continue
    return found


def read_catalog(path: str, lang: str) -> Catalog:
    with open(path, "rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


class Catalogs(dict):
    """``lang -> msgid -> Translation``, plus what stopped a catalog being read.

    A catalog with problems is kept empty (``unreadable``) so that one typo in
    a ``.po`` file is reported once, at its line, rather than as every one of
    its translations missing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[Problem] = []
        self.unreadable: set[str] = set()


# A line of a .po entry that opens a quoted text: msgid "...", msgstr "...", "..."
_QUOTED_LINE = re.compile(r'^\s*(?:msgctxt|msgid(?:_plural)?|msgstr(?:\[\d+\])?)?\s*"')


def _unclosed_quote(line: str) -> bool:
    """True for ``msgstr "Hola`` (Babel would silently drop the entry)."""
    body = line.strip()
    if not _QUOTED_LINE.match(body):
        return False
    quoted = body[body.index('"'):]
    if len(quoted) < 2 or not quoted.endswith('"'):
        return True
    backslashes = len(quoted[:-1]) - len(quoted[:-1].rstrip("\\"))
    return backslashes % 2 == 1  # a final `\"` is an escaped quote, not a closing one


def _catalog_problem(path: str, data: bytes, lang: str) -> tuple[Catalog | None, Problem | None]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, Problem(path, line, "catalog-not-utf8")
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.lstrip().startswith("#") and _unclosed_quote(line):
            return None, Problem(path, lineno, "catalog-unclosed-quote")
    try:
        return read_po(io.BytesIO(data), locale=lang, domain=DOMAIN, abort_invalid=True), None
    except PoFileError as exc:
        line = exc.lineno + 1 if isinstance(exc.lineno, int) else 1
        return None, Problem(path, line, "catalog-bad-line", {"written": str(exc.line).strip()})


def load_catalogs(locales_dir: str) -> Catalogs:
    """``lang -> msgid -> Translation`` for every catalog under ``locales_dir``."""
    return catalogs_from(locales_dir, read_catalog_files(locales_dir))


def read_catalog_files(locales_dir: str) -> dict[str, bytes]:
    """``lang -> the bytes of its .po`` for every catalog under ``locales_dir``."""
    files = {}
    for lang in available_languages(locales_dir):
        with open(po_path(locales_dir, lang), "rb") as fh:
            files[lang] = fh.read()
    return files


def catalogs_from(locales_dir: str, files: Mapping[str, bytes]) -> Catalogs:
    """What :func:`load_catalogs` reads, from the catalogs' contents by language
    (as :func:`read_catalog_files` returns them, or as a published snapshot keeps them)."""
    catalogs = Catalogs()
    for lang, data in sorted(files.items()):
        path = po_path(locales_dir, lang)
        catalog, problem = _catalog_problem(path, data, lang)
        entries: dict[str, Translation] = {}
        catalogs[lang] = entries
        if problem is not None:
            catalogs.problems.append(problem)
            catalogs.unreadable.add(lang)
            continue
        previous = previous_ids(data.decode("utf-8"))
        for message in catalog:
            if not message.id or not isinstance(message.id, str):
                continue  # the header, or a plural form (flows have none)
            msgstr = message.string if isinstance(message.string, str) else ""
            line = message.lineno or 1
            entries[message.id] = Translation(msgstr, message.fuzzy, Where(path, line),
                                              previous.get(line, "") if message.fuzzy else "")
    return catalogs


def previous_ids(text: str) -> dict[int, str]:
    """The old English (``#| msgid "..."``) of fuzzy entries, by the line of their ``msgid``.

    ``translations update`` writes these lines (``--previous``), but Babel's reader drops them.
    """
    found: dict[int, str] = {}
    parts: list[str] = []
    for n, line in enumerate(text.split("\n"), 1):  # as Babel counts lines
        line = line.strip()
        if line.startswith("#| msgid "):
            parts = [line[len("#| msgid "):]]
        elif line.startswith('#| "') and parts:
            parts.append(line[3:])
        elif line.startswith("msgid "):
            if parts:
                found[n] = "".join(unescape(p) for p in parts)
            parts = []
        elif not line.startswith("#"):
            parts = []
    return found


def languages(flows_dir: str, locales_dir: str) -> dict[str, str]:
    """The languages of the flow set, code -> English name, as system.yaml lists them.

    Read even when the flow set does not pass its checks yet (a new language has no
    catalog until `translations update` makes it). Only system.yaml (and the
    schema it is read with) is parsed: the flows do not say which languages.
    """
    wanted = {SCHEMA_FILE, "system.yaml"}
    files = {name: data for name, data in read_dir(flows_dir).items() if name in wanted}
    return languages_of(load_files(flows_dir, files).system, locales_dir)


def languages_of(system: System | None, locales_dir: str) -> dict[str, str]:
    """What :func:`languages` says, from system.yaml as loaded (None: it cannot be read;
    then the languages with a catalog, and English and Spanish)."""
    codes = list(system.languages) if system is not None else sorted(set(available_languages(locales_dir)) | {"en", "es"})
    return {code: language_name(code) for code in codes}


def extract(flows_dir: str, babel_cfg: str) -> Iterator[tuple[str, int, str, list[str], str | None]]:
    """The texts to translate, as ``(file, line, English, comments, context)``:
    what ``babel_cfg`` asks for, from the folder that holds ``flows_dir``, with
    paths relative to that folder ("flows/rights.yaml").

    babel.cfg's patterns say ``flows/``; FLOWS_DIR may be named otherwise
    ("content"), and its texts are found all the same: pointed at a folder
    the patterns miss, an update would find no text and empty every catalog.
    """
    with open(babel_cfg, encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, babel_cfg)
    flows_dir = os.path.abspath(flows_dir)
    name = os.path.basename(flows_dir)

    def pointed(pattern: str) -> str:
        return name + pattern[len("flows"):] if pattern.startswith("flows/") else pattern

    method_map = [(pointed(pattern), method) for pattern, method in method_map]
    options_map = {pointed(pattern): options for pattern, options in options_map.items()}
    for filename, lineno, message, comments, context in extract_from_dir(os.path.dirname(flows_dir), method_map,
                                                                         options_map):
        yield os.path.normpath(filename).replace(os.sep, "/"), lineno, message, comments, context


def template(flows_dir: str, babel_cfg: str) -> Catalog:
    """messages.pot as `translations update` writes it (with ``write_po(...,
    sort_by_file=True, width=None)``): what ``pybabel extract -F babel.cfg
    --sort-by-file --no-wrap`` makes from the project folder."""
    pot = Catalog(project="helpline", msgid_bugs_address="-", charset="utf-8", header_comment=DEFAULT_HEADER)
    for filename, lineno, message, comments, context in extract(flows_dir, babel_cfg):
        pot.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return pot


def extracted_texts(flows_dir: str, babel_cfg: str) -> dict[str, list[Where]]:
    """English -> where it is written, as `translations update` finds the texts."""
    texts: dict[str, list[Where]] = {}
    for filename, lineno, message, _, _ in extract(flows_dir, babel_cfg):
        texts.setdefault(message, []).append(Where(filename, lineno))
    return texts


def project_state(flows_dir: str, locales_dir: str) -> tuple[dict[str, LanguageState], Catalogs]:
    """Where each text of the project on disk stands in each language, as
    `translations check` judges it (the texts as `translations update` extracts
    them: none without babel.cfg), and the catalogs as read (with their problems)."""
    cfg = os.path.join(locales_dir, "babel.cfg")
    texts = extracted_texts(flows_dir, cfg) if os.path.isfile(cfg) else {}
    catalogs = load_catalogs(locales_dir)
    return translation_state(texts, catalogs, languages(flows_dir, locales_dir)), catalogs


def iter_flow_texts(text: str, path: str) -> Iterator[tuple[int, str]]:
    """(line, English text) for every translatable string in one flow file."""
    source = parse(text, path)
    name = os.path.basename(path)
    if SPECIAL_FILES.get(name) == "keywords" or name == "schema.json":
        return
    data = source.data if isinstance(source.data, dict) else {}
    found: list[tuple[tuple, str]] = []
    if SPECIAL_FILES.get(name) == "system":
        texts = data.get("texts")
        for key, value in (texts.items() if isinstance(texts, dict) else ()):
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
            for key in ("text", "unavailable", "still_waiting", "voice"):
                if key in node:
                    found.append((("nodes", i, key), node[key]))
            for j, option in enumerate(node.get("options") or []):
                for key in ("label", "short", "voice"):
                    if isinstance(option, dict) and key in option:
                        found.append((("nodes", i, "options", j, key), option[key]))
    for at, value in found:
        if isinstance(value, str) and value:
            yield source.line(at), value


def extract_flows(fileobj, keywords, comment_tags, options):
    """Babel extraction method for flow YAML (see locales/babel.cfg).

    Yields ``(lineno, funcname, message, comments)`` as Babel expects. A file
    that is not valid YAML or not UTF-8 yields nothing here; ``flows check``
    reports it.
    """
    path = getattr(fileobj, "name", "flow.yaml")
    try:
        text = fileobj.read().decode(options.get("encoding", "utf-8"))
        found = list(iter_flow_texts(text, path))
    except (UnicodeDecodeError, YamlSyntaxError):
        return  # `flows check` says where and why
    for line, message in found:
        yield line, None, message, []
