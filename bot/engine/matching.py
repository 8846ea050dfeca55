"""Understanding a reply: global keywords, menu options, yes/no/not sure.

Everything compares normalised text (see :func:`bot.engine.text.normalize`):
case, accents and punctuation do not matter. The words that may come around
a keyword, an answer or a number ("salir por favor", "sí gracias", "la
primera"), the numbers in words and the free-text meanings are in
``flows/understanding.yaml`` (:mod:`bot.engine.understanding`). Each reader
returns a :class:`~bot.engine.understanding.Reading` that says why.
"""
from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Mapping, Sequence, Set
from dataclasses import replace

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from . import language
from . import model as m
from .text import clause_starts, normalize, said_once, squeeze
from .understanding import Lexicon, Reading

# Words too common to pick an option by ("what", "the", "de"...). Short words
# (one or two letters) are ignored as well.
_COMMON = frozenset(
    "the and for you your are what how can about with this that from have has "
    "que los las del por con una uno para como mis sus esto eso sobre tengo hay".split()
)
_LEADING_NUMBER = re.compile(r"^(\d{1,2})(?:\s+\w+){0,3}$")
# A pick or an answer's number, and the same with what follows it in a text
# ("1. ", "2) "): see read_keyword's way out after a number.
_A_NUMBER = re.compile(r"\d{1,2}")
_NUMBER_BEFORE_TEXT = re.compile(r"^\s*\d{1,2}\b[\s.,:;)\-]*")
# A reply that starts with an answer and goes on after a comma or a stop, or
# after "and" / "but" / "because" as people text without commas: "sí, me
# obligan a trabajar", "si y ahorita me estan pegando", "no porque ya le pagué
# todo". Group 2: the rest, after those words only ("yes and no" is two
# answers, not a yes).
_BECAUSE = ("porque", "porq", "pq", "xq", "because", "cuz", "bc")
_FIRST_CLAUSE = re.compile(r"^\s*([^,.;:!?¡¿]+?)(?:[,.;:!?]|\s+(?:y|and|pero|but|" + "|".join(_BECAUSE) + r")\s+(.*))",
                           re.IGNORECASE | re.DOTALL)

# Keyword intents a one-letter typo may still reach, when the word has five
# letters or more (SALIR, BORRAR, DELETE, PELIGRO, EMERGENCIA...). Never the
# opt-out and opt-in words: "alto" and "alta" are one letter apart and mean
# the opposite, and Twilio reads its own words exactly.
TYPO_INTENTS = frozenset({"quick_exit", "danger", "help", "human", "menu", "back"})
KEYWORD_TYPO_MIN = 5
LABEL_SCORE = 85  # rapidfuzz ratio for a typed label with typos ("numros para yamar")
ANSWER_SCORE = 90  # the same for a typed answer ("no estoy sgura"); "creo que si"/"creo que no" is 82


def keyword(keywords: m.Keywords, norm: str) -> tuple[str | None, str | None]:
    """(intent, language) for a whole-message keyword, else (None, None)."""
    for intent, words in keywords.intents.items():
        if norm in words:
            return intent, None
    for lang, words in keywords.languages.items():
        if norm in words:
            return "switch_language", lang
    return None, None


def read_keyword(fs: m.FlowSet, norm: str, text: str | None = None) -> tuple[str | None, str | None, Reading | None]:
    """(intent, language, why) for a keyword, with the words people put around it.

    The whole message is a keyword, or a keyword with only around words
    ("SALIR YA", "exit now", "borrar todo"), or said more than once ("EXIT
    EXIT", "salir salir"), or a keyword with its letters stretched
    ("exittt"), or with one typo for the words in :data:`TYPO_INTENTS`; or
    it is one of the whole-message phrases of understanding.yaml for
    quick_exit and opt_out ("borra la conversación"); or one of those with a
    warning that someone is near ("bórralo, ahí viene"), or with a keyword of
    the same meaning ("ALTO ya no me escriban"). A sentence that merely
    contains the word ("no puedo salir de la casa") is none of these, nor is
    a question read from part of it ("borrar el chat es seguro?").

    ``text``: the message as written, for its clauses: an erase or stop phrase
    of understanding.yaml that is the whole first or last clause is the erase
    or the stop (see :func:`_exit_clause`).
    """
    if not norm:
        return None, None, None
    words = norm.split()
    number = len(words) > 1 and _A_NUMBER.fullmatch(words[0])
    request = None if number else _request_after_an_answer(fs, words, text or norm)
    if number or request:
        # "1 borra todo", "2 no me escriban más", "no bórralo", "yeah delete this": a pick or an
        # answer typed before a way out. The way out wins, as a clause of its own would (see
        # _exit_clause): a phrase, or an erase keyword with words around it, never a keyword alone:
        # "1 salir" answers "¿Alguien le impide salir?", and "2 Baja" is Baja California. "1 911"
        # shows the numbers: no pick reads it. After an answer, the request is read whole, never
        # split in clauses: "sí borra el chat mi patrón" tells what he does.
        rest = words[1:] if number else request
        intent, lang, why = read_keyword(fs, " ".join(rest), _NUMBER_BEFORE_TEXT.sub("", text or "") if number else None)
        way_out = intent in m.WHOLE_ONLY_INTENTS and (
            why.what == "meaning" or (intent == "quick_exit" and Lexicon.of(fs).strip_around(rest)[1]))
        if way_out or (number and intent == "danger" and words[1].isdigit()):
            after = "after a number" if number else _AFTER_AN_ANSWER
            return intent, lang, replace(why, how="; ".join(filter(None, (why.how, after))))
    once = words
    intent, lang = keyword(fs.keywords, " ".join(words))  # as typed first: "9 1 1" repeats a word of its own
    if intent is None:
        once = said_once(words)
        intent, lang = keyword(fs.keywords, " ".join(once))
    if intent:
        how = _SAID_AGAIN if len(once) < len(words) else "exact"
        return intent, lang, Reading("keyword", _named(intent, lang), " ".join(once), _where(fs, intent, lang), how=how)
    lex = Lexicon.of(fs)
    kept, core, around = _core(lex, words)
    if not kept:
        return None, None, None
    found = _keyword_of_several_words(fs, lex, once) or _erase_beside_a_cry(fs, lex, once)
    if found is not None:
        return found
    intent, lang = keyword(fs.keywords, core)
    if intent:
        return intent, lang, Reading("keyword", _named(intent, lang), core, _where(fs, intent, lang), how=around)
    stretched = _squeezed_keywords(fs).get(squeeze(core))
    if stretched:
        intent, lang, word = stretched
        how = "; ".join(filter(None, ("stretched letters", around)))
        return intent, lang, Reading("keyword", _named(intent, lang), word, _where(fs, intent, lang), how=how)
    typo = _typo_keyword(fs, lex, core)
    if typo:
        intent, word, score = typo
        how = "; ".join(filter(None, ("typo", around)))
        return intent, None, Reading("keyword", intent, word, _where(fs, intent, None), how=how, score=score)
    placed = lex.place(core, whole_only=True)
    if placed.target is not None and placed.target.intent in m.WHOLE_ONLY_INTENTS:
        how = "; ".join(filter(None, (placed.reading.how if placed.reading.how != "exact" else "", around)))
        return placed.target.intent, placed.reading.lang or None, replace(placed.reading, how=how or "exact")
    # Read from part of the message, a request is never a question: "borrar el chat
    # es seguro?" asks whether to erase, and "cerrar chat, es lo mismo que salir?"
    # asks what it does.
    if text is not None and text.rstrip().endswith("?"):
        return None, None, None
    found = _with_someone_near(fs, lex, once) if len(kept) > 1 else (None, None, None)
    if found[0] is None and len(kept) > 1:
        found = _keyword_and_phrase(fs, kept)
    if found[0] is None and text is not None and len(words) > 1:  # one word is one clause, read above
        found = _exit_clause(fs, lex, text)
    # A stop read from part of the message never silences danger in the rest
    # ("remove me, im in danger", "stop texting me my boss is here and he has
    # a gun"): the runner reads it as a whole, as it will look for it, clauses
    # and all (a "no, " before it does not turn it around), and shows the
    # emergency numbers. An erase still wins: the person asked for the screen
    # to be clean, perhaps because someone is reading it.
    if found[0] == "opt_out" and lex.place(norm, clauses=clause_starts(text or norm, norm)).alarm is not None:
        return None, None, None
    return found


_AFTER_AN_ANSWER = "after an answer"


def _keyword_of_several_words(fs: m.FlowSet, lex: Lexicon, words: list[str]
                              ) -> tuple[str, str | None, Reading] | None:
    """A keyword of several words with only around words before or after it,
    read before the around words are taken out: some of its own words are
    around words too ("AYUDA URGENTE", "HELP NOW"), and "ayuda urgente por
    favor" without them is AYUDA, the help screen, not the emergency numbers.
    The longest such keyword; None when there is none. A long message is never
    one (a keyword is a whole message, give or take around words)."""
    n = len(words)
    if n > _LONGEST_KEYWORD_MESSAGE:
        return None
    stretched, squeezed = _squeezed_keywords(fs), [squeeze(w) for w in words]
    firsts = _first_words_of_long_keywords(fs)
    starts = [i for i in range(n - 1) if words[i] in firsts or squeezed[i] in firsts]
    for size in range(min(n, _longest_keyword(fs)), 1, -1):
        for start in starts:
            end = start + size
            if end > n:
                continue
            said = " ".join(words[start:end])
            intent, lang = keyword(fs.keywords, said)
            how = []
            if intent is None and " ".join(squeezed[start:end]) in stretched:  # "AYUDAAA YAAA"
                intent, lang, said = stretched[" ".join(squeezed[start:end])]
                how.append("stretched letters")
            if intent and not lex.strip_around(words[:start])[0] and not lex.strip_around(words[end:])[0]:
                if start or end < n:
                    how.append(f"around it: {', '.join(words[:start] + words[end:])}")
                return intent, lang, Reading("keyword", _named(intent, lang), said, _where(fs, intent, lang),
                                             how="; ".join(how) or "exact")
    return None


def _first_words_of_long_keywords(fs: m.FlowSet) -> frozenset[str]:
    """The first word of every global keyword of several words, as written and squeezed ("ayuda", "help")."""
    def build():
        words = {w.split()[0] for words in (*fs.keywords.intents.values(), *fs.keywords.languages.values())
                 for w in words if " " in w}
        return frozenset(words | {squeeze(w) for w in words})
    return fs.derived(("first words of long keywords",), build)


def _longest_keyword(fs: m.FlowSet) -> int:
    """The most words a global keyword has ("STOP ASKING ME SO MANY QUESTIONS")."""
    return fs.derived(("longest keyword",), lambda: max(
        (len(w.split()) for words in (*fs.keywords.intents.values(), *fs.keywords.languages.values()) for w in words),
        default=1))


def _erase_beside_a_cry(fs: m.FlowSet, lex: Lexicon, words: list[str]) -> tuple[str, str | None, Reading] | None:
    """An erase keyword beside a call for help or danger ("EXIT AYUDA YA",
    "borrar help"): the erase. Two keywords are otherwise neither ("menu
    exit"), but whoever typed EXIT asked for the screen to be clean, whatever
    else they asked for. Only the ``lone_erase_words`` erase so. Any other
    erase keyword beside danger is the danger: SALIR is also "to leave", and
    "SALIR AYUDA YA" may be someone who cannot get out; beside a plain AYUDA
    it is neither ("ayuda salir")."""
    erases = fs.keywords.intents.get("quick_exit", frozenset())
    at = [i for i, w in enumerate(words) if w in erases]
    if len(at) != 1 or len(words) > _LONGEST_KEYWORD_MESSAGE:
        return None
    rest = words[:at[0]] + words[at[0] + 1:]
    intent, lang, why = read_keyword(fs, " ".join(rest)) if rest else (None, None, None)
    if words[at[0]] not in lex.lone_erases:
        if intent != "danger":
            return None
        return intent, lang, replace(why, how="; ".join(filter(None, (why.how, f"beside {words[at[0]]}"))))
    if intent not in ("danger", "help"):
        return None
    return "quick_exit", None, Reading("keyword", "quick_exit", words[at[0]], _where(fs, "quick_exit", None),
                                       how=f"beside {intent}")


# Words in a message that may still be a keyword with around words ("hola, ayuda urgente por favor ya").
_LONGEST_KEYWORD_MESSAGE = 10


def _may_tell_a_story(fs: m.FlowSet, words: list[str]) -> bool:
    """Whether the request after an answer opens with a `keyword_only` word ("borra": also "he deletes")."""
    request = _request_after_an_answer(fs, words, "")
    return bool(request) and any(request[0] in spec.keyword_only for spec in fs.understanding.requests_after_an_answer.values())


def _request_after_an_answer(fs: m.FlowSet, words: list[str], text: str) -> list[str] | None:
    """The request after a one-word yes or no, from its first word on, when
    understanding.yaml's ``requests_after_an_answer`` says it is one ("no
    bórralo", "sí por favor bórralo", "no borra todo", "yeah delete this"),
    both in one language; else None. Never in a question: "si borra todo?"
    asks what happens if."""
    if len(words) < 2 or text.rstrip().endswith("?"):
        return None
    lex = Lexicon.of(fs)
    for spec in fs.understanding.requests_after_an_answer.values():
        if words[0] not in spec.answers:
            continue
        for i, word in enumerate(words[1:], 1):
            if word in spec.requests or word in spec.keyword_only:
                if lex.strip_around(words[1:i])[0]:
                    break  # more than around words before it
                if word in spec.keyword_only and lex.strip_around(words[i + 1:])[0]:
                    break  # "sí, borra mis mensajes": what someone does
                return words[i:]
    return None


def _exit_clause(fs: m.FlowSet, lex: Lexicon, text: str) -> tuple[str | None, str | None, Reading | None]:
    """An erase or stop phrase of understanding.yaml that is the whole first or
    last clause of a message: "borra todo, mi patrón me revisa el cel", "no. ya
    no quiero contestar esto, bórralo", "no me vuelvan a escribir, la patrona
    lee mis mensajes". The person said why, or said something first; the erase
    or the stop is still what they asked for.

    Phrases, an erase keyword with words around it ("delete everything",
    "borrar todo", "SALIR YA"), and one of understanding.yaml's
    ``lone_erase_words`` alone ("exit, my husband"); never SALIR alone: it is
    also "to leave", and "salir, no puedo" may be someone who cannot get out. A
    clause in the middle of a message is a story ("me dijo: borra todo, y lo
    borré"), not a request;
    nor is a clause that asks ("delete all of this? or will he still see it")
    or one that quotes someone ("mi patrón me dijo, borra todo lo que te
    mandé"): see :meth:`~bot.engine.understanding.Lexicon.requests`.

    Without a comma, a clause is taken to open at a word of understanding.yaml's
    ``clause_openers`` ("stop texting me my husband reads it", "borra todo
    porque mi esposo ve el cel"): the words before it, two or more, are the
    first clause. A possessive right after a lone word is that word's object,
    not a new clause: "ya borre mi deuda" is "ya borré mi deuda" (I have paid
    off my debt), where "borra todo mi esposo ve el cel" is two clauses.
    After one of ``request_openers`` ("así que", "so"), the rest of the message
    is a last clause: "mi patrón revisa el cel cada noche así que borra todo".
    One of ``request_leads`` at a clause's start is read past: "quisiera que
    borren todo", "nvm erase all this". A request whose next words take it
    back (``take_backs``: "borra todo, no espera", "stop, never mind") is none."""
    parts = lex.requests(text)
    cut = {part: _before_openers(lex, part) for part in parts if part}  # each clause, up to each of its openers
    # The first clause and the last: "..., borren esto q mi suegra esta aqui".
    before_openers = [c for part in dict.fromkeys(parts[:1] + parts[-1:]) for c in cut.get(part, ())]
    ends = (parts[0], parts[-1]) if len(parts) > 1 else ()
    then = lex.after_a_request_opener(parts[-1]) if parts else ""
    ends = (*ends, then) if then else ends
    # The request after a lead that opens a clause ("quisiera que borren todo", "nvm erase all this"),
    # an end as the clause it opens is; the whole message too, when it is one clause.
    led = {lex.after_a_request_lead(c): c in ends or c == parts[0] for c in (*ends, *before_openers, *parts[:1]) if c}
    ends = (*ends, *(c for c, at_an_end in led.items() if c and at_an_end))
    withdrawn = _taken_back(lex, parts, cut)
    for clause in dict.fromkeys(c for c in (*ends, *before_openers, *led) if c and c not in withdrawn):
        intent, lang, why = read_keyword(fs, clause)
        if intent not in m.WHOLE_ONLY_INTENTS or why is None:
            continue
        if clause not in ends and _AFTER_AN_ANSWER in why.how.split("; ") and _may_tell_a_story(fs, clause.split()):
            continue  # "sí borra | mis mensajes": no comma says the request ends there, and "borra" may be his
        lone = why.what == "keyword" and intent == "quick_exit" and clause in ends and (
            why.phrase in lex.lone_erases or _in_capitals(text, why.phrase))
        if why.what != "meaning" and not lone and not (intent == "quick_exit" and lex.strip_around(clause.split())[1]):
            continue
        return intent, lang, replace(why, how="; ".join(filter(None, (why.how, "a clause of its own"))))
    return None, None, None


def _taken_back(lex: Lexicon, parts: list[str], cut: dict[str, list[str]]) -> set[str]:
    """The requests the words after them take back: a first clause followed by
    a clause that opens with one of ``take_backs`` ("borra todo, no espera"),
    or the words before an opener followed by one ("delete this i changed my
    mind"); each with what a lead before it leaves ("nvm delete it, wait").
    ``cut``: each clause's words before its openers (:func:`_before_openers`)."""
    found: set[str] = set()
    for i, part in enumerate(parts):
        if not part:
            continue
        after = {part: parts[i + 1] if i + 1 < len(parts) else ""}
        after.update({c: part[len(c):] for c in cut[part]})
        for clause, rest in after.items():
            if rest and lex.takes_back(rest):
                found.update((clause, lex.after_a_request_lead(clause)))
    return found


def _before_openers(lex: Lexicon, clause: str) -> list[str]:
    """The words of ``clause`` before each of its clause openers, two words or
    more, longest first: "stop texting me my husband ..." is "stop texting me",
    not "stop". Not before "he said" or "mi esposo dice": the words before it
    were his ("stop texting me he said")."""
    words = clause.split()
    return [" ".join(words[:i]) for i in range(min(len(words) - 1, _REQUEST_WORDS), 1, -1)
            if words[i] in lex.openers and not _object_of_a_lone_word(lex, words[:i], words[i])
            and not lex.quotes_before(" ".join(words[i:]))]


def _in_capitals(text: str, keyword: str) -> bool:
    """Whether ``keyword`` is written in capitals in a message that is not all
    capitals: "tengo miedo. SALIR", "SALIR, mi esposo". The greeting teaches it
    so, and so written it is the keyword, not the verb "to leave" ("salir, no
    puedo" may be someone who cannot get out); in a message all in capitals it
    stands out no more than in one all in small letters.

    >>> _in_capitals("tengo miedo. SALIR", "salir"), _in_capitals("NO PUEDO. SALIR", "salir")
    (True, False)
    """
    if not any(ch.islower() for ch in text):
        return False
    return any(word.isupper() and normalize(word) == keyword for word in _WORDS.findall(text))


# The most words a request before a clause opener is looked for in: the longest
# erase or stop phrase has nine ("so i need you to delete this whole conversation"),
# and a few around words may come with it. Each is read whole, so trying every
# opener of a long story would cost a read per opener for nothing.
_REQUEST_WORDS = 12


def _object_of_a_lone_word(lex: Lexicon, before: list[str], opener: str) -> bool:
    """Whether ``opener`` is a possessive that follows the one word of ``before``
    that is not an around word, right after it: "ya borre | mi"."""
    kept = lex.strip_around(before)[0]
    return opener in lex.possessives and len(kept) == 1 and kept[0] == before[-1]


def _keyword_and_phrase(fs: m.FlowSet, words: list[str]) -> tuple[str | None, str | None, Reading | None]:
    """An erase or stop keyword said with a phrase that means the same, before
    or after it: "ALTO ya no me escriban", "borra todo SALIR". Both halves ask
    for the one thing; either alone would have done it.

    ``words``: the message without its around words."""
    for word, rest in ((words[0], words[1:]), (words[-1], words[:-1])):
        intent, _ = keyword(fs.keywords, word)
        if intent not in m.WHOLE_ONLY_INTENTS:
            continue
        said, lang, why = read_keyword(fs, " ".join(rest))
        if said == intent and why is not None:
            return intent, lang, replace(why, how="; ".join(filter(None, (why.how, f"with the keyword {word}"))))
    return None, None, None


WORRIED_OF_BEING_READ = "safety.tips"  # the place understanding.yaml sends "he checks my phone" to


def _with_someone_near(fs: m.FlowSet, lex: Lexicon, words: list[str]) -> tuple[str | None, str | None, Reading | None]:
    """An erase or a stop said with a warning that someone is near ("BÓRRALO
    RÁPIDO AHÍ VIENE", "erase everything hes coming"), or with a fear of being
    read ("borra todo, mi esposo me revisa el teléfono": the meaning that leads
    to safety.tips), is the erase or the stop: the warning says why the hurry,
    and the one line kept for a warning alone would make the person text again
    to be safe. The warning may come after the request without a comma, with
    more words after it ("wipe this whole convo he checks my phone at night").

    ``words``: the whole message, around words and all ("ya llegó el
    patrón" holds "ya"). Only a message of two words or more besides the
    around words, one of them a word of those keywords, is searched, so
    nearly every text skips the phrase search.
    """
    exit_words = _exit_words(fs, lex)
    if exit_words.isdisjoint(words) and exit_words.isdisjoint(squeeze(" ".join(words)).split()):
        return None, None, None
    split = lex.split_at(words, "watched")
    if split is None or split == ([], []):
        split = lex.split_at(words, "", place=WORRIED_OF_BEING_READ)
    if split is None:
        return None, None, None
    before, after = split
    # The request is what is left once the warning is taken out; or, when
    # no comma says where the request ends ("wipe this whole convo he checks
    # my phone at night"), the words before the warning, or after it, alone.
    for rest in dict.fromkeys(tuple(r) for r in (before + after, before, after) if r):
        intent, lang, why = read_keyword(fs, " ".join(rest))
        if intent in m.WHOLE_ONLY_INTENTS and why is not None:
            near = " ".join(w for w in lex.spelled(words) if w not in rest)  # `rest` has its short forms spelled out
            return intent, lang, replace(why, how="; ".join(filter(None, (why.how, f"someone near: {near}"))))
    return None, None, None


def _exit_words(fs: m.FlowSet, lex: Lexicon) -> frozenset[str]:
    """One word of each erase and stop keyword and phrase, the one the other
    meanings' phrases use least ("salir", "borra", "escriban"; never "no" or
    "me"), as written and squeezed: a message with none of them is no erase or
    stop, with or without a warning."""
    def build():
        exits = [phrase.split() for intent in m.WHOLE_ONLY_INTENTS for phrase in fs.keywords.intents.get(intent, ())]
        exits += [list(e.tokens) for e in lex.entries if e.meaning.intent in m.WHOLE_ONLY_INTENTS]
        used = Counter(w for e in lex.entries if e.meaning.intent not in m.WHOLE_ONLY_INTENTS for w in e.tokens)
        small = lex.around_words | lex.not_words
        words = set()
        for phrase in exits:
            candidates = [w for w in phrase if w not in small] or phrase
            words.add(min(candidates, key=lambda w: (used[w], -len(w))))
        return frozenset(words | {squeeze(w) for w in words})
    return fs.derived(("exit words",), build)


def _core(lex: Lexicon, words: list[str]) -> tuple[list[str], str, str]:
    """What a keyword or an answer is read from: the message's words without
    the around words; those words said once, joined; and how ("a word said
    again; around it: ya"). Said once before and after the around words go:
    in "borra, borra ya" the around word came between."""
    once = said_once(words)
    kept, taken = lex.strip_around(once)
    core = said_once(kept)
    again = _SAID_AGAIN if len(once) < len(words) or len(core) < len(kept) else ""
    return kept, " ".join(core), "; ".join(filter(None, (again, f"around it: {', '.join(taken)}" if taken else "")))


_SAID_AGAIN = "a word said again"
# How a reply is read when only some of its words picked the option or gave
# the answer: the rest may say more (the runner looks there for danger).
BY_LABEL_WORDS = "words of the label"
_BY_LABEL_TYPOS = "label with typos"
_BY_FIRST_WORDS = "first words of the reply"
_BY_NUMBER_AND_WORDS = "number, with words after it"
_BY_OTHER_WORDS = "the option in other words"
BY_AGE = "an age"
_OPENS_WITH_YES = re.compile(r"^(yes|yeah|yep|yup|yea)\s+(.+)$")
_TWO_WAYS = "said two ways"
READ_FROM_SOME_WORDS = frozenset({BY_LABEL_WORDS, _BY_LABEL_TYPOS, _BY_FIRST_WORDS, _BY_NUMBER_AND_WORDS, _BY_OTHER_WORDS,
                                  BY_AGE})


def read_from_some_words(why: Reading) -> bool:
    """Whether a pick or an answer was read from some of the reply's words, so the rest may say more."""
    return any(how in READ_FROM_SOME_WORDS for how in why.how.split("; "))


def _by_number(norm: str) -> str:
    """How a reply that opens with a number was read: "2" alone, or "2 me están pegando",
    whose words after the number may say more."""
    return "number" if norm.isdigit() else _BY_NUMBER_AND_WORDS


def _named(intent: str, lang: str | None) -> str:
    return f"{intent} ({lang})" if lang else intent


def _where(fs: m.FlowSet, intent: str, lang: str | None) -> m.Where | None:
    return fs.keywords.where.get(f"language.{lang}" if intent == "switch_language" else intent)


def _squeezed_keywords(fs: m.FlowSet) -> dict[str, tuple[str, str | None, str]]:
    """Every keyword with its repeated letters squeezed: squeezed -> (intent, lang, word)."""
    def build():
        found: dict[str, tuple[str, str | None, str]] = {}
        for intent, words in fs.keywords.intents.items():
            for word in words:
                found.setdefault(squeeze(word), (intent, None, word))
        for lang, words in fs.keywords.languages.items():
            for word in words:
                found.setdefault(squeeze(word), ("switch_language", lang, word))
        return found
    return fs.derived(("squeezed keywords",), build)


def _typo_keyword(fs: m.FlowSet, lex: Lexicon, core: str) -> tuple[str, str, float] | None:
    """A one-word message one typo away from exactly one keyword of TYPO_INTENTS; for a
    keyword of four letters (EXIT, MENU), only two letters swapped ("exti"): one letter
    changed there makes words of their own ("edit", "held")."""
    if " " in core or len(core) < KEYWORD_TYPO_MIN - 1 or core in _known_words(fs, lex):
        return None
    by_length = _typo_targets(fs)
    hits = {(intent, word) for length in (len(core) - 1, len(core), len(core) + 1)
            for intent, word in by_length.get(length, ()) if OSA.distance(core, word, score_cutoff=1) <= 1
            and (len(word) >= KEYWORD_TYPO_MIN or sorted(core) == sorted(word))}
    if len({intent for intent, _ in hits}) != 1:
        return None
    intent, word = sorted(hits)[0]
    return intent, word, 1 - 1 / max(len(word), len(core))


def _typo_targets(fs: m.FlowSet) -> dict[int, list[tuple[str, str]]]:
    """The one-word keywords of TYPO_INTENTS, by length: length -> [(intent, word)].

    One typo (an edit of one letter) changes a word's length by one at most,
    so a text is compared only with the keywords of its length or one either side.
    """
    def build():
        found: dict[int, list[tuple[str, str]]] = {}
        for intent in sorted(TYPO_INTENTS):
            for word in sorted(fs.keywords.intents.get(intent, ())):
                if " " not in word and len(word) >= KEYWORD_TYPO_MIN - 1:
                    found.setdefault(len(word), []).append((intent, word))
        return found
    return fs.derived(("typo targets",), build)


def _known_words(fs: m.FlowSet, lex: Lexicon) -> frozenset[str]:
    """Words the flows already give a meaning to: never read as a typo of a keyword."""
    def build():
        words = set(lex.vocabulary) | set(lex.numbers) | lex.around_words
        words |= {w for ws in fs.system.answers.values() for w in ws}
        words |= {w for ws in fs.keywords.intents.values() for w in ws}
        return frozenset(words)
    return fs.derived(("known words",), build)


def detect_language(system: m.System, norm: str) -> str:
    """The language a message looks like by its hint words alone; the default when none.

    Kept for one-line answers to a first text that erases or opts out, which
    need no model: see :mod:`bot.engine.language` for a first message.
    """
    found = language.hinted(system, norm)
    return found.lang if found else system.default_language


def one_line_language(fs: m.FlowSet, norm: str, said: str | None) -> str:
    """The language of the one line a first text that erases or stops gets: the
    keyword's or phrase's (``said``: "no me manden nada" is Spanish), else the
    hint words of what was said beside the keyword ("hola stop" is Spanish:
    STOP is the word for it in every language, though alone it reads as
    English, as Twilio's own answer to it is), else the keyword's own. The same
    whether the store is up (the runner) or not (:mod:`bot.engine.stateless`)."""
    if said in fs.system.languages:
        return said
    keywords = keyword_words(fs)
    for said_as in (norm, squeeze(norm)):  # "salirrr ya" is SALIR's
        found = language.hinted(fs.system, said_as, keywords) or language.hinted(fs.system, said_as)
        if found:
            return found.lang
    return fs.system.default_language


def keyword_words(fs: m.FlowSet) -> frozenset[str]:
    """Every one-word global keyword (SALIR, STOP, MENU...), normalised."""
    return fs.derived(("keyword words",), lambda: frozenset(
        w for words in fs.keywords.intents.values() for w in words if " " not in w))


def pick(norm: str, labels: list[list[str]], not_words: Set[str] = frozenset(), text: str = "") -> int | None:
    """The index of the option a reply picks, or None.

    ``labels[i]`` holds option i's label in each language offered (already
    normalised). A number picks by position ("2", "2.", "2 please"); else the
    whole label, else the one option sharing the most meaningful words. A
    word of ``not_words`` counts only with the word after it: "not sure" is in
    "Not sure" and "not in" in "I am not in the US", but "the hotline did not
    answer" shares nothing with "Not sure". Where the options differ by a
    not-word, it also turns the rest of its clause around (``text``: the reply
    as written, for its clauses): "I am not in Mexico" shares nothing
    with "In Mexico". Elsewhere the words after it still say what the reply is
    about: "no es trata, yo acepté venir" is about the difference. A label a
    reply says the opposite of is never picked (see :func:`_denied`): "no
    estoy en México" is not "Estoy en México".

    >>> pick("2", [["yes"], ["no"]])
    1
    >>> pick("numbers", [["what happened to me"], ["numbers to call or text"]])
    1
    >>> pick("what", [["what happened to me"], ["what is the difference"]]) is None
    True
    >>> where = [["in the us"], ["in mexico"], ["not sure"]]
    >>> [pick(t, where, {"not"}) for t in ("did not answer", "im not sure", "im not in mexico")]
    [None, 2, None]
    """
    number = _LEADING_NUMBER.match(norm)
    if number:
        i = int(number.group(1))
        return i - 1 if 1 <= i <= len(labels) else None
    for i, forms in enumerate(labels):
        if norm in forms:
            return i
    not_words = frozenset(not_words)
    negation_tells = any(w in not_words for forms in labels for form in forms for w in form.split())
    negated = not not_words.isdisjoint(norm.split())
    starts = clause_starts(text, norm) if text and (negation_tells or negated) else frozenset()
    said = _meaningful_words(norm, not_words, starts, negation_tells)
    if not said:
        return None
    denied = _denied(norm, labels, not_words, starts)
    scores = []
    for i, forms in enumerate(labels):
        offered = set().union(*(_label_words(form, not_words, negation_tells) for form in forms))
        scores.append(0 if i in denied else len(said & offered))
    best = max(scores)
    if best == 0 or scores.count(best) > 1:
        return None
    return scores.index(best)


def _denied(norm: str, labels: list[list[str]], not_words: Set[str], starts: Set[int]) -> set[int]:
    """The options whose label a reply says the opposite of: a not-word just
    before the label's first words, in one clause ("no estoy en México", "I
    am not in Mexico"; "No, estoy en México" says it is)."""
    tokens = norm.split()
    denied = set()
    for k, word in enumerate(tokens[:-1]):
        if word not in not_words or k + 1 in starts:
            continue
        for i, forms in enumerate(labels):
            for form in forms:
                first = form.split()[:2]
                if first and tokens[k + 1:k + 1 + len(first)] == first:
                    denied.add(i)
    return denied


@functools.lru_cache(maxsize=2048)
def _label_words(label: str, not_words: frozenset[str], negation_tells: bool) -> frozenset[str]:
    """:func:`_meaningful_words` of a label of the flows (never of what a person wrote), worked out once."""
    return frozenset(_meaningful_words(label, not_words, frozenset(), negation_tells))


def _meaningful_words(norm: str, not_words: Set[str], starts: Set[int], negation_tells: bool) -> set[str]:
    """The words of ``norm`` that can tell one option from another: a not-word
    with the word after it, and, where ``negation_tells``, nothing more of its
    clause (see :func:`pick`)."""
    tokens = norm.split()
    words: set[str] = set()
    negated = False
    for i, w in enumerate(tokens):
        negated = negated and negation_tells and i not in starts
        if negated:
            continue
        if w in not_words:
            negated = True
            if i + 1 < len(tokens) and i + 1 not in starts:
                words.add(f"{w} {tokens[i + 1]}")
        elif len(w) > 2 and w not in _COMMON:
            words.add(w)
    return words


def read_pick(fs: m.FlowSet, norm: str, labels: list[list[str]], text: str = "") -> tuple[int | None, Reading | None]:
    """:func:`pick`, then a number that opens a longer reply ("4 pero no es
    emergencia", "6, pero no me borren nada"), numbers in words ("dos", "la
    segunda") and labels typed with typos.

    A number said as an amount picks nothing: "3 meses sin pago" is three months, not option 3.
    """
    lex = Lexicon.of(fs)
    if not norm or lex.amount(norm.split()):
        return None, None
    i = pick(norm, labels, lex.not_words, text)
    if i is not None:
        how = _by_number(norm) if _LEADING_NUMBER.match(norm) else BY_LABEL_WORDS
        return i, Reading("option", f"option {i + 1}", labels[i][0], how=how)
    lead = _opening_number(text)
    i = pick(lead, labels, lex.not_words) if lead else None
    if i is not None:
        return i, Reading("option", f"option {i + 1}", labels[i][0], how=_BY_NUMBER_AND_WORDS)
    number = lex.number(norm.split())
    if number is not None:
        n, word = number
        if 1 <= n <= len(labels):
            return n - 1, Reading("option", f"option {n}", word, fs.understanding.where, how="number in words")
        return None, None
    i, score, form = _closest_label(norm, labels, LABEL_SCORE)
    if i is not None and i in _denied(norm, labels, lex.not_words, clause_starts(text, norm) if text else frozenset()):
        i = None  # "no estoy en mexico" is one typo from "estoy en mexico", and its opposite
    if i is not None:
        return i, Reading("option", f"option {i + 1}", form, how=_BY_LABEL_TYPOS, score=score)
    return None, None


def read_option_words(fs: m.FlowSet, norm: str, words: Mapping[str, Sequence[tuple[tuple[str, ...], int]]],
                      starts: Set[int] = frozenset()) -> tuple[int | None, Reading | None]:
    """The option a reply names in other words (understanding.yaml
    `option_words:`; ``words``: each name's words and its option, by the
    name's first word, see :func:`option_words_index`): "estoy en el otro
    lado" picks "In the US". A name within a longer one found is not a name
    of its own ("baja california", not "california"). Two options named pick
    nothing, and the Reading says so: the labels are not tried then ("estoy
    en Tijuana esperando pasar al otro lado": where they are, or where they
    go?). Never after a not-word in its clause (``starts``: where clauses
    begin, :func:`clause_starts`): "no estoy en Texas" names no place, "no
    tengo nada, el coyote me lo quitó" names two.
    """
    tokens = norm.split()
    not_words = Lexicon.of(fs).not_words
    spans: list[tuple[int, int, int]] = []  # (start, end, option)
    negated = False
    for start, token in enumerate(tokens):
        negated = negated and start not in starts
        if not negated:
            for said, i in words.get(token, ()):
                if tuple(tokens[start:start + len(said)]) == said:
                    spans.append((start, start + len(said), i))
        negated = negated or token in not_words  # nothing after it ("no sé dónde" itself may open with one)
    named = [(a, b, i) for a, b, i in spans if not any(c <= a and b <= d and d - c > b - a for c, d, _ in spans)]
    if not named:
        return None, None
    phrases = {i: " ".join(tokens[a:b]) for a, b, i in sorted(named, key=lambda n: n[0] - n[1])}
    if len(phrases) > 1:
        return None, Reading("option", "not sure which: the question again", ", ".join(phrases.values()),
                             fs.understanding.option_words_where, how="two options named")
    (i, phrase), = phrases.items()
    how = "exact" if phrase == norm else _BY_OTHER_WORDS
    return i, Reading("option", f"option {i + 1}", phrase, fs.understanding.option_words_where, how=how)


def option_words_index(fs: m.FlowSet, node: m.Node, labels: Sequence[Sequence[str]]
                       ) -> dict[str, list[tuple[tuple[str, ...], int]]]:
    """`option_words:` for ``node``'s options, by the flags each sets, in every language (a
    place is named alike in both: "Texas", "USA"), and the options' own ``labels``
    (normalised), which name them too ("I have it, my boss gave it back" names two):
    first word -> [(the name's words, option)]. Empty for a menu without such words."""
    said = fs.understanding.option_words
    names = [{w for flag in option.sets for ws in said.get(flag, {}).values() for w in ws} for option in node.options]
    if not any(names):
        return {}
    index: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    for i, option_names in enumerate(names):
        for name in sorted(option_names | {label for label in labels[i] if label}):
            index.setdefault(name.split()[0], []).append((tuple(name.split()), i))
    return index


def read_where_said(fs: m.FlowSet, norm: str, names: Mapping[str, Sequence[tuple[tuple[str, ...], int]]]
                    ) -> tuple[int | None, Reading | None]:
    """The option of a "Where are you now?" menu that a text names as where its
    writer is ("estoy en Tijuana y no me pagan": In Mexico). ``names``: the
    menu's :func:`option_words_index`. A place counts right after one of
    `saying_where:`'s words ("estoy en", "im in"), and not after a not-word up
    to three words before ("ya no estoy en Texas", "no sé si estoy en Texas");
    two places said so ("estoy en Tijuana, vivo en
    Texas") name none. At the menu itself this settles a reply that names two
    places ("estoy en Tijuana esperando pasar al otro lado").
    """
    u = fs.understanding
    tokens = norm.split()
    not_words = Lexicon.of(fs).not_words
    found: dict[int, str] = {}
    for start, token in enumerate(tokens):
        for said in _saying_where_by_first_word(fs).get(token, ()):
            end = start + len(said)
            if end >= len(tokens) or tuple(tokens[start:end]) != said:
                continue
            if any(t in not_words for t in tokens[max(0, start - 3):start]):
                continue  # "ya no estoy en", "no sé si estoy en"
            here = [(name, i) for name, i in names.get(tokens[end], ()) if tuple(tokens[end:end + len(name)]) == name]
            if here:
                name, i = max(here, key=lambda n: len(n[0]))  # "baja california", not "california"
                found.setdefault(i, " ".join(tokens[start:end + len(name)]))
    if len(found) != 1:
        return None, None
    (i, phrase), = found.items()
    return i, Reading("option", f"option {i + 1}", phrase, u.saying_where_where, how="where they say they are")


def _saying_where_by_first_word(fs: m.FlowSet) -> dict[str, list[tuple[str, ...]]]:
    """`saying_where:`'s words, every language, by their first word (once per flow set)."""
    def build() -> dict[str, list[tuple[str, ...]]]:
        index: dict[str, list[tuple[str, ...]]] = {}
        for words in fs.understanding.saying_where.values():
            for said in sorted(words):
                index.setdefault(said.split()[0], []).append(tuple(said.split()))
        return index
    return fs.derived(("saying where",), build)


def _opening_number(text: str) -> str | None:
    """The number a reply opens with, alone in its first clause, when more
    follows: "4 pero no es emergencia", "6, pero no me borren nada" -> "4", "6".
    None when the rest opens with a number too ("3, 4": two picks), or with
    "y" / "and": "3 y también me quitaron los papeles" says more than the pick,
    and is read for it.

    >>> [_opening_number(t) for t in ("4 pero no es emergencia", "6, nada mas", "3, 4", "2 y 3", "3 y me pegan", "2")]
    ['4', '6', None, None, None, None]
    """
    first = _FIRST_CLAUSE.match(text or "")
    if not first:
        return None
    lead, rest = normalize(first.group(1)), normalize(text[first.end(1):]).split()
    if not lead.isdigit() or not rest or rest[0] in ("y", "and") or any(w.isdigit() for w in rest[:2]):
        return None
    return lead


def _closest_label(norm: str, labels: list[list[str]], cutoff: float) -> tuple[int | None, float, str]:
    """The one label ``norm`` is a typo of, clearly ahead of the others."""
    scored = sorted(((fuzz.ratio(norm, form), i, form) for i, forms in enumerate(labels) for form in forms),
                    reverse=True)
    if not scored or scored[0][0] < cutoff:
        return None, 0.0, ""
    best, i, form = scored[0]
    runner_up = next((s for s, j, _ in scored if j != i), 0.0)
    if best - runner_up < 10:
        return None, 0.0, ""
    return i, best / 100, form


def answer(system: m.System, norm: str, labels: list[list[str]]) -> str | None:
    """yes / no / not_sure for a question reply, or None.

    Only a number, a whole label ("no sé") or one of the typed-out answer
    words counts. Unlike a menu, a word of a label does not: "not" and "sure"
    are in "Not sure", and "I have not been paid" or "sure!" must not be read
    as "not sure", which is a referral flag.

    >>> labels = [["yes", "si"], ["no"], ["not sure", "no se"]]
    >>> answer_words = m.System({}, "en", "", "", {}, {"yes": frozenset({"yes"}), "no": frozenset({"no"}),
    ...                         "not_sure": frozenset({"not sure"})}, {}, None)
    >>> [answer(answer_words, t, labels) for t in ("3", "no se", "i have not been paid")]
    ['not_sure', 'not_sure', None]
    """
    for a in m.ANSWERS:
        if norm in system.answers[a]:
            return a
    number = _LEADING_NUMBER.match(norm)
    if number:
        i = int(number.group(1))
        return m.ANSWERS[i - 1] if 1 <= i <= len(m.ANSWERS) else None
    for i, forms in enumerate(labels):
        if norm in forms:
            return m.ANSWERS[i]
    return None


def read_answer(fs: m.FlowSet, text: str, norm: str, labels: list[list[str]], own: Mapping[str, Set[str]] | None = None,
                own_where: m.Where | None = None) -> tuple[str | None, Reading | None]:
    """:func:`answer`, read the way people answer: yes / no / not sure and why, or (None, None).

    On top of the exact words: around words ("sí gracias", "pues no"), a
    word said again ("sí sí", "no no no"), stretched letters ("siii",
    "nooo"), numbers in words ("uno", "la tercera"), an answer typed with a
    typo ("no estoy sgura"), and an answer that opens a longer reply, before
    a comma or a stop ("sí, me obligan"). A reply that opens with "no," and
    goes on is not read so: "no, nunca me pagan" answers "are you paid
    nothing?" with a yes.

    ``own``: the question's answers in its own words (answer -> normalised
    words, ``own_where`` where they are written): "no tengo" to "¿Tiene una
    deuda?". Only as the whole reply, give or take around words, or after the
    same answer ("no, no tengo"): never with a typo, which can be a "no"
    ("no puedo escribir" is one letter from "puedo escribir"), nor before more
    words, which may say the opposite ("nadie, solo mi patrón"), unless they
    open with a yes and say yes, as "sí," would ("si debo, pero tengo miedo").
    """
    only_around = not norm or not Lexicon.of(fs).strip_around(norm.split())[0]
    found = emoji_answer(_WORDS.sub("", text)) if only_around else None
    if found is not None:  # "👍", "👍 gracias", "ok 👍"
        return found, Reading("answer", found, text.strip(), None, how="an emoji")
    lex = Lexicon.of(fs)
    if not norm or lex.amount(norm.split()):  # "3 meses sin pagarme": three months, not "3. Not sure"
        return None, None
    system = fs.system
    found = answer(system, norm, labels)
    if found is not None:
        how = _by_number(norm) if _LEADING_NUMBER.match(norm) else "exact"
        return found, Reading("answer", found, norm, system.answers_where.get(found), how=how)
    mine = _own_answer(lex, norm, own)
    if mine is not None:
        found, said, beside = mine
        return found, Reading("answer", found, said, own_where, how="; ".join(filter(None, (_OWN_WORDS, beside))))
    _, core, around = _core(lex, norm.split())
    if around:
        found = answer(system, core, labels)
        if found is not None:
            # "1 ya llegó mi esposo": "ya" is an around word, and the words after the number may say more.
            more = _BY_NUMBER_AND_WORDS if _LEADING_NUMBER.match(core) and not core.isdigit() else ""
            return found, Reading("answer", found, core, system.answers_where.get(found),
                                  how="; ".join(filter(None, (more, around))))
    found = _said_two_ways(system, core.split(), labels)
    if found is not None:
        how = "; ".join(filter(None, (_TWO_WAYS, around)))
        return found, Reading("answer", found, core, system.answers_where.get(found), how=how)
    number = lex.number(norm.split())
    if number is not None:
        n, word = number
        if 1 <= n <= len(m.ANSWERS):
            return m.ANSWERS[n - 1], Reading("answer", m.ANSWERS[n - 1], word, fs.understanding.where,
                                             how="number in words")
        return None, None
    if core:
        found, reading = _loose_answer(fs, core, labels)
        if found is not None:
            if around:
                reading = Reading(reading.what, reading.result, reading.phrase, reading.where, how=f"{reading.how}; {around}",
                                  score=reading.score)
            return found, reading
    first = _FIRST_CLAUSE.match(text)
    if first and len(first.group(1)) < len(text.rstrip(",.;:!?")):
        phrase = normalize(first.group(1))
        lead, _ = read_answer(fs, first.group(1), phrase, labels)
        where = system.answers_where.get(lead)
        if lead is None and phrase.split()[0] in lex.yes_words and (_own_answer(lex, phrase, own) or [None])[0] == "yes":
            lead, where = "yes", own_where  # "si debo, pero tengo miedo": "sí," in the question's own words
        rest = first.group(2)
        if lead is not None and rest and answer(system, normalize(rest), labels) not in (None, lead):
            return None, None  # "sí y no", "yes and no": two answers, so neither
        rest_said = normalize(text[first.end():])
        if lead is not None and lead in (answer(system, rest_said, labels), (_own_answer(lex, rest_said, own) or [None])[0]):
            # "q va, nunca", "nel, para nada": the one answer, said twice
            return lead, Reading("answer", lead, phrase, where, how=_TWO_WAYS)
        because = rest is not None and text[first.end(1):first.start(2)].strip().lower() in _BECAUSE
        if lead == "not_sure" and because:
            # "no sé porque me preguntan" is "no sé por qué": why they are asked, not an answer.
            return None, Reading("answer", "not sure which: the question again", phrase, where,
                                 how="opens with not sure why")
        if lead in ("yes", "not_sure"):
            return lead, Reading("answer", lead, phrase, where, how=_BY_FIRST_WORDS)
        if lead == "no" and _no_again(fs, rest_said, labels):
            # "no, droga no", "no, eso no", "nel, a mi no", "no, never": the no said again of what
            # was asked, never more ("no, nunca me pagan" goes on, and may answer yes).
            return "no", Reading("answer", "no", phrase, system.answers_where.get("no"), how=_TWO_WAYS)
        if lead == "no":
            # Not an answer, but not a miss either: the question is asked again.
            return None, Reading("answer", "not sure which: the question again", phrase, system.answers_where.get(lead),
                                 how="opens with no and goes on")
    opening = _OPENS_WITH_YES.match(norm)
    if opening and answer(system, opening.group(2), labels) in (None, "yes"):
        # "yes he said he'd call ICE": people text without a comma. English only:
        # the Spanish "si" is also "if" ("si no me pagan me voy").
        return "yes", Reading("answer", "yes", opening.group(1), system.answers_where.get("yes"), how=_BY_FIRST_WORDS)
    return None, None


_OWN_WORDS = "in the question's own words"


def _no_again(fs: m.FlowSet, rest: str, labels: list[list[str]]) -> bool:
    """Whether the words after an opening "no," only say no again: three words at
    most, the last a not-word ("droga no", "eso no", "a mi no", "never"), and those
    before it no answer of their own ("no, a veces no" is a hedge)."""
    words = rest.split()
    if not 0 < len(words) <= 3 or words[-1] not in Lexicon.of(fs).not_words:
        return False
    return answer(fs.system, " ".join(words[:-1]) or words[-1], labels) is None


def _own_answer(lex: Lexicon, norm: str, own: Mapping[str, Set[str]] | None) -> tuple[str, str, str] | None:
    """The answer a reply gives in the question's own words, as it is or
    without its around words ("ya me fui" is one, "me fui ya" is "me fui"):
    (answer, the words, the around words), or None."""
    if not own:
        return None
    _, core, around = _core(lex, norm.split())
    for said, beside in ((norm, ""), (core, around)):
        found = next((a for a in m.ANSWERS if said in own.get(a, ())), None)
        if found is not None:
            return found, said, beside
    return None


def read_age(fs: m.FlowSet, text: str, below: int) -> tuple[str, Reading] | None:
    """yes / no to "Are you under ``below``?" from the age a reply says
    ("tengo 16", "im 17 years old", "cumplo 18 en mayo"), or None. A number
    alone that no option has and can be an age answers too ("17")."""
    found = Lexicon.of(fs).age(text)
    if found is None:
        bare = normalize(text)
        if not (bare.isdigit() and 10 <= int(bare) < 100):
            return None
        found = int(bare), bare
    age, words = found
    said = "yes" if age < below else "no"
    return said, Reading("answer", said, words, fs.understanding.ages_where, how=BY_AGE)


# A reply made only of one of these, said once or more ("👍", "👍🏽👍🏽", "🤷‍♀️").
# Not in system.yaml's answer words, which are words of a language and are
# read without their symbols; these read the same in every language.
EMOJI_ANSWERS = {"👍": "yes", "👌": "yes", "✅": "yes", "✔": "yes", "☑": "yes",
                 "👎": "no", "❌": "no", "✖": "no", "🚫": "no", "🙅": "no",
                 "🤷": "not_sure"}
# What may come with an emoji and changes nothing: skin tones, the variation
# selector, the zero-width joiner and the sign of who shrugs.
_WORDS = re.compile(r"\w+")
_EMOJI_MARKS = re.compile("[\U0001F3FB-\U0001F3FF\uFE0F\u200D\u2640\u2642\\s]")


def emoji_answer(text: str) -> str | None:
    """yes / no / not_sure for a reply of answer emoji alone, all of one meaning; else None.

    >>> emoji_answer("👍🏽"), emoji_answer("🤷\u200d\u2640\ufe0f"), emoji_answer("👍👎"), emoji_answer("🙏")
    ('yes', 'not_sure', None, None)
    """
    marks = _EMOJI_MARKS.sub("", text or "")
    found = {EMOJI_ANSWERS.get(ch) for ch in marks}
    return found.pop() if len(found) == 1 and None not in found else None


def _said_two_ways(system: m.System, words: list[str], labels: list[list[str]]) -> str | None:
    """The answer when the reply is two ways of saying it, one after the
    other ("nah not really", "sí claro que sí"); None when the two differ
    ("no, a veces") or either is not an answer. Answers are a few words: a
    longer reply is something else."""
    if len(words) > 6:
        return None
    for i in range(1, len(words)):
        first = answer(system, " ".join(words[:i]), labels)
        if first is not None and first == answer(system, " ".join(words[i:]), labels):
            return first
    return None


def _answer_forms(fs: m.FlowSet, labels: list[list[str]]) -> list[tuple[str, str]]:
    """(squeezed form, answer) for every answer word and label."""
    def build():
        forms = [(squeeze(w), a) for a in m.ANSWERS for w in fs.system.answers[a]]
        return forms
    forms = list(fs.derived(("answer forms",), build))
    forms += [(squeeze(form), m.ANSWERS[i]) for i, group in enumerate(labels[:len(m.ANSWERS)]) for form in group]
    return forms


def _loose_answer(fs: m.FlowSet, core: str, labels: list[list[str]]) -> tuple[str | None, Reading | None]:
    forms = _answer_forms(fs, labels)
    squeezed = squeeze(core)
    exact = {a for form, a in forms if form == squeezed}
    if len(exact) == 1:
        a = exact.pop()
        return a, Reading("answer", a, core, fs.system.answers_where.get(a), how="stretched letters")
    if len(squeezed) < 5:
        return None, None  # "sii" is "si", but "nop" is not a typo of "no se"
    scored = sorted(((fuzz.ratio(squeezed, form), a, form) for form, a in forms), reverse=True)
    best, a, form = scored[0]
    runner_up = next((s for s, b, _ in scored if b != a), 0.0)
    if best >= ANSWER_SCORE and best - runner_up >= 5:
        return a, Reading("answer", a, form, fs.system.answers_where.get(a), how="typo", score=best / 100)
    return None, None
