"""YAML that remembers where each value was written.

Staff edit the flow files by hand, so every problem must point at a line.
:func:`parse` returns plain Python data plus a map from each value's path
(``("nodes", 3, "text")``) to its line, and the raw spelling of scalars YAML
turned into something other than text (``yes`` became ``True``, ``+1555``
became a number), so a message can say exactly what to quote.

Duplicate keys in a mapping, which YAML silently resolves to the last one,
are reported instead.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import yaml

Path = tuple  # of str | int


@dataclass
class Source:
    """Parsed data with the line of every value."""

    path: str
    data: object
    lines: dict[Path, int] = field(default_factory=dict)
    raw: dict[Path, str] = field(default_factory=dict)  # non-text scalars as written
    duplicates: list[tuple[int, str]] = field(default_factory=list)  # (line, key)

    def line(self, at: Path) -> int:
        """The line of ``at``, or of its nearest parent that has one."""
        at = tuple(at)
        while at:
            if at in self.lines:
                return self.lines[at]
            at = at[:-1]
        return self.lines.get((), 1)


class YamlSyntaxError(ValueError):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


_TEXT_TAG = "tag:yaml.org,2002:str"


def parse(text: str, path: str) -> Source:
    """Parse one YAML document; raises YamlSyntaxError with a line number."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlSyntaxError(line, f"YAML syntax: {exc.problem or exc}") from None
    finally:
        loader.dispose()
    source = Source(path=path, data=None)
    if root is None:
        source.data = {}
        return source
    source.data = _build(root, (), source, loader)
    return source


def _build(node: yaml.Node, at: Path, source: Source, loader: yaml.SafeLoader) -> object:
    source.lines[at] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict = {}
        for key_node, value_node in node.value:
            key = _build(key_node, at + ("<key>",), source, loader)
            if not isinstance(key, str):
                # A key like `yes:` or `1:`: keep it findable, as text.
                key = key_node.value
            if key in result:
                source.duplicates.append((key_node.start_mark.line + 1, key))
            result[key] = _build(value_node, at + (key,), source, loader)
        source.lines.pop(at + ("<key>",), None)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, at + (i,), source, loader) for i, item in enumerate(node.value)]
    value = loader.construct_object(node, deep=True)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()  # dates (`reviewed: 2026-11-01`) are kept as text
    if node.tag != _TEXT_TAG:
        source.raw[at] = node.value
    return value
