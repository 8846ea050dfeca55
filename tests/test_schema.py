"""flows/schema.json: a valid Draft 2020-12 schema, every real flow file valid
against it, and a description on every field, since staff editors show them
(the files start with `# yaml-language-server: $schema=schema.json`).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from bot.engine import loader
from bot.engine import model as m
from bot.engine.yamlsource import parse

REPO = Path(__file__).resolve().parent.parent
SCHEMA_PATH = REPO / "flows" / "schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
FLOW_FILES = sorted((REPO / "flows").glob("*.yaml"))
BROKEN = REPO / "tests" / "broken_flows"


def kind_of(path: Path) -> str:
    return loader.SPECIAL_FILES.get(path.name, "flow")


def test_schema_is_a_valid_draft_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)
    assert not [p for p in loader.load_dir(str(REPO / "flows")).problems if p.code.startswith("schema")]


def test_a_broken_schema_is_reported_not_raised(tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "schema.json").write_text(json.dumps({"$schema": SCHEMA["$schema"], "type": 12}), encoding="utf-8")
    problems = loader.load_dir(str(flows)).problems
    assert [(p.line, p.message.split(" (")[0]) for p in problems] == [(1, "schema.json is not a valid JSON Schema")]


def test_an_edited_schema_is_checked_again(tmp_path):
    """The checked schema is kept by its contents: the same folder, its schema
    broken, then mended, gets each answer afresh."""
    flows = tmp_path / "flows"
    flows.mkdir()
    for path in [SCHEMA_PATH, *FLOW_FILES]:
        (flows / path.name).write_bytes(path.read_bytes())
    assert not loader.load_dir(str(flows)).problems
    (flows / "schema.json").write_text(json.dumps({**SCHEMA, "$defs": {}}), encoding="utf-8")
    assert [p.code for p in loader.load_dir(str(flows)).problems] == ["schema-incomplete"]
    (flows / "schema.json").write_bytes(SCHEMA_PATH.read_bytes())
    assert not loader.load_dir(str(flows)).problems


@pytest.mark.parametrize("path", FLOW_FILES, ids=lambda p: p.name)
def test_every_real_flow_file_is_valid(path):
    source = parse(path.read_text(encoding="utf-8"), str(path))
    # As an editor sees it: the whole schema, which picks the part by the keys present...
    assert list(Draft202012Validator(SCHEMA).iter_errors(source.data)) == []
    # ...and as the loader checks it: the part for this kind of file.
    assert loader.check_schema(source, SCHEMA, kind_of(path)) == []


@pytest.mark.parametrize("path", FLOW_FILES, ids=lambda p: p.name)
def test_every_real_flow_file_points_editors_at_the_schema(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=schema.json"


@pytest.mark.parametrize("case, file", [
    ("yaml_boolean_text", "flows/work.yaml"),
    ("yaml_number_label", "flows/intro.yaml"),
    ("yaml_number_hotline", "flows/hotlines.yaml"),
    ("unknown_field", "flows/work.yaml"),
    ("unknown_kind", "flows/work.yaml"),
    ("keywords_is_a_list", "flows/keywords.yaml"),
])
def test_the_editor_schema_rejects_what_the_checker_rejects(case, file):
    """The root schema (what an editor uses) is not looser than the loader's parts."""
    source = parse((BROKEN / case / file).read_text(encoding="utf-8"), file)
    assert list(Draft202012Validator(SCHEMA).iter_errors(source.data)) != []


def _fields(schema: dict, where: str):
    """(where, subschema) for every $defs entry and every named or open-ended field."""
    for name, sub in schema.get("$defs", {}).items():
        yield f"{where}/$defs/{name}", sub
    for name, sub in schema.get("properties", {}).items():
        yield f"{where}/properties/{name}", sub
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield f"{where}/additionalProperties", extra


def _walk(schema, where="#"):
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key != "if":  # `if: {properties: {kind: ...}}` selects a rule; it is not a field
                yield from _walk(value, f"{where}/{key}")
        yield from ((w, s) for w, s in _fields(schema, where) if isinstance(s, dict))
    elif isinstance(schema, list):
        for i, item in enumerate(schema):
            yield from _walk(item, f"{where}/{i}")


def _described(sub: dict) -> bool:
    if sub.get("description", "").strip():
        return True
    ref = sub.get("$ref", "")
    return ref.startswith("#/$defs/") and bool(SCHEMA["$defs"][ref.split("/")[-1]].get("description", "").strip())


def test_every_field_has_a_description():
    fields = dict(_walk(SCHEMA))
    assert len(fields) > 60
    assert sorted(where for where, sub in fields.items() if not _described(sub)) == []


def test_the_schema_knows_the_same_node_kinds_and_conditions_as_the_engine():
    node = SCHEMA["$defs"]["node"]
    assert tuple(node["properties"]["kind"]["enum"]) == m.KINDS
    kinds_with_rules = [rule["if"]["properties"]["kind"]["const"] for rule in node["allOf"]]
    assert sorted(kinds_with_rules) == sorted(m.KINDS)
    branch = node["properties"]["branches"]["items"]["properties"]
    assert set(branch) - {"goto"} == set(loader._CONDITIONS)
    assert {f"if_{a}" for a in m.ANSWERS} <= set(node["properties"])
