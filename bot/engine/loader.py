"""Flow files -> schema check -> model.

``flows/`` holds one YAML file per conversation flow plus three special
files: ``keywords.yaml`` (global keywords), ``system.yaml`` (languages, entry
points, the engine's own texts) and ``hotlines.yaml`` (the directory of
numbers). Each is checked against its part of ``flows/schema.json``; a file
with schema problems is reported and left out, so one typo does not hide the
problems of every other file. Cross-file checks (dangling gotos, unreachable
nodes, translations, segment budget) are :mod:`bot.engine.validate`'s job.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from jsonschema import Draft202012Validator, FormatChecker

from . import model as m
from .problems import Problem
from .text import normalize
from .yamlsource import Source, YamlSyntaxError, parse

SPECIAL_FILES = {"keywords.yaml": "keywords", "system.yaml": "system", "hotlines.yaml": "hotlines"}
SCHEMA_FILE = "schema.json"

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
    sources: dict[str, Source] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    digest: str = ""


def load_dir(flows_dir: str) -> Loaded:
    """Read every flow file in ``flows_dir`` (not its subfolders)."""
    loaded = Loaded()
    schema_path = os.path.join(flows_dir, SCHEMA_FILE)
    try:
        with open(schema_path, encoding="utf-8") as fh:
            schema = json.load(fh)
    except (OSError, ValueError) as exc:
        loaded.problems.append(Problem(schema_path, 1, f"cannot read the schema: {exc}"))
        return loaded
    digest = hashlib.sha256()
    texts: dict[str, str] = {}
    for name in sorted(os.listdir(flows_dir)):
        if not name.endswith((".yaml", ".yml")):
            continue
        path = os.path.join(flows_dir, name)
        try:
            with open(path, encoding="utf-8") as fh:
                texts[path] = fh.read()
        except UnicodeDecodeError as exc:
            loaded.problems.append(Problem(path, 1, f"not UTF-8 text ({exc.reason}): save the file as UTF-8"))
            continue
        digest.update(path.encode() + b"\0" + texts[path].encode() + b"\0")
    loaded.digest = digest.hexdigest()[:12]
    return load_texts(texts, schema, loaded)


def load_texts(texts: Mapping[str, str], schema: dict, loaded: Loaded | None = None) -> Loaded:
    """Build the model from file contents keyed by path (used by tests and the editor)."""
    loaded = loaded or Loaded()
    parsed: dict[str, tuple[str, Source]] = {}
    for path, text in texts.items():
        kind = SPECIAL_FILES.get(os.path.basename(path), "flow")
        try:
            source = parse(text, path)
        except YamlSyntaxError as exc:
            loaded.problems.append(Problem(path, exc.line, exc.message))
            continue
        loaded.sources[path] = source
        for line, key in source.duplicates:
            loaded.problems.append(Problem(path, line, f"`{key}` is written twice here: YAML keeps only the last one"))
        schema_problems = check_schema(source, schema, kind)
        loaded.problems += schema_problems
        if not schema_problems:
            parsed[path] = (kind, source)

    present = {os.path.basename(p) for p in texts}
    folder = os.path.dirname(next(iter(texts), "flows/x"))
    for name in SPECIAL_FILES:
        if name not in present:
            loaded.problems.append(Problem(os.path.join(folder, name), 1, f"{name} is missing from {folder}/"))

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
        elif kind == "hotlines":
            loaded.hotline_list = _build_hotlines(source)
            for hotline in loaded.hotline_list:
                loaded.hotlines.setdefault(hotline.id, hotline)
    return loaded


# --- schema -----------------------------------------------------------------

_validators: dict[tuple[int, str], Draft202012Validator] = {}


def check_schema(source: Source, schema: dict, kind: str) -> list[Problem]:
    """Schema problems of one file, each with its line and a fix to try."""
    key = (id(schema), kind)
    if key not in _validators:
        part = {"$ref": f"#/$defs/{kind}", "$defs": schema["$defs"]}
        _validators[key] = Draft202012Validator(part, format_checker=FormatChecker())
    validator = _validators[key]
    problems = []
    for error in sorted(validator.iter_errors(source.data), key=lambda e: list(map(str, e.absolute_path))):
        at = tuple(error.absolute_path)
        problems.append(Problem(source.path, source.line(at), _explain(error, at, source)))
    return problems


def _field_name(at: tuple) -> str:
    for part in reversed(at):
        if isinstance(part, str):
            return part
    return "this value"


def _explain(error, at: tuple, source: Source) -> str:
    name = _field_name(at)
    v = error.validator
    if v == "type":
        raw = source.raw.get(at)
        expected = error.validator_value
        if "string" in (expected if isinstance(expected, list) else [expected]):
            if isinstance(error.instance, bool):
                return f"`{name}`: YAML read `{raw}` as true/false, not text: put it in quotes, like \"{raw}\""
            if isinstance(error.instance, (int, float)):
                return f"`{name}`: YAML read `{raw}` as a number, not text: put it in quotes, like \"{raw}\""
            if error.instance is None:
                return f"`{name}` is empty: write the text after the colon"
        wanted = {"object": "a set of `field: value` lines", "array": "a list (lines starting with `- `)",
                  "boolean": "true or false", "string": "text"}.get(expected, expected)
        return f"`{name}` should be {wanted}"
    if v == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        what = missing[0] if missing else error.message
        kind = error.instance.get("kind") if isinstance(error.instance, dict) else None
        suffix = f" (a `{kind}` node needs it)" if kind else ""
        return f"missing `{what}`{suffix}"
    if v == "additionalProperties":
        extras = re.findall(r"'([^']+)'", error.message.split("(")[-1])
        allowed = list(error.schema.get("properties", {}))
        parts = []
        for extra in extras or [error.message]:
            close = difflib.get_close_matches(extra, allowed, n=1)
            hint = f"; did you mean `{close[0]}`?" if close else f"; allowed: {', '.join(allowed)}"
            parts.append(f"unknown field `{extra}`{hint}")
        return "; ".join(parts)
    if v == "enum":
        return f"`{name}` is `{error.instance}`; use one of: {', '.join(map(str, error.validator_value))}"
    if v == "pattern":
        desc = error.schema.get("description", "")
        if "quotes" in desc:  # phone numbers
            return f"`{name}` `{error.instance}`: write digits, spaces and dashes only, in quotes: {desc}"
        return f"`{name}` `{error.instance}` is not a valid name: use lower-case letters, digits and _, starting with a letter"
    if v in ("minProperties", "maxProperties") and "goto" in error.schema.get("properties", {}):
        return "each branch needs exactly one condition (any_yes, all_yes, any_yes_or_not_sure, any_not_sure, all_no) and a goto"
    if v == "minItems":
        return f"`{name}` needs at least {error.validator_value} item(s)"
    if v == "maxItems":
        return f"`{name}` has more than {error.validator_value} items: split it into two menus"
    if v == "minLength":
        return f"`{name}` is empty: write the text in quotes"
    if v == "format":
        return f"`{name}` `{error.instance}` is not a date: write it as YYYY-MM-DD"
    return f"`{name}`: {error.message}"


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
                on=MappingProxyType(on),
                branches=tuple(branches),
                default=go(nd.get("default")),
                unavailable=_text(source, at + ("unavailable",)),
                entries=tuple(nd.get("entries", ())),
                outcome=nd.get("outcome"),
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
        where[name] = m.Where(source.path, source.line(("intents", name)))
        if spec.get("show"):
            shows[name] = resolve(spec["show"], None)
        if spec.get("goto"):
            gotos[name] = resolve(spec["goto"], None)
    languages = {}
    for code, words in data["languages"].items():
        languages[code] = _words(words)
        where[f"language.{code}"] = m.Where(source.path, source.line(("languages", code)))
    return m.Keywords(
        intents=MappingProxyType(intents),
        languages=MappingProxyType(languages),
        shows=MappingProxyType(shows),
        gotos=MappingProxyType(gotos),
        where=MappingProxyType(where),
    )


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
        where=m.Where(source.path, 1),
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
                    m.Contact(kind=c["kind"], number=c["number"], keyword=c.get("keyword"))
                    for c in entry["contacts"]
                ),
                note=_text(source, at + ("note",)),
                needs=tuple(entry.get("needs", ())),
                source=entry["source"],
                verified=entry["verified"],
                reviewed=entry.get("reviewed"),
                where=m.Where(source.path, source.line(at)),
            )
        )
    return result
