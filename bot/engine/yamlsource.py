"""YAML that remembers where each value was written.

Staff edit the flow files by hand, so every problem must point at a line.
:func:`parse` returns plain Python data plus a map from each value's path
(``("nodes", 3, "text")``) to its line, and the raw spelling of scalars YAML
turned into something other than text (``yes`` became ``True``, ``+1555``
became a number), so a message can say exactly what to quote.

Duplicate keys in a mapping, which YAML silently resolves to the last one,
are reported instead.

A flow file is also something a stranger to the project could hand in (a
draft in the console, a pull request), so what costs far more to read than
its size is refused before it is built: anchors and aliases (a few hundred
bytes of `&a [*b, *b, ...]` expand into millions of values; flow files never
need them), nesting deeper than :data:`MAX_DEPTH` (the composer recurses),
and files over :data:`MAX_BYTES`. Each is a problem at its line, like any other.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import yaml

from .problems import message

Path = tuple  # of str | int

# A bound against pasted junk, not a budget: the flow files are 1 to 21 KB, and
# understanding.yaml, the phrases people write, grows with every batch of
# real writing read (66 KB on 2026-12-05, 131 KB on 2026-12-07).
MAX_BYTES = 256 * 1024
MAX_DEPTH = 20  # the deepest flow file is 6 levels (hotlines > entry > contacts > contact > number)


@dataclass
class Source:
    """Parsed data with the line of every value."""

    path: str
    data: object
    lines: dict[Path, int] = field(default_factory=dict)
    raw: dict[Path, str] = field(default_factory=dict)  # non-text scalars as written
    duplicates: list[tuple[int, str]] = field(default_factory=list)  # (line, key)
    key_lines: dict[Path, int] = field(default_factory=dict)  # line of the key `x:` of each mapping value

    def line(self, at: Path) -> int:
        """The line of ``at``, or of its nearest parent that has one."""
        at = tuple(at)
        while at:
            if at in self.lines:
                return self.lines[at]
            at = at[:-1]
        return self.lines.get((), 1)

    def key_line(self, at: Path) -> int:
        """The line of the key ``at[-1]:`` itself (a value may start lines later)."""
        at = tuple(at)
        return self.key_lines.get(at) or self.line(at)


class YamlSyntaxError(ValueError):
    """A file that cannot be read as YAML, or is refused before it is (too big,
    aliases, too deep): at ``line``, a problem of kind ``code`` (see bot.engine.problems)."""

    def __init__(self, line: int, code: str, **data):
        self.line = line
        self.code = code
        self.data = data
        self.message = message(code, data)
        super().__init__(self.message)


_TEXT_TAG = "tag:yaml.org,2002:str"


# PyYAML's wording, and the hint (bot.engine.problems.YAML_HINTS) for a person editing the file.
_HINTS = (
    ("mapping values are not allowed", "colon"),
    ("'\\t'", "tab"),
    ("found another document", "two-documents"),
    ("cannot start any token", "start-character"),
    ("while scanning a quoted scalar", "unclosed-quote"),
    ("while parsing a flow sequence", "unclosed-list"),
    ("while parsing a flow mapping", "unclosed-mapping"),
    ("undefined alias", "alias"),
    ("could not determine a constructor", "tag"),
    ("expected <block end>", "indentation-quote"),
    ("expected '<document start>'", "indentation"),
)
# Problems PyYAML finds at the end of the file although they start earlier:
# point at where the unclosed quote or bracket was opened.
_REPORT_AT_START = ("while scanning a quoted scalar", "while parsing a flow sequence", "while parsing a flow mapping")


def _syntax_error(exc: yaml.MarkedYAMLError) -> YamlSyntaxError:
    context = exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark and context.startswith(_REPORT_AT_START):
        mark = exc.context_mark
    line = mark.line + 1 if mark else 1
    problem = exc.problem or str(exc)
    said = f"{context}, {problem}" if context else problem
    hint = next((h for needle, h in _HINTS if needle in said), None)
    return YamlSyntaxError(line, "yaml-syntax", detail=problem, hint=hint)


class _Refusing:
    """Composes as PyYAML does, refusing anchors, aliases and deep nesting
    before anything is expanded."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            raise YamlSyntaxError(line, "yaml-alias", anchor=event.anchor)
        if getattr(event, "anchor", None) is not None:
            raise YamlSyntaxError(line, "yaml-anchor", anchor=event.anchor)
        if self._nesting >= MAX_DEPTH:
            raise YamlSyntaxError(line, "yaml-too-deep", depth=MAX_DEPTH)
        self._nesting += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._nesting -= 1


class _FlowLoader(_Refusing, yaml.SafeLoader):
    """PyYAML's safe loader, all in Python, refusing what :class:`_Refusing` refuses."""

    def __init__(self, stream):
        super().__init__(stream)
        self._nesting = 0


class _FastFlowLoader(_Refusing, yaml.composer.Composer, yaml.CSafeLoader):
    """The same composer and refusals over libyaml's scanner and parser
    (PyYAML's C extension, its CSafeLoader), which read a flow file several
    times faster than PyYAML's Python ones. Only well-formed files go this
    way: whatever stops it is read again by :class:`_FlowLoader`, so every
    problem is worded as before, and so is a key that is a list or a mapping,
    whose text as written only the Python reader keeps."""

    def __init__(self, stream):
        yaml.CSafeLoader.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        self._nesting = 0


class _ReadAgain(Exception):
    """What the fast loader leaves to the Python one (see :class:`_FastFlowLoader`)."""


def size_problem(data: bytes) -> YamlSyntaxError | None:
    """Why a file that starts with ``data`` is too big to read as a flow file, if it is."""
    if len(data) <= MAX_BYTES:
        return None
    line = data[:MAX_BYTES].count(b"\n") + 1
    return YamlSyntaxError(line, "file-too-big", limit_kb=MAX_BYTES // 1024)


def parse(text: str, path: str) -> Source:
    """Parse one YAML document; raises YamlSyntaxError with a line number.

    >>> parse("text: Hello: world", "x.yaml")
    Traceback (most recent call last):
    ...
    bot.engine.yamlsource.YamlSyntaxError: YAML syntax error (mapping values are not allowed here): a text with `: ` in it must be in quotes
    """
    too_big = size_problem(text.encode("utf-8"))
    if too_big:
        raise too_big
    if yaml.__with_libyaml__:
        try:
            return _read(text, path, _FastFlowLoader)
        except (yaml.YAMLError, ValueError, _ReadAgain):
            pass  # read again below: a problem is worded as the Python reader words it
    try:
        return _read(text, path, _FlowLoader)
    except yaml.reader.ReaderError as exc:  # a control character pasted into the text (checked as the reader starts)
        line = text[: exc.position].count("\n") + 1
        raise YamlSyntaxError(line, "control-character", char=exc.character) from None
    except yaml.MarkedYAMLError as exc:  # scanner, parser, composer and constructor errors
        raise _syntax_error(exc) from None


def _read(text: str, path: str, reader: type[_Refusing]) -> Source:
    """``text`` read by ``reader``; raises whatever stopped it, unworded."""
    source = Source(path=path, data=None)
    loader = reader(text)
    try:
        root = loader.get_single_node()
        source.data = {} if root is None else _build(root, (), source, loader)
    finally:
        loader.dispose()
    return source


def _written(node: yaml.Node) -> str:
    """The text of ``node`` as written in the file."""
    start, end = node.start_mark, node.end_mark
    if start.buffer is not None and end is not None:
        return start.buffer[start.index:end.index]
    return str(node.value)


def _build(node: yaml.Node, at: Path, source: Source, loader: _FlowLoader) -> object:
    source.lines[at] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                # A key like `yes:` or `1:` stays text, as written, so the
                # schema can name it (and suggest `if_yes`).
                key = key_node.value
            else:  # `[a, b]: 1` or `{a: 1}: 2`: a key that is a list or a mapping
                if key_node.start_mark.buffer is None:
                    raise _ReadAgain
                key = _written(key_node)
            if key in result:
                source.duplicates.append((key_node.start_mark.line + 1, key))
            else:
                source.key_lines[at + (key,)] = key_node.start_mark.line + 1
            result[key] = _build(value_node, at + (key,), source, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, at + (i,), source, loader) for i, item in enumerate(node.value)]
    try:
        value = loader.construct_object(node, deep=True)
    except ValueError:
        # A date that is not one (`reviewed: 2026-13-45`): keep the text, so the
        # schema can say what is wrong with it instead of the loader crashing.
        return node.value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()  # dates (`reviewed: 2026-11-01`) are kept as text
    if node.tag != _TEXT_TAG:
        source.raw[at] = node.value
    return value
