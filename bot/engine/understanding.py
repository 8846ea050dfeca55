"""Reading free text: what people write in their own words, and what it means.

The meanings are data (``flows/understanding.yaml``): phrases per language,
each leading to a place in the flows or an intent. A phrase is found in a
message word by word, and a word of the message matches a word of the
phrase when it is the same word once case, accents and apostrophes are gone,
when both have the same stem (Snowball, via PyStemmer: "pagan", "pagaron"
and "pagado" are all ``pag``), or when it is a typo of it (rapidfuzz's
normalised Indel similarity of at least :data:`TYPO_SCORE`, on words of five
letters or more: "pasaprte" is "pasaporte", "pegan" is not "pagan").
The words are next to each other, except where staff wrote ``...`` in the
phrase: there up to :data:`GAP_WORDS` other words may come, none of them a
not-word. Texting's short forms ("q", "x", "bf", listed per language) are
spelled out first, in messages and phrases alike. A meaning's ``together``
groups count as one phrase of it when a phrase of each is found within
:data:`TOGETHER_WORDS` words, in any order ("marqué al 1 888 y suena y
suena": a call named, and what went wrong), unless a ``not_with`` word is in
the message.

Of the phrases found, the longest wins, except that a general request ("what
number can I call") yields to anything else, and two signs of exploitation
that lead to different pages (papers kept, pay kept) lead to the screening
instead (``several_signs``). A place named within a longer danger phrase,
or where a ``together`` was found, is theirs ("la policía no contesta" is the
alarm, no page on police stops). A whole-message warning ("ya llegó") also
counts beside an erase or a stop, at either end of the message.

Every answer says why (:class:`Reading`): the phrase, where it is written,
the language, how the words matched and a score. ``flask chat --explain``
and the console's simulator show it; nothing else keeps it. Nothing here
caches what a person wrote: the index is built from the flow set once per
set (:meth:`bot.engine.model.FlowSet.derived`) and each message is read and
forgotten within its turn.
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator

import Stemmer
from rapidfuzz import fuzz, process

from . import model as m
from .language import language_name
from .text import asks, clauses, marked_clauses, normalize, squeeze

TYPO_SCORE = 85  # rapidfuzz ratio (0-100): one letter in or out of a 6-letter word is 91, one changed in 5 is 80
TYPO_MIN = 5  # words shorter than this match only exactly or by stem: "pega" is not "paga"
STEM_MIN = 3  # a stem this short says too little ("me" and "mi" are not one word)
AGES = (10, 99)  # a number outside these is no age a texter says of themselves ("tengo 3": three of what?)
NEGATION_WINDOW = 2  # words before a phrase where a not-word turns it around
GAP_WORDS = 3  # words a phrase's "..." stands for, at most: "took ... passport" in "took all of our passports"
# Words from the first of a meaning's `together` phrases to the end of the last, at most:
# "llamé al número que me dio y nadie contestó" (9), not two halves of a long story.
TOGETHER_WORDS = 12


@dataclass(frozen=True)
class Reading:
    """Why a message went where it went. Shown to staff, never stored or logged.

    ``what``: keyword, answer, option, meaning, language or nothing.
    ``result``: what it was read as (``quick_exit``, ``yes``, ``option 2``,
    ``danger + screening.intro``, ``es``). ``phrase``: the word or phrase of
    the flow files that matched, and ``where`` it is written.
    """

    what: str
    result: str
    phrase: str = ""
    where: m.Where | None = None
    lang: str = ""
    how: str = ""
    score: float = 1.0

    def __str__(self) -> str:
        parts = [f"{self.what}: {self.result}"]
        if self.phrase:
            parts.append(f"from `{self.phrase}`" + (f" ({self.lang})" if self.lang else ""))
        if self.where:
            parts.append(f"at {_short(self.where)}")
        if self.how:
            parts.append(self.how)
        if self.score < 1:
            parts.append(f"score {self.score:.2f}")
        return ", ".join(parts)


def _short(where: m.Where) -> str:
    parts = where.path.replace("\\", "/").split("/")
    return f"{'/'.join(parts[-2:])}:{where.line}"


@dataclass(frozen=True)
class Placement:
    """Where free text leads: a meaning (``target``), and whether it raised the alarm."""

    target: m.Meaning | None = None
    reading: Reading | None = None
    alarm: Reading | None = None  # a danger phrase was found (shown whatever the target)
    together: bool = False  # the target was read from a meaning's `together`, two phrases or more

    @property
    def placed(self) -> bool:
        return self.target is not None or self.alarm is not None

    @property
    def lang(self) -> str | None:
        """The language of the phrase that placed it (a clue when nothing else says)."""
        found = self.reading or self.alarm
        return found.lang if found else None


@dataclass(frozen=True)
class _Entry:
    meaning: m.Meaning
    order: int
    phrase: m.Phrase
    tokens: tuple[str, ...]  # the phrase's words, without its gaps
    gaps: frozenset[int] = frozenset()  # k: a gap comes before tokens[k]
    part: tuple[int, int] | None = None  # of a `together`: (its index in Lexicon.togethers, its group)
    together: bool = False  # a `together` found: its parts as one phrase

    @classmethod
    def of(cls, meaning: m.Meaning, order: int, phrase: m.Phrase, words: list[str]) -> "_Entry":
        """``words``: the phrase's, short forms spelled out."""
        tokens: list[str] = []
        gaps = set()
        for word in words:
            if word != m.GAP:
                tokens.append(word)
            elif tokens:  # a gap first or last stands for nothing (flows check says so)
                gaps.add(len(tokens))
        return cls(meaning, order, phrase, tuple(tokens), frozenset(k for k in gaps if k < len(tokens)))


@dataclass
class Lexicon:
    """Everything a flow set says about reading text, indexed once per set."""

    fs: m.FlowSet
    stemmers: dict = field(default_factory=dict)  # lang -> Stemmer or None
    # A Snowball stemmer keeps state while it stems and must not be used by two
    # threads at once (PyStemmer's own warning); a worker's threads share this one.
    stem_lock: threading.Lock = field(default_factory=threading.Lock)
    around: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)  # first word -> around phrases, longest first
    around_numbers: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)  # the same, with the words around numbers
    around_words: frozenset[str] = frozenset()
    not_words: frozenset[str] = frozenset()
    openers: frozenset[str] = frozenset()  # words that open a clause of their own ("my", "porque")
    lone_erases: frozenset[str] = frozenset()  # erase keywords that are a request alone in a clause ("exit")
    request_openers: tuple[tuple[str, ...], ...] = ()  # words after which a last clause is a request of its own ("so")
    request_leads: tuple[tuple[str, ...], ...] = ()  # words that may open a request ("necesito que", "nvm"), longest first
    take_backs: tuple[tuple[str, ...], ...] = ()  # words that take back the request before them ("no espera", "wait")
    quantities: frozenset[tuple[str, ...]] = frozenset()  # words that make a number before them an amount ("meses", "an hour")
    ages: list[m.AgePhrase] = field(default_factory=list)  # how people say their age, longest first, short forms spelled out
    age_today: frozenset[str] = frozenset()  # "hoy": a turning age said with it is already reached
    time_spent: frozenset[str] = frozenset()  # "de", "here" after "cumplo 15 años": the years of a time spent
    time_spent_endings: tuple[str, ...] = ()  # "ando", "ing": the same, a verb that goes on
    joins: frozenset[str] = frozenset()  # words that start a new clause ("y", "but")
    cries: frozenset[str] = frozenset()  # danger keywords that end a longer message as a cry ("sos")
    cries_not_after: frozenset[str] = frozenset()  # words after which they do not ("vos sos")
    yes_words: frozenset[str] = frozenset()  # system.yaml's one-word yes answers ("si", "yes")
    saying: tuple[str, ...] = ()  # verbs of saying that end a clause before a quote ("me dijo", "he told me")
    said_words: frozenset[str] = frozenset()  # their verbs alone ("dijo", "told")
    own_words: tuple[str, ...] = ()  # the person's own words said again ("i said")
    asking: tuple[str, ...] = ()  # openings of a question that may still be a request ("can you")
    possessives: frozenset[str] = frozenset()  # "my", "mi": an opener that may be a verb's object
    numbers: dict[str, int] = field(default_factory=dict)  # normalised word -> 1-based number
    entries: list[_Entry] = field(default_factory=list)
    # word count -> first word -> whole-message phrases, around words set aside, each
    # with its place among them all (the order written breaks ties when placing)
    wholes: dict[int, dict[str, list[tuple[int, _Entry, tuple[str, ...]]]]] = field(default_factory=dict)
    # intent -> its whole-message phrases, as written and without their around words ("ya llegó", "llegó")
    whole_by_intent: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    # Whole-message phrases made of around words only ("gracias", "ok thanks"): their words, as a set.
    around_only: list[tuple[_Entry, frozenset[str]]] = field(default_factory=list)
    # first word -> the phrases starting with it, by how many words they take: [k]
    # holds those of k words or fewer, in the order written. A reply of one word
    # is compared with the phrases of one word, not with every phrase that starts
    # with "no" (there are over a hundred).
    # The phrases of the meanings' `together` groups are there too, marked (`_Entry.part`): they
    # are found in the same pass, and count only beside one another.
    by_first: dict[str, list[tuple[_Entry, ...]]] = field(default_factory=dict)
    togethers: list[tuple[m.Meaning, int, m.Together]] = field(default_factory=list)  # (meaning, its order, together)
    vocabulary: list[str] = field(default_factory=list)  # every word of every phrase, for typo search
    long_words: dict[int, list[str]] = field(default_factory=dict)  # length -> those of TYPO_MIN letters or more
    stems: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (lang, stem) -> words
    word_langs: dict[str, set[str]] = field(default_factory=dict)  # word -> languages it is written in
    short: dict[str, str] = field(default_factory=dict)  # short form -> the word it stands for ("q" -> "que")

    @classmethod
    def of(cls, fs: m.FlowSet) -> "Lexicon":
        """The lexicon of ``fs``, built on first use and kept with the set."""
        return fs.derived(("lexicon",), lambda: cls.build(fs))

    @classmethod
    def build(cls, fs: m.FlowSet) -> "Lexicon":
        u = fs.understanding
        lex = cls(fs)
        lex.short = {form: word for forms in u.short_forms.values() for form, word in forms.items()}
        langs = set(fs.system.languages) | set(u.around) | {p.lang for mn in u.meanings for p in mn.phrases}
        for lang in sorted(langs):
            name = language_name(lang)
            # No cache (size 0): PyStemmer's would keep up to 10,000 of the words people
            # wrote in the worker's memory, past an erase.
            lex.stemmers[lang] = Stemmer.Stemmer(name, 0) if name in _SNOWBALL else None
        around = {tuple(lex.spelled(w.split())) for words in u.around.values() for w in words}
        for words in sorted(around, key=len, reverse=True):
            lex.around.setdefault(words[0], []).append(words)
        around |= {tuple(lex.spelled(w.split())) for words in u.around_numbers.values() for w in words}
        for words in sorted(around, key=len, reverse=True):
            lex.around_numbers.setdefault(words[0], []).append(words)
        lex.around_words = frozenset(w for words in u.around.values() for w in words)
        lex.not_words = frozenset(w for words in u.negations.values() for w in words)
        lex.openers = frozenset(w for words in u.openers.values() for w in words)
        lex.lone_erases = frozenset(w for words in u.lone_erases.values() for w in words)
        lex.request_openers = tuple(sorted({tuple(lex.spelled(w.split())) for words in u.request_openers.values() for w in words}))
        lex.request_leads = tuple(sorted({tuple(lex.spelled(w.split())) for words in u.request_leads.values() for w in words},
                                         key=lambda lead: (-len(lead), lead)))
        lex.take_backs = tuple(sorted({tuple(lex.spelled(w.split())) for words in u.take_backs.values() for w in words}))
        lex.quantities = frozenset(tuple(lex.spelled(w.split())) for words in u.quantities.values() for w in words)
        ages = {m.AgePhrase(tuple(lex.spelled(list(a.words))), a.turning) for phrases in u.ages.values() for a in phrases}
        lex.ages = sorted(ages, key=lambda a: (-len(a.words), a.words, a.turning))
        lex.age_today = frozenset(w for words in u.age_today.values() for w in words)
        lex.time_spent = frozenset(w for words in u.age_time_spent.values() for w in words)
        lex.time_spent_endings = tuple(sorted({e for endings in u.age_time_spent_endings.values() for e in endings}))
        lex.joins = frozenset(w for words in u.joins.values() for w in words)
        lex.cries = frozenset(w for words in u.cries.values() for w in words)
        lex.cries_not_after = frozenset(w for words in u.cries_not_after.values() for w in words)
        lex.yes_words = frozenset(w for w in fs.system.answers.get("yes", ()) if " " not in w)
        lex.saying = tuple(sorted({w for words in u.saying.values() for w in words}))
        lex.said_words = frozenset(w.split()[0] for w in lex.saying)
        lex.own_words = tuple(sorted({w for words in u.own_words.values() for w in words}))
        lex.asking = tuple(sorted({w for words in u.asking.values() for w in words}))
        lex.possessives = frozenset(w for words in u.possessives.values() for w in words)
        for lang, rows in u.numbers.items():
            for i, words in enumerate(rows, 1):
                for word in words:
                    lex.numbers.setdefault(word, i)
        starting: dict[str, list[_Entry]] = {}
        for order, meaning in enumerate(u.meanings):
            for phrase in meaning.phrases:
                entry = _Entry.of(meaning, order, phrase, lex.spelled(phrase.text.split()))
                lex.entries.append(entry)
                if meaning.whole:
                    words = tuple(lex.strip_around(list(entry.tokens))[0])
                    if meaning.intent:
                        lex.whole_by_intent.setdefault(meaning.intent, []).extend({entry.tokens, words} - {()})
                    if words:
                        by_first = lex.wholes.setdefault(len(words), {})
                        by_first.setdefault(words[0], []).append((len(lex.entries), entry, words))
                    else:
                        lex.around_only.append((entry, frozenset(entry.tokens)))
                else:
                    starting.setdefault(entry.tokens[0], []).append(entry)
                for token in entry.tokens:
                    lex.word_langs.setdefault(token, set()).add(phrase.lang)
        for order, meaning in enumerate(u.meanings):
            for together in meaning.together:
                lex.togethers.append((meaning, order, together))
                for g, group in enumerate(together.groups):
                    for phrase in group:
                        entry = _Entry.of(meaning, order, phrase, lex.spelled(phrase.text.split()))
                        starting.setdefault(entry.tokens[0], []).append(replace(entry, part=(len(lex.togethers) - 1, g)))
                        for token in entry.tokens:
                            lex.word_langs.setdefault(token, set()).add(phrase.lang)
        for first, entries in starting.items():
            longest = max(len(e.tokens) for e in entries)
            lex.by_first[first] = [tuple(e for e in entries if len(e.tokens) <= k) for k in range(longest + 1)]
        for variants in lex.whole_by_intent.values():
            variants.sort(key=len, reverse=True)  # "ya llegó mi esposo" before "ya llegó"
        lex.vocabulary = sorted(lex.word_langs)
        for word in lex.vocabulary:
            if len(word) >= TYPO_MIN and not word.isdigit():
                lex.long_words.setdefault(len(word), []).append(word)
        for word, word_langs in lex.word_langs.items():
            for lang in word_langs:
                stem = lex.stem(lang, word)
                if stem:
                    lex.stems.setdefault((lang, stem), set()).add(word)
        return lex

    # --- words ------------------------------------------------------------------

    def spelled(self, tokens: list[str]) -> list[str]:
        """Words with their short forms spelled out ("q" -> "que", "x" -> "por"),
        as messages and phrases are both read."""
        return [self.short.get(t, t) for t in tokens]

    def stem(self, lang: str, word: str) -> str | None:
        stemmer = self.stemmers.get(lang)
        if stemmer is None or word.isdigit():
            return None
        with self.stem_lock:
            stem = stemmer.stemWord(word)
        return stem if len(stem) >= STEM_MIN else None

    def strip_around(self, tokens: list[str], numbers: bool = False) -> tuple[list[str], list[str]]:
        """The words of a message without the around words (and those around
        numbers, if ``numbers``); and those taken out."""
        index = self.around_numbers if numbers else self.around
        # An around word with its letters stretched is that word ("borra tooodo", "salir yaaa").
        tokens = [t if t in index or squeeze(t) not in index else squeeze(t) for t in self.spelled(tokens)]
        kept, taken, i = [], [], 0
        while i < len(tokens):
            for words in index.get(tokens[i], ()):
                if tuple(tokens[i:i + len(words)]) == words:
                    taken.append(" ".join(words))
                    i += len(words)
                    break
            else:
                kept.append(tokens[i])
                i += 1
        return kept, taken

    def amount(self, tokens: list[str]) -> bool:
        """Whether a message opens (after around words) with a number said as an
        amount, not as a pick or an answer: a number, then quantity words or
        another number ("3 meses sin pago", "ok 2 an hour", "3 30pm"). Not the
        same number again ("2 2": a double tap), nor one that opens an amount
        ("1 3 semanas": yes, for three weeks).

        >>> lex = Lexicon(fs=None, quantities=frozenset({("meses",), ("an", "hour")}), around={"ok": [("ok",)]})
        >>> [lex.amount(t.split()) for t in ("3 meses sin pago", "ok 2 an hour", "3 30pm", "2 2", "1 3 meses", "3 no se", "2")]
        [True, True, True, False, False, False, False]
        """
        tokens = self.spelled(tokens[self._after_around(tokens):])
        if len(tokens) < 2 or not tokens[0].isdigit():
            return False
        if tokens[1][0].isdigit():
            return tokens[1] != tokens[0] and not self.amount(tokens[1:])
        return any(tuple(tokens[1:1 + len(q)]) == q for q in self.quantities)

    def _after_around(self, words: list[str]) -> int:
        """Where the words of a message start, after the around words before them ("pues", "ok")."""
        start = 0
        while start < len(words):
            taken = next((len(a) for a in self.around.get(words[start], ()) if tuple(words[start:start + len(a)]) == a), 0)
            if not taken:
                return start
            start += taken
        return start

    def requests(self, text: str) -> list[str]:
        """The clauses of ``text`` (see :func:`~bot.engine.text.clauses`) that can
        be a request: not a question ("delete all of this? or will he still see
        it": ended by "?" or opened by "¿"), unless it asks politely ("can you
        delete this?"), and not someone else's words (see :meth:`quotes_after`
        and :meth:`quotes_before`). A clause left out is an empty string, so
        that the first and last keep their places.

        >>> lex = Lexicon(fs=None, saying=("dijo",), said_words=frozenset({"dijo"}), asking=("puedes",))
        >>> lex.requests("borra todo? o el lo ve igual"), lex.requests("¿puedes borrar todo? tengo miedo")
        (['', 'o el lo ve igual'], ['puedes borrar todo', 'tengo miedo'])
        >>> lex.requests("mi patron me dijo: borra todo lo que te mande")
        ['mi patron me dijo', '']
        """
        found: list[str] = []
        said = False  # the clause before ended in a verb of saying
        for words, before, after in marked_clauses(text):
            if found and found[-1] and self.quotes_before(words):
                found[-1] = ""  # "no me escriban más, dice mi esposo": his words
            asked = (after == "?" or before == "¿") and not _opens_with(words, self.asking)
            found.append("" if asked or said else words)
            said = self.quotes_after(words)
        return found

    def after_a_request_opener(self, clause: str) -> str:
        """What follows the last of understanding.yaml's ``request_openers`` in
        ``clause``, with words before it: the request that follows from what was
        said ("mi patron revisa el cel cada noche asi que borra todo" ->
        "borra todo"); "" when there is none.

        >>> lex = Lexicon(fs=None, request_openers=(("asi", "que"), ("so",)))
        >>> lex.after_a_request_opener("he reads my texts so delete this"), lex.after_a_request_opener("so delete this")
        ('delete this', '')
        """
        words = self.spelled(clause.split())
        for i in range(len(words) - 2, 0, -1):
            for opener in self.request_openers:
                if tuple(words[i:i + len(opener)]) == opener and i + len(opener) < len(words):
                    return " ".join(words[i + len(opener):])
        return ""

    def after_a_request_lead(self, clause: str) -> str:
        """What follows the ``request_leads`` of understanding.yaml opening
        ``clause`` (around words may come first, and one lead after another:
        "nvm just delete it"): "porfa quisiera que borren todo" -> "borren
        todo"; "" when none opens it. Only at the start: in "no quiero que
        borren nada" the lead is turned around.

        >>> lex = Lexicon(fs=None, request_leads=(("quisiera", "que"), ("nvm",), ("just",)), around={"porfa": [("porfa",)]})
        >>> lex.after_a_request_lead("porfa quisiera que borren todo"), lex.after_a_request_lead("no quisiera que borren")
        ('borren todo', '')
        >>> lex.after_a_request_lead("nvm just delete it")
        'delete it'
        """
        words = self.spelled(clause.split())
        start = self._after_around(words)
        led = start
        while led < len(words):
            lead = next((lead for lead in self.request_leads if tuple(words[led:led + len(lead)]) == lead), None)
            if lead is None or led + len(lead) >= len(words):
                break
            led = self._after_around(words[led + len(lead):]) + led + len(lead)
        return " ".join(words[led:]) if led > start else ""

    def takes_back(self, clause: str) -> bool:
        """Whether ``clause`` opens (around words may come first) with one of
        understanding.yaml's ``take_backs``: "no espera", "wait", "never mind".

        >>> Lexicon(fs=None, take_backs=(("no", "espera"), ("wait",))).takes_back("no espera porfa")
        True
        """
        words = self.spelled(clause.split())
        start = self._after_around(words)
        return any(tuple(words[start:start + len(back)]) == back for back in self.take_backs)

    def quotes_after(self, words: str) -> bool:
        """Whether a clause ends with a verb of saying, so that the next one is
        someone's words: "mi patrón me dijo", "he told me". Not the person's own
        ("i said, erase this chat": they say it again)."""
        return _ends_with(words, self.saying) and not _ends_with(words, self.own_words)

    def quotes_before(self, words: str) -> bool:
        """Whether a clause is only who said the clause before ("dice mi
        esposo", "my husband says", "he said to me"): four words at most, a verb
        of saying among the first three. "mi esposo dice que me va a matar" says
        why, after a request: it is no quote."""
        split = words.split()
        head = split[:3]
        return (len(split) <= 4 and any(w in self.said_words for w in head)
                and not _opens_with(" ".join(head), self.own_words))

    def cry(self, text: str, norm: str) -> str | None:
        """The cry (understanding.yaml `cries:`) that ends a longer message: its
        last clause, alone but for around words ("..., sos porfa"), or its last
        word written in capitals ("... SOS"); None in a question, or right
        after an around word or a word of `not_after`."""
        if asks(text):
            return None
        words = norm.split()
        while words and words[-1] in self.around_words:
            words.pop()
        if len(words) < 2 or words[-1] not in self.cries:
            return None
        if words[-2] in self.around_words or words[-2] in self.cries_not_after:
            return None
        last = clauses(text)[-1:]
        alone = bool(last) and len(self.strip_around(last[0].split())[0]) == 1
        capitals = any(w.strip(".,;:!¡").isupper() and normalize(w) == words[-1] for w in text.split()[-3:])
        return words[-1] if alone or capitals else None

    def age(self, text: str) -> tuple[int, str] | None:
        """The age a reply says its writer is, and the words that say it; None
        when it says none (see `ages:` in understanding.yaml).

        "tengo 16" is 16, "soy alto pero tengo 15" 15, "cumplo 18 el 3 de mayo"
        17, "hoy cumplo 18" 18; "tengo 12 años trabajando aquí", "tengo 2
        hijos" and "es mi hija, 16 años" say none of the writer's.
        """
        first = True
        for clause in clauses(text):
            part: list[str] = []
            for word in [*self.spelled(clause.split()), None]:
                if word is not None and word not in self.joins:
                    part.append(word)
                    continue
                found = self._age_in(part, first)
                if found is not None:
                    return found
                part, first = [], False
        return None

    def _age_in(self, words: list[str], first: bool) -> tuple[int, str] | None:
        """The age said in ``words``, one clause; ``first``: the message's first,
        where a bare age ("16 años") counts. Before it may come around words
        ("pues tengo 16"), a yes or a number ("si tengo 16", "2 tengo 16": the
        question then sees whether the two agree)."""
        if not any(w.isdigit() for w in words):
            return None  # every age phrase has its `#` (the schema's rule), which only digits fill
        start = self._after_around(words)
        starts = [start]
        if start < len(words) - 1 and (words[start] in self.yes_words or words[start].isdigit()):
            starts.append(start + 1)
        for phrase in self.ages:
            if phrase.words[0] == m.AGE and not first:
                continue  # "es mi hija, 16 años": her age
            n = len(phrase.words)
            for i in range(start, len(words) - n + 1) if phrase.turning else starts:
                said = words[i:i + n]
                if len(said) < n or not all(w == p or (p == m.AGE and w.isdigit()) for w, p in zip(said, phrase.words)):
                    continue
                age = int(said[phrase.words.index(m.AGE)])
                rest = words[i + n:]
                if not AGES[0] <= age <= AGES[1]:
                    continue
                if phrase.turning and (self.amount(said[-1:] + rest) or self._a_time_spent(rest)):
                    continue  # "cumplo 3 meses aquí", "cumplo 15 años de vivir aquí"
                if not phrase.turning and self.strip_around(rest)[0]:
                    continue  # "tengo 12 años trabajando aquí", "tengo 2 hijos"
                # "hoy cumplo 18", "i turn 18 today": reached, where "hoy les escribo porque cumplo 18 el mes que viene" is not
                today = words[i - 1:i] + rest[:1]
                reached = any(w in self.age_today for w in today)
                return age - 1 if phrase.turning and not reached else age, " ".join(said)
        return None

    def _a_time_spent(self, rest: list[str]) -> bool:
        """Whether the words after "cumplo 15 años" say what the years are of: "de
        vivir aquí", "de casada", "trabajando para él", "aquí" (a time spent, no
        age; `time_spent` in understanding.yaml's `ages:`)."""
        return bool(rest) and (rest[0] in self.time_spent or rest[0].endswith(self.time_spent_endings))

    def number(self, tokens: list[str]) -> tuple[int, str] | None:
        """The number a short reply names ("2", "dos", "la segunda", "the second one", "fourr"), and the word."""
        kept, _ = self.strip_around(tokens, numbers=True)
        found = [(self.numbers.get(t) or self.numbers.get(squeeze(t))
                  or (int(t) if t.isdigit() and len(t) <= 2 else None), t) for t in kept]
        if not found or any(n is None for n, _ in found):
            return None
        if len({n for n, _ in found}) > 1 and found[-1][0] == 1:
            found = found[:-1]  # "the second one", "la segunda una": the trailing "one" is not a number
        values = {n for n, _ in found}
        return (found[0][0], found[0][1]) if len(values) == 1 else None

    def exact_matches(self, token: str) -> dict[str, tuple[float, str]]:
        """Words of the phrases that ``token`` is, as written or with its letters stretched."""
        found: dict[str, tuple[float, str]] = {}
        if token in self.word_langs:
            found[token] = (1.0, "")
        squeezed = squeeze(token)
        if squeezed != token and squeezed in self.word_langs:
            found.setdefault(squeezed, (1.0, "stretched letters"))
        return found

    def word_matches(self, token: str, langs: Iterable[str]) -> dict[str, tuple[float, str]]:
        """Words of the phrases that ``token`` (from a message) may be: word -> (score, how)."""
        found = self.exact_matches(token)
        for lang in langs:
            stem = self.stem(lang, token)
            for word in self.stems.get((lang, stem), ()) if stem else ():
                found.setdefault(word, (0.95, "same word stem"))
        # "duda" is a word, not a typo of "deuda"; nor is a word of the phrases, written
        # as written there, a typo of another ("reportar" is not "deportar").
        if len(token) >= TYPO_MIN and not token.isdigit() and token not in found:
            for word, score, _ in process.extract(token, self._near_in_length(len(token)), scorer=fuzz.ratio,
                                                  score_cutoff=TYPO_SCORE, limit=None):
                if word not in found:
                    found[word] = (score / 100, "typo")
        return found

    def _near_in_length(self, n: int) -> list[str]:
        """The long words a word of ``n`` letters can be a typo of: a ratio of
        TYPO_SCORE or more needs the lengths to differ by at most 15 % of their sum."""
        slack = 1 - TYPO_SCORE / 100
        near: list[str] = []
        for length in range(n // 2, 2 * n + 1):
            if abs(length - n) <= slack * (length + n):
                near += self.long_words.get(length, ())
        return near

    # --- phrases ------------------------------------------------------------------

    def place(self, norm: str, whole_only: bool = False, clauses: frozenset[int] = frozenset()) -> Placement:
        """The meaning of a message (normalised), if any of the phrases is in it.

        ``clauses``: where new clauses begin among its words (see
        :func:`text.clause_starts`): a not-word does not turn a phrase around
        across one ("no sé, me pagan poco").

        ``whole_only``: only a phrase that is the whole message, read word for
        word (letters stretched allowed). That is what reading a keyword asks,
        for the meanings that erase or silence (WHOLE_ONLY_INTENTS), which are
        never read from a guess (see :meth:`_whole`); so it skips the stems and
        typos, the costly part of reading a word, on every text.
        """
        written = norm.split()
        tokens = self.spelled(written)
        if not tokens or not self.entries:
            return Placement()
        found = self._whole(tokens, exact=whole_only)
        spans: list[tuple[int, int, _Entry, float, str]] = []
        together: list[tuple[_Entry, float, str, int, int]] = []
        dangers: list[tuple[int, int]] = []  # where the danger phrases are
        if not whole_only:
            langs = list(self.stemmers)
            per_token = [self.word_matches(t, langs) for t in tokens]
            spans, parts = [], []
            for span in self._spans(tokens, per_token, clauses):
                (spans if span[2].part is None else parts).append(span)
            found += [(entry, score, how) for _, _, entry, score, how in spans]
            dangers = [(start, end) for start, end, entry, _, _ in spans
                       if entry.meaning.intent == "danger" and not entry.meaning.goto]
            together = self._together(tokens, parts, dangers)
            found += [(entry, score, how) for entry, score, how, _, _ in together]
        # Meanings that only stand in for another place (`instead_of`) are no reading of their own.
        instead = [f for f in found if f[0].meaning.instead_of]
        found = [f for f in found if not f[0].meaning.instead_of]
        if not found:
            return Placement()
        if tokens != written:  # say so: "q = que"
            forms = ", ".join(f"{t} = {self.short[t]}" for t in dict.fromkeys(written) if t in self.short)
            found = [(entry, score, "; ".join(filter(None, (how, f"short forms: {forms}")))) for entry, score, how in found]
        return self._instead(self._best(found, spans, together, dangers), instead)

    def _best(self, found: list[tuple[_Entry, float, str]], spans: list[tuple[int, int, _Entry, float, str]],
              together: list[tuple[_Entry, float, str, int, int]], dangers: list[tuple[int, int]]) -> Placement:
        """The placement of the meanings found (at least one): the best target, and the alarm."""
        found.sort(key=_first_wins)
        alarm = next((self._reading(*f) for f in found if f[0].meaning.intent == "danger"), None)
        several = self._several_signs(found, spans)
        if several is not None:
            return Placement(self.fs.understanding.several_signs, several, alarm)
        # A place named within a longer danger phrase, or where a `together` was found,
        # is theirs: "la policía no contesta" is no page on police stops, "la línea
        # de trata no contesta" none on the trafficking lines.
        within = _only_within(spans, dangers, strictly=True) | _only_within(
            spans, [(start, end) for *_, start, end in together], overlapping=True)
        target = next((f for f in found if (f[0].meaning.goto or f[0].meaning.intent != "danger")
                       and id(f[0]) not in within), None)
        if target is None:
            return Placement(alarm=alarm)
        return Placement(target[0].meaning, self._reading(*target), alarm, together=target[0].together)

    def _instead(self, placed: Placement, instead: list[tuple[_Entry, float, str]]) -> Placement:
        """``placed``, or the meaning of ``instead`` that stands in for its target's place
        (`instead_of`): "soy maestra, a la mamá de un alumno la amenazan con la migra" leads
        to the hotline's numbers, not to the screening's questions about the one who writes. Not
        when the phrase read says the writer's own story ("im a nurse and my boss makes me
        work": `first_person`). The alarm stays."""
        if placed.target is None or not placed.target.goto:
            return placed
        said = set(normalize(placed.reading.phrase).split()) if placed.reading else set()
        found = sorted((f for f in instead if f[0].meaning.instead_of == placed.target.goto and f[0].meaning.goto
                        and not said & f[0].meaning.first_person), key=_first_wins)
        if not found:
            return placed
        reading = self._reading(*found[0])
        reading = replace(reading, how="; ".join(filter(None, (reading.how, f"instead of {placed.target.label}"))))
        return Placement(found[0][0].meaning, reading, placed.alarm)

    def _several_signs(self, found: list[tuple[_Entry, float, str]],
                       spans: list[tuple[int, int, _Entry, float, str]]) -> Reading | None:
        """Phrases of two sign meanings that lead to different places ("la señora
        tiene mi pasaporte ... no me a pagado"): the screening's questions sort
        out what that is, where either page alone would answer half of it.

        Only when the best reading (``found`` is sorted) is itself a sign: a
        husband who keeps the papers and the pay is violence at home. A phrase
        within a longer phrase found is not a sign of its own."""
        several = self.fs.understanding.several_signs
        if several is None or not found[0][0].meaning.sign:
            return None
        if len({f[0].meaning.goto for f in found if f[0].meaning.sign}) < 2:
            return None  # nearly every message: what follows is for the few with two signs
        # Found only within longer phrases ("make us work" in "how many hours can they make us work").
        inside = _only_within(spans, [(start, end) for start, end, *_ in spans], strictly=True)
        signs = [f for f in found if f[0].meaning.sign and id(f[0]) not in inside]
        places = list(dict.fromkeys(f[0].meaning.goto for f in signs))
        if len(places) < 2:
            return None
        best = {}  # place -> its best phrase (``found`` is sorted)
        for f in signs:
            best.setdefault(f[0].meaning.goto, f[0].phrase.written)
        phrases = ", ".join(best.values())
        return Reading("meaning", several.label, phrases, several.where, signs[0][0].phrase.lang,
                       f"several signs: {', '.join(places)}", min(f[1] for f in signs))

    def split_at(self, tokens: list[str], intent: str, place: str | None = None) -> tuple[list[str], list[str]] | None:
        """The words of a message before and after the first phrase of
        ``intent`` (or of the meaning that leads to ``place``) found in it,
        word for word ("erase everything hes coming": "erase everything" and
        nothing), or None when there is none.

        Word for word (letters stretched allowed), without the stems and typo
        search: this runs before the message is read in full, and for an erase
        a warning as written is enough.
        """
        tokens = self.spelled(tokens)
        per_token = [self.exact_matches(t) for t in tokens]
        for start, end, entry, _, _ in self._spans(tokens, per_token):
            if entry.part is not None:
                continue  # a phrase of a `together` group says nothing alone
            if entry.meaning.intent == intent or (place is not None and entry.meaning.goto == place):
                return tokens[:start], tokens[end:]
        # A whole-message phrase ("ya llegó", "my husband is home": a warning only when
        # nothing else is said) counts too, word for word: the caller reads what is
        # left as a request of its own, or not at all.
        for words in self.whole_by_intent.get(intent, ()):
            n = len(words)
            if n >= len(tokens):  # the warning alone: nothing else to read
                continue
            for start in range(len(tokens) - n + 1):
                if tuple(tokens[start:start + n]) == words:
                    return tokens[:start], tokens[start + n:]
        return None

    def _spans(self, tokens: list[str], per_token: list[dict],
               clauses: frozenset[int] = frozenset()) -> Iterator[tuple[int, int, _Entry, float, str]]:
        """Every phrase found in the message, not turned around by a not-word:
        (start, end, entry, score, how)."""
        for start, options in enumerate(per_token):
            left = len(tokens) - start
            for first in options:
                fitting = self.by_first.get(first)
                for entry in fitting[min(left, len(fitting) - 1)] if fitting else ():
                    if entry.gaps:
                        found = self._follow(tokens, per_token, start, entry)
                        if found is None:
                            continue
                        end, hits = found
                    else:  # most phrases: words next to each other, read here, leaving at the first miss
                        end = start + len(entry.tokens)
                        if end > len(tokens):
                            continue
                        hits = []
                        for k, word in enumerate(entry.tokens, start):
                            hit = per_token[k].get(word)
                            if hit is None:
                                break
                            hits.append(hit)
                        if len(hits) < len(entry.tokens):
                            continue
                    if self._negated(tokens, start, entry, clauses) or self._no_of_its_own(start, entry, clauses):
                        continue
                    hows = {how for _, how in hits if how}
                    between = end - start - len(entry.tokens)
                    if between:
                        hows.add(f"{between} word{'s' if between > 1 else ''} between")
                    yield start, end, entry, sum(score for score, _ in hits) / len(hits), ", ".join(sorted(hows))

    def _together(self, tokens: list[str], parts: list[tuple[int, int, _Entry, float, str]],
                  dangers: list[tuple[int, int]]) -> list[tuple[_Entry, float, str, int, int]]:
        """The meanings' ``together`` found in a message (``tokens``), from the
        phrases of their groups found in it (``parts``): a phrase of each
        group, none inside another, all within TOGETHER_WORDS words in any
        order, and no word of its ``not_with`` in the message. Each is found as
        one phrase of its meaning, as long as its parts together (the widest
        way it can be found), with where it begins and ends: from the first
        word of any way it is found to the last of any. A place named in there
        is the together's: in "la línea de trata ... no contesta" and in "the
        trafficking hotline put me on hold ... then the call dropped", the
        line named is the one that did not answer. A part
        within a danger phrase (``dangers``: where they are) is the danger's:
        "llamé al nueve once y no contestan" is no number of ours that did not
        answer."""
        if not parts or len(tokens) < 2:  # two phrases: two words at least
            return []
        found: dict[int, list[list[tuple[int, int, _Entry, float, str]]]] = {}
        for span in parts:
            if any(s <= span[0] and span[1] <= e for s, e in dangers):
                continue
            at, group = span[2].part
            groups = found.setdefault(at, [[] for _ in self.togethers[at][2].groups])
            groups[group].append(span)
        out = []
        said = set(tokens)
        for at, groups in found.items():
            meaning, order, together = self.togethers[at]
            if not all(groups) or said & together.not_with:
                continue
            best, first, last = None, len(tokens), 0
            for parts in itertools.product(*groups):
                ordered = sorted(parts, key=lambda p: p[0])
                if any(a[1] > b[0] for a, b in itertools.pairwise(ordered)):
                    continue  # one inside or across another: the same words read twice
                width = ordered[-1][1] - ordered[0][0]
                if width > TOGETHER_WORDS:
                    continue
                first, last = min(first, ordered[0][0]), max(last, ordered[-1][1])
                if best is None or width > best[0]:
                    best = (width, ordered)
            if best is None:
                continue
            ordered = best[1]
            written = " + ".join(p[2].phrase.written for p in ordered)
            phrase = m.Phrase(" ".join(p[2].phrase.text for p in ordered), together.lang, written, ordered[0][2].phrase.where)
            entry = _Entry(meaning, order, phrase, tuple(t for p in ordered for t in p[2].tokens), together=True)
            hows = sorted({h for p in ordered for h in p[4].split(", ") if h})
            out.append((entry, sum(p[3] for p in ordered) / len(ordered), "; ".join(["words together", *hows]),
                        first, last))
        return out

    def _follow(self, tokens: list[str], per_token: list[dict], at: int, entry: _Entry,
                k: int = 0) -> tuple[int, list[tuple[float, str]]] | None:
        """The phrase's words from its ``k``-th on, in the message from ``at``
        on: next to each other but where the phrase has a gap, where up to
        GAP_WORDS words may come, none of them a not-word ("took ... ids" is
        not in "took no ids"). Where they end and how each matched; None if
        they are not there. Each place a word could be in a gap is tried: in
        "mi marido me grita y me empuja", "mi marido ... me empuja" is found at
        the second "me"."""
        if k == len(entry.tokens):
            return at, []
        reach = GAP_WORDS if k in entry.gaps else 0
        for j in range(at, min(at + reach + 1, len(tokens))):
            hit = per_token[j].get(entry.tokens[k])
            if hit is not None:
                rest = self._follow(tokens, per_token, j + 1, entry, k + 1)
                if rest is not None:
                    return rest[0], [hit, *rest[1]]
            if tokens[j] in self.not_words:
                return None
        return None

    def _negated(self, tokens: list[str], start: int, entry: _Entry, clauses: frozenset[int]) -> bool:
        if entry.tokens[0] in self.not_words:
            return False  # "no me pagan" says its own no
        if start in clauses:
            return False  # "no sé, me pagan poco": the no ends with its clause
        first = max(0, start - NEGATION_WINDOW)
        first = max((c for c in clauses if first < c < start), default=first)
        before = tokens[first:start]
        return any(t in self.not_words for t in before)

    def _no_of_its_own(self, start: int, entry: _Entry, clauses: frozenset[int]) -> bool:
        """Whether the not-word a phrase begins with ends its clause there: "no,
        puedo salir cuando quiera" answers no, then says "I can leave"; it is not
        "no puedo salir" (as "no, me pagan" is not "no me pagan")."""
        return entry.tokens[0] in self.not_words and start + 1 in clauses

    def _whole(self, tokens: list[str], exact: bool = False) -> list[tuple[_Entry, float, str]]:
        """Phrases that are the whole message, once the around words are set aside
        (``exact``: word for word, see :meth:`place`)."""
        kept, taken = self.strip_around(tokens)
        if not kept:
            # Nothing but around words: a phrase made of them ("gracias") counts when all its
            # words are there ("ok gracias"); "ok" or "por favor" alone is still nothing.
            said = set(self.spelled(tokens))
            return [(entry, 1.0, f"around it: {', '.join(taken)}") for entry, words in self.around_only if words <= said]
        by_first = self.wholes.get(len(kept))
        if not by_first:
            return []  # no whole phrase has as many words (a long message)
        langs = list(self.stemmers)

        def read(token: str) -> dict[str, tuple[float, str]]:
            return self.exact_matches(token) if exact else self.word_matches(token, langs)

        first = read(kept[0])
        candidates = sorted((c for word in first for c in by_first.get(word, ())), key=lambda c: c[0])
        if not candidates:
            return []  # nearly every text: no phrase of its length starts with its first word
        matches = [first, *map(read, kept[1:])]
        found = []
        for _, entry, words in candidates:
            hits = [matches[k].get(word) for k, word in enumerate(words)]
            if all(hits) and entry.meaning.intent in m.EXACT_INTENTS and any(h[1] not in _EXACT for h in hits):
                continue  # never on a guess (see EXACT_INTENTS): "sale" is not "salte"
            if all(hits):
                hows = {h[1] for h in hits if h[1]}
                if taken:
                    hows.add(f"around it: {', '.join(taken)}")
                found.append((entry, sum(h[0] for h in hits) / len(hits), "; ".join(sorted(hows))))
        return found

    def _reading(self, entry: _Entry, score: float, how: str) -> Reading:
        return Reading("meaning", entry.meaning.label, entry.phrase.written, entry.phrase.where,
                       entry.phrase.lang, how or "exact", score)


def _first_wins(found: tuple[_Entry, float, str]) -> tuple:
    """Which of the phrases found wins, as a sort key: a general request last ("what number
    can I call" beside "my boss doesn't pay me" is the pay page, with its number), then the
    longest phrase, the better match, the meaning written first."""
    entry, score, _ = found
    return entry.meaning.general, -len(entry.tokens), -score, entry.order


_SNOWBALL = frozenset(Stemmer.algorithms())
_EXACT = ("", "stretched letters")


def _opens_with(words: str, openings: Iterable[str]) -> bool:
    return any(words == o or words.startswith(o + " ") for o in openings)


def _ends_with(words: str, endings: Iterable[str]) -> bool:
    return any(words == e or words.endswith(" " + e) for e in endings)


def _only_within(spans: list[tuple[int, int, _Entry, float, str]], outer: list[tuple[int, int]],
                 strictly: bool = False, overlapping: bool = False) -> set[int]:
    """The entries (by id) of ``spans`` found only within one of ``outer``
    (``strictly``: a longer one, not the phrase itself; ``overlapping``: any
    word of it within), wherever they are found."""
    if not outer:
        return set()

    def within(start: int, end: int) -> bool:
        if overlapping:
            return any(start < e and s < end for s, e in outer)
        return any(s <= start and end <= e and (not strictly or e - s > end - start) for s, e in outer)

    found = {id(entry) for _, _, entry, _, _ in spans}
    return found - {id(entry) for start, end, entry, _, _ in spans if not within(start, end)}
