"""Changing the conversations from the console: drafts, checks, publishing, audit, rollback.

No Flask here (the console's views are in ``bot/web/console/flows.py``); the
files in ``FLOWS_DIR`` and ``LOCALES_DIR``, and what Redis keeps (:mod:`bot.store.flows`).

**A draft** is one editor's unpublished changes: the new text of the flow
files they edited, and translations they typed, kept in Redis under
``p:ops:draft:<user>`` (JSON, for ``DRAFT_TTL`` after the last change). It
remembers a hash of each file as it was when they started editing it, so a
publish never silently overwrites a change someone else published meanwhile.

**Checking a draft** (:func:`materialize`) builds the whole project as it
would be after publishing, in a temporary folder: the flow files with the
draft's files in place, then the catalogs updated exactly as
``flask --app app translations update`` would (extract every flow text,
merge it into each language's catalog: a changed English text comes back
fuzzy, with the old English beside it), then the draft's translations
written in (which clears *fuzzy*: a person has just reviewed them). That
folder is then checked as ``flows check`` checks (``published_flows.load``), and
the conversation tests in ``flows/tests/`` are run on it: a failing test is
an error, since those tests pin what must never break (the way out, the
emergency numbers). What is checked is byte for byte what would be written.

**Publishing** (:meth:`FlowEditor.publish`) refuses a draft with errors;
writes every changed file atomically (a temporary file in the same folder,
then ``os.replace``), then raises the published version every worker follows
(:func:`bot.published_flows.publish`, which checks the files on disk once more and,
should that fail, the previous files are put back). Each publish leaves an
**audit record** in the list ``p:ops:flows:audit`` (newest first, the last
``AUDIT_KEPT``): who, when, their note, which files, a unified diff, and the
full previous contents of every file it changed (zlib-compressed), which is
what **rollback** writes back. Rolling back to before a record restores, for
every file changed by that record or any later one, its content before the
first of them, checks the result, writes and publishes it, and is audited
too (so a rollback can itself be undone).

Publishes and rollbacks take a lock (``p:ops:flows:lock``) so that two
editors never interleave their writes. Every worker must read the same
``FLOWS_DIR`` (one machine, or a shared volume): the console writes where
it runs.
"""
from __future__ import annotations

import base64
import datetime as dt
import difflib
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import zlib
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from . import published_flows
from . import flowtests, i18n
from .files import OutsideFolder, inside, write_or_remove
from .engine.loader import load_files
from .engine.model import FlowSet, Where
from .engine.problems import ERROR, Problem, errors
from .engine.translations import SOURCE_LANGUAGE, LanguageState, translation_state
from .engine.validate import check as check_flows
from .store.flows import DraftRecords, FlowsAudit
from .engine.yamlsource import MAX_BYTES, size_problem

DRAFT_TTL = 14 * 86400  # an untouched draft is forgotten after two weeks
AUDIT_KEPT = 50  # publishes and rollbacks kept, with what they replaced
LOCK_SECONDS = 60
# The flow files together are ~200 KB, their catalogs ~120 KB, and each file is
# capped (yamlsource.MAX_BYTES): two files at the cap fit. A check takes time in
# proportion to what the draft holds (bench/flow_limits.py) and runs as the
# editor types: a draft beyond this is refused, never stored or checked.
MAX_DRAFT_BYTES = 2 * MAX_BYTES
# Files staff may edit: the flow files, and the conversation tests under tests/.
NAME_RE = re.compile(r"^(?:tests/)?[a-z0-9][a-z0-9_-]{0,63}\.ya?ml$")
_POT_DATE = re.compile(r'^"POT-Creation-Date: [^"]*"\n', re.M)


class Refused(Exception):
    """Publishing or rolling back was refused; the message says why, for staff."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = problems or []


class TooLarge(Refused):
    """A change that would make a draft too big to keep: nothing of it was saved."""


def sha(text: str | None) -> str:
    return "" if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def normalize_text(text: str) -> str:
    """As the file will be saved: Unix line ends, one final newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.rstrip("\n") + "\n" if text.strip() else ""


# --- where things are ------------------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    flows_dir: str
    locales_dir: str

    @property
    def root(self) -> str:
        """The project folder: where `flows/` is, and what paths are shown relative to."""
        return os.path.dirname(os.path.abspath(self.flows_dir))

    def rel(self, path: str) -> str:
        rel = os.path.relpath(os.path.abspath(path), self.root)
        return path if rel.startswith("..") else rel.replace(os.sep, "/")

    def flow_path(self, name: str) -> str:
        check_name(name)
        try:
            return inside(self.flows_dir, *name.split("/"))
        except OutsideFolder:  # a symlink leading out of the folder
            raise Refused(f"`{name}` is not a file of the flows folder") from None

    def from_rel(self, rel: str) -> str:
        """The file a path from an audit record names, only inside FLOWS_DIR or LOCALES_DIR
        (judged on the resolved path: no `..` or symlink leads out)."""
        path = os.path.normpath(os.path.join(self.root, rel))
        for folder in (self.flows_dir, self.locales_dir):
            folder = os.path.abspath(folder)
            if path.startswith(folder + os.sep):
                try:
                    return inside(folder, path[len(folder) + 1:])
                except OutsideFolder:
                    break
        raise Refused(f"{rel} is not in the flows or locales folder")

    def editable(self) -> list[str]:
        """Flow files first, then the conversation tests."""
        names = []
        for sub in ("", flowtests.TESTS_FOLDER + "/"):
            folder = os.path.join(self.flows_dir, sub)
            if os.path.isdir(folder):
                names += [sub + n for n in sorted(os.listdir(folder)) if NAME_RE.match(sub + n)]
        return names

    def read(self, name: str) -> str | None:
        try:
            with open(self.flow_path(name), "rb") as fh:
                return normalize_text(fh.read().decode("utf-8"))
        except FileNotFoundError:
            return None

    def po(self, lang: str) -> str:
        return i18n.po_path(self.locales_dir, lang)


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise Refused(f"`{name}` is not the name of a flow file: lower-case letters, digits, _ and -, ending in .yaml")
    return name


# --- drafts ------------------------------------------------------------------------------------


@dataclass
class Draft:
    """One editor's unpublished changes."""

    files: dict[str, str] = field(default_factory=dict)  # flow file name -> its new text
    base: dict[str, str] = field(default_factory=dict)  # name -> sha of the file when editing began
    tr: dict[str, dict[str, str]] = field(default_factory=dict)  # lang -> English -> translation
    t: float = 0.0

    @property
    def empty(self) -> bool:
        return not self.files and not any(self.tr.values())

    def digest(self) -> str:
        data = json.dumps([self.files, self.tr], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(data.encode("utf-8")).hexdigest()[:16]

    def to_json(self) -> str:
        return json.dumps({"files": self.files, "base": self.base, "tr": self.tr, "t": self.t}, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw) -> "Draft":
        data = json.loads(raw) if raw else {}
        return cls(files=dict(data.get("files") or {}), base=dict(data.get("base") or {}),
                   tr={k: dict(v) for k, v in (data.get("tr") or {}).items()}, t=float(data.get("t") or 0))

    def translations(self) -> int:
        return sum(len(v) for v in self.tr.values())


class Drafts:
    """Each editor's draft, kept ``ttl`` seconds after its last change."""

    def __init__(self, records: DraftRecords, ttl: int = DRAFT_TTL):
        self.records = records
        self.ttl = ttl

    def get(self, user: str) -> Draft:
        return Draft.from_json(self.records.get(user))

    def put(self, user: str, draft: Draft) -> None:
        if draft.empty:
            self.records.delete(user)
            return
        draft.t = time.time()
        self.records.put(user, draft.to_json(), self.ttl)

    def discard(self, user: str) -> None:
        self.records.delete(user)


# --- the catalogs, as `translations update` makes them ------------------------------------------


def _po_bytes(catalog: Catalog, **options) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=None, **options)
    return out.getvalue()


def _same_but_date(old: bytes, new: bytes) -> bool:
    """True when only the POT-Creation-Date header differs (not worth a change of its own)."""
    return _POT_DATE.sub("", old.decode("utf-8", "replace")) == _POT_DATE.sub("", new.decode("utf-8", "replace"))


def update_catalogs(flows_dir: str, locales_dir: str, tr: dict[str, dict[str, str]], who: str = "") -> None:
    """In ``locales_dir`` (a scratch copy): `translations update`, then write ``tr`` in."""
    cfg = os.path.join(locales_dir, "babel.cfg")
    if not os.path.isfile(cfg):
        return  # the check says babel.cfg is missing
    template = i18n.template(flows_dir, cfg)
    pot = os.path.join(locales_dir, "messages.pot")
    new_pot = _po_bytes(template, sort_by_file=True)
    old_pot = open(pot, "rb").read() if os.path.exists(pot) else b""
    if not old_pot or not _same_but_date(old_pot, new_pot):
        with open(pot, "wb") as fh:
            fh.write(new_pot)
    for lang in i18n.languages(flows_dir, locales_dir):
        try:
            path = i18n.po_path(locales_dir, lang)
        except ValueError:  # not a language code: never a path (the check says where it is written)
            continue
        if os.path.exists(path):
            old = open(path, "rb").read()
            try:
                catalog = read_po(io.BytesIO(old), locale=lang, domain=i18n.DOMAIN, abort_invalid=True)
            except Exception:  # noqa: BLE001 - a broken catalog: the check reports it at its line
                continue
        else:  # a new language: as `pybabel init` does
            old = b""
            try:
                catalog = read_po(io.BytesIO(new_pot), locale=lang, domain=i18n.DOMAIN)
            except Exception:  # noqa: BLE001 - UnknownLocaleError: not a language Babel knows; the check says so
                continue
            catalog.revision_date = dt.datetime.now(dt.timezone.utc)
            catalog.fuzzy = False
        catalog.update(template, no_fuzzy_matching=False, update_header_comment=False, update_creation_date=True)
        wanted = tr.get(lang) or {}
        wrote = False
        for message in catalog:
            if not message.id or not isinstance(message.id, str):
                continue
            msgstr = message.string if isinstance(message.string, str) else ""
            value = wanted.get(message.id)
            if value is not None and lang != SOURCE_LANGUAGE and (value != msgstr or message.fuzzy):
                message.string = value
                message.flags.discard("fuzzy")
                message.previous_id = []
                wrote = True
        if wrote:
            catalog.revision_date = dt.datetime.now(dt.timezone.utc)
            if who:
                catalog.last_translator = f"{who} (helpline console)"
        new = _po_bytes(catalog, ignore_obsolete=True, include_previous=True)
        if not old or not _same_but_date(old, new):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(new)


# --- checking a draft ------------------------------------------------------------------------------


@dataclass
class Checked:
    """The project as it would be after publishing, and what is wrong with it."""

    problems: list[Problem]  # paths are the real ones (FLOWS_DIR, LOCALES_DIR)
    fs: FlowSet | None
    changes: dict[str, tuple[str | None, str | None]]  # relative path -> (now, after)
    texts: dict[str, list[tuple[int, str]]]  # flow file name -> (line, English) in it
    # lang (but English) -> each English text of the flow files (at flow file name, line), after the draft's translations
    translations: dict[str, LanguageState]

    @property
    def errors(self) -> list[Problem]:
        return errors(self.problems)

    @property
    def ok(self) -> bool:
        return not self.errors


def _copy_project(paths: Paths, scratch: str) -> tuple[str, str]:
    flows = os.path.join(scratch, os.path.basename(os.path.normpath(paths.flows_dir)))
    locales = os.path.join(scratch, os.path.basename(os.path.normpath(paths.locales_dir)))
    if locales == flows:
        locales += "-locales"
    ignore = shutil.ignore_patterns(".*", "__pycache__")
    shutil.copytree(paths.flows_dir, flows, ignore=ignore)
    if os.path.isdir(paths.locales_dir):
        shutil.copytree(paths.locales_dir, locales, ignore=ignore)
    else:
        os.makedirs(locales)
    return flows, locales


def _files_under(folder: str) -> dict[str, str]:
    """relative path (with /) -> absolute path, of every file a publish may change."""
    found = {}
    for here, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        for name in names:
            if name.startswith(".") or not name.endswith((".yaml", ".yml", ".po", ".pot", ".json", ".cfg")):
                continue
            full = os.path.join(here, name)
            found[os.path.relpath(full, folder).replace(os.sep, "/")] = full
    return found


def _read_text(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return None


def materialize(paths: Paths, files: dict[str, str | None], tr: dict[str, dict[str, str]] | None,
                today: dt.date | None = None, update: bool = True, who: str = "",
                overrides: dict[str, str | None] | None = None) -> Checked:
    """Check the project with ``files`` (flow file name -> text, None to delete) in place.

    ``update``: refresh the catalogs as `translations update` does and write
    ``tr`` in (a draft); off for a rollback, which restores catalogs as they
    were. ``overrides``: any file, by path relative to the project folder.
    """
    with tempfile.TemporaryDirectory(prefix="helpline-draft-") as scratch:
        flows, locales = _copy_project(paths, scratch)
        real = {flows: os.path.abspath(paths.flows_dir), locales: os.path.abspath(paths.locales_dir)}
        for name, text in files.items():
            write_or_remove(inside(flows, *check_name(name).split("/")), text, atomic=False)
        for rel, text in (overrides or {}).items():
            target = paths.from_rel(rel)
            for copy, orig in real.items():
                if target.startswith(orig + os.sep):
                    target = inside(copy, target[len(orig) + 1:])
            write_or_remove(target, text, atomic=False)
        if update:
            update_catalogs(flows, locales, tr or {}, who=who)
        # As `flows check` reads them (published_flows.load), keeping the catalogs for the translations' state.
        written = published_flows.FlowFiles.read(flows, locales)
        loaded = load_files(flows, written.flows)
        catalogs = i18n.catalogs_from(locales, written.catalogs)
        fs, problems = check_flows(loaded, catalogs, today)
        problems = list(problems)
        if fs is not None:  # with errors too: a missing translation is what a texter would see
            problems += _run_flow_tests(flows, fs)
        else:
            problems += flowtests.load_tests(flows)[1]

        def back(value):
            """A path (or a place, or words naming one) in the scratch folder, as the real one."""
            if isinstance(value, Where):
                return Where(back(value.path), value.line)
            if isinstance(value, str):
                for copy, orig in real.items():
                    value = value.replace(copy, orig)
            return value

        problems = sorted({replace(p, path=back(p.path), data={k: back(v) for k, v in p.data.items()})
                           for p in problems},
                          key=lambda p: (p.severity != ERROR, p.path, p.line, p.message))
        texts = {}
        for name in paths.editable() + [n for n, t in files.items() if t is not None]:
            if name.startswith(flowtests.TESTS_FOLDER + "/") or name in texts:
                continue
            text = _read_text(os.path.join(flows, *name.split("/")))
            if text is None:
                continue
            try:
                texts[name] = list(i18n.iter_flow_texts(text, name))
            except Exception:  # noqa: BLE001 - not YAML yet: the problems say where
                texts[name] = []
        changes = {}
        for copy, orig in real.items():
            before, after = _files_under(orig), _files_under(copy)
            prefix = paths.rel(orig)
            for rel in sorted(set(before) | set(after)):
                old = _read_text(before[rel]) if rel in before else None
                new = _read_text(after[rel]) if rel in after else None
                if old != new:
                    changes[f"{prefix}/{rel}"] = (old, new)
        places: dict[str, list[Where]] = {}
        for name, found in texts.items():
            for line, msgid in found:
                places.setdefault(msgid, []).append(Where(name, line))
        languages = i18n.languages_of(loaded.system, locales)
        return Checked(problems, fs, changes, texts, translation_state(places, catalogs, languages))


def _run_flow_tests(flows: str, fs: FlowSet) -> list[Problem]:
    tests, found = flowtests.load_tests(flows)
    for test in tests:
        try:
            result = flowtests.run(test, fs)
        except Exception as exc:  # noqa: BLE001 - a set that passed its checks should run; say so if not
            found.append(Problem(test.path, test.line, "test-could-not-run", {"test": test.name, "error": str(exc)}))
            continue
        found += result.failures
    return found


# --- diffs --------------------------------------------------------------------------------------


# Catalog lines that change whenever a flow file moves a line, or on every update: not worth showing.
_NOISE = re.compile(r'^(#: |"POT-Creation-Date: |"PO-Revision-Date: |"Last-Translator: )')


def unified_diff(changes: dict[str, tuple[str | None, str | None]], skip: set[str] = frozenset()) -> str:
    """A unified diff of ``changes``, leaving out the files in ``skip``; in catalogs, a
    change to only a line-number comment (``#: flows/main.yaml:12``) or a header date
    is not shown as a change (the context shows the new line)."""
    out = []
    for rel, (old, new) in sorted(changes.items()):
        if rel in skip:
            continue
        a = (old or "").splitlines(keepends=True)
        b = (new or "").splitlines(keepends=True)
        if rel.endswith((".po", ".pot")):
            def norm(line: str) -> str:
                m = _NOISE.match(line)
                return m.group(1) if m else line
            seq_a, seq_b = [norm(x) for x in a], [norm(x) for x in b]
        else:
            seq_a, seq_b = a, b
        hunks = []
        for group in difflib.SequenceMatcher(None, seq_a, seq_b, autojunk=False).get_grouped_opcodes(2):
            (_, i1, _, j1, _), (_, _, i2, _, j2) = group[0], group[-1]
            hunks.append(f"@@ -{_range(i1, i2)} +{_range(j1, j2)} @@\n")
            for tag, x1, x2, y1, y2 in group:
                if tag == "equal":
                    hunks += [" " + line for line in b[y1:y2]]
                    continue
                hunks += ["-" + line for line in a[x1:x2]]
                hunks += ["+" + line for line in b[y1:y2]]
        if hunks:
            out.append(f"--- {'a/' + rel if old is not None else '/dev/null'}\n")
            out.append(f"+++ {'b/' + rel if new is not None else '/dev/null'}\n")
            out += [line if line.endswith("\n") else line + "\n" for line in hunks]
    return "".join(out)


def _range(start: int, stop: int) -> str:
    """``start,length`` as a unified diff's hunk header writes it (1-based)."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _pack(text: str | None) -> str | None:
    if text is None:
        return None
    return base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")


def _unpack(packed: str | None) -> str | None:
    if packed is None:
        return None
    return zlib.decompress(base64.b64decode(packed)).decode("utf-8")


# --- the admin --------------------------------------------------------------------------------


@dataclass
class Record:
    """One publish or rollback, as the history shows it."""

    id: int
    action: str  # publish | rollback
    who: str
    at: float
    version: int
    note: str
    files: list[str]
    diff: str
    before: dict[str, str | None]  # relative path -> packed previous content (None: the file did not exist)
    undoes: int | None = None  # for a rollback: back to before this record

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw) -> "Record":
        data = json.loads(raw)
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})

    def previous(self, rel: str) -> str | None:
        return _unpack(self.before.get(rel))


@dataclass
class Published:
    version: int
    record: Record
    problems: list[Problem]


class FlowEditor:
    """Drafts, checks, publishing, history and rollback for one app."""

    def __init__(self, drafts: DraftRecords, audit: FlowsAudit, paths: Paths, flows_version: published_flows.FlowsVersion,
                 content: published_flows.PublishedFlows | None = None, kept: int = AUDIT_KEPT):
        self.paths = paths
        self.version = flows_version
        self.content = content
        self.kept = kept
        self.drafts = Drafts(drafts)
        self.audit = audit
        self._cache: OrderedDict = OrderedDict()  # (user, draft digest, version) -> Checked
        self._cache_lock = threading.Lock()
        self._strings: dict[tuple, dict[str, tuple[str, bool]]] = {}  # (po path, mtime, size) -> its entries

    # --- drafts ---

    def file_text(self, user: str | None, name: str) -> tuple[str | None, bool]:
        """The text an editor sees: their draft's, else the file's. (text, from the draft?)"""
        check_name(name)
        if user:
            draft = self.drafts.get(user)
            if name in draft.files:
                return draft.files[name], True
        return self.paths.read(name), False

    def save(self, user: str, name: str, text: str | None, tr: dict[str, dict[str, str]]) -> Draft:
        """Put ``text`` (and translations typed) into ``user``'s draft; a file back as it was leaves it."""
        check_name(name)
        draft = self.drafts.get(user)
        if text is not None:
            text = normalize_text(text)
            too_big = size_problem(text.encode("utf-8"))
            if too_big:
                path = self.paths.flow_path(name)
                raise TooLarge(f"{self.paths.rel(path)}:{too_big.line}: {too_big.message}. Not saved: your draft "
                               "keeps what it had before.", [Problem(path, too_big.line, too_big.code, too_big.data)])
            on_disk = self.paths.read(name)
            if text == on_disk:
                draft.files.pop(name, None)
                draft.base.pop(name, None)
            else:
                if name not in draft.files:
                    draft.base[name] = sha(on_disk)
                draft.files[name] = text
        current = self.catalog_strings()
        for lang, values in tr.items():
            mine = draft.tr.setdefault(lang, {})
            for msgid, value in values.items():
                value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
                now = current.get(lang, {}).get(msgid)
                if not value or (now is not None and now == (value, False)):
                    mine.pop(msgid, None)  # empty, or as the catalog already has it
                else:
                    mine[msgid] = value
        draft.tr = {lang: values for lang, values in draft.tr.items() if values}
        size = len(draft.to_json().encode("utf-8"))
        if size > MAX_DRAFT_BYTES:
            raise TooLarge(f"Not saved: your draft would be {size // 1024} KB, and a draft may hold at most "
                           f"{MAX_DRAFT_BYTES // 1024} KB. Publish or discard what is in it first.")
        self.drafts.put(user, draft)
        return draft

    def discard(self, user: str, name: str | None = None) -> None:
        if name is None:
            self.drafts.discard(user)
            return
        draft = self.drafts.get(user)
        draft.files.pop(name, None)
        draft.base.pop(name, None)
        self.drafts.put(user, draft)

    def catalog_strings(self) -> dict[str, dict[str, tuple[str, bool]]]:
        """lang -> English -> (translation, fuzzy), from the catalogs on disk (read again when they change)."""
        found = {}
        for lang in i18n.available_languages(self.paths.locales_dir):
            path = self.paths.po(lang)
            try:
                st = os.stat(path)
                key = (path, st.st_mtime_ns, st.st_size)
                if key not in self._strings:
                    catalog = i18n.read_catalog(path, lang)
                    self._strings = {k: v for k, v in self._strings.items() if k[0] != path}
                    self._strings[key] = {m.id: (m.string if isinstance(m.string, str) else "", m.fuzzy)
                                          for m in catalog if m.id and isinstance(m.id, str)}
                found[lang] = self._strings[key]
            except Exception:  # noqa: BLE001 - unreadable: the checks report it
                continue
        return found

    def check(self, user: str, draft: Draft | None = None) -> Checked:
        """The user's draft, checked (cached per draft and published version)."""
        draft = draft if draft is not None else self.drafts.get(user)
        key = (user, draft.digest(), self.version.get(), dt.date.today())
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        checked = materialize(self.paths, draft.files, draft.tr, who=user)
        with self._cache_lock:
            self._cache[key] = checked
            while len(self._cache) > 16:
                self._cache.popitem(last=False)
        return checked

    def draft_flows(self, user: str) -> FlowSet | None:
        """The flow set of the user's draft, for the simulator; None if it has errors."""
        draft = self.drafts.get(user)
        if draft.empty:
            return None
        checked = self.check(user, draft)
        return checked.fs if checked.ok else None

    # --- publishing ---

    @contextmanager
    def _locked(self):
        token = secrets.token_hex(8)
        if not self.audit.lock(token, LOCK_SECONDS):
            raise Refused("Someone else is publishing or rolling back right now. Try again in a minute.")
        try:
            yield
        finally:
            self.audit.unlock(token)

    def _conflicts(self, draft: Draft) -> list[str]:
        found = []
        for name in draft.files:
            if sha(self.paths.read(name)) != draft.base.get(name, sha(self.paths.read(name))):
                who = self._last_change(self.paths.rel(self.paths.flow_path(name)))
                found.append(f"{name} was changed{f' by {who}' if who else ''} after you started editing it")
        return found

    def _last_change(self, rel: str) -> str:
        for record in self.history(limit=self.kept):
            if rel in record.files:
                return record.who
        return ""

    def publish(self, user: str, note: str = "") -> Published:
        with self._locked():
            draft = self.drafts.get(user)
            if draft.empty:
                raise Refused("Your draft has no changes to publish.")
            conflicts = self._conflicts(draft)
            if conflicts:
                raise Refused("; ".join(conflicts) + ". Publishing now would undo that change. Copy what you wrote, "
                              "discard your draft of that file, and make your change again on the new version.")
            checked = materialize(self.paths, draft.files, draft.tr, who=user)
            if not checked.ok:
                raise Refused(f"Not published: your draft has {len(checked.errors)} problem(s). Fix them first.",
                              checked.problems)
            if not checked.changes:
                self.drafts.discard(user)
                raise Refused("Nothing to publish: your draft is the same as what is live.")
            published = self._write_and_publish(user, "publish", note, checked)
            self.drafts.discard(user)
            return published

    def _write_and_publish(self, user: str, action: str, note: str, checked: Checked,
                           undoes: int | None = None) -> Published:
        changes = checked.changes
        written: dict[str, str | None] = {}
        try:
            for rel, (old, new) in changes.items():
                written[rel] = old
                write_or_remove(self.paths.from_rel(rel), new)
            version, problems = published_flows.publish(self.paths.flows_dir, self.paths.locales_dir, self.version,
                                                    by=user)
            if version is None:
                refused = next((p for p in problems if p.code == "publish-refused"), None)  # e.g. Twilio unreachable
                raise Refused(f"{refused.message[0].upper()}{refused.message[1:]}. The previous files were put back."
                              if refused else "The files did not pass the checks once written; the previous files "
                              "were put back.", problems)
        except BaseException:
            for rel, old in written.items():  # put back what was there
                write_or_remove(self.paths.from_rel(rel), old)
            raise
        record = Record(
            id=self.audit.next_id(), action=action, who=user, at=time.time(), version=version,
            note=note.strip()[:500], files=sorted(changes), diff=unified_diff(changes, self._index_files()),
            before={rel: _pack(old) for rel, (old, _) in changes.items()}, undoes=undoes)
        self.audit.add(record.to_json(), self.kept)
        if self.content is not None:
            try:  # this worker at once; the others within FLOWS_CHECK_SECONDS
                self.content.reload()
            except published_flows.FlowsError:
                pass
        return Published(version, record, checked.problems)

    def _index_files(self) -> set[str]:
        """messages.pot and the English catalog: indexes of the English texts, which
        the flow files' diff already shows. Listed with a record's files, not diffed."""
        return {self.paths.rel(os.path.join(self.paths.locales_dir, "messages.pot")),
                self.paths.rel(self.paths.po(SOURCE_LANGUAGE))}

    # --- history and rollback ---

    def history(self, limit: int | None = None) -> list[Record]:
        return [Record.from_json(x) for x in self.audit.newest(limit or self.kept)]

    def record(self, rid: int) -> Record | None:
        return next((r for r in self.history() if r.id == rid), None)

    def rollback_target(self, rid: int) -> dict[str, str | None]:
        """Every file changed by record ``rid`` or a later one, as it was before ``rid``."""
        records = self.history()
        index = next((i for i, r in enumerate(records) if r.id == rid), None)
        if index is None:
            raise Refused("That change is no longer in the history.")
        target: dict[str, str | None] = {}
        for record in reversed(records[: index + 1]):  # the oldest first: its "before" wins
            for rel in record.before:
                if rel not in target:
                    target[rel] = record.previous(rel)
        return target

    def rollback_preview(self, rid: int) -> Checked:
        target = self.rollback_target(rid)
        for rel in target:
            self.paths.from_rel(rel)  # only files of this project
        return materialize(self.paths, {}, None, update=False, overrides=target)

    def rollback(self, user: str, rid: int, note: str = "") -> Published:
        with self._locked():
            checked = self.rollback_preview(rid)
            if not checked.ok:
                raise Refused("That earlier version does not pass today's checks, so it was not restored.",
                              checked.problems)
            if not checked.changes:
                raise Refused("The files are already as they were before that change.")
            return self._write_and_publish(user, "rollback", note or f"Back to before change #{rid}", checked,
                                           undoes=rid)

    def published(self) -> dict[str, str]:
        return self.version.info()


# --- review dates ------------------------------------------------------------------------------


def mark_reviewed(text: str, path: str, kind: str, ident: str, day: dt.date) -> tuple[str, int]:
    """``text`` with ``reviewed: <day>`` on the hotline (kind ``hotline``, id ``ident``) or the
    page (kind ``page``, node id ``ident``); returns the new text and the line changed.

    The date replaces the one written, or goes on a new line after ``source:``.
    """
    from .engine.yamlsource import parse

    source = parse(text, path)
    data = source.data if isinstance(source.data, dict) else {}
    listed = "hotlines" if kind == "hotline" else "nodes"
    items = data.get(listed) if isinstance(data.get(listed), list) else []
    index = next((i for i, item in enumerate(items) if isinstance(item, dict) and item.get("id") == ident), None)
    if index is None:
        raise Refused(f"there is no {kind} `{ident}` in {os.path.basename(path)}")
    lines = text.split("\n")
    at = (listed, index)
    if "reviewed" in items[index]:
        n = source.key_line(at + ("reviewed",))
        lines[n - 1] = re.sub(r"(reviewed:\s*).*$", lambda m: m.group(1) + day.isoformat(), lines[n - 1], count=1)
        return "\n".join(lines), n
    if "source" not in items[index]:
        raise Refused(f"the {kind} `{ident}` names no `source:` to review against")
    n = source.key_line(at + ("source",))
    indent = re.match(r"^(\s*(?:- )?)", lines[n - 1]).group(1).replace("-", " ")
    lines.insert(n, f"{indent}reviewed: {day.isoformat()}")
    return "\n".join(lines), n + 1
