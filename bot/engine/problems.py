"""A problem found in the flow files, the catalogs or the conversation tests.

A problem is data: a ``code`` that says what kind of problem it is (stable:
``unknown-goto``, ``missing-translation``, ``over-segments``...), the place
staff should open (``path``, ``line``), the things it is about (``data``:
the node, the target, the language, the English text...) and its severity.

Its text, the ``path:line: message`` staff read in ``flows check``, is made
from the code and the data here, in :data:`MESSAGES`, and nowhere else.
Whoever words a problem differently (the console sends staff to the
translation box beside the text rather than to the catalog) does it from the
code and the data too, never from the text: rewording a message here changes
what staff read, and nothing else.
"""
from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Callable, Iterable, Mapping

from .model import Where
from .translations import SOURCE_LANGUAGE, language_name

ERROR = "error"
WARNING = "warning"


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Problem:
    path: str
    line: int
    code: str
    data: Mapping[str, object] = field(default_factory=dict)
    severity: str = ERROR

    def __post_init__(self) -> None:
        if self.code not in MESSAGES:
            raise ValueError(f"no message for the problem code {self.code!r}")
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    @classmethod
    def at(cls, where: Where, code: str, severity: str = ERROR, **data) -> "Problem":
        return cls(where.path, where.line, code, data, severity)

    @functools.cached_property
    def message(self) -> str:
        """What staff read after ``path:line:``."""
        return message(self.code, self.data)

    def moved(self, path: str) -> "Problem":
        """The same problem, with its file named by ``path`` (relative, or the real folder)."""
        return replace(self, path=path)

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == WARNING else ""
        return f"{self.path}:{self.line}: {prefix}{self.message}"

    # Two problems are the same when staff would read the same line: so one
    # said by two rules is printed once, and problems sort as their lines do.
    def _key(self) -> tuple:
        return (self.path, self.line, self.message, self.severity)

    def __eq__(self, other: object) -> bool:
        return self._key() == other._key() if isinstance(other, Problem) else NotImplemented

    def __lt__(self, other: "Problem") -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == ERROR]


# --- words used in many messages -----------------------------------------------------


def language_label(code: str) -> str:
    """``Spanish (es)``; a code no one knows stays a code: `xx`."""
    name = language_name(code)
    return f"{name} ({code})" if name != code else f"`{code}`"


def short_text(text: str, limit: int = 40) -> str:
    """A text cut to one short line, to name it in a message."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def shown(where: Where) -> str:
    """A place named inside a message, as staff see it from the project folder:
    ``flows/main.yaml:12``, ``locales/es/LC_MESSAGES/messages.po:40``."""
    parts = where.path.replace("\\", "/").split("/")
    keep = 4 if parts[-1].endswith(".po") else 2
    return f"{'/'.join(parts[-keep:])}:{where.line}"


def and_list(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def braces(names: Iterable[str]) -> str:
    """``{keyword} and {number}``, for messages about placeholders."""
    if "<unbalanced braces>" in names:  # what render.placeholders says for "{" alone
        return "a { or } without its pair"
    names = sorted(names)
    return and_list(["{" + n + "}" for n in names]) if names else "no placeholder"


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` was most likely meant to be, if one is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return close[0] if close else None


def _did_you_mean(d: Mapping, choices_are: str) -> str:
    """`did you mean `x`?`, else the choices (``suggestion`` and ``choices`` of a problem)."""
    if d.get("suggestion"):
        return f"did you mean `{d['suggestion']}`?"
    choices = sorted(d.get("choices") or ())
    return f"{choices_are}: {', '.join(choices)}" if choices else ""


def _what(at: tuple) -> str:
    """How a message names the value at ``at``: `text`, item 2 of `nodes`, this file."""
    if not at:
        return "this file"
    if isinstance(at[-1], int):
        parent = next((p for p in reversed(at) if isinstance(p, str)), None)
        return f"item {at[-1] + 1} of `{parent}`" if parent else f"item {at[-1] + 1}"
    return f"`{at[-1]}`"


# What a schema asks for, and what a value is, in words (`found`/`wanted` of schema problems).
_WANTED = {"object": "a set of `field: value` lines", "array": "a list (lines starting with `- `)",
           "boolean": "true or false", "string": "text", "integer": "a whole number", "number": "a number"}
_IS_A = {"boolean": "true/false", "number": "a number", "string": "text", "array": "a list",
         "object": "a set of `field: value` lines", "null": "empty"}
FILE_KINDS = {"flow": "a flow file", "keywords": "keywords.yaml", "system": "system.yaml", "hotlines": "hotlines.yaml",
              "understanding": "understanding.yaml"}

# PyYAML's wording (see yamlsource), and what a person editing the file should do about it.
YAML_HINTS = {
    "colon": "a text with `: ` in it must be in quotes",
    "tab": "indent with spaces, not tabs",
    "two-documents": "a flow file holds one document: remove the `---` line",
    "start-character": "a text starting with this character must be in quotes",
    "unclosed-quote": "a quote opened here is never closed: add the closing quote",
    "unclosed-list": "a list opened with `[` here is never closed: add the `]`",
    "unclosed-mapping": "a `{` opened here is never closed: add the `}`",
    "alias": "`*` starts a YAML alias: put the text in quotes",
    "tag": "`!` starts a YAML tag: put the text in quotes",
    "indentation-quote": "this line is not lined up with the lines above it: check its indentation,"
                         " and that quoted text has nothing after the closing quote",
    "indentation": "this line is not lined up with the lines above it: check its indentation",
}


# --- the messages, by code ------------------------------------------------------------------
#
# A message is a format string over the problem's data, or a function of it.
# Format strings may also use: {language} (from `lang`), {text} (a short form of
# `msgid`), {what} (the field at `field`), and any place (a Where) as `path:line`.


def _fields(d: Mapping) -> dict:
    found = {k: shown(v) if isinstance(v, Where) else v for k, v in d.items()}
    if "lang" in d:
        found["language"] = language_label(d["lang"])
    if "msgid" in d:
        found["text"] = short_text(d["msgid"])
    if "field" in d:
        found["what"] = _what(tuple(d["field"]))
    return found


def _unknown_goto(d: Mapping) -> str:
    target, flow = d["target"], d["flow"]
    if d["missing"] == "flow":
        said = f"unknown goto target `{target}`: there is no flow `{flow}`; {_did_you_mean(d, 'the flows are')}"
    elif d["missing"] == "node":
        said = f"unknown goto target `{target}`: flow `{flow}` has no node `{d['node']}`; {_did_you_mean(d, 'its nodes are')}"
    else:  # `goto: wrk`, written without a dot: a node of this flow, or another flow
        said = (f"unknown goto target `{target}`: flow `{flow}` has no node `{target}`, and there is no flow `{target}`; "
                f"{_did_you_mean(d, 'the nodes of this flow and the flows are')}")
    via = d.get("via")
    if via in ("show", "goto"):
        return f"`{d['intent']}` {'shows' if via == 'show' else 'goes to'} an {said}"
    return f"`{via}`: {said}" if via else said


def _missing_translation(d: Mapping) -> str:
    said = f"missing {language_label(d['lang'])} translation of \"{short_text(d['msgid'])}\""
    if d["state"] == "missing":  # not in the catalog at all
        return f"{said}: run `flask --app app translations update`, then translate it in locales/{d['lang']}/LC_MESSAGES/messages.po"
    return f"{said}: translate it at {shown(d['catalog_line'])}"


def _over_segments(d: Mapping) -> str:
    part, node = d["part"], d.get("node")
    what = {"node": f"`{node}`", "prompt": f"`{node}` (its text and options)",
            "reprompt": f"the re-prompt of `{node}` (text `{d.get('name', 'reprompt')}` and the options)",
            "text": f"text `{d.get('name')}`"}[part]
    if d["encoding"] == "GSM-7":
        limit = f"{d['limit']} segments = 459 characters"
    else:
        limit = f"{d['limit']} segments = 201 characters, because `{d['odd']}` makes it UCS-2"
    at = d.get("translation_at")
    fix = f"shorten the {language_name(d['lang'])} at {shown(at)}" if at else "shorten it"
    return (f"{what} is too long for SMS in {language_label(d['lang'])}: {d['units']} characters make "
            f"{d['segments']} segments; the limit is {limit}: {fix}")


def _sensitive_first_lines(d: Mapping) -> str:
    words, lines, language = ", ".join(d["words"]), d["lines"], language_label(d["lang"])
    if d.get("node"):
        return (f"a message of `{d['node']}` names {words} in its first {lines} lines in {language} "
                f"(a locked phone shows them): start it with two neutral lines, like \"Thank you for telling us.\"")
    return f"text `{d['name']}` names {words} in its first {lines} lines in {language}: start it with two neutral lines"


def _around_word_clash(d: Mapping) -> str:
    clash = {"keyword": f"the keyword of `{d.get('intent')}`", "answer": f"a `{d.get('answer')}` answer word",
             "number": "a number word", "not-word": "a not-word"}[d["clash"]]
    return f"`{d['word']}` is an around word and {clash}: an around word must change nothing; take it out of `around_words`"


def _answer_here_twice(d: Mapping) -> str:
    where = "everywhere (an answer word of system.yaml)" if d["everywhere"] else "there too"
    return (f"`{d['word']}` is written for `{d['answer']}` at `{d['place']}`, but it answers `{d['other']}` {where}:"
            " keep it in one list")


def _whole_phrase_is_a_word(d: Mapping) -> str:
    read = f"`{d['phrase']}` is read without its around words ({and_list(d['around'])}), as `{d['word']}`"
    if d["clash"] == "keyword":
        return (f"{read}, the keyword of `{d['intent']}`, which is read first: this phrase never leads to"
                f" `{d['meaning']}`; write a phrase that says more, or take it out")
    return (f"{read}, a `{d['answer']}` answer word: outside a question, a reply of `{d['word']}` alone would lead to"
            f" `{d['meaning']}`; write a phrase that says more")


def _unverified_number(d: Mapping) -> str:
    in_lang = "" if d["lang"] == SOURCE_LANGUAGE else f" (in the {language_label(d['lang'])} translation)"
    return (f"this text gives the number of `{d['hotline']}`{in_lang}, which is not verified: take the number out "
            f"until a person has checked it against {d['source']} and set `verified: true` in hotlines.yaml")


def _no_hotline_at_end(d: Mapping) -> str:
    what = f"the end screen `{d['node']}`" if d["part"] == "end" else f"the `{d['part']}` text of `{d['node']}`"
    return f"{what} gives no hotline number: add one from hotlines.yaml (every path must end on a screen that names a hotline)"


def _review(d: Mapping) -> str:
    what = f"{d['kind']} `{d['ident']}`"
    if d.get("reviewed"):
        return (f"{what} was last reviewed on {d['reviewed']}, more than 6 months ago: check it against "
                f"{d['source']} and update `reviewed:`")
    return f"{what} has no `reviewed:` date: check it against {d['source']} and add `reviewed: YYYY-MM-DD`"


def _flag_never_set(d: Mapping) -> str:
    flag = d["flag"]
    hint = f"did you mean `{d['suggestion']}`? Or set it" if d.get("suggestion") else "set it"
    return f"flag `{flag}` is never set, so this branch can never hold: {hint} with `flag: {flag}` on a question or `sets: [{flag}]` on a menu option"


def _unknown_intent(d: Mapping) -> str:
    hint = f" (did you mean `{d['suggestion']}`?)" if d.get("suggestion") else ""
    return f"unknown keyword intent `{d['intent']}`{hint}: the bot knows these intents: {', '.join(d['choices'])}"


def _empty_file(d: Mapping) -> str:
    needs = and_list([f"`{k}:`" for k in d["required"]])
    said = f"this file is empty: {FILE_KINDS[d['kind']]} starts with {needs}"
    return said + ("; write them, or delete the file" if d["kind"] == "flow" else "")


def _file_wrong_type(d: Mapping) -> str:
    needs = and_list([f"`{k}:`" for k in d["required"]])
    return f"this file should be {_WANTED.get(d['wanted'], d['wanted'])}, not {_IS_A[d['found']]}: {FILE_KINDS[d['kind']]} starts with {needs}"


_CONTACT_EXAMPLES = {"number": 'number: "1-888-373-7888"', "address": 'address: "humantraffickinghotline.org"'}


def _missing_field(d: Mapping) -> str:
    if d.get("node_kind"):
        return f"missing `{d['name']}:` (a `{d['node_kind']}` node needs it)"
    if d.get("contact_kind"):
        example = _CONTACT_EXAMPLES.get(d["name"], f"{d['name']}: ...")
        return f"missing `{d['name']}:` (a `{d['contact_kind']}` contact needs it): add it, like `{example}`"
    hint = (d.get("description") or "").split(". ")[0].rstrip(".")
    return f"missing `{d['name']}:`" + (f" ({hint[0].lower()}{hint[1:]})" if hint else "")


def _not_one_of(d: Mapping) -> str:
    hint = f" (did you mean `{d['suggestion']}`?)" if d.get("suggestion") else ""
    return f"{_what(tuple(d['field']))} is `{d['value']}`{hint}: use one of: {', '.join(map(str, d['choices']))}"


def _branch_conditions(d: Mapping) -> str:
    written = [f"`{k}`" for k in d["written"]]
    has = f"this branch has {len(written)} conditions ({', '.join(written)})" if written else "this branch has no condition"
    return f"{has}: a branch needs exactly one of {', '.join(d['conditions'])}, and a `goto:`; write one branch per condition"


def _too_few_items(d: Mapping) -> str:
    what = _what(tuple(d["field"]))
    return f"{what} is empty: add at least one item" if d["least"] == 1 else f"{what} needs at least {d['least']} items"


def _unknown_field(d: Mapping) -> str:
    hint = f"did you mean `{d['suggestion']}`?" if d.get("suggestion") else f"the fields allowed here are: {', '.join(d['allowed'])}"
    return f"unknown field `{d['name']}`: {hint}"


def _yaml_syntax(d: Mapping) -> str:
    hint = YAML_HINTS.get(d.get("hint") or "")
    return f"YAML syntax error ({d['detail']})" + (f": {hint}" if hint else "")


def _answer(d: Mapping) -> str:
    return "\n".join(f"    | {line}" for line in (d["answer"] or "(nothing)").splitlines())


MESSAGES: dict[str, str | Callable[[Mapping], str]] = {
    # --- reading the files (loader, yamlsource) ---
    "schema-missing": "cannot read the schema: {file} is missing; restore it from git",
    "schema-unreadable": "cannot read the schema: {error}",
    "schema-invalid": "schema.json is not a valid JSON Schema ({error}): restore it from git",
    "schema-incomplete": lambda d: f"schema.json has no `$defs` for {', '.join(d['kinds'])}: restore it from git",
    "file-too-big": "this file is over {limit_kb} KB, the most a flow file may be (it goes past that on this line):"
                    " split it into smaller flows, or remove what was pasted here",
    "not-utf8": "this file is not UTF-8 text: save it as UTF-8 (Unicode), then run the check again",
    "yaml-syntax": _yaml_syntax,
    "yaml-alias": "`*{anchor}` is a YAML alias, and flow files do not use aliases or anchors (each text is written out"
                  " where it is used); if the text starts with `*`, put it in quotes",
    "yaml-anchor": "`&{anchor}` is a YAML anchor, and flow files do not use anchors or aliases (each text is written"
                   " out where it is used); if the text starts with `&`, put it in quotes",
    "yaml-too-deep": "this is nested more than {depth} levels deep, and a flow file needs only a few: check the"
                     " indentation and the [ ] and {{ }} pairs here",
    "control-character": "this line has an invisible control character (code {char:#04x}): delete it, or retype the line",
    "duplicate-key": "`{key}` is written twice here: YAML keeps only the last one; delete one of them",
    "empty-file": _empty_file,
    "missing-file": "{name} is missing from the {folder}/ folder: every flow set needs one; put it back (it is in git)",
    "not-a-language-code": "`{code}` is not a language code: write the code of the language, like `es`, `fr` or `pt_BR`"
                           " (two or three lower-case letters, then optionally _ and a country in capitals)",
    "unknown-language-code": "`{code}` is not a known language code: write the ISO 639 code of the language, like `fr`"
                             " for French or `ht` for Haitian Creole",
    # --- the schema: what a field holds ---
    "unknown-field": _unknown_field,
    "text-read-as-boolean": "{what}: YAML reads `{raw}` as true/false, not as text: put it in quotes, like \"{raw}\"",
    "text-read-as-number": "{what}: YAML reads `{raw}` as a number, not as text: put it in quotes, like \"{raw}\"",
    "empty-text": "{what} is empty: write the text after the colon, in quotes",
    "file-wrong-type": _file_wrong_type,
    "empty-value": lambda d: f"{_what(tuple(d['field']))} is empty: it should be {_WANTED.get(d['wanted'], d['wanted'])}",
    "wrong-type": lambda d: f"{_what(tuple(d['field']))} should be {_WANTED.get(d['wanted'], d['wanted'])}, not {_IS_A[d['found']]}",
    "missing-field": _missing_field,
    "not-one-of": _not_one_of,
    "bad-phone-number": "{what} `{value}`: write only digits, spaces and dashes, in quotes, like \"1-888-373-7888\"",
    "bad-web-address": "{what} `{value}`: write the address as people type it, without https://, like"
                       " \"humantraffickinghotline.org\"",
    "bad-goto": "{what} `{value}` is not a place to go: write a node id (`menu`), a flow id (`numbers`) or a flow and"
                " one of its nodes (`numbers.by_need`), in lower-case letters, digits and _",
    "age-without-number": "{what} `{value}` has no `#` for the age: write `#` once, as a word of its own, where the number"
                          " goes (\"tengo #\", \"im # years old\")",
    "bad-id": "{what} `{value}` is not a valid id: use lower-case letters, digits and _, starting with a letter"
              " (like `unpaid_wages`)",
    "branch-conditions": _branch_conditions,
    "empty-mapping": "{what} is empty: add at least one line",
    "too-few-items": _too_few_items,
    "too-many-items": "{what} has more than {most} items: split it into two menus",
    "empty-string": "{what} is empty: write the text between the quotes",
    "not-a-date": "{what} `{value}` is not a date: write it as YYYY-MM-DD, like 2026-01-31",
    "schema": "{what}: {detail}",  # anything else the schema refuses, in jsonschema's words
    # --- structure and gotos (validate) ---
    "duplicate-flow-id": "flow id `{flow}` is used twice (first at {first}): rename one of them",
    "duplicate-node-id": "node id `{node}` is used twice in flow `{flow}` (first at line {first_line}): rename one of them",
    "duplicate-hotline-id": "hotline id `{hotline}` is used twice (first at line {first_line}): rename one of them",
    "unknown-goto": _unknown_goto,
    "question-without-next": "question `{node}` does not say where every answer goes: add `next:`, or all of `if_yes:`,"
                             " `if_no:` and `if_not_sure:`",
    "unknown-directory-entry": lambda d: f"directory entry `{d['entry']}` is not in hotlines.yaml; {_did_you_mean(d, 'the ids there are')}",
    "main-menu-not-menu": "`main_menu` must be a menu node, and `{target}` is a {kind}: point it at a menu node",
    "unreachable-node": "node `{node}` can never be reached: no goto, menu option or keyword leads to `{flow}.{node}`;"
                        " link to it, or delete the node",
    "loop-without-wait": lambda d: f"`{d['node']}` starts a loop that never waits for a reply, so the bot would send messages"
                                   f" without end: {' -> '.join(d['loop'])}; make one of these nodes a menu or question, or change a goto",
    "flag-never-set": _flag_never_set,
    # --- keywords and system.yaml ---
    "unknown-intent": _unknown_intent,
    "missing-intent": "keyword intent `{intent}` is missing: add `{intent}:` under `intents:`, with its `words:`",
    "intent-needs-show": "`{intent}` needs `show:`, the message or directory node it shows",
    "intent-shows-wrong-kind": "`{intent}` can only show a message or directory node, and `{target}` is a {kind}: point"
                               " `show:` at a message or directory node",
    "intent-needs-goto": "`{intent}` needs `goto:`, the {wanted} node it goes to",
    "intent-goes-to-wrong-kind": "`{intent}` must go to a {wanted} node, and `{target}` is a {kind}: point `goto:` at a {wanted} node",
    "keyword-twice": "the word `{word}` is a keyword of both `{first}` and `{second}`: keep it in one of them",
    "keyword-language-not-listed": "language `{lang}` is not listed under `languages:` in system.yaml: add it there, or remove it here",
    "missing-system-text": "`texts` is missing `{name}:`, a text the bot sends by this name: add it under `texts:`",
    "default-language-not-listed": lambda d: f"`default_language` is `{d['lang']}`, which is not under `languages:`; use one of: {', '.join(d['choices'])}",
    "source-language-not-listed": "`languages` must include `{lang}`: flow text is written in English",
    "unbalanced-braces": lambda d: f"`{d['name']}` has a {{ or }} without its pair: write {braces(d['wanted'])} exactly like that",
    "missing-placeholders": lambda d: f"`{d['name']}` must contain {braces(d['wanted'])}: the bot puts the hotline's details there",
    # --- understanding.yaml ---
    "unknown-language": lambda d: f"language `{d['lang']}` is not under `languages:` in system.yaml; {_did_you_mean(d, 'the languages of system.yaml are')}",
    "meaning-leads-nowhere": "this meaning leads nowhere: add `goto:` (a place, like `rights.pay_here`) or `intent:`"
                             " (danger, watched, human, help, quick_exit or opt_out)",
    "ending-intent-with-goto": "`{intent}` ends the chat, so it cannot also go somewhere: remove `goto:`",
    "instead-of-without-goto": "`instead_of:` sends what would go there somewhere else: add `goto:` (a place, like"
                               " `numbers.exploitation`)",
    "short-form-twice": lambda d: f"`{d['form']}` stands for `{d['word']}` in {language_label(d['lang'])} and for"
                                  f" `{d['other']}` in {language_label(d['other_lang'])}: a message's language is not"
                                  f" known before it is read, so keep `{d['form']}` in one language only",
    "lone-erase-not-a-keyword": "`{word}` is in lone_erase_words but is not an erase keyword (quick_exit in"
                                " keywords.yaml), so alone in a clause it erases nothing: add it to quick_exit's"
                                " words, or take it out here",
    "together-in-whole": "`together:` is read from part of a message, but this meaning counts only the whole"
                         " message ({why}): move it to a meaning without `whole: true`",
    "gap-at-edge": "`{phrase}` has `...` first, last or twice in a row: `...` stands for a few words between two"
                   " words of the phrase; write a word on each side of it",
    "gap-in-whole": "`{phrase}` has `...`, but this meaning counts only the whole message ({why}): write the words"
                    " people send, without `...`",
    "phrase-twice": "`{phrase}` is also a phrase of `{other}` (at {other_at}): one phrase can lead to one place only;"
                    " keep it in one of them",
    "around-word-clash": _around_word_clash,
    "whole-phrase-is-a-word": _whole_phrase_is_a_word,
    "number-word-twice": "`{word}` is written for both {first} and {second}: keep it on one line",
    "answers-at-not-a-question": "`answers_at:` names `{place}`, a {kind}: answers in its own words are read only at a"
                                 " yes / no / not sure question",
    "answer-here-twice": _answer_here_twice,
    "option-words-unknown-flag": lambda d: f"`option_words:` names `{d['flag']}`, which no menu option `sets:`, so its"
                                           f" words would pick nothing; "
                                           + (_did_you_mean(d, "the flags options set are") or "set it on an option, or remove it"),
    "saying-where-not-a-menu": "`saying_where:` names `{place}`, a {kind}: a place said in passing is recorded as the"
                               " answer to a menu whose options `sets:` a place (`screening.where`)",
    "cry-not-danger": "cry `{word}` is not a danger keyword of keywords.yaml, so it would raise no alarm: add it to"
                      " `danger:` there, or take it out of `cries:`",
    "hello-any-too-long": "text `hello_any` is sent in every language at once, and together they make {segments} SMS"
                          " segments ({units} characters, {encoding}); the limit is {limit}: shorten it",
    # --- translations, as `flows check` says them (at the English text) ---
    "no-catalog": "no catalog for {language}: create locales/{lang}/LC_MESSAGES/messages.po with `flask --app app translations update`",
    "missing-translation": _missing_translation,
    "fuzzy-translation": "the {language} translation of \"{text}\" is marked fuzzy (the English changed): check it at"
                         " {catalog_line}, then remove `fuzzy` from the `#,` line above it",
    "placeholder-mismatch": lambda d: f"the {language_label(d['lang'])} translation of \"{short_text(d['msgid'])}\" must"
                                      f" contain {braces(d['wanted'])} as in the English, written the same way; it has {braces(d['found'])}",
    "hidden-character": lambda d: f"the {language_label(d['lang'])} translation of \"{short_text(d['msgid'])}\" has an"
                                  f" invisible control character (code {d['char']:#04x}), which no message can carry:"
                                  " delete it, or retype the translation",
    # --- translations, as `translations check` says them (at the catalog line) ---
    "babel-cfg-missing": "babel.cfg is missing: it tells `translations update` where the flow texts are; put it back (it is in git)",
    "catalog-not-found": "no catalog for {language}: run `flask --app app translations update`",
    "catalog-missing-text": "\"{text}\" ({file}:{file_line}) is not in the {language} catalog: run `flask --app app"
                            " translations update`, then translate it",
    "catalog-empty-translation": "\"{text}\" has no {language} translation: write it between the quotes of the `msgstr` below it",
    "catalog-fuzzy-translation": "the {language} translation of \"{text}\" is marked fuzzy (the English changed; the old"
                                 " English is on the `#|` line above): check it, then remove `fuzzy` from the `#,` line",
    "catalog-not-utf8": "this catalog is not UTF-8 text: save it as UTF-8 (Unicode), then run the check again",
    "catalog-unclosed-quote": "the text on this line has no closing quote: end it with \"",
    "catalog-bad-line": "this line cannot be read ({written!r}): an entry is a `msgid \"English\"` line, then a `msgstr"
                        " \"translation\"` line, with every text in quotes; comments start with #",
    # --- what texters are sent ---
    "over-segments": _over_segments,
    "publish-refused": "not published: {why}",
    "whatsapp-label-too-long": lambda d: (
        f"the {language_label(d['lang'])} label \"{d['label']}\" is {d['length']} characters, and a WhatsApp "
        f"{d['widget']} shows at most {d['limit']}: "
        + (f"make it (or its translation) at most {d['limit']} characters" if d['short'] else
           f"add `short:` under this option with a label of at most {d['limit']} characters (in every language)")),
    "number-not-in-hotlines": "the number `{number}` is not in hotlines.yaml: correct it, or add it to hotlines.yaml with"
                              " the source you checked it against",
    "translated-number-not-in-hotlines": "the {language} translation of \"{text}\" has the number `{number}`, which is not"
                                         " in hotlines.yaml: write the number the English has",
    "keyword-on-non-text-contact": "`keyword` only works with `kind: text` (a word to text to the number); remove it from this {kind} contact",
    "unverified-entry-shown": "directory `{node}` shows `{hotline}`, which is not verified: take it out of `entries:` until"
                              " a person has checked it against {source} and set `verified: true` in hotlines.yaml",
    "unverified-number-shown": _unverified_number,
    "unverified-hotline": "hotline `{hotline}` is not verified, so no flow may show it: check it against {source} and set `verified: true`",
    "no-hotline-at-end": _no_hotline_at_end,
    "sensitive-first-lines": _sensitive_first_lines,
    "offer-not-a-keyword": "`{word}` in `offers:` is not a keyword in keywords.yaml: write the keyword as the text says it",
    "offer-leads-nowhere": "`{word}` ({intent}) does the same thing everywhere and leads to no place: remove it from `offers:`",
    "offer-not-in-text": "the text of `{node}` does not name `{word}` in capitals: write it in the text as people should"
                         " send it, or remove it from `offers:`",
    "offer-leads-elsewhere": "the text promises that {word} leads to `{target}`, but {word} goes to `{goes_to}`: make the"
                             " text say what {word} really does and write `{word}: {goes_to}` here, or take the promise out",
    "offer-not-declared": "`{node}` tells people to send {word} without saying where it leads: add `offers: {{{word}:"
                          " {goes_to}}}` to the node ({word} goes to `{goes_to}`) and make the text say that",
    "offer-only-in-translation": "the {language} translation of \"{text}\" names {word} ({intent}), which the English does"
                                 " not offer: translate what the English says",
    "system-text-offers": "text `{name}` tells people to send {word}, and a system text cannot say where it leads: leave"
                          " it out (the bot's own texts may name only EXIT, STOP and START words)",
    "review-due": _review,
    # --- what callers hear (bot/engine/voice_check.py) ---
    "voice-needs-text": lambda d: f"`{d['node']}` tells people to type {', '.join(d['words'])}, which a caller cannot:"
                                  " add `voice:` with what to say in a phone call instead (the keys of keywords.yaml's"
                                  " `voice_keys:`; hanging up ends and erases a call)",
    "voice-label-needs-voice": lambda d: f"option \"{d['label']}\" of `{d['node']}` names {', '.join(d['words'])}, and a"
                                        " caller who says it to pick the option ends the call: add `voice:` to the"
                                        " option with the label to say in a phone call",
    "voice-too-many-options": "menu `{node}` has {options} options, and a phone keypad can pick only {most} of them (the"
                              " other keys are keywords.yaml's `voice_keys:`): split it into two menus",
    "voice-too-long": lambda d: f"`{d['node']}` takes about {d['seconds']:g} s to say in {language_label(d['lang'])} (at"
                                f" {d['rate']:g} words a second), over the {d['limit']} s a caller can follow before"
                                " answering: shorten it, or give the node a shorter `voice:` text",
    "voice-audio-missing": lambda d: f"`audio:` of `{d['node']}` plays {d['file']} for {language_label(d['lang'])}, and"
                                     " the flows folder has no such file: add the recording there, or correct the path",
    "voice-audio-language": lambda d: f"`audio:` of `{d['node']}` has a file for `{d['lang']}`, which is not under"
                                      f" `languages:` in system.yaml ({', '.join(d['choices'])}): remove it or add the language",
    # --- conversation tests (flows/tests/) ---
    "test-not-utf8": "not UTF-8 text: save the file as UTF-8",
    "test-file-not-a-list": "a test file is a list under `tests:` (see flows/tests/README.md)",
    "test-needs-steps": "a test needs `name:` and a list of `steps:`",
    "test-step-needs-say": "each step needs `say:` (what the person sends)",
    "test-say-not-text": "`say:` was read as yes/no or as nothing: put the text in quotes",
    "test-expect-not-text": "`expect:` and `not:` take a text, or a list of texts, in quotes",
    "test-answer-lacks": lambda d: f"after \"{d['say']}\" the answer should contain \"{d['piece']}\", but it was:\n{_answer(d)}",
    "test-answer-has": lambda d: f"after \"{d['say']}\" the answer must not contain \"{d['piece']}\", but it was:\n{_answer(d)}",
    "test-could-not-run": "the conversation test \"{test}\" could not run: {error}",
    # --- wrap-up outcomes (flows/console/outcomes.yaml, bot/outcomes.py) ---
    "outcomes-file": "{why}",
    # --- canned replies (flows/console/replies.yaml, bot/canned_replies.py) ---
    "reply-file-shape": "{why}",
    "reply-no-key": "only the first {keys} replies get a key (Alt+1 to Alt+{keys}); this one and those after it are a"
                    " click away only: put the most used first",
    "reply-unknown-placeholder": lambda d: (
        f"reply `{d['reply']}` has `{{{d['name']}}}`, which is not the `id:` of a line of hotlines.yaml: write one of "
        + (", ".join(f"{{{c}}}" for c in d["choices"]) or "the verified lines' ids")),
    "reply-unverified-hotline": "`{{{hotline}}}` is not verified, so no reply may give it: take it out until a person"
                                " has checked it against {source} and set `verified: true` in hotlines.yaml",
    "reply-sensitive-first-lines": lambda d: (
        f"reply `{d['reply']}` names {', '.join(d['words'])} in its first {d['lines']} lines in"
        f" {language_label(d['lang'])} (with the hotline filled in; a locked phone shows them): start it with two"
        " neutral lines, like \"Free help, 24/7.\""),
    "reply-over-segments": lambda d: (
        f"reply `{d['reply']}` is too long for SMS in {language_label(d['lang'])} (with the hotline filled in):"
        f" {d['units']} characters make {d['segments']} segments; the limit is {d['limit']} segments = "
        + ("459 characters" if d["encoding"] == "GSM-7" else
           f"201 characters, because `{d['odd']}` makes it UCS-2")
        + (": shorten it" if d["lang"] == SOURCE_LANGUAGE else f": shorten the {language_name(d['lang'])}")),
}


def message(code: str, data: Mapping) -> str:
    """The words of a problem of kind ``code`` about ``data``."""
    said = MESSAGES[code]
    return said(data) if callable(said) else said.format(**_fields(data))
