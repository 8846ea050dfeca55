"""The conversation model: what the flow files say, as frozen data.

The loader builds these from YAML; the validator checks them; the runner walks
them. Nothing here does I/O. Every object that came from a file remembers
where (``Where``), so a problem can be reported as ``path:line: message``.

Gotos are stored fully qualified, ``"flow.node"``, once the loader has
resolved the short forms staff may write (``node`` in the same flow, or
``flow`` for another flow's start).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping, TypeVar

T = TypeVar("T")
_NONE: Mapping[str, str] = MappingProxyType({})

# The answers a yes/no/not-sure question accepts, in the order they are shown.
ANSWERS = ("yes", "no", "not_sure")

# Node kinds. A node "waits" when the person's next text answers it.
MESSAGE = "message"  # text, then go on to `next` at once
MENU = "menu"  # numbered options, waits
QUESTION = "question"  # yes / no / not sure, records a flag, waits
BRANCH = "branch"  # picks a goto from the flags gathered so far
HANDOFF = "handoff"  # asks for a person
END = "end"  # last screen of a path; the conversation closes
DIRECTORY = "directory"  # hotline entries rendered from the directory data
LANGUAGE = "language"  # choose a language, waits
KINDS = (MESSAGE, MENU, QUESTION, BRANCH, HANDOFF, END, DIRECTORY, LANGUAGE)
WAITING_KINDS = frozenset({MENU, QUESTION, LANGUAGE})


@dataclass(frozen=True)
class Where:
    """A place in a source file, for messages a person can act on."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Text:
    """A translatable English text (the msgid) and where it was written."""

    msgid: str
    where: Where


@dataclass(frozen=True)
class Option:
    label: Text
    goto: str
    sets: tuple[str, ...] = ()  # flags set to "yes" when this option is picked
    where: Where | None = None
    short: Text | None = None  # the label on a WhatsApp button or list row, when `label` is too long for one
    voice: Text | None = None  # the label said on a call, when `label` would not fit one ("How EXIT works")


@dataclass(frozen=True)
class Condition:
    """True when any (or all) of ``flags`` hold one of ``answers``.

    >>> c = Condition(flags=("force", "debt"), mode="any", answers=frozenset({"yes"}))
    >>> c.holds({"debt": "yes"})
    True
    >>> c.holds({"debt": "no"})
    False
    """

    flags: tuple[str, ...]
    mode: str  # "any" or "all"
    answers: frozenset[str]

    def holds(self, flags: Mapping[str, str]) -> bool:
        hits = (flags.get(name) in self.answers for name in self.flags)
        return any(hits) if self.mode == "any" else all(hits)


@dataclass(frozen=True)
class Branch:
    when: Condition
    goto: str
    where: Where | None = None


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    where: Where
    text: Text | None = None
    next: str | None = None
    options: tuple[Option, ...] = ()
    flag: str | None = None  # question: the flag its answer is recorded in
    age_below: int | None = None  # question: "are you under this age?", so an age said answers it
    on: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # answer -> goto
    branches: tuple[Branch, ...] = ()
    default: str | None = None  # branch: where to go when no branch holds
    unavailable: Text | None = None  # handoff: what to say when nobody is on duty
    still_waiting: Text | None = None  # handoff: sent once to someone nobody has answered for too long
    entries: tuple[str, ...] = ()  # directory: hotline ids, in order
    outcome: str | None = None  # reported in events when this node is reached
    source: str | None = None  # where the facts come from (rights pages)
    reviewed: str | None = None  # YYYY-MM-DD: when a person last checked it against `source`
    # Keywords the text tells people to send, as written in the English (MENU),
    # -> the qualified node the text says they lead to; the validator checks it.
    offers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Phone calls: spoken instead of `text` (a call cannot "text EXIT"), and
    # recorded audio per language, played instead of either.
    voice: Text | None = None
    audio: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def waits(self) -> bool:
        return self.kind in WAITING_KINDS

    def branch_goto(self, flags: Mapping[str, str]) -> str | None:
        """Where this branch leads for the answers in ``flags``: its first branch that holds, else its default."""
        return next((b.goto for b in self.branches if b.when.holds(flags)), self.default)

    @property
    def option_flags(self) -> tuple[str, ...]:
        """Every flag this menu's options set: the menu's one answer, replaced
        whole when it is answered again.

        >>> n = Node("where", MENU, Where("f", 1), options=(Option(None, "a", ("in_us",)), Option(None, "b", ("in_mx",))))
        >>> n.option_flags
        ('in_us', 'in_mx')
        """
        return tuple(dict.fromkeys(flag for o in self.options for flag in o.sets))

    def targets(self) -> list[tuple[str, Where]]:
        """Every goto this node can take, with where it is written."""
        found: list[tuple[str, Where]] = []
        if self.next:
            found.append((self.next, self.where))
        found += [(o.goto, o.where or self.where) for o in self.options]
        found += [(goto, self.where) for goto in self.on.values()]
        found += [(b.goto, b.where or self.where) for b in self.branches]
        if self.default:
            found.append((self.default, self.where))
        return found

    def texts(self) -> list[Text]:
        """Every translatable text this node shows."""
        found = [t for t in (self.text, self.unavailable, self.still_waiting, self.voice) if t is not None]
        return found + [t for o in self.options for t in (o.label, o.short, o.voice) if t is not None]


@dataclass(frozen=True)
class Flow:
    id: str
    title: str
    start: str  # qualified "flow.node"
    nodes: tuple[Node, ...]
    where: Where
    _index: Mapping[str, Node] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, Node] = {}
        for node in self.nodes:
            index.setdefault(node.id, node)  # a duplicate id is the validator's to report
        object.__setattr__(self, "_index", MappingProxyType(index))

    def node(self, node_id: str) -> Node | None:
        return self._index.get(node_id)


@dataclass(frozen=True)
class Contact:
    kind: str  # "call", "text", "whatsapp", or "chat" (a web chat, at ``address``)
    number: str  # "" for a chat
    keyword: str | None = None  # e.g. "START" for "text START to 88788"
    address: str = ""  # a chat's web address, as people type it: "humantraffickinghotline.org"


@dataclass(frozen=True)
class Hotline:
    id: str
    name: Text
    contacts: tuple[Contact, ...]
    note: Text | None
    source: str
    verified: bool
    reviewed: str | None
    where: Where


@dataclass(frozen=True)
class Keywords:
    """Global keywords: normalised whole-message words per intent."""

    intents: Mapping[str, frozenset[str]]  # intent -> normalised words
    languages: Mapping[str, frozenset[str]]  # language code -> switch words
    shows: Mapping[str, str]  # intent -> qualified node shown by that intent
    gotos: Mapping[str, str]  # intent -> qualified node the intent moves to
    where: Mapping[str, Where]  # intent or "language.<code>" -> where defined
    # Phone calls: keypad key ("0", "9", "*", "#") -> what it does (human, repeat, back, menu...).
    voice_keys: Mapping[str, str] = field(default_factory=lambda: _NONE)
    voice_repeat: frozenset[str] = frozenset()  # what a caller says for "again" (normalised): what 9 does


@dataclass(frozen=True)
class System:
    """Service-wide settings and texts from ``flows/system.yaml``."""

    languages: Mapping[str, str]  # code -> name in that language, in menu order
    default_language: str
    start: str  # qualified node where a new conversation starts
    main_menu: str
    texts: Mapping[str, Text]  # name -> text (re-prompt, erased, ...)
    answers: Mapping[str, frozenset[str]]  # yes/no/not_sure -> normalised words
    language_hints: Mapping[str, frozenset[str]]  # code -> normalised words
    where: Where
    first_line_avoid: frozenset[str] = frozenset()  # normalised words a first line must not contain
    language_neutral: frozenset[str] = frozenset()  # normalised words that say no language (SOS)
    answers_where: Mapping[str, Where] = field(default_factory=lambda: _NONE)  # yes/no/not_sure -> where its words are written


# These erase or silence: a phrase of theirs counts only as the whole message
# (with around words), never as part of a sentence ("I can't exit the building").
WHOLE_ONLY_INTENTS = frozenset({"quick_exit", "opt_out"})
# These are read word for word (letters stretched allowed), never from a word's
# stem or a typo: erasing or silencing on a guess is worse than asking again
# ("sale" is not "salte"), and so is showing the screen again to whoever may be
# near ("ya regresó", he is back, is not "ya regresé"; "sigue aquí" is not "sigo aquí").
EXACT_INTENTS = WHOLE_ONLY_INTENTS | {"resume"}


# Written between two words of a phrase: a few words may come there
# ("took ... passport" is in "they took all our passports").
GAP = "..."


@dataclass(frozen=True)
class Phrase:
    """One way of saying a meaning, normalised, in one language."""

    text: str  # normalised, with GAP between words where staff wrote one
    lang: str
    written: str  # as staff wrote it, for explanations
    where: Where


@dataclass(frozen=True)
class Together:
    """A meaning's ``together:`` in one language: a phrase of each group a few
    words apart, in any order ("llamé al número ... nadie contestó", "nobody
    picked up at the hotline"), unless a word of ``not_with`` is in the message
    (someone else who does not answer)."""

    lang: str
    groups: tuple[tuple[Phrase, ...], ...]
    not_with: frozenset[str]  # normalised words


@dataclass(frozen=True)
class Meaning:
    """A line of understanding.yaml: phrases people write, and where they lead."""

    intent: str | None  # one of the intents flows/schema.json lists for a meaning, or None
    goto: str | None  # qualified node, or None
    phrases: tuple[Phrase, ...]
    whole: bool  # only as the whole message (always, for WHOLE_ONLY_INTENTS)
    where: Where
    general: bool = False  # a general request (numbers, my rights): any other meaning in the message wins
    sign: bool = False  # a sign of exploitation (pay kept, papers kept, force, debt): two of them lead to `several_signs`
    # A qualified node: this meaning counts only beside a reading that leads there, and leads to
    # its own goto instead (someone writing for another person: not the screening, which asks
    # about the one who writes, but the hotline's numbers).
    instead_of: str | None = None
    # With `instead_of`: words that make the reading it stands in for the writer's own story ("makes me work",
    # "me obligan"): then that reading stays. Normalised, every language's.
    first_person: frozenset[str] = frozenset()
    note: str = ""
    together: tuple[Together, ...] = ()  # phrases of several groups read as one, per language

    @property
    def label(self) -> str:
        """``danger + screening.intro``: what it does, for explanations."""
        return " + ".join(filter(None, (self.intent, self.goto)))

    @property
    def key(self) -> str:
        """``danger+screening.intro``: the same, for events and figures."""
        return "+".join(filter(None, (self.intent, self.goto)))


AGE = "#"  # where the number goes in an age phrase


@dataclass(frozen=True)
class AgePhrase:
    """One way people say their age (understanding.yaml `ages:`): "tengo #", "i turn #"."""

    words: tuple[str, ...]  # normalised, AGE where the number goes
    turning: bool  # the age about to be reached, one year more than now ("cumplo 18")


@dataclass(frozen=True)
class Understanding:
    """``flows/understanding.yaml``: free text -> meanings, and the small words around answers."""

    around: Mapping[str, frozenset[str]]  # lang -> normalised words that may surround a keyword, answer or number
    numbers: Mapping[str, tuple[frozenset[str], ...]]  # lang -> words for 1, 2, 3... (normalised)
    meanings: tuple[Meaning, ...]
    where: Where | None = None
    negations: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> words that turn a following phrase around
    around_numbers: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> more words around a number
    short_forms: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: _NONE)  # lang -> "q" -> "que" (normalised)
    several_signs: Meaning | None = None  # where a message with phrases of two different sign meanings leads
    openers: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> words that open a clause of their own
    lone_erases: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> erase keywords that are a clause alone
    request_openers: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> "así que", "so": a last clause follows
    request_leads: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> "necesito que", "nvm": before a request
    take_backs: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> "no espera", "wait": after one
    quantities: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> words that make a number an amount
    ages: Mapping[str, tuple[AgePhrase, ...]] = field(default_factory=lambda: _NONE)  # lang -> how people say their age
    age_today: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> "hoy": a turning age already reached
    age_time_spent: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> "de", "here": years of a time spent
    age_time_spent_endings: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _NONE)  # lang -> "ando", "ing"
    joins: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> words that start a new clause ("y", "but")
    cries: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> danger keywords that end a longer message as a cry
    cries_not_after: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> "vos" (vos sos)
    ages_where: Where | None = None  # the `ages:` line, for explanations
    # place of a question -> answer -> lang -> that question's answers in its own words ("no tengo")
    answers_at: Mapping[str, Mapping[str, Mapping[str, frozenset[str]]]] = field(default_factory=lambda: _NONE)
    answers_at_where: Mapping[str, Where] = field(default_factory=lambda: _NONE)  # place -> its line, for explanations
    # flag -> lang -> words that pick the option setting that flag, at any menu ("el otro lado": in_us)
    option_words: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=lambda: _NONE)
    option_words_where: Where | None = None  # the `option_words:` line, for explanations
    # `saying_where:`: the menu whose answer a place said in passing records, and lang -> the
    # words before the place ("estoy en", "im in")
    saying_where_menu: str | None = None
    saying_where: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)
    saying_where_where: Where | None = None  # the `saying_where:` line, for explanations
    saying: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> verbs of saying that end a clause ("me dijo")
    own_words: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> the person's own ("i said")
    asking: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> openings of a polite request ("can you")
    possessives: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NONE)  # lang -> "my", "mi"
    # lang -> a yes or a no, then an erase or a stop with no comma ("no bórralo")
    requests_after_an_answer: Mapping[str, "RequestAfterAnswer"] = field(default_factory=lambda: _NONE)


@dataclass(frozen=True)
class RequestAfterAnswer:
    """One language's words for "no bórralo": see understanding.yaml's `requests_after_an_answer:`."""

    answers: frozenset[str]  # "sí", "no", "yeah"
    requests: frozenset[str]  # "bórralo", "delete"
    keyword_only: frozenset[str] = frozenset()  # "borra" (also "he deletes"): only around words after it


NO_UNDERSTANDING = Understanding(MappingProxyType({}), MappingProxyType({}), ())


@dataclass(frozen=True)
class Translation:
    msgstr: str
    fuzzy: bool
    where: Where  # the catalog line of its msgid
    previous: str = ""  # for a fuzzy one, the English it was translated from (`#| msgid`), if kept


@dataclass(frozen=True)
class FlowSet:
    """Everything the engine needs, loaded and cross-checked."""

    flows: Mapping[str, Flow]
    keywords: Keywords
    system: System
    hotlines: Mapping[str, Hotline]
    catalogs: Mapping[str, Mapping[str, Translation]]  # lang -> msgid -> translation
    version: str = ""  # content hash, so workers can tell sets apart
    understanding: Understanding = NO_UNDERSTANDING

    def node(self, qualified: str) -> Node | None:
        return self._nodes.get(qualified)

    def translate(self, lang: str, msgid: str) -> str:
        """The text in ``lang``; English (the msgid) if no reviewed translation."""
        return self._reviewed.get(lang, _NONE).get(msgid, msgid)

    # A set never changes once loaded (a publish swaps in a new one), so what
    # is derived from it alone is worked out once per set. A turn translates
    # some twenty texts and lists a node's options three times.

    @functools.cached_property
    def _reviewed(self) -> dict[str, dict[str, str]]:
        """lang -> msgid -> translation, only those that may be sent (not fuzzy, not empty)."""
        return {
            lang: {msgid: t.msgstr for msgid, t in catalog.items() if t.msgstr and not t.fuzzy}
            for lang, catalog in self.catalogs.items()
        }

    @functools.cached_property
    def _nodes(self) -> dict[str, Node]:
        """"flow.node" -> node, one lookup: a turn looks nodes up a dozen times.
        Ids have no dots (flows/schema.json), so each name has one reading."""
        return {f"{flow_id}.{node_id}": node
                for flow_id, flow in self.flows.items() for node_id, node in flow._index.items()}

    @functools.cached_property
    def _derived(self) -> dict:
        return {}

    def derived(self, key: tuple, compute: Callable[[], T]) -> T:
        """``compute()``, worked out once per set for ``key``. Two threads may
        both compute it the first time; they get equal values."""
        try:
            return self._derived[key]
        except KeyError:
            value = self._derived[key] = compute()
            return value
