"""Canned replies: what a responder puts in the reply box of a hand-off with
one key, in the person's language (``flows/console/replies.yaml``).

Staff keep them as data, like the flows: the English in the YAML file, the
other languages in the Babel catalogs (extracted by :func:`extract_replies`,
registered in ``locales/babel.cfg``). ``{us_trafficking}`` puts in a line of
the directory (``flows/hotlines.yaml``) exactly as a flow's directory shows
it (:func:`bot.engine.render.hotline`), so a number is written once, where
it is verified.

The file sits in a folder of its own under flows/ so that the flow loader,
which reads every YAML file of flows/ as a flow, never sees it; it is not
part of a published flow set (the console reads it from disk, and the
catalogs of the flow set being served). :func:`check` is what
``flask --app app flows check`` adds for it: the shape of the file, unknown
or unverified placeholders, missing translations, and, with every
placeholder filled in, in every language, the rules the flows' messages
have: the SMS segment budget (:data:`bot.engine.segments.MAX_SEGMENTS`), no
`first_line_avoid` word in the lines a locked phone shows, and no typed
number that is not in the directory.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .engine import model as m
from .engine import render
from .engine.problems import WARNING, Problem
from .engine.segments import MAX_SEGMENTS, count_segments, is_gsm7
from .engine.translations import FOUND, translation_state
from .engine.validate import PREVIEW_LINES, digits, directory_numbers, numbers_in, preview_words, untranslated
from .engine.yamlsource import YamlSyntaxError, parse, size_problem

REPLIES_FILE = os.path.join("console", "replies.yaml")
KEYS = 9  # Alt+1 .. Alt+9
_ID = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class CannedReply:
    id: str
    title: str  # the button's label, for responders (English)
    text: m.Text  # the English (the msgid) and where it is written


def path_of(flows_dir: str) -> str:
    return os.path.join(flows_dir, REPLIES_FILE)


def read(flows_dir: str) -> tuple[list[CannedReply], list[Problem]]:
    """The replies of ``flows_dir``, and what is wrong with the file's shape
    (a reply with a problem is left out). No file: no replies, no problem."""
    path = path_of(flows_dir)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return [], []
    return parse_replies(data, path)


def parse_replies(data: bytes, path: str) -> tuple[list[CannedReply], list[Problem]]:
    try:
        too_big = size_problem(data)
        if too_big is not None:
            raise too_big
        source = parse(data.decode("utf-8"), path)
    except UnicodeDecodeError:
        return [], [Problem(path, 1, "reply-file-shape", {"why": "this file is not UTF-8 text: save it as UTF-8"})]
    except YamlSyntaxError as exc:
        return [], [Problem(path, exc.line, exc.code, exc.data)]
    problems = [Problem(path, line, "duplicate-key", {"key": key}) for line, key in source.duplicates]
    top = source.data if isinstance(source.data, dict) else {}
    items = top.get("replies")
    if not isinstance(items, list) or not items:
        return [], problems + [Problem(path, source.line(("replies",)), "reply-file-shape",
                                       {"why": "write `replies:` and under it a list of replies, each with `id:`, "
                                               "`title:` and `text:`"})]
    extra = sorted(k for k in top if k != "replies")
    if extra:
        problems.append(Problem(path, source.key_line((extra[0],)), "reply-file-shape",
                                {"why": f"`{extra[0]}:` is not known here: the file has only `replies:`"}))
    replies: list[CannedReply] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        at = ("replies", i)
        line = source.line(at)
        if not isinstance(item, dict):
            problems.append(Problem(path, line, "reply-file-shape",
                                    {"why": "each reply is `id:`, `title:` and `text:` (start it with `- id:`)"}))
            continue
        unknown = sorted(k for k in item if k not in ("id", "title", "text"))
        missing = [k for k in ("id", "title", "text") if not isinstance(item.get(k), str) or not item[k].strip()]
        if unknown:
            problems.append(Problem(path, source.key_line((*at, unknown[0])), "reply-file-shape",
                                    {"why": f"`{unknown[0]}:` is not known here: a reply has `id:`, `title:` and `text:`"}))
        if missing:
            problems.append(Problem(path, line, "reply-file-shape",
                                    {"why": f"this reply needs `{missing[0]}:` with some text"}))
            continue
        rid = item["id"]
        if not _ID.fullmatch(rid):
            problems.append(Problem(path, source.line((*at, "id")), "reply-file-shape",
                                    {"why": f"`{rid}` cannot be an id: use lower-case letters, digits and _"}))
            continue
        if rid in seen:
            problems.append(Problem(path, source.line((*at, "id")), "reply-file-shape",
                                    {"why": f"the id `{rid}` is also used at line {seen[rid]}: give each reply its own"}))
            continue
        seen[rid] = source.line((*at, "id"))
        replies.append(CannedReply(rid, item["title"].strip(),
                                   m.Text(item["text"], m.Where(path, source.line((*at, "text"))))))
    if len(replies) > KEYS:
        problems.append(Problem(path, replies[KEYS].text.where.line, "reply-no-key", {"keys": KEYS}, WARNING))
    return replies, problems


def fill(fs: m.FlowSet, reply: CannedReply, lang: str) -> str:
    """The reply as the person reads it: in ``lang`` (English if no reviewed
    translation yet), each ``{hotline}`` filled from the directory."""
    values = {name: render.hotline(fs, lang, fs.hotlines[name])
              for name in render.placeholders(reply.text.msgid) if name in fs.hotlines}
    template = fs.translate(lang, reply.text.msgid)
    try:
        return render.fill(template, reply.text.msgid, values)
    except (KeyError, IndexError, ValueError):  # an unknown placeholder: `flows check` says so; show it as written
        return template


def check(flows_dir: str, fs: m.FlowSet | None) -> list[Problem]:
    """Every problem of the canned replies (no file: none); only the file's
    shape when the flows cannot be read (then there is no directory to fill from)."""
    replies, problems = read(flows_dir)
    if fs is None or not replies:
        return problems
    good = []
    for reply in replies:
        names = render.placeholders(reply.text.msgid)
        bad = sorted(n for n in names if n not in fs.hotlines)
        for name in bad:
            problems.append(Problem.at(reply.text.where, "reply-unknown-placeholder", name=name, reply=reply.id,
                                       choices=tuple(h for h, line in fs.hotlines.items() if line.verified)))
        unverified = sorted(n for n in names if n in fs.hotlines and not fs.hotlines[n].verified)
        for name in unverified:
            problems.append(Problem.at(reply.text.where, "reply-unverified-hotline", hotline=name,
                                       source=fs.hotlines[name].source))
        if not bad and not unverified:
            good.append(reply)
    problems += _translations(fs, replies)
    problems += _typed_numbers(fs, replies)
    for reply in good:
        for lang in fs.system.languages:
            text = fill(fs, reply, lang)
            named = sorted(preview_words(text) & fs.system.first_line_avoid)
            if named:  # a locked phone shows the first lines to whoever holds it, as for the flows
                problems.append(Problem.at(reply.text.where, "reply-sensitive-first-lines", reply=reply.id,
                                           words=tuple(named), lines=PREVIEW_LINES, lang=lang))
            seg = count_segments(text)
            if seg.segments > MAX_SEGMENTS:
                odd = next((ch for ch in text if not is_gsm7(ch)), "")
                problems.append(Problem.at(reply.text.where, "reply-over-segments", reply=reply.id, lang=lang,
                                           units=seg.units, segments=seg.segments, encoding=seg.encoding,
                                           limit=MAX_SEGMENTS, odd=odd))
    return problems


def _translations(fs: m.FlowSet, replies: list[CannedReply]) -> list[Problem]:
    """As ``flows check`` says them for the flows' texts: at the English, or at
    the catalog line for a translation whose placeholders differ."""
    texts: dict[str, list[m.Where]] = {}
    for reply in replies:
        texts.setdefault(reply.text.msgid, []).append(reply.text.where)
    problems = []
    for lang, language in translation_state(texts, fs.catalogs, fs.system.languages).items():
        if language.catalog != FOUND:
            continue  # the flows' own check says so, once
        problems += untranslated(lang, language)
    return problems


def _typed_numbers(fs: m.FlowSet, replies: list[CannedReply]) -> list[Problem]:
    """A number typed in a reply (911), in any language, must be in the directory,
    where its source is, as for the flows' texts; better still, a placeholder."""
    known = directory_numbers(fs)
    problems = []
    for reply in replies:
        for number in numbers_in(reply.text.msgid):
            if digits(number) not in known:
                problems.append(Problem.at(reply.text.where, "number-not-in-hotlines", number=number))
        for lang in fs.system.languages:
            entry = fs.catalogs.get(lang, {}).get(reply.text.msgid)
            if entry is None or not entry.msgstr or entry.fuzzy:
                continue
            for number in numbers_in(entry.msgstr):
                if digits(number) not in known:
                    problems.append(Problem.at(entry.where, "translated-number-not-in-hotlines", lang=lang,
                                               msgid=reply.text.msgid, number=number))
    return problems


def for_console(flows_dir: str, fs: m.FlowSet, lang: str) -> list[dict]:
    """What the hand-off page lists: each reply's title, its key (1 to 9, or
    none) and its text in ``lang``, filled in. A file with problems gives the
    replies that can be read; one that cannot be read, none."""
    replies, _ = read(flows_dir)
    return [{"id": r.id, "title": r.title, "key": str(i) if i <= KEYS else "", "text": fill(fs, r, lang)}
            for i, r in enumerate(replies, 1)]


def iter_texts(text: str, path: str) -> Iterator[tuple[int, str]]:
    """(line, English) of every reply's text, for the catalogs."""
    source = parse(text, path)
    top = source.data if isinstance(source.data, dict) else {}
    for i, item in enumerate(top.get("replies") or []):
        if isinstance(item, dict) and isinstance(item.get("text"), str) and item["text"]:
            yield source.line(("replies", i, "text")), item["text"]


def extract_replies(fileobj, keywords, comment_tags, options):
    """Babel extraction method for the canned replies (see locales/babel.cfg)."""
    path = getattr(fileobj, "name", "replies.yaml")
    try:
        found = list(iter_texts(fileobj.read().decode(options.get("encoding", "utf-8")), path))
    except (UnicodeDecodeError, YamlSyntaxError):
        return  # `flows check` says where and why
    for line, message in found:
        yield line, None, message, []


__all__ = ["KEYS", "REPLIES_FILE", "CannedReply", "check", "extract_replies", "fill", "for_console", "read"]
