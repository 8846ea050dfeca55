"""Content rules, checked over every message the flows can send, in every language.

The content brief (facts and sources) and docs/CONTENT.md set rules no single
test of a conversation can cover; here they are checked on everything at once,
and each fact a review found wrong is pinned by a test that fails on the old text:

* a locked phone shows the first lines of a message: none of its first two
  lines names trafficking or sex (trata, tráfico, sexual...);
* in Spanish, trafficking is "trata de personas", never "tráfico de personas";
  usted throughout, and no form that leaves some readers out;
* nobody is asked "are you a victim?";
* every end screen names a number from flows/hotlines.yaml, for the phone that
  can reach it, and the national hotline is one word (HELP / AYUDA) away;
* the facts: what EMERGENCY does, which phones reach which line, overtime,
  what the hotline does for a child, visas and their conditions, smuggling;
* the screening covers the questions the brief lists and routes its answers
  the way docs/CONTENT.md says ("How the screening decides"), for the place the
  person is in.

"Every message" is what :func:`bot.engine.render.messages` gives for every
node (a question's prompt and both re-prompts, a directory's packed
messages), the system texts, and the static fail-safe reply.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.channels.twilio import FAILSAFE_REPLIES
from bot.engine import events as ev
from bot.engine import model as m
from bot.engine import render
from bot.engine.text import normalize
from tests.helpers import option, real_flows
from tests.fixtures_engine import HOTLINE, OPT, Chat, help_text, prompt, started

REPO = Path(__file__).resolve().parents[1]
PREVIEW_LINES = 2  # a locked phone shows the start of a new message: most show two to four lines
MEXICO_LINE = "800 5533 000"
US_TEXT = "233733"
WEB_CHAT = "humantraffickinghotline.org"
WAGES = "1-866-487-9243"
FS = real_flows()
LANGS = tuple(FS.system.languages)


def every_message():
    """(id, lang, text) for every message a person can be sent."""
    found = []
    for lang in LANGS:
        for flow in FS.flows.values():
            for node in flow.nodes:
                for i, text in enumerate(render.messages(FS, node, lang)):
                    found.append((f"{lang}-{flow.id}.{node.id}-{i}", lang, text))
        for name in FS.system.texts:
            # The phone line's texts (voice_*) are checked too: {digit}, {label}, {numbers} are theirs.
            text = render.say(FS, lang, name, number="1-888-373-7888", keyword="START", digit="1", label="Sí",
                              address=WEB_CHAT,
                              numbers="9, 1, 1")
            found.append((f"{lang}-system.{name}", lang, text))
    found += [(f"failsafe-{i}", "failsafe", text) for i, text in enumerate(FAILSAFE_REPLIES)]
    return found


MESSAGES = every_message()
SPANISH = [text for _, lang, text in MESSAGES if lang == "es"]


def plain(message: str) -> str:
    """``message`` compared without case, accents or punctuation, however long it is
    (:func:`normalize` reads only what a reply to a menu needs, the first 200 characters)."""
    return " ".join(word for token in message.split() for word in normalize(token).split())


def text(node: str, lang: str) -> str:
    n = FS.node(node)
    assert n is not None, f"there is no node {node}"
    return FS.translate(lang, n.text.msgid)


def texts(lang: str) -> dict[str, str]:
    """Qualified node -> every text it shows in ``lang``, joined."""
    return {f"{f.id}.{n.id}": "\n".join(render.messages(FS, n, lang)) for f in FS.flows.values() for n in f.nodes}


# --- the lock screen ------------------------------------------------------------------------------------

# Words a lock-screen preview must not show, compared without case or accents.
SENSITIVE = re.compile(r"\b(traffick\w*|trafic\w*|trata\w*|smuggl\w*|sex\w*|coyotes?|prostitu\w*)\b")


@pytest.mark.parametrize("message", [pytest.param(t, id=i) for i, _, t in MESSAGES])
def test_no_first_two_lines_name_trafficking_or_sex(message):
    shown = "\n".join(message.split("\n")[:PREVIEW_LINES])
    assert not SENSITIVE.search(plain(shown.replace("\n", " "))), shown


def test_the_preview_rule_catches_what_it_must():
    for line in ("Human Trafficking Hotline", "Línea contra la TRATA", "tráfico de migrantes", "Sexual", "sex",
                 "anti-trafficking line", "traficantes", "smuggling", "coyotes"):
        assert SENSITIVE.search(plain(line)), line
    for line in ("Thank you for telling us.", "Question 11 of 13.", "Pregunta 5 de 13.", "contrata", "trato",
                 "Essex"):
        assert not SENSITIVE.search(plain(line)), line


# --- Spanish -----------------------------------------------------------------------------------------------

def test_spanish_never_says_trafico_de_personas():
    spanish = SPANISH + [t.msgstr for t in FS.catalogs["es"].values()]
    assert len(spanish) > 100
    for message in spanish:
        assert "trafico de personas" not in plain(message), message


# Content brief section 8: each weak Spanish wording, and the better one that replaced it.
SPANISH_REWRITES = [
    ("Is it safe for you to text right now?", "con seguridad", "sin peligro"),
    ("Some tips to text safely:", "escribir con seguridad", "escribirnos sin riesgo"),
    ("If police or immigration stop you:", "quedarse callado", "derecho a guardar silencio"),
    ("Question 5 of 13.", "con fuerza o amenazas", "a la fuerza o con amenazas"),
    ("Question 7 of 13.", "alguien mas se queda con su pago", "otra persona la que se queda con su sueldo"),
    ("Question 9 of 13.", "con alguien para quien trabaja", "con su patron o con quien le trajo"),
    ("Question 10 of 13.", "no se los devuelve", "quien tiene"),
    ("A few questions about what happened.", "no hay respuestas malas", "no hay respuestas buenas ni malas"),
    ("Reply with the number of an option.", "ayuda urgente", "emergencia a quien llamar"),
    ("Asylum and legal help:", "casi siempre en el primer ano", "por lo general en su primer ano aqui"),
    ("Asylum and legal help:", "para ayuda legal gratis", "le refiere a ayuda legal gratis"),
    ("Emergency (US and Mexico)", "si hay peligro ahora", "para peligro inmediato"),
]


@pytest.mark.parametrize("english, weak, better", SPANISH_REWRITES, ids=[w for _, w, _ in SPANISH_REWRITES])
def test_the_spanish_rewrites_of_the_review_are_in(english, weak, better):
    spanish = plain(" ".join(SPANISH))
    assert weak not in spanish
    # Where the English starts so, the Spanish has the better wording (a message may hold several texts).
    found = [plain(t) for _, lang, t in MESSAGES if lang == "es" and better in plain(t)]
    assert found, f"no Spanish message says {better!r}"
    assert any(english in t for _, lang, t in MESSAGES if lang == "en"), f"no English message says {english!r}"


# The reader is addressed as usted, and no form assumes their gender (or anyone's):
# "le", "la persona", "quien trabaja" rather than "callado", "los trabajadores".
TU_FORMS = {"tienes", "puedes", "eres", "quieres", "necesitas", "tu", "te", "escribenos", "llamanos", "contestame"}
GENDERED = ["callado", "callada", "bienvenido", "bienvenida", "seguro de", "segura de", "estar seguro", "estar segura",
            "solos", "para mexicanos", "los trabajadores", "cualquier trabajador", "un menor de edad solo"]


def test_spanish_says_usted_and_leaves_nobody_out():
    for message in SPANISH:
        words = set(plain(message).split())
        assert not words & TU_FORMS, (words & TU_FORMS, message)
        for form in GENDERED:
            assert form not in plain(message), (form, message)


VICTIM_QUESTIONS = ["are you a victim", "were you a victim", "have you been a victim", "es usted victima",
                    "eres victima", "ha sido victima", "fue usted victima", "fue victima"]


def test_nobody_is_asked_whether_they_are_a_victim():
    for _, _, message in MESSAGES:
        for asked in VICTIM_QUESTIONS:
            assert asked not in plain(message), message


# --- facts the review found wrong -------------------------------------------------------------------------

EMERGENCY_SAYS = {"en": ["cannot call 911 or send anyone", "call 911 yourself"],
                  "es": ["no puede llamar al 911", "llame usted al 911"]}


@pytest.mark.parametrize("lang", LANGS)
def test_the_emergency_screen_says_this_chat_cannot_send_help(lang):
    screen = text(FS.keywords.shows["danger"], lang)
    first = screen.split("\n")[0]
    assert all(s in screen for s in EMERGENCY_SAYS[lang]), screen
    assert EMERGENCY_SAYS[lang][0] in first, "it is the first thing said"


@pytest.mark.parametrize("lang", LANGS)
def test_help_words_emergency_as_who_to_call_not_as_help_that_comes(lang):
    words = plain(help_text(FS, lang))
    assert "urgent help" not in words and "ayuda urgente" not in words
    assert {"en": "emergency who to call", "es": "emergencia a quien llamar"}[lang] in words


@pytest.mark.parametrize("lang", LANGS)
def test_help_gives_911_itself(lang):
    # "help" may be the first and only text of someone in danger: the usage
    # screen names 911, not only the keyword that would list it.
    assert {"en": "in danger call 911 yourself", "es": "en peligro llame usted al 911"}[lang] in plain(help_text(FS, lang))


@pytest.mark.parametrize("lang", LANGS)
def test_help_gives_the_line_a_mexican_phone_can_call(lang):
    # HELP is one keyword away from anyone, someone in Tijuana too: 233733 and
    # 1-888 are US lines, and a review found the one general screen without Mexico's.
    assert MEXICO_LINE in help_text(FS, lang)


@pytest.mark.parametrize("lang", LANGS)
def test_not_safe_now_says_911_is_theirs_to_call(lang):
    screen = text("screening.later", lang)
    assert {"en": "this chat cannot call anyone", "es": "este chat no llama ni manda ayuda"}[lang] in screen


@pytest.mark.parametrize("lang", LANGS)
def test_the_last_message_before_silence_names_911_and_the_hotline(lang):
    # "Not safe to text now" ends the chat, and STOP is the last message anyone sends:
    # a review found a frightened "stop" left with neither.
    for shown in (text("screening.later", lang), render.say(FS, lang, "opted_out")):
        assert "911" in shown and HOTLINE in shown, shown


MEXICAN_PHONE = {"en": "mexican phone", "es": "celular mexicano"}
US_PHONE = {"en": "us phone", "es": "ee uu"}


@pytest.mark.parametrize("lang", LANGS)
def test_the_mexican_line_is_always_given_as_a_number_for_mexican_phones(lang):
    with_line = [t for _, ln, t in MESSAGES if ln == lang and MEXICO_LINE in t]
    assert len(with_line) >= 6
    for message in with_line:
        words = plain(message)
        assert MEXICAN_PHONE[lang] in words, message
        assert not any(w in words for w in ("abroad", "extranjero", "desde fuera")), message


# "The national hotline" alone: in Spanish, "la línea nacional" is also the name of
# Mexico's own line (Línea Nacional contra la Trata, CONTENT.md 3), and 1 on a call
# puts a caller in Mexico through to the US one.
NATIONAL = {"en": re.compile(r"\bnational hotline\b", re.I), "es": re.compile(r"\blínea nacional\b", re.I)}
THE_US_ONE = {"en": "US national hotline", "es": "línea nacional de Estados Unidos"}


@pytest.mark.parametrize("lang", LANGS)
def test_a_call_says_which_countrys_national_hotline_it_means(lang):
    spoken = [FS.translate(lang, n.voice.msgid) for f in FS.flows.values() for n in f.nodes if n.voice]
    spoken += [render.say(FS, lang, name, number="1-888-373-7888", digit="1", label="1", numbers="9, 1, 1")
               for name in FS.system.texts if name.startswith("voice_")]
    naming = [t for t in spoken if NATIONAL[lang].search(t)]
    assert len(naming) >= 7  # the offer, the put-through, the busy line, the silence, the hand-off...
    for said in naming:
        assert len(NATIONAL[lang].findall(said)) == said.count(THE_US_ONE[lang]), said


def says_us_text_line_is_for_us_phones(text: str) -> bool:
    """Gives 233733 (a US short code) and says it takes texts from US phones only."""
    # "desde EE. UU." alone is not enough: someone in the US with a Mexican phone is in the US.
    return US_TEXT in text and bool(re.search(r"\b(us phones?|desde (un |uno )?((cel|celular|celulares|telefono|telefonos) )?de ee uu)\b", plain(text)))


@pytest.mark.parametrize("node", ["help.usage", "help.person", "safety.emergency", "screening.elsewhere_numbers",
                                  "numbers.exploitation_lines", "numbers.emergency", "numbers.child_hotline"])
@pytest.mark.parametrize("lang", LANGS)
def test_the_us_text_line_is_said_to_work_from_us_phones(node, lang):
    """233733 is a US short code: wherever the person may not be in the US, say so."""
    shown = texts(lang)[node]
    assert says_us_text_line_is_for_us_phones(shown), shown


@pytest.mark.parametrize("lang", LANGS)
def test_someone_without_a_us_phone_is_given_the_hotlines_web_chat(lang):
    """233733 takes texts from US phones only, and a person who just arrived
    may have only their own country's phone, or only WhatsApp: the numbers
    page gives the same hotline's web chat right after it (CONTENT.md 4, 7)."""
    shown = texts(lang)["numbers.exploitation_lines"]
    assert says_us_text_line_is_for_us_phones(shown)
    assert shown.index(US_TEXT) < shown.index(f" {WEB_CHAT}.") < shown.index(MEXICO_LINE), shown


@pytest.mark.parametrize("lang", LANGS)
def test_the_consulates_line_is_given_as_dialled_from_mexico_too(lang):
    """CIAM answers at 1-520-623-7874 from the US and 001 520 623 7874 from
    Mexico (CONTENT.md 7): family in Mexico need the second."""
    shown = texts(lang)["numbers.consulate"]
    assert shown.index("1-520-623-7874") < shown.index("001 520 623 7874"), shown


@pytest.mark.parametrize("node", ["numbers.child_lines", "numbers.child_mexico", "numbers.violence_lines",
                                  "numbers.violence_mexico"])
@pytest.mark.parametrize("lang", LANGS)
def test_pages_a_first_text_reaches_give_numbers_that_work_from_mexico(node, lang):
    """A first text goes straight to these pages ("tengo 15 años, estoy en
    México y me ponen a trabajar"), with no question of where the person is:
    911 answers in both countries, and a child in Mexico needs the Mexican
    line (CONTENT.md 4)."""
    shown = texts(lang)[node]
    assert "911" in shown
    assert not node.startswith("numbers.child") or MEXICO_LINE in shown, shown


@pytest.mark.parametrize("reply", FAILSAFE_REPLIES, ids=["en", "es"])
def test_the_fail_safe_reply_says_the_us_text_line_works_from_us_phones(reply):
    """It goes to anyone when something fails, wherever they write from."""
    assert says_us_text_line_is_for_us_phones(reply), reply


@pytest.mark.parametrize("reply", FAILSAFE_REPLIES, ids=["en", "es"])
def test_the_fail_safe_reply_gives_a_line_that_answers_a_mexican_phone(reply):
    """From a Mexican phone, 911 was the only number of the fail-safe that worked."""
    assert MEXICO_LINE in reply, reply


def test_nothing_unverified_reaches_a_texter():
    unverified = [h for h in FS.hotlines.values() if not h.verified]
    assert unverified, "the directory keeps lines to review (Honduras, the Mexican line from a US phone)"
    written = [(h.id, re.compile(r"(?<!\d)" + r"[ -]?".join(re.sub(r"\D", "", c.number)) + r"(?!\d)"))
               for h in unverified for c in h.contacts if c.number]
    for _, _, message in MESSAGES:
        for line, number in written:
            assert not number.search(message), (line, message)
    shown = {e for f in FS.flows.values() for n in f.nodes for e in n.entries}
    assert not shown & {h.id for h in unverified}


@pytest.mark.parametrize("lang", LANGS)
def test_the_pay_pages_do_not_promise_overtime_to_everyone(lang):
    pages = plain(texts(lang)["rights.work"] + " " + texts(lang)["rights.overtime"])
    says = {"en": ["most jobs", "1 5 times", "farm", "live in", "small farms", "state"],
            "es": ["la mayoria de empleos", "tiempo y medio", "campo", "de planta", "ranchos chicos", "su estado"]}
    for fact in says[lang]:
        assert fact in pages, fact


# A minor hears what the national hotline does when a child is being hurt, in the
# message that gives them its number (humantraffickinghotline.org, "our approach").
REPORTS = {"en": "tell the authorities", "es": "avisa a las autoridades"}


@pytest.mark.parametrize("lang", LANGS)
def test_the_numbers_for_children_say_what_the_hotline_does_when_a_child_is_hurt(lang):
    """A child who asks for numbers (the menu, or "soy menor") hears it too, not
    only a child who answered the screening: "not police" alone would mislead."""
    shown = texts(lang)
    giving = [shown[node] for node in ("numbers.child_lines", "numbers.child_hotline") if HOTLINE in shown[node]]
    assert giving
    assert all(REPORTS[lang] in t for t in giving), giving


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("answers", [{"under_18": "yes"}, {"under_18": "yes", "sex": "yes"},
                                     {"under_18": "yes", "pay": "yes"}, {"under_18": "not_sure"},
                                     {"under_18": "yes", "force": "not_sure"}],
                         ids=["child", "child exploited", "child at work", "not sure of age", "child, not sure"])
def test_a_minor_is_told_the_hotline_reports_child_abuse_before_calling(fs, lang, answers):
    _, replies, _, _ = screen(fs, lang, answers)
    giving = [r for r in replies if HOTLINE in r]
    assert giving, replies
    assert REPORTS[lang] in giving[0]
    assert {"en": "tells the authorities", "es": "avisa de inmediato a las autoridades"}[lang] in \
        text("safety.privacy_children", lang)


@pytest.mark.parametrize("lang", LANGS)
def test_the_sex_question_counts_anything_given_and_for_a_minor_no_force(lang):
    adult, minor = plain(text("screening.sexual", lang)), plain(text("screening.sexual_minor", lang))
    things = {"en": ["money", "food", "bed", "papers", "ride", "passage"],
              "es": ["dinero", "comida", "techo", "papeles", "aventon", "el paso"]}
    for thing in things[lang]:
        assert thing in adult and thing in minor, thing
    assert not any(w in minor for w in ("made you", "obligado", "force", "fuerza"))
    assert not any(w in adult for w in ("for money", "por dinero"))
    # Under 18 it is a crime whoever gets what is given (22 USC 7102): a girl whose "boyfriend"
    # is paid had answered no, and read "Your work must be paid".
    assert {"en": "to someone else", "es": "a otra persona"}[lang] in minor


@pytest.mark.parametrize("lang", LANGS)
def test_the_u_visa_is_never_offered_without_its_conditions(lang):
    u_visa = [t for _, ln, t in MESSAGES if ln == lang and re.search(r"\b(U visa|visa U)\b", t, re.I)]
    assert len(u_visa) >= 2
    for message in u_visa:
        words = plain(message)
        assert any(w in words for w in ("sign a form", "certify", "firmar un formulario", "certifica")), message
        assert any(w in words for w in ("help with the case", "ayudan en el caso", "ayuda con el caso")), message
        assert any(w in words for w in ("in the us", "en ee uu")), message


@pytest.mark.parametrize("lang", LANGS)
def test_someone_held_for_ransom_in_mexico_is_not_offered_a_u_visa(fs, lang):
    outcomes, replies, _, _ = screen(fs, lang, {"ransom": "yes"}, place="in_mexico")
    assert outcomes == ["ransom"]
    said = plain(" ".join(replies))
    assert "visa u" not in said and "u visa" not in said
    assert {"en": "humanitarian visitor card", "es": "tarjeta humanitaria"}[lang] in said


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("place", ["in_us", "in_mexico"])
def test_a_child_held_for_ransom_hears_it_was_kidnapping_and_the_childrens_numbers(fs, lang, place):
    """Under 18 and held for ransom: what an adult hears (kidnapping, a crime
    against them; a U visa only in the US), then the children's information."""
    chat = screen(fs, lang, {"under_18": "yes", "ransom": "yes"}, place=place)[3]
    said = plain(" ".join(r for t in chat.turns for r in t.replies))
    assert {"en": "kidnapping", "es": "secuestro"}[lang] in said
    assert ("u visa" in said or "visa u" in said) == (place == "in_us")
    assert {"en": "under 18", "es": "menores de 18"}[lang] in said
    if place == "in_us":
        assert REPORTS[lang] in said  # the hotline, with what it does when a child is hurt


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("answers", [{"ransom": "yes", "debt": "yes"}, {"ransom": "yes", "threats": "yes", "confined": "yes"},
                                     {"ransom": "yes", "pay": "yes"}],
                         ids=["a debt", "threats and held", "pay"])
def test_a_child_held_for_ransom_hears_it_was_kidnapping_whatever_the_captors_did(fs, lang, answers):
    """The captors' "debt", threats and locked door are the kidnapping itself, for a
    child as for an adult: the children's path had called it work by force."""
    outcomes, _, _, chat = screen(fs, lang, {"under_18": "yes", **answers})
    said = plain(" ".join(r for t in chat.turns for r in t.replies))
    assert outcomes == ["ransom"]
    assert {"en": "kidnapping", "es": "secuestro"}[lang] in said
    assert REPORTS[lang] in said


@pytest.mark.parametrize("lang", LANGS)
def test_a_child_who_works_off_a_ransom_debt_unpaid_hears_it_is_exploitation(fs, lang):
    outcomes, _, _, _ = screen(fs, lang, {"under_18": "yes", "ransom": "yes", "debt": "yes", "pay": "yes"})
    assert outcomes == ["trafficking_referral"]


HELD_NOW = {"en": "if you are held now and in danger", "es": "si le retienen ahora"}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("answers", [{"sex": "yes"}, {"drugs": "yes"}, {"force": "yes"}, {"threats": "yes"},
                                     {"ransom": "yes"}, {"under_18": "yes"}, {"under_18": "yes", "sex": "yes"}],
                         ids=["sex", "drugs", "force", "threats", "ransom", "child", "child and sex"])
@pytest.mark.parametrize("place", ["in_us", "in_mexico", None], ids=["in the US", "in Mexico", "elsewhere"])
def test_whoever_is_kept_from_leaving_now_is_told_to_call_911_themselves(fs, lang, answers, place):
    """Question 12 answered yes: held now. Every outcome says to call 911, before
    the numbers; an adult who sold sex or carried drugs, and a child, had not."""
    _, _, _, chat = screen(fs, lang, {**answers, "confined": "yes"}, place=place)
    said = [plain(r) for t in chat.turns for r in t.replies]
    held = [i for i, r in enumerate(said) if HELD_NOW[lang] in r and "911" in r]
    assert held, said[-4:]
    assert held[0] < len(said) - 1  # then the numbers


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("node", ["screening.later", "screening.intro"])
def test_before_the_place_is_asked_a_line_for_each_countrys_phones(lang, node):
    """"Not safe to talk" ends before the place is asked: someone in Mexico must
    leave with a number their phone can dial (an 800 number is national)."""
    n = FS.node(node)
    for said in (FS.translate(lang, n.text.msgid), FS.translate(lang, n.voice.msgid)):
        assert "1-888-373-7888" in said and MEXICO_LINE in said, said
        assert MEXICAN_PHONE[lang] in plain(said), said


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("place", ["in_mexico", None, "place_not_sure"], ids=["in Mexico", "elsewhere", "not sure where"])
@pytest.mark.parametrize("answers", [{"under_18": "yes"}, {"under_18": "not_sure", "sex": "yes"},
                                     {"under_18": "yes", "ransom": "yes"}], ids=["child", "not sure of age", "ransom"])
def test_a_child_out_of_the_us_hears_what_the_us_hotline_does_before_its_number(fs, lang, place, answers):
    replies = screen(fs, lang, answers, place=place)[1]  # the outcome and its numbers
    first = next(r for r in replies if HOTLINE in r)
    assert {"en": "tell the authorities", "es": "avisa de inmediato a las autoridades"}[lang] in first, first


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("place", [None, "place_not_sure"], ids=["elsewhere", "not sure where"])
@pytest.mark.parametrize("answers", [{"force": "yes"}, {"pay": "yes"}, {"under_18": "yes"}, {}],
                         ids=["forced", "pay", "child", "nothing"])
def test_someone_out_of_the_us_and_mexico_is_given_a_way_in_from_any_phone(fs, lang, place, answers):
    """A Guatemalan phone dials neither the Mexican nor the US line: the hotline's
    web chat, then the numbers, last (the message a phone shows on top)."""
    replies = screen(fs, lang, answers, place=place)[1]
    assert any(WEB_CHAT in r for r in replies[:-1]), replies
    assert MEXICO_LINE in replies[-1] and "1-888-373-7888" in replies[-1]


@pytest.mark.parametrize("lang", LANGS)
def test_continued_presence_is_asked_for_by_federal_agents(lang):
    found = [t for _, ln, t in MESSAGES if ln == lang and re.search(r"Continued Presence|Presencia Continuada", t)]
    assert found
    for message in found:
        sentence = plain(re.split(r"Continued Presence|Presencia Continuada", message)[1])
        assert any(w in sentence for w in ("federal agents", "agentes federales")), message
        assert "police" not in sentence and "policia" not in sentence, message


@pytest.mark.parametrize("lang", LANGS)
def test_smuggling_ends_on_arrival_not_at_the_border(lang):
    for _, ln, message in MESSAGES:
        if ln == lang:
            assert not any(w in plain(message) for w in ("ends at the border", "termina en la frontera")), message
    definition = plain(text("difference.smuggling", lang))
    # "usually" agreed, not always (the content brief; UN protocols): a person who did not agree may be trafficked.
    says = {"en": ["once inside", "usually", "arrive", "free to go"], "es": ["adentro", "suele", "llega", "libre"]}
    assert all(w in definition for w in says[lang]), definition


@pytest.mark.parametrize("lang", LANGS)
def test_no_outcome_sums_up_questions_never_asked(fs, lang):
    outcomes, replies, _, _ = screen(fs, lang, {})
    assert outcomes == ["no_indicators"]
    said = plain(" ".join(replies))
    assert "nothing you said points to a crime" not in said and "nada de lo que dijo indica un delito" not in said
    assert {"en": "we did not ask about everything", "es": "no le preguntamos todo"}[lang] in said
    assert {"en": "attacked robbed or hurt", "es": "atacaron robaron o lastimaron"}[lang] in said


def test_every_reply_keyword_promise_leads_where_it_says():
    """"Reply MENU for your rights" led to the main menu: a text may offer a
    keyword only with `offers:`, which `flows check` holds to where it goes."""
    offered = [(f"{f.id}.{n.id}", w, t) for f in FS.flows.values() for n in f.nodes for w, t in n.offers.items()]
    assert len(offered) >= 8
    for node, word, target in offered:
        assert target == FS.system.main_menu or target in FS.keywords.shows.values(), (node, word, target)
    for _, _, message in MESSAGES:
        assert "for your rights" not in message and "para ver sus derechos" not in message, message


# --- hotlines -----------------------------------------------------------------------------------------------

NUMBERS = sorted({c.number for h in FS.hotlines.values() if h.verified for c in h.contacts})
END_NODES = [f"{f.id}.{n.id}" for f in FS.flows.values() for n in f.nodes if n.kind == m.END]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("node", END_NODES)
def test_every_end_screen_names_a_number_from_the_hotline_list(node, lang):
    shown = FS.translate(lang, FS.node(node).text.msgid)
    assert any(number in shown for number in NUMBERS), shown


def test_there_are_end_screens_for_every_place():
    assert {"screening.referral_us", "screening.mexico_numbers", "screening.elsewhere_numbers"} <= set(END_NODES)


@pytest.mark.parametrize("lang", LANGS)
def test_the_help_text_names_the_national_hotline(lang):
    assert HOTLINE in help_text(FS, lang)
    assert US_TEXT in help_text(FS, lang)


WAITING = [f"{f.id}.{n.id}" for f in FS.flows.values() for n in f.nodes if n.waits]
HELP_WORD = {"en": "HELP", "es": "AYUDA"}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("position", WAITING)
def test_the_national_hotline_is_one_word_away_from_every_question(fs, position, lang):
    flow, _, node = position.partition(".")
    chat = Chat(fs)
    s = chat.session
    state = "choosing_language" if fs.node(position).kind == m.LANGUAGE else "in_flow"
    s.state, s.lang, s.conv, s.flow, s.node, s.flags = state, lang, "k", flow, node, {"force": "yes"}
    turn = chat.send(HELP_WORD[lang])
    assert turn.replies == [help_text(fs, lang), prompt(fs, position, lang)]
    assert HOTLINE in turn.replies[0]
    assert (chat.session.position, chat.session.flags) == (position, {"force": "yes"})


# --- the screening -------------------------------------------------------------------------------------------

# The brief's questions, as flags (docs/CONTENT.md). `id_taken` and `id_other`
# are the answers of the menu "who has your passport or ID?".
QUESTIONS = {"under_18", "ransom", "paid_to_cross", "free_after", "drugs", "force", "deceived", "pay", "pay_later",
             "debt", "documents", "threats", "confined", "sex"}
STRONG = ["force", "drugs", "debt", "threats", "confined", "sex"]
ANSWER_NUMBER = {a: str(i) for i, a in enumerate(m.ANSWERS, 1)}  # "yes" -> "1" (1. Yes / 2. No / 3. Not sure)
PLACES = {"in_us": "in_us", "in_mexico": "in_mexico", None: "elsewhere", "place_not_sure": "place_not_sure"}
ID_HOLDER = {"mine": None, "boss": "id_taken", "other": "id_other"}


def where_option(place: str | None, node: str = "screening.where") -> str:
    """The number of the "Where are you now?" option that records ``place`` (None: somewhere else)."""
    where = FS.node(node)
    found = [i for i, o in enumerate(where.options, 1) if PLACES[place] in o.sets]
    assert len(found) == 1, place
    return str(found[0])


def id_option(holder: str) -> str:
    node = FS.node("screening.documents")
    flag = ID_HOLDER[holder]
    found = [i for i, o in enumerate(node.options, 1) if (flag in o.sets if flag else o.label.msgid == "I have it")]
    assert len(found) == 1, holder
    return str(found[0])


def screen(fs, lang: str, answers: dict[str, str], place: str | None = "in_us"):
    """Answer the screening: each question by its flag (default "no"; `documents`:
    who holds the ID, default "mine"); return (outcomes, last replies, asked, chat)."""
    chat = started(fs, lang)
    chat.send(OPT["screening"])
    chat.send(ANSWER_NUMBER["yes"])  # safe to text now
    chat.send(where_option(place))
    turns, asked = [], []
    while chat.session.state == "in_flow" and chat.session.flow == "screening":
        node = fs.node(chat.session.position)
        assert len(asked) < 20, chat.session.position
        if node.kind == m.MENU:
            asked.append(node.id)
            turns.append(chat.send(id_option(answers.get(node.id, "mine"))))
            continue
        assert node.kind == m.QUESTION, chat.session.position
        asked.append(node.flag)
        turns.append(chat.send(ANSWER_NUMBER[answers.get(node.flag, "no")]))
    assert set(answers) <= set(asked), "an answer was given for a question never asked"
    outcomes = [e.data["outcome"] for t in turns for e in t.events if e.kind == ev.OUTCOME]
    return outcomes, turns[-1].replies, asked, chat


@pytest.mark.parametrize("lang", LANGS)
def test_the_screening_asks_about_everything_the_brief_lists(fs, lang):
    _, _, asked, chat = screen(fs, lang, {"paid_to_cross": "yes"})
    assert sorted(asked) == sorted(QUESTIONS)  # each once
    assert chat.session.state == "closed"


@pytest.mark.parametrize("lang", LANGS)
def test_free_on_arrival_is_asked_only_of_someone_who_paid_to_cross(fs, lang):
    for paid in ("no", "yes", "not_sure"):
        _, _, asked, _ = screen(fs, lang, {"paid_to_cross": paid})
        assert ("free_after" in asked) == (paid != "no"), paid


@pytest.mark.parametrize("lang", LANGS)
def test_the_id_question_asks_who_holds_it_not_whether_it_is_given_back(lang):
    question = plain(text("screening.documents", lang))
    assert {"en": "who has your passport", "es": "quien tiene ahora su pasaporte"}[lang] in question
    assert "give it back" not in question and "devuelve" not in question


ROUTES = [
    # label, answers (others "no"), outcome
    ("nothing", {}, "no_indicators"),
    *[(f"{flag} yes", {flag: "yes"}, "trafficking_referral") for flag in STRONG],
    *[(f"{flag} not sure", {flag: "not_sure"}, "not_sure") for flag in STRONG],
    ("ID held by the boss, even for safekeeping", {"documents": "boss"}, "trafficking_referral"),
    ("ID held by someone else", {"documents": "other"}, "not_sure"),
    ("under 18", {"under_18": "yes"}, "child_referral"),
    ("under 18, and every indicator", {f: "yes" for f in QUESTIONS - {"documents"}} | {"documents": "boss"},
     "trafficking_referral"),
    ("under 18, sex for a place to sleep", {"under_18": "yes", "sex": "yes"}, "trafficking_referral"),
    ("under 18, sent to work for little pay", {"under_18": "yes", "pay": "yes"}, "child_referral"),
    ("under 18, not sure about a debt", {"under_18": "yes", "debt": "not_sure"}, "not_sure"),
    ("under 18, held for ransom", {"under_18": "yes", "ransom": "yes"}, "ransom"),
    ("under 18, held for ransom and made to work", {"under_18": "yes", "ransom": "yes", "force": "yes"},
     "trafficking_referral"),
    ("under 18, not sure about ransom", {"under_18": "yes", "ransom": "not_sure"}, "not_sure"),
    ("not sure of their age, nothing else", {"under_18": "not_sure"}, "child_referral"),
    ("not sure of their age, threatened", {"under_18": "not_sure", "threats": "yes"}, "trafficking_referral"),
    ("pay only", {"pay": "yes"}, "labour_rights"),
    ("pay promised for later", {"pay_later": "yes"}, "labour_rights"),
    ("promised one job, made to do another", {"deceived": "yes"}, "labour_rights"),
    ("not sure about pay, nothing else", {"pay": "not_sure"}, "not_sure"),
    ("pay and papers taken", {"pay": "yes", "documents": "boss"}, "trafficking_referral"),
    ("ransom only", {"ransom": "yes"}, "ransom"),
    ("ransom, paid to cross and free after", {"ransom": "yes", "paid_to_cross": "yes", "free_after": "yes"}, "ransom"),
    ("ransom and made to work", {"ransom": "yes", "force": "yes"}, "trafficking_referral"),
    # The kidnapping is the graver crime; its outcome still ends on the pay numbers (see the next test).
    ("pay and ransom", {"pay": "yes", "ransom": "yes"}, "ransom"),
    ("paid to cross and free after", {"paid_to_cross": "yes", "free_after": "yes"}, "smuggling_only"),
    ("paid to cross, free after, a debt to work off", {"paid_to_cross": "yes", "free_after": "yes", "debt": "yes"},
     "trafficking_referral"),
    ("paid to cross, made to carry drugs", {"paid_to_cross": "yes", "free_after": "yes", "drugs": "yes"},
     "trafficking_referral"),
    ("paid to cross, not free after", {"paid_to_cross": "yes", "free_after": "no"}, "trafficking_referral"),
    ("paid to cross, not free after, low pay", {"paid_to_cross": "yes", "free_after": "no", "pay": "yes"},
     "trafficking_referral"),
    # Not free on arrival because held for ransom, never made to work: kidnapping (CONTENT.md 1), and so
    # are the ID taken, the threats and the locked door that go with it (a review found forced labour here).
    ("paid to cross, not free after, ransom", {"paid_to_cross": "yes", "free_after": "no", "ransom": "yes"}, "ransom"),
    ("held for ransom, ID taken, threatened, not free", {"paid_to_cross": "yes", "free_after": "no", "ransom": "yes",
     "documents": "boss", "threats": "yes", "confined": "yes"}, "ransom"),
    # A caller held for ransom answered yes to the debt and heard "forced labour … claim the pay you are owed".
    ("held for ransom, with a debt", {"ransom": "yes", "debt": "yes"}, "ransom"),
    ("held for ransom, with a debt and pay kept back", {"ransom": "yes", "debt": "yes", "pay": "yes"},
     "trafficking_referral"),
    ("paid to cross, not sure if free after", {"paid_to_cross": "yes", "free_after": "not_sure"}, "not_sure"),
    ("not sure if they paid to cross", {"paid_to_cross": "not_sure", "free_after": "yes"}, "not_sure"),
    ("not sure to everything", {f: "not_sure" for f in QUESTIONS - {"documents"}} | {"documents": "other"},
     "not_sure"),
]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("answers, outcome", [pytest.param(a, o, id=label) for label, a, o in ROUTES])
def test_the_screening_routes_as_docs_content_md_says(fs, lang, answers, outcome):
    outcomes, replies, _, chat = screen(fs, lang, answers)
    assert outcomes == [outcome]
    assert chat.session.state == "closed"
    assert any(number in replies[-1] for number in NUMBERS), replies
    if outcome == "trafficking_referral":
        assert HOTLINE in replies[-1]


@pytest.mark.parametrize("lang", LANGS)
def test_held_for_ransom_and_unpaid_hears_of_both(fs, lang):
    """A kidnapping on the way is named (and the U visa), and the pay numbers still end it."""
    _, replies, _, _ = screen(fs, lang, {"pay": "yes", "ransom": "yes"})
    said = plain(" ".join(replies))
    assert {"en": "kidnapping and extortion", "es": "secuestro y extorsion"}[lang] in said
    assert WAGES in replies[-1] and HOTLINE in replies[-1]


@pytest.mark.parametrize("lang", LANGS)
def test_not_sure_of_a_strong_sign_beside_low_pay_is_offered_the_hotline_for_it(fs, lang):
    """'Not sure' counts as a flag worth a referral (CONTENT.md 2): the pay
    outcome's hotline line is not only for those who cannot leave."""
    _, replies, _, _ = screen(fs, lang, {"pay": "yes", "sex": "not_sure"})
    last = plain(replies[-1])
    assert {"en": "unsure of anything", "es": "tiene dudas"}[lang] in last and HOTLINE in replies[-1]


@pytest.mark.parametrize("lang", LANGS)
def test_not_sure_to_everything_is_not_called_trafficking(fs, lang):
    everything = {f: "not_sure" for f in QUESTIONS - {"documents"}} | {"documents": "other"}
    outcomes, replies, _, _ = screen(fs, lang, everything)
    said = plain(" ".join(replies))
    assert outcomes == ["not_sure"]
    assert "may be human trafficking" not in said and "puede ser trata" not in said
    assert {"en": "ok not to be sure", "es": "esta bien tener dudas"}[lang] in said
    # Not sure of their age: the children's information too.
    assert {"en": "under 18 in the us", "es": "menores de 18 en ee uu"}[lang] in said


# What to do next, for the place the person is in: (a number that must be there,
# numbers that must not be, because that phone cannot reach them or the law is another).
PLACE_NUMBERS = {
    "in_us": ([HOTLINE], [MEXICO_LINE]),
    "in_mexico": ([MEXICO_LINE], [US_TEXT, WAGES, "1-800-422-4453", "1-800-799-7233"]),
    None: ([MEXICO_LINE, HOTLINE], [WAGES]),
    "place_not_sure": ([MEXICO_LINE, HOTLINE], [WAGES]),
}
OUTCOMES = [
    ("forced labor", {"force": "yes"}),
    ("sex", {"sex": "yes"}),
    ("drugs", {"drugs": "yes"}),
    ("held after crossing", {"paid_to_cross": "yes", "free_after": "no"}),
    ("child", {"under_18": "yes"}),
    ("child exploited", {"under_18": "yes", "sex": "yes"}),
    ("child at work", {"under_18": "yes", "pay": "yes"}),
    ("pay", {"pay": "yes"}),
    ("not sure", {"force": "not_sure"}),
    ("ransom", {"ransom": "yes"}),
    ("smuggling", {"paid_to_cross": "yes", "free_after": "yes"}),
    ("nothing", {}),
]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("place", list(PLACE_NUMBERS), ids=["US", "Mexico", "elsewhere", "not sure where"])
@pytest.mark.parametrize("answers", [pytest.param(a, id=label) for label, a in OUTCOMES])
def test_every_outcome_says_what_to_do_next_with_a_number_for_the_place(fs, lang, place, answers):
    outcomes, replies, _, _ = screen(fs, lang, answers, place=place)
    assert len(outcomes) == 1
    last = replies[-1]
    must, must_not = PLACE_NUMBERS[place]
    assert all(n in last for n in must), (must, last)
    said = " ".join(replies)
    assert not any(n in said for n in must_not), (must_not, replies)
    if MEXICO_LINE in last:
        assert MEXICAN_PHONE[lang] in plain(last)
    if place == "in_mexico":
        for us_only in ("T visa", "visa T", "U visa", "visa U", "$7.25", "ICE"):
            assert us_only not in said, us_only


# --- where the person is: one answer, kept correct ------------------------------------------------------------------

PLACE_FLAGS = {"in_us", "in_mexico", "elsewhere", "place_not_sure"}


def test_back_replaces_the_place_instead_of_adding_to_it(fs):
    chat = started(fs, "en")
    chat.script(OPT["screening"], ANSWER_NUMBER["yes"], where_option("in_mexico"))
    assert chat.session.flags.keys() & PLACE_FLAGS == {"in_mexico"}
    chat.send("BACK")
    assert chat.session.position == "screening.where"
    chat.send(where_option("in_us"))
    assert chat.session.flags.keys() & PLACE_FLAGS == {"in_us"}


@pytest.mark.parametrize("lang", LANGS)
def test_the_screening_again_from_another_place_gives_only_that_place(fs, lang):
    _, _, _, chat = screen(fs, lang, {"force": "yes"}, place="in_mexico")
    chat.send("MENU")
    chat.script(OPT["screening"], ANSWER_NUMBER["yes"], where_option("in_us"))
    assert chat.session.flags.keys() & PLACE_FLAGS == {"in_us"}
    while chat.session.state == "in_flow":
        node = fs.node(chat.session.position)
        turn = chat.send(id_option("mine") if node.kind == m.MENU else ANSWER_NUMBER["yes" if node.flag == "force" else "no"])
    assert HOTLINE in turn.replies[-1] and MEXICO_LINE not in " ".join(turn.replies)


def rights_pages(start: str) -> set[str]:
    """The rights pages reachable from ``start`` without answering `where` again."""
    seen, todo = set(), [start]
    while todo:
        here = todo.pop()
        if here in seen or not here.startswith("rights.") or here == "rights.where":
            continue
        seen.add(here)
        node = FS.node(here)
        if node.kind == m.BRANCH:
            continue  # `place`: leads where the recorded place says
        todo += [t for t, _ in node.targets()]
    return seen


@pytest.mark.parametrize("lang", LANGS)
def test_rights_follow_the_place(fs, lang):
    # In Mexico: no ICE forms, judges' warrants or $7.25, whichever way they go.
    mexico = " ".join(texts(lang)[p] for p in rights_pages("rights.menu_mexico"))
    for us_only in ("ICE", "$7.25", "1-866-487-9243", "T visa", "visa T", "U visa", "visa U"):
        assert us_only not in mexico, us_only
    us = " ".join(texts(lang)[p] for p in rights_pages("rights.menu"))
    assert "$7.25" in us and "ICE" in us and MEXICO_LINE not in us
    # After the screening, the rights menu is the one for where they said they are.
    for place, menu in (("in_mexico", "rights.menu_mexico"), ("in_us", "rights.menu")):
        _, _, _, chat = screen(fs, lang, {}, place=place)
        turn = chat.script("MENU", OPT["rights"])
        assert turn.replies[-1] == prompt(fs, menu, lang)


def test_rights_ask_the_place_once_when_nobody_said_it(fs):
    chat = started(fs, "en")
    assert chat.send(OPT["rights"]).replies == [prompt(fs, "rights.where", "en")]
    chat.send(where_option("in_mexico", "rights.where"))
    assert chat.session.position == "rights.menu_mexico"
    chat.send(option("rights.where", "rights.menu_mexico"))  # I am not in Mexico
    chat.send(where_option("in_us", "rights.where"))
    assert chat.session.position == "rights.menu"
    assert chat.session.flags.keys() & PLACE_FLAGS == {"in_us"}


# --- content the sources call for -------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_forced_labour_is_spoken_of_for_men_too(fs, lang):
    outcomes, replies, _, _ = screen(fs, lang, {"pay": "yes", "documents": "boss", "threats": "yes"})
    said = plain(" ".join(replies))
    assert outcomes == ["trafficking_referral"]
    # "for women and men": men too (CONTENT.md 7), and never "for men too" said to a woman (a review heard that).
    says = {"en": ["forced labor", "call immigration", "claim the pay", "t visa", "safe place", "women and men"],
            "es": ["trabajo forzado", "llamar a migracion", "reclamar el pago", "visa t", "lugar seguro", "mujeres y hombres"]}
    assert all(w in said for w in says[lang]), said


@pytest.mark.parametrize("lang", LANGS)
def test_the_t_visa_offered_for_forced_labour_says_it_is_for_trafficking(fs, lang):
    # A caller's-ear review: the forced-labour outcome offered a T visa and never said trafficking,
    # so nothing said why a visa for trafficking victims was theirs (CONTENT.md 1: forced labour is trafficking).
    _, replies, _, _ = screen(fs, lang, {"force": "yes"})
    offer = next(plain(r) for r in replies if ("visa t" if lang == "es" else "t visa") in plain(r))
    assert {"en": "victims of human trafficking", "es": "victimas de trata de personas"}[lang] in offer, offer


@pytest.mark.parametrize("lang", LANGS)
def test_a_minor_sent_to_work_hears_their_rights(fs, lang):
    outcomes, replies, _, _ = screen(fs, lang, {"under_18": "yes", "pay": "yes", "pay_later": "yes"})
    said = plain(" ".join(replies))
    assert outcomes == ["child_referral"]
    says = {"en": ["public school", "whatever your papers", "dangerous work", "debt", "1 800 203 7001"],
            "es": ["escuela publica", "tenga o no papeles", "trabajo peligroso", "deuda", "1 800 203 7001"]}
    assert all(w in said for w in says[lang]), said


@pytest.mark.parametrize("lang", LANGS)
def test_deception_pay_later_and_drugs_are_asked_and_named(fs, lang):
    for answers, words in (({"deceived": "yes"}, {"en": "lied to about the job", "es": "le enganen sobre el trabajo"}),
                           ({"pay_later": "yes"}, {"en": "paid later", "es": "le pagaran despues"}),
                           ({"drugs": "yes"}, {"en": "carry drugs", "es": "llevar droga"})):
        _, replies, _, _ = screen(fs, lang, answers)
        assert words[lang] in plain(" ".join(replies)), answers


def test_no_human_being_is_illegal_is_said_once_where_it_matters():
    for lang, words in (("en", "no human being is illegal"), ("es", "ningun ser humano es ilegal")):
        saying = [node for node, shown in texts(lang).items() if words in plain(shown)]
        assert saying == ["screening.referral"], saying


@pytest.mark.parametrize("lang", LANGS)
def test_the_safety_plan_covers_what_the_sources_advise(lang):
    plan = plain(" ".join(shown for node, shown in texts(lang).items() if node.startswith("safety.")))
    says = {"en": ["message previews", "disappearing messages", "your boss gave you the phone", "photos of your id",
                   "pay records", "by heart"],
            "es": ["vistas previas", "mensajes temporales", "se lo dio su patron", "fotos de su identificacion",
                   "recibos de pago", "de memoria"]}
    assert all(w in plan for w in says[lang]), plan


@pytest.mark.parametrize("node", ["screening.referral_us", "safety.privacy"])
@pytest.mark.parametrize("lang", LANGS)
def test_the_hotline_and_police_honestly(node, lang):
    says = plain(text(node, lang))
    assert {"en": "police only", "es": "no llama"}[lang] in says
    assert {"en": "in danger", "es": "peligro inmediato"}[lang] in says


@pytest.mark.parametrize("lang", LANGS)
def test_not_sure_it_is_safe_to_text_goes_on_with_how_to_erase(fs, lang):
    chat = started(fs, lang)
    chat.send(OPT["screening"])
    turn = chat.send(ANSWER_NUMBER["not_sure"])
    assert turn.replies[0] == fs.translate(lang, fs.node("screening.careful").text.msgid)
    assert chat.session.position == "screening.where"


@pytest.mark.parametrize("lang", LANGS)
def test_not_safe_to_text_asks_nothing(fs, lang):
    chat = started(fs, lang)
    chat.send(OPT["screening"])
    turn = chat.send(ANSWER_NUMBER["no"])
    assert [e.data["outcome"] for e in turn.events if e.kind == ev.OUTCOME] == ["not_safe_now"]
    assert chat.session.state == "closed" and chat.session.flags == {"safe_now": "no"}
    assert "911" in turn.replies[-1]


def test_every_outcome_is_reached_by_some_route():
    screening = FS.flows["screening"]
    outcomes = {n.outcome for n in screening.nodes if n.outcome} - {"not_safe_now"}
    assert outcomes == {o for _, _, o in ROUTES}


def test_the_routing_table_above_tries_every_answer():
    given = {(flag, answer) for _, answers, _ in ROUTES for flag, answer in answers.items()}
    assert {(f, "yes") for f in QUESTIONS - {"documents"}} <= given
    assert {(f, "not_sure") for f in QUESTIONS - {"documents"}} <= given
    assert {("documents", "boss"), ("documents", "other")} <= given


def test_docs_say_what_every_outcome_tells_the_person():
    docs = (REPO / "docs" / "CONTENT.md").read_text(encoding="utf-8")
    for outcome in {n.outcome for f in FS.flows.values() for n in f.nodes if n.outcome}:
        assert f"`{outcome}`" in docs, outcome
    assert "## What we do not say, and why" in docs


@pytest.mark.parametrize("paid_little, said", [("yes", True), ("no", False)])
def test_pay_owed_is_said_only_to_whoever_said_they_are_not_paid(paid_little, said):
    # A review: someone held and threatened, who said they are paid, read "You can claim the pay you are owed".
    from tests.fixtures_engine import started
    chat = started(FS, "en")
    chat.send("1")
    answers = {"screening.safe": "1", "screening.where": "1", "screening.threats": "1", "screening.documents": "1",
               "screening.pay": "1" if paid_little == "yes" else "2"}
    replies = []
    for _ in range(20):
        if chat.session.state == "closed":
            break
        replies += chat.send(answers.get(chat.session.position, "2")).replies
    assert any("claim the pay you are owed" in r for r in replies) == said
    # Threatened, and no sign about work or pay: not called forced labour, and the violence
    # line is given (a woman whose husband threatened to call immigration had neither).
    assert any("forced labor" in r for r in replies) == said
    assert any("1-800-799-7233" in r for r in replies) != said


@pytest.mark.parametrize("need", ["numbers.violence", "numbers.wages", "numbers.emergency"])
def test_someone_in_mexico_who_asks_for_numbers_gets_one_that_answers_a_mexican_phone(need):
    # Before: "Violence at home" and "Unpaid wages" gave only US lines, and "Emergency" no Mexican one.
    chat = Chat(FS)
    chat.script("hola", option("screening", fs=FS), "1", "Tijuana")  # "¿Dónde está ahora?"
    assert chat.session.flags.get("in_mexico") == "yes"
    chat.script("MENU", option("numbers", fs=FS))
    said = "\n".join(chat.send(option(need, menu="numbers.by_need", fs=FS)).replies)
    assert MEXICO_LINE in said and "celular mexicano" in plain(said), said
    assert "1-800-799-7233" not in said and "1-866-487-9243" not in said, said  # the US violence and wage lines


@pytest.mark.parametrize("lang", LANGS)
def test_no_promise_the_hotline_cannot_keep_to_a_child(lang):
    # "Not sure" reaches children too, and the hotline tells the authorities when it thinks a
    # child is being hurt: "you decide" was not theirs to promise (CONTENT.md 7). Help without
    # the police is for child victims from other countries (HHS, CONTENT.md 3), not every child.
    unsure = plain(text("screening.unsure", lang))
    assert {"en": "you decide", "es": "usted decide"}[lang] not in unsure, unsure
    children = plain(text("rights.children_more", lang))
    assert {"en": "from other countries", "es": "de otro pais"}[lang] in children, children


@pytest.mark.parametrize("lang", LANGS)
def test_not_safe_now_says_the_hotline_is_not_immigration_either(lang):
    assert {"en": "not police or immigration", "es": "no es policia ni migracion"}[lang] in plain(text("screening.later", lang))


def test_every_message_that_gives_the_us_text_line_says_it_takes_texts_from_us_phones():
    # 233733 is a US short code (CONTENT.md 7); five screens "in the US" gave it bare,
    # and many there have a foreign SIM or only WhatsApp.
    bare = [(node, lang) for node, lang, shown in MESSAGES if US_TEXT in shown and not says_us_text_line_is_for_us_phones(shown)]
    assert bare == []


@pytest.mark.parametrize("lang", LANGS)
def test_the_numbers_come_in_messages_of_at_most_the_320_characters_twilio_advises(lang):
    # Three GSM-7 segments hold 459: two English directories went out at 420 characters.
    longest = max(len(message) for f in FS.flows.values() for node in f.nodes if node.kind == m.DIRECTORY
                  for message in render.directory(FS, node, lang))
    assert longest <= 320, longest
