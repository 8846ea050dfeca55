"""Flow files -> schema check -> model.

``flows/`` holds one YAML file per conversation flow plus four special
files: ``keywords.yaml`` (global keywords), ``system.yaml`` (languages, entry
points, the engine's own texts), ``hotlines.yaml`` (the directory of
numbers) and ``understanding.yaml`` (what people write in their own words). Each is checked against its part of ``flows/schema.json``; a file
with schema problems is reported and left out, so one typo does not hide the
problems of every other file; the validator then says nothing about gotos into
it or what only it links to, so one typo is one problem, not twenty.
Cross-file checks (dangling gotos, unreachable nodes, translations, segment
budget) are :mod:`bot.engine.validate`'s job.
"""
from __future__ import annotations

import datetime
import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from babel import Locale, UnknownLocaleError
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from . import model as m
from .problems import Problem, closest
from .text import normalize
from .yamlsource import MAX_BYTES, Source, YamlSyntaxError, parse, size_problem

SPECIAL_FILES = {"keywords.yaml": "keywords", "system.yaml": "system", "hotlines.yaml": "hotlines",
                 "understanding.yaml": "understanding"}
SCHEMA_FILE = "schema.json"
# A language code names its catalog's folder (locales/<code>/), so nothing but
# a code may pass: two or three lower-case letters, then optionally _ and a
# country (`pt_BR`) or a region (`es_419`).
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:_(?:[A-Z]{2}|[0-9]{3}))?")

_CONDITIONS = {
    "any_yes": ("any", {"yes"}),
    "all_yes": ("all", {"yes"}),
    "any_yes_or_not_sure": ("any", {"yes", "not_sure"}),
    "any_not_sure": ("any", {"not_sure"}),
    "all_no": ("all", {"no"}),
}


@dataclass
class Loaded:
    """What the loader read: model parts, and the sources for later checks."""

    flows: dict[str, m.Flow] = field(default_factory=dict)
    flow_list: list[m.Flow] = field(default_factory=list)  # every flow, duplicates too
    keywords: m.Keywords | None = None
    system: m.System | None = None
    hotlines: dict[str, m.Hotline] = field(default_factory=dict)
    hotline_list: list[m.Hotline] = field(default_factory=list)
    understanding: m.Understanding | None = None
    sources: dict[str, Source] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    digest: str = ""
    # Flow files left out because of their own problems. Gotos into them and
    # reachability cannot be judged until they are fixed, so the validator
    # stays quiet about those rather than bury the real problem in echoes.
    left_out_flows: set[str] = field(default_factory=set)  # their `flow:` ids
    left_out_unnamed: bool = False  # a left-out flow file whose id is unknown
    today: datetime.date | None = None  # set by the validator: the date review ages are judged on
    unreadable_catalogs: set[str] = field(default_factory=set)  # languages whose .po has errors
    unreadable: set[str] = field(default_factory=set)  # files present but not read (not UTF-8, too big)

    def may_hold(self, flow_id: str) -> bool:
        """Could ``flow_id`` be defined in a flow file that was left out?"""
        return flow_id in self.left_out_flows or self.left_out_unnamed


def load_dir(flows_dir: str) -> Loaded:
    """Read every flow file in ``flows_dir`` (not its subfolders)."""
    return load_files(flows_dir, read_dir(flows_dir))


def read_dir(flows_dir: str) -> dict[str, bytes]:
    """The files of the flow set in ``flows_dir``, by name: schema.json and every YAML file.

    A YAML file is read no further than a byte past :data:`MAX_BYTES`: one
    dropped here by mistake must not fill the memory (the check says it is too big).
    """
    files = {}
    for name in sorted(os.listdir(flows_dir)):
        if name != SCHEMA_FILE and not name.endswith((".yaml", ".yml")):
            continue
        try:
            with open(os.path.join(flows_dir, name), "rb") as fh:
                files[name] = fh.read() if name == SCHEMA_FILE else fh.read(MAX_BYTES + 1)
        except IsADirectoryError:
            continue
    return files


def load_files(flows_dir: str, files: Mapping[str, bytes]) -> Loaded:
    """What :func:`load_dir` reads from ``flows_dir``, from the files' contents by name
    (as :func:`read_dir` returns them, or as a published snapshot keeps them)."""
    loaded = Loaded()
    schema_path = os.path.join(flows_dir, SCHEMA_FILE)
    if SCHEMA_FILE not in files:
        loaded.problems.append(Problem(schema_path, 1, "schema-missing", {"file": SCHEMA_FILE}))
        return loaded
    schema, why = _read_schema(files[SCHEMA_FILE])
    if why is not None:
        loaded.problems.append(Problem(schema_path, 1, why[0], dict(why[1])))
        return loaded
    digest = hashlib.sha256()
    texts: dict[str, str] = {}
    for name, data in sorted(files.items()):
        if name == SCHEMA_FILE:
            continue
        path = os.path.join(flows_dir, name)
        too_big = size_problem(data)
        if too_big:
            loaded.problems.append(Problem(path, too_big.line, too_big.code, too_big.data))
            loaded.unreadable.add(path)
            if SPECIAL_FILES.get(name, "flow") == "flow":
                _left_out(loaded, None)
            continue
        try:
            # As text mode would: Windows line ends become \n.
            texts[path] = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            loaded.problems.append(Problem(path, line, "not-utf8"))
            loaded.unreadable.add(path)
            if SPECIAL_FILES.get(name, "flow") == "flow":
                _left_out(loaded, None)
            continue
        digest.update(path.encode() + b"\0" + texts[path].encode() + b"\0")
    loaded.digest = digest.hexdigest()[:12]
    return load_texts(texts, schema, loaded, folder=flows_dir)


_CONTENT = re.compile(r"^[ \t]*[^#\s]", re.MULTILINE)  # a line that is not blank or a comment
_FLOW_ID = re.compile(r"^flow:[ \t]*['\"]?([a-z][a-z0-9_]*)['\"]?[ \t]*(?:#.*)?$", re.MULTILINE)


def load_texts(texts: Mapping[str, str], schema: dict, loaded: Loaded | None = None,
               folder: str | None = None) -> Loaded:
    """Build the model from file contents keyed by path (used by tests and the editor)."""
    loaded = loaded or Loaded()
    parsed: dict[str, tuple[str, Source]] = {}
    for path, text in texts.items():
        kind = SPECIAL_FILES.get(os.path.basename(path), "flow")
        try:
            source = parse(text, path)
        except YamlSyntaxError as exc:
            loaded.problems.append(Problem(path, exc.line, exc.code, exc.data))
            if kind == "flow":
                named = _FLOW_ID.search(text)
                _left_out(loaded, named.group(1) if named else None)
            continue
        loaded.sources[path] = source
        for line, key in source.duplicates:
            loaded.problems.append(Problem(path, line, "duplicate-key", {"key": key}))
        if source.data == {} and not _CONTENT.search(text):
            loaded.problems.append(Problem(path, 1, "empty-file", {"kind": kind, "required": _required(schema, kind)}))
            if kind == "flow":
                _left_out(loaded, None)
            continue
        schema_problems = check_schema(source, schema, kind)
        if kind == "system" and not schema_problems:
            schema_problems = [Problem(path, source.key_line(("languages", code)), why, {"code": code})
                               for code in source.data["languages"] if (why := language_code_problem(code))]
        loaded.problems += schema_problems
        if not schema_problems:
            parsed[path] = (kind, source)
        elif kind == "flow":
            flow_id = source.data.get("flow") if isinstance(source.data, dict) else None
            _left_out(loaded, flow_id if isinstance(flow_id, str) else None)

    present = {os.path.basename(p) for p in (*texts, *loaded.unreadable)}
    if folder is None:
        folder = os.path.dirname(next(iter(texts), "flows/x"))
    shown = os.path.basename(os.path.normpath(folder)) or folder
    for name in SPECIAL_FILES:
        if name not in present:
            loaded.problems.append(Problem(os.path.join(folder, name), 1, "missing-file", {"name": name, "folder": shown}))

    flow_sources = [(p, s) for p, (k, s) in parsed.items() if k == "flow"]
    # Gotos may name any flow, so learn every flow's nodes before building.
    starts = {s.data["flow"]: s.data["start"] for _, s in flow_sources}
    node_ids = {s.data["flow"]: {n["id"] for n in s.data["nodes"]} for _, s in flow_sources}
    resolver = _Resolver(starts, node_ids)
    for path, source in flow_sources:
        flow = _build_flow(source, resolver)
        loaded.flow_list.append(flow)
        loaded.flows.setdefault(flow.id, flow)
    for path, (kind, source) in parsed.items():
        if kind == "keywords":
            loaded.keywords = _build_keywords(source, resolver)
        elif kind == "system":
            loaded.system = _build_system(source, resolver)
        elif kind == "understanding":
            loaded.understanding = _build_understanding(source, resolver)
        elif kind == "hotlines":
            loaded.hotline_list = _build_hotlines(source)
            for hotline in loaded.hotline_list:
                loaded.hotlines.setdefault(hotline.id, hotline)
    return loaded


def _left_out(loaded: Loaded, flow_id: str | None) -> None:
    if flow_id:
        loaded.left_out_flows.add(flow_id)
    else:
        loaded.left_out_unnamed = True


def is_language_code(code: object) -> bool:
    return isinstance(code, str) and LANGUAGE_CODE.fullmatch(code) is not None


def language_code_problem(code: str) -> str | None:
    """Why ``code`` (a key under `languages:`) cannot name a language, if it cannot: a problem code."""
    if not is_language_code(code):
        return "not-a-language-code"
    try:
        Locale.parse(code)
    except (ValueError, UnknownLocaleError):
        return "unknown-language-code"
    return None


# --- schema -----------------------------------------------------------------

# kind -> (the schema it was built from, its validator). Holding the schema
# keeps its id from being reused by a different one after a reload.
_validators: dict[str, tuple[dict, Draft202012Validator]] = {}


@functools.lru_cache(maxsize=4)
def _read_schema(raw: bytes) -> tuple[dict | None, tuple[str, dict] | None]:
    """schema.json's contents -> (the schema, None), or (None, (problem code, data)) if it cannot be used.

    Kept by content: every load of the flows (each start, each check and
    publish in the editor) brings the same schema, and checking it against
    the JSON Schema meta-schema costs more than checking a flow file. The
    same schema object also keeps :func:`check_schema`'s validators (see
    ``_validators``). Read-only from here on; only staff-written text is kept.
    """
    try:
        schema = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        return None, ("schema-unreadable", {"error": str(exc)})
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return None, ("schema-invalid", {"error": exc.message})
    missing = [k for k in ("flow", *SPECIAL_FILES.values()) if k not in (schema.get("$defs") or {})]
    if missing:
        return None, ("schema-incomplete", {"kinds": tuple(missing)})
    return schema, None


def forget_schemas() -> None:
    """Drop the kept schemas (a check from nothing: bench/flows.py)."""
    _read_schema.cache_clear()


def check_schema(source: Source, schema: dict, kind: str) -> list[Problem]:
    """Schema problems of one file, each with its line and a fix to try."""
    cached = _validators.get(kind)
    if cached is None or cached[0] is not schema:
        part = {"$ref": f"#/$defs/{kind}", "$defs": schema["$defs"]}
        cached = _validators[kind] = (schema, Draft202012Validator(part, format_checker=FormatChecker()))
    validator = cached[1]
    problems = []
    for error in sorted(validator.iter_errors(source.data), key=lambda e: list(map(str, e.absolute_path))):
        at = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            # One problem per unknown field, on the line where it is written.
            allowed = list(error.schema.get("properties", {}))
            for extra in error.instance:
                if extra not in allowed:
                    problems.append(Problem(source.path, source.key_line(at + (extra,)), "unknown-field",
                                            {"name": extra, "allowed": tuple(allowed), "field": at + (extra,),
                                             "suggestion": closest(extra, allowed)}))
            continue
        code, data = _explain(error, at, source, schema, kind)
        problems.append(Problem(source.path, source.line(at), code, {"field": at, **data}))
    return problems


def _type_of(value: object) -> str:
    """A value's type, as JSON Schema names them (the message words it)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _required(schema: dict, kind: str) -> tuple[str, ...]:
    """The fields a file of ``kind`` must have: `flow`, `start` and `nodes`."""
    return tuple(schema["$defs"][kind].get("required", ()))


def _explain(error, at: tuple, source: Source, schema: dict, kind: str) -> tuple[str, dict]:
    """What the schema refused at ``at``: a problem code and its data."""
    v = error.validator
    if v == "type":
        raw = source.raw.get(at)
        expected = error.validator_value
        if "string" in (expected if isinstance(expected, list) else [expected]):
            if isinstance(error.instance, bool):
                return "text-read-as-boolean", {"raw": raw}
            if isinstance(error.instance, (int, float)):
                return "text-read-as-number", {"raw": raw}
            if error.instance is None:
                return "empty-text", {}
        if not at:
            return "file-wrong-type", {"wanted": expected, "found": _type_of(error.instance), "kind": kind,
                                       "required": _required(schema, kind)}
        if error.instance is None:
            return "empty-value", {"wanted": expected}
        return "wrong-type", {"wanted": expected, "found": _type_of(error.instance)}
    if v == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        name = missing[0] if missing else error.message
        node_kind = error.instance.get("kind") if isinstance(error.instance, dict) else None
        if "properties" not in error.schema and isinstance(node_kind, str):
            if "contacts" in error.absolute_path:
                return "missing-field", {"name": name, "contact_kind": node_kind}
            return "missing-field", {"name": name, "node_kind": node_kind}
        return "missing-field", {"name": name,
                                 "description": error.schema.get("properties", {}).get(name, {}).get("description", "")}
    if v == "enum":
        choices = tuple(map(str, error.validator_value))
        return "not-one-of", {"value": error.instance, "choices": choices,
                              "suggestion": closest(str(error.instance), choices)}
    if v == "pattern":
        if "quotes" in error.schema.get("description", ""):  # phone numbers
            return "bad-phone-number", {"value": error.instance}
        if "https://" in error.schema.get("description", ""):  # a web chat's address
            return "bad-web-address", {"value": error.instance}
        if "\\." in error.validator_value:  # a goto
            return "bad-goto", {"value": error.instance}
        if m.AGE in error.validator_value:  # an age phrase (understanding.yaml `ages:`)
            return "age-without-number", {"value": error.instance}
        return "bad-id", {"value": error.instance}
    if v in ("minProperties", "maxProperties") and "goto" in error.schema.get("properties", {}):
        conditions = tuple(k for k in error.schema["properties"] if k != "goto")
        written = tuple(k for k in error.instance if k != "goto") if isinstance(error.instance, dict) else ()
        return "branch-conditions", {"conditions": conditions, "written": written}
    if v == "minProperties":
        return "empty-mapping", {}
    if v == "minItems":
        return "too-few-items", {"least": error.validator_value}
    if v == "maxItems":
        return "too-many-items", {"most": error.validator_value}
    if v == "minLength":
        return "empty-string", {}
    if v == "format":
        return "not-a-date", {"value": error.instance}
    return "schema", {"detail": error.message}


# --- building -----------------------------------------------------------------


class _Resolver:
    """Turns the short gotos staff write into qualified ``flow.node`` names."""

    def __init__(self, starts: Mapping[str, str], node_ids: Mapping[str, set[str]]):
        self.starts = starts
        self.node_ids = node_ids

    def __call__(self, goto: str, flow_id: str | None) -> str:
        if "." in goto:
            return goto
        if flow_id and goto in self.node_ids.get(flow_id, ()):
            return f"{flow_id}.{goto}"
        if goto in self.starts:
            return f"{goto}.{self.starts[goto]}"
        # Unknown: qualify in place so the validator reports it with context.
        return f"{flow_id}.{goto}" if flow_id else goto


def _text(source: Source, at: tuple) -> m.Text | None:
    node = source.data
    for part in at:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    if node is None:
        return None
    return m.Text(str(node), m.Where(source.path, source.line(at)))


def _build_flow(source: Source, resolve: _Resolver) -> m.Flow:
    data = source.data
    fid = data["flow"]
    nodes = []
    for i, nd in enumerate(data["nodes"]):
        at = ("nodes", i)
        where = m.Where(source.path, source.line(at))

        def go(value, fid=fid):
            return resolve(value, fid) if value else None

        options = tuple(
            m.Option(
                label=_text(source, at + ("options", j, "label")),
                goto=go(opt["goto"]),
                sets=tuple(opt.get("sets", ())),
                where=m.Where(source.path, source.line(at + ("options", j))),
                short=_text(source, at + ("options", j, "short")),
                voice=_text(source, at + ("options", j, "voice")),
            )
            for j, opt in enumerate(nd.get("options", ()))
        )
        branches = []
        for j, br in enumerate(nd.get("branches", ())):
            cond_key = next(k for k in br if k != "goto")
            mode, answers = _CONDITIONS[cond_key]
            branches.append(
                m.Branch(
                    when=m.Condition(tuple(br[cond_key]), mode, frozenset(answers)),
                    goto=go(br["goto"]),
                    where=m.Where(source.path, source.line(at + ("branches", j))),
                )
            )
        on = {a: go(nd[f"if_{a}"]) for a in m.ANSWERS if nd.get(f"if_{a}")}
        nodes.append(
            m.Node(
                id=nd["id"],
                kind=nd["kind"],
                where=where,
                text=_text(source, at + ("text",)),
                next=go(nd.get("next")),
                options=options,
                flag=nd.get("flag"),
                age_below=nd.get("age_below"),
                on=MappingProxyType(on),
                branches=tuple(branches),
                default=go(nd.get("default")),
                unavailable=_text(source, at + ("unavailable",)),
                still_waiting=_text(source, at + ("still_waiting",)),
                entries=tuple(nd.get("entries", ())),
                outcome=nd.get("outcome"),
                source=nd.get("source"),
                reviewed=nd.get("reviewed"),
                offers=MappingProxyType({word: go(goto) for word, goto in (nd.get("offers") or {}).items()}),
                voice=_text(source, at + ("voice",)),
                audio=MappingProxyType({str(k): str(v) for k, v in (nd.get("audio") or {}).items()}),
            )
        )
    return m.Flow(
        id=fid,
        title=data.get("title", fid),
        start=f"{fid}.{data['start']}",
        nodes=tuple(nodes),
        where=m.Where(source.path, source.line(("flow",))),
    )


def _words(values) -> frozenset[str]:
    return frozenset(filter(None, (normalize(str(v)) for v in values)))


def _build_keywords(source: Source, resolve: _Resolver) -> m.Keywords:
    data = source.data
    intents, shows, gotos, where = {}, {}, {}, {}
    for name, spec in data["intents"].items():
        intents[name] = _words(spec["words"])
        where[name] = m.Where(source.path, source.key_line(("intents", name)))
        if spec.get("show"):
            shows[name] = resolve(spec["show"], None)
        if spec.get("goto"):
            gotos[name] = resolve(spec["goto"], None)
    languages = {}
    for code, words in data["languages"].items():
        languages[code] = _words(words)
        where[f"language.{code}"] = m.Where(source.path, source.key_line(("languages", code)))
    for key in data.get("voice_keys") or {}:
        where[f"voice_key.{key}"] = m.Where(source.path, source.key_line(("voice_keys", key)))
    return m.Keywords(
        intents=MappingProxyType(intents),
        languages=MappingProxyType(languages),
        shows=MappingProxyType(shows),
        gotos=MappingProxyType(gotos),
        where=MappingProxyType(where),
        voice_keys=MappingProxyType({str(k): str(v) for k, v in (data.get("voice_keys") or {}).items()}),
        voice_repeat=_words(data.get("voice_repeat") or ()),
    )


def _build_understanding(source: Source, resolve: _Resolver) -> m.Understanding:
    data = source.data
    meanings = []
    for i, spec in enumerate(data["meanings"]):
        at = ("meanings", i)
        phrases = tuple(
            m.Phrase(_phrase_text(str(text)), lang, str(text), m.Where(source.path, source.line(at + ("phrases", lang, j))))
            for lang, texts in spec["phrases"].items()
            for j, text in enumerate(texts)
            if normalize(str(text))
        )
        intent = spec.get("intent")
        not_with = spec.get("not_with") or {}
        together = tuple(
            m.Together(
                lang,
                tuple(tuple(m.Phrase(_phrase_text(str(text)), lang, str(text),
                                     m.Where(source.path, source.line(at + ("together", lang, g, j))))
                            for j, text in enumerate(group) if normalize(str(text)))
                      for g, group in enumerate(groups)),
                _words(not_with.get(lang) or ()),
            )
            for lang, groups in (spec.get("together") or {}).items()
        )
        meanings.append(m.Meaning(
            intent=intent,
            goto=resolve(spec["goto"], None) if spec.get("goto") else None,
            phrases=phrases,
            whole=bool(spec.get("whole")) or intent in m.WHOLE_ONLY_INTENTS,
            where=m.Where(source.path, source.line(at)),
            note=spec.get("note", ""),
            general=bool(spec.get("general")),
            sign=bool(spec.get("sign")),
            instead_of=resolve(spec["instead_of"], None) if spec.get("instead_of") else None,
            first_person=frozenset().union(*(_words(words) for words in (spec.get("first_person") or {}).values())),
            together=together,
        ))
    several = None
    if data.get("several_signs"):
        several = m.Meaning(intent=None, goto=resolve(data["several_signs"], None), phrases=(), whole=False,
                            where=m.Where(source.path, source.line(("several_signs",))), note="several signs")
    return m.Understanding(
        around=MappingProxyType({lang: _words(words) for lang, words in data["around_words"].items()}),
        numbers=MappingProxyType({lang: tuple(_words(words) for words in rows) for lang, rows in data["numbers"].items()}),
        meanings=tuple(meanings),
        where=m.Where(source.path, 1),
        negations=MappingProxyType({lang: _words(words) for lang, words in data["not_words"].items()}),
        around_numbers=MappingProxyType({lang: _words(words) for lang, words in data.get("around_numbers", {}).items()}),
        short_forms=MappingProxyType({lang: MappingProxyType({normalize(str(k)): normalize(str(v)) for k, v in forms.items()})
                                      for lang, forms in (data.get("short_forms") or {}).items()}),
        several_signs=several,
        openers=MappingProxyType({lang: _words(words) for lang, words in data.get("clause_openers", {}).items()}),
        lone_erases=MappingProxyType({lang: _words(words) for lang, words in data.get("lone_erase_words", {}).items()}),
        request_openers=MappingProxyType({lang: _words(words) for lang, words in data.get("request_openers", {}).items()}),
        request_leads=MappingProxyType({lang: _words(words) for lang, words in data.get("request_leads", {}).items()}),
        take_backs=MappingProxyType({lang: _words(words) for lang, words in data.get("take_backs", {}).items()}),
        quantities=MappingProxyType({lang: _words(words) for lang, words in data.get("quantity_words", {}).items()}),
        ages=MappingProxyType({lang: tuple(_age_phrase(phrase, kind == "turning")
                                           for kind in ("now", "turning") for phrase in spec.get(kind, ()))
                               for lang, spec in data.get("ages", {}).items()}),
        age_today=MappingProxyType({lang: _words(spec.get("today", ())) for lang, spec in data.get("ages", {}).items()}),
        age_time_spent=MappingProxyType({lang: _words(spec.get("time_spent", ())) for lang, spec in data.get("ages", {}).items()}),
        age_time_spent_endings=MappingProxyType({lang: tuple(spec.get("time_spent_endings", ()))
                                                 for lang, spec in data.get("ages", {}).items()}),
        joins=MappingProxyType({lang: _words(words) for lang, words in data.get("clause_joins", {}).items()}),
        cries=MappingProxyType({lang: _words(spec["words"]) for lang, spec in data.get("cries", {}).items()}),
        cries_not_after=MappingProxyType({lang: _words(spec.get("not_after", ())) for lang, spec in data.get("cries", {}).items()}),
        ages_where=m.Where(source.path, source.line(("ages",))) if "ages" in data else None,
        answers_at=MappingProxyType({str(place): MappingProxyType({
            answer: MappingProxyType({lang: _words(words) for lang, words in langs.items()})
            for answer, langs in spec.items()}) for place, spec in data.get("answers_at", {}).items()}),
        answers_at_where=MappingProxyType({str(place): m.Where(source.path, source.line(("answers_at", place)))
                                           for place in data.get("answers_at", {})}),
        option_words=MappingProxyType({str(flag): MappingProxyType({lang: _words(words) for lang, words in langs.items()})
                                       for flag, langs in data.get("option_words", {}).items()}),
        option_words_where=m.Where(source.path, source.line(("option_words",))) if "option_words" in data else None,
        saying_where_menu=str(data["saying_where"]["menu"]) if "saying_where" in data else None,
        saying_where=MappingProxyType({lang: _words(words) for lang, words in data.get("saying_where", {}).get("words", {}).items()}),
        saying_where_where=m.Where(source.path, source.line(("saying_where",))) if "saying_where" in data else None,
        saying=MappingProxyType({lang: _words(spec["saying"]) for lang, spec in data.get("quotes", {}).items()}),
        own_words=MappingProxyType({lang: _words(spec.get("own", ())) for lang, spec in data.get("quotes", {}).items()}),
        asking=MappingProxyType({lang: _words(words) for lang, words in data.get("polite_asking", {}).items()}),
        possessives=MappingProxyType({lang: _words(words) for lang, words in data.get("possessives", {}).items()}),
        requests_after_an_answer=MappingProxyType({
            lang: m.RequestAfterAnswer(_words(spec["answers"]), _words(spec["requests"]), _words(spec.get("keyword_only", ())))
            for lang, spec in data.get("requests_after_an_answer", {}).items()}),
    )


def _age_phrase(written: str, turning: bool) -> m.AgePhrase:
    """``"tengo # años"`` -> its words normalised, the ``#`` kept (the schema has it once, as a word)."""
    words = tuple(m.AGE if w == m.AGE else normalize(w) for w in written.split())
    return m.AgePhrase(tuple(w for w in words if w), turning)


def _phrase_text(written: str) -> str:
    """A phrase normalised, its gaps (``...`` or ``…``) kept: normalising alone
    would drop them as punctuation."""
    parts = (normalize(part) for part in _GAP_RE.split(written))
    return f" {m.GAP} ".join(parts).strip()


_GAP_RE = re.compile(r"\.\.\.+|…")


def _build_system(source: Source, resolve: _Resolver) -> m.System:
    data = source.data
    words = data["answer_words"]
    return m.System(
        languages=MappingProxyType(dict(data["languages"])),
        default_language=data["default_language"],
        start=resolve(data["start"], None),
        main_menu=resolve(data["main_menu"], None),
        texts=MappingProxyType({k: _text(source, ("texts", k)) for k in data["texts"]}),
        answers=MappingProxyType({a: _words(words[f"{a}_words"]) for a in m.ANSWERS}),
        language_hints=MappingProxyType({k: _words(v) for k, v in data["language_hints"].items()}),
        language_neutral=_words(data.get("language_neutral", ())),
        where=m.Where(source.path, 1),
        first_line_avoid=_words(data.get("first_line_avoid", ())),
        answers_where=MappingProxyType({a: m.Where(source.path, source.key_line(("answer_words", f"{a}_words")))
                                        for a in m.ANSWERS}),
    )


def _build_hotlines(source: Source) -> list[m.Hotline]:
    result = []
    for i, entry in enumerate(source.data["hotlines"]):
        at = ("hotlines", i)
        result.append(
            m.Hotline(
                id=entry["id"],
                name=_text(source, at + ("name",)),
                contacts=tuple(
                    m.Contact(kind=c["kind"], number=c.get("number", ""), keyword=c.get("keyword"),
                              address=c.get("address", ""))
                    for c in entry["contacts"]
                ),
                note=_text(source, at + ("note",)),
                source=entry["source"],
                verified=entry["verified"],
                reviewed=entry.get("reviewed"),
                where=m.Where(source.path, source.line(at)),
            )
        )
    return result
