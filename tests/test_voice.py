"""Phone calls (issue 20): golden call transcripts, TwiML Twilio documents, signatures, failure, privacy.

Each ``tests/calls/*.yaml`` is a call as a caller lives it::

    description: what this call shows
    on_duty: false            # optional: is someone on duty (with VOICE_RESPONDER_NUMBER set)?
    texted_before: en         # optional: this number has an earlier text conversation in that language
    turns:
      - start: true           # the call comes in (nothing pressed yet)
        heard:
          - "[es] Para español, oprima 1."
      - press: "1"            # a key of the keypad
      - say: "sí"             # words (Twilio's SpeechResult)
      - silence: true         # nothing heard: Twilio follows the <Redirect>
      - dial: completed       # how the <Dial> went (DialCallStatus)
      - hang_up: true         # the status callback: the call is over

``heard`` is every ``<Say>`` in order as ``[lang] text`` (``[play] url`` for
recorded audio), then ``<dial NUMBER>`` or ``<hang up>``. Every request goes
through the real webhook, signed with the twilio library's RequestValidator,
with the real store on the test Redis; each key, speech or silence is posted
to the URL the previous answer named (``<Gather action>``, ``<Redirect>``,
``<Dial action>``), exactly as Twilio does. After ``hang_up`` nothing of the
call may be left in Redis.

When flows or catalogs change on purpose, regenerate and review the diff::

    pytest tests/test_voice.py --update-golden
    git diff tests/calls/
"""
from __future__ import annotations

import logging
import socket
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from bot import create_app
from bot.channels import voice as twiml
from bot.engine import render
from bot.engine import voice as said_aloud
from bot.config import TestConfig
from bot.voice_calls import QUIET_SILENCES
from tests.helpers import everything_stored, inbound, post_signed, real_flows, sign, stream_events
from tests.servers import wait_until
from tests.fixtures_console import post_form, sign_in
from tests.fixtures_voice import CALLER, HELPLINE_NUMBER, RESPONDER, VOICE, Call, new_call_sid, post, start_in

REPO = Path(__file__).resolve().parents[1]
CALLS = REPO / "tests" / "calls"
FILES = sorted(CALLS.glob("*.yaml"))

REQUIRED = [
    f"{lang}_{name}" for lang in ("es", "en")
    for name in ("main_menu_and_screening", "numbers_repeat_back", "person_on_duty", "person_off_duty")
] + ["en_language_from_earlier_texts", "es_speech"]


def test_config_override_reaches_the_app(call_app):
    assert call_app.config["VOICE_RESPONDER_NUMBER"] == RESPONDER


# --- the runner ---------------------------------------------------------------------------------------


def read_call(path: Path) -> dict:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    assert isinstance(data, dict) and "turns" in data and "description" in data, path.name
    return data


def run_call(app, data: dict) -> list[list[str]]:
    if data.get("on_duty") == "true":
        app.extensions["helpline"].on_duty = lambda: True
    else:
        app.extensions["helpline"].on_duty = lambda: False
    if data.get("texted_before"):
        word = {"en": "hello", "es": "hola"}[data["texted_before"]]
        resp = post_signed(app.test_client(), "/twilio/messages", inbound(word, sender=CALLER))
        assert resp.status_code == 200
    call = Call(app)
    heard = []
    for turn in data["turns"]:
        if "start" in turn:
            heard.append(call.start())
        elif "press" in turn:
            heard.append(call.press(turn["press"]))
        elif "say" in turn:
            heard.append(call.say(turn["say"]))
        elif "silence" in turn:
            heard.append(call.silence())
        elif "dial" in turn:
            heard.append(call.dialed(turn["dial"]))
        elif "hang_up" in turn:
            heard.append(call.hang_up())
            r = app.extensions["store"].r
            left = [k for k in r.keys("*") if call.cid in (k.decode() if isinstance(k, bytes) else k)]
            assert left == [], f"the call's keys outlived the hang-up: {left}"
        else:
            raise AssertionError(f"unknown turn {turn}")
    return heard, call


def write_call(path: Path, data: dict, heard: list[list[str]]) -> None:
    text = path.read_text(encoding="utf-8")
    head = text[: text.index("\nturns:") + 1]
    out = ["turns:"]
    for turn, said in zip(data["turns"], heard):
        (key, value), = [(k, v) for k, v in turn.items() if k != "heard"]
        out.append(f"  - {key}: {yaml.safe_dump(value, allow_unicode=True, default_style=None).strip().removesuffix(chr(10) + '...')}")
        if said:
            out.append("    heard:")
            out += [f"      - {yaml.safe_dump(line, allow_unicode=True, width=10_000).strip().removesuffix(chr(10) + '...')}"
                    for line in said]
        else:
            out.append("    heard: []")
    path.write_text(head + "\n".join(out) + "\n", encoding="utf-8")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_golden_call(path, call_app, request):
    data = read_call(path)
    heard, call = run_call(call_app, data)
    for xml in call.answers:
        assert_documented_twiml(xml)
    if request.config.getoption("--update-golden"):
        write_call(path, data, heard)
        data = read_call(path)
    for i, (turn, said) in enumerate(zip(data["turns"], heard)):
        assert said == list(turn.get("heard") or []), f"{path.name}, turn {i + 1} ({turn}): heard\n" + "\n".join(said)


def test_every_required_call_has_a_transcript():
    assert sorted(set(REQUIRED) - {p.stem for p in FILES}) == []


# --- TwiML: only what Twilio documents ---------------------------------------------------------------

# Verbs and attributes from Twilio's TwiML Voice reference (twilio.com/docs/voice/twiml): the
# ones this line may use, with every attribute Twilio documents for them. <Record> is not one.
DOCUMENTED = {
    "Response": (set(), {"Gather", "Say", "Play", "Dial", "Redirect", "Hangup", "Pause"}),
    "Gather": ({"action", "actionOnEmptyResult", "enhanced", "finishOnKey", "hints", "input", "language", "method",
                "numDigits", "partialResultCallback", "partialResultCallbackMethod", "profanityFilter",
                "speechModel", "speechTimeout", "timeout", "bargeIn", "debug", "maxSpeechTime"},
               {"Say", "Play", "Pause"}),
    "Say": ({"voice", "language", "loop"}, set()),
    "Play": ({"loop", "digits"}, set()),
    "Pause": ({"length"}, set()),
    "Dial": ({"action", "answerOnBridge", "callerId", "hangupOnStar", "method", "ringTone", "timeLimit", "timeout",
              "sequential", "events"}, {"Number"}),  # never record, trim or recordingStatusCallback
    "Number": ({"sendDigits", "url", "method", "statusCallback", "statusCallbackEvent", "statusCallbackMethod"},
               set()),
    "Redirect": ({"method"}, set()),
    "Hangup": (set(), set()),
}
GATHER_INPUTS = {"dtmf", "speech", "dtmf speech"}


def assert_documented_twiml(xml: str) -> None:
    root = ET.fromstring(xml)
    assert root.tag == "Response"

    def check(el) -> None:
        attrs, children = DOCUMENTED[el.tag]
        assert set(el.attrib) <= attrs, f"<{el.tag}> with undocumented {set(el.attrib) - attrs}"
        for child in el:
            assert child.tag in children, f"<{child.tag}> inside <{el.tag}>"
            check(child)
        if el.tag == "Gather":
            assert el.get("input") in GATHER_INPUTS and el.get("method") == "POST"
            assert el.get("language") in ("es-MX", "en-US")
            assert el.get("action", "").startswith("http://localhost/twilio/voice")
        if el.tag == "Say":
            assert el.get("voice") in ("Polly.Mia", "Polly.Joanna") and (el.text or "").strip()
        if el.tag in ("Dial", "Redirect"):
            assert el.get("method") == "POST"

    check(root)
    assert "Record" not in xml and "record=" not in xml.lower()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_line_reached_only_by_web_chat_is_not_read_on_a_call(lang):
    """The SMS numbers page gives the hotline's web chat (for phones that are
    not US ones); a call reads the lines that can be called or texted only."""
    fs = real_flows()
    node = fs.node("numbers.exploitation_lines")
    chat_only = [e for e in node.entries if all(c.kind == "chat" for c in fs.hotlines[e].contacts)]
    assert chat_only, "the numbers page gives a web chat"
    written = "\n".join(render.directory(fs, node, lang))
    said = " ".join(line.value for line in said_aloud.directory(fs, node, lang))
    for entry in chat_only:
        address = fs.hotlines[entry].contacts[0].address
        assert address in written and address not in said
    assert "7, 8, 8, 8" in said  # the hotline itself, digit by digit


def test_the_twiml_check_refuses_what_twilio_does_not_document():
    for bad in ('<Response><Record/></Response>', '<Response><Dial record="record-from-answer">+1</Dial></Response>',
                '<Response><Gather><Dial>+1</Dial></Gather></Response>', '<Response><Say colour="red">x</Say></Response>'):
        with pytest.raises(AssertionError):
            assert_documented_twiml(bad)


# --- signatures ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [VOICE, VOICE + "/status", VOICE + "/dialed?to=person"])
def test_unsigned_or_missigned_requests_are_refused(call_app, path):
    client = call_app.test_client()
    form = {"CallSid": new_call_sid(), "From": CALLER, "To": HELPLINE_NUMBER, "CallStatus": "completed"}
    assert client.post(path, data=form).status_code == 403
    wrong = {"X-Twilio-Signature": sign("http://localhost/twilio/messages", form)}
    assert client.post(path, data=form, headers=wrong).status_code == 403
    other_token = {"X-Twilio-Signature": sign("http://localhost" + path, form, token="not-the-token")}
    assert client.post(path, data=form, headers=other_token).status_code == 403
    assert call_app.extensions["store"].r.dbsize() == 0  # nothing stored


def test_the_gather_urls_are_the_apps_own_and_signed_like_the_rest(call_app):
    """A key posted to the <Gather action> is accepted only when signed for that
    exact URL, query included: a key cannot be moved to another question."""
    call = Call(call_app)
    call.start()
    action = call.last.action
    assert action == "http://localhost/twilio/voice?at=language"
    form = {**call.form, "Digits": "1"}
    signed_without_query = {"X-Twilio-Signature": sign("http://localhost/twilio/voice", form)}
    resp = call.client.post("/twilio/voice?at=language", data=form, headers=signed_without_query)
    assert resp.status_code == 403


# --- keys, speech, hang-up -----------------------------------------------------------------------------


def test_hanging_up_erases_the_call_and_a_later_text_is_a_fresh_conversation(call_app):
    call = Call(call_app)
    start_in(call, "es")
    call.press("1")  # the screening
    call.press("1")  # safe to talk: yes
    store = call_app.extensions["store"]
    assert store.load(call.cid) is not None and store.call_prompts.get(call.cid) is not None
    call.hang_up()
    assert store.load(call.cid) is None and store.call_prompts.get(call.cid) is None
    resp = post_signed(call.client, "/twilio/messages", inbound("hola", sender=CALLER))
    assert "Hola. Esta es una línea" in resp.data.decode()  # the greeting: a new conversation


@pytest.mark.parametrize("status", ["busy", "failed", "no-answer", "canceled"])
def test_a_call_that_ends_any_other_way_is_erased_too(call_app, status):
    call = Call(call_app)
    start_in(call, "en")
    resp = post(call.client, "http://localhost/twilio/voice/status", {**call.form, "CallStatus": status})
    assert resp.status_code == 204
    assert call_app.extensions["store"].load(call.cid) is None


def test_a_call_in_progress_is_not_erased_by_a_ringing_status(call_app):
    call = Call(call_app)
    start_in(call, "en")
    post(call.client, "http://localhost/twilio/voice/status", {**call.form, "CallStatus": "in-progress"})
    assert call_app.extensions["store"].load(call.cid) is not None


def test_the_call_counts_in_the_figures_as_the_voice_channel(call_app, redis_client):
    call = Call(call_app)
    start_in(call, "es")
    call.press("4")  # numbers
    events = stream_events(redis_client)
    assert events and {e.get("ch") for e in events} == {"voice"}
    kinds = [e["kind"] for e in events]
    assert "started" in kinds and "visited" in kinds


def test_the_figures_count_calls_as_their_own_channel(call_app, redis_client):
    call = Call(call_app)
    start_in(call, "es")
    call.press("4")
    call.hang_up()
    # Hanging up erases the call: its turns leave the events stream once the figures have counted them.
    wait_until(call_app.extensions["background"].idle, timeout=15)
    assert stream_events(redis_client) == []
    figures = call_app.extensions["ops"].figures
    figures.catch_up()
    period = figures.read(figures.today(), figures.today())
    assert period.group("conv|ch") == {"voice": 1}
    assert period.total["visit|numbers|by_need"] == 1
    assert period.total["exit"] == 1


def test_stop_said_in_a_call_ends_and_erases_it_and_leaves_no_opt_out(call_app):
    call = Call(call_app)
    start_in(call, "en")
    heard = call.say("stop")
    assert heard[-1] == "<hang up>"
    r = call_app.extensions["store"].r
    assert [k for k in r.keys("*") if call.cid in k.decode()] == []


@pytest.mark.parametrize("said", ["Baja", "estoy en Baja"])
def test_baja_said_where_the_call_asks_where_they_are_is_baja_california(call_app, said):
    # Before: BAJA, an opt-out word, ended and erased the call of someone in Tijuana.
    call = Call(call_app)
    start_in(call, "es")
    call.press("1")  # the screening
    call.press("1")  # safe to talk: "¿Dónde está ahora?"
    heard = call.say(said)
    assert "<hang up>" not in heard and not any("se borró" in line for line in heard), heard


@pytest.mark.parametrize("words, goodbye", [("stop", "[en] Done. This call is erased."),
                                            ("alto", "[es] Listo. Esta llamada se borró.")])
def test_stop_at_the_first_question_says_goodbye_in_the_words_language(call_app, words, goodbye):
    call = Call(call_app)
    call.start()
    heard = call.say(words)
    assert heard[0].startswith(goodbye) and heard[-1] == "<hang up>", heard


@pytest.mark.parametrize("words", ["salir", "sí"])
def test_speech_twilio_is_far_from_sure_of_is_asked_again_never_acted_on(call_app, words):
    # Before: a "salir" heard at 0.03 erased the call; a "sí" at 0.05 at "¿Tiene menos de 18 años?"
    # sent an adult down the children's questions.
    call = Call(call_app)
    start_in(call, "es")
    call.press("1")  # the screening
    call.press("1")  # safe to talk
    asked = call.press("1")  # in the US: "¿Tiene menos de 18 años?"
    heard = call.say(words, confidence="0.05")
    assert heard[0] == "[es] Para no equivocarnos, esta es otra vez la pregunta." and "<hang up>" not in heard, heard
    assert heard[1:] == asked  # the question again, as it was asked
    assert call.say(words, confidence="0") != heard  # no Confidence given (0): acted on


def test_unsure_speech_after_the_intro_gets_the_question_not_the_intro_again(call_app):
    # "Here is the question again" was followed by the whole of what came before it: the
    # screening's intro, with its numbers read twice, most of a minute.
    call = Call(call_app)
    start_in(call, "es")
    intro = call.press("1")  # the screening: its intro, then "¿Puede hablar ahora sin peligro?"
    heard = call.say("sí", confidence="0.1")
    assert heard[0] == "[es] Para no equivocarnos, esta es otra vez la pregunta.", heard
    assert heard[1:] == intro[1:] and intro[0] not in heard, (intro, heard)  # the question and its keys, alone
    assert call.press("9") == intro  # 9 still says all of it


@pytest.mark.parametrize("lang, number", [("es", "uno ocho ocho ocho"), ("es", "1 888 373 7888"),
                                          ("en", "one eight eight eight three seven three")])
def test_a_number_said_back_at_the_hotline_offer_keeps_the_offer(call_app, lang, number):
    # A caller writes a number down, repeating it aloud: the <Gather> hears it. It was read at the
    # main menu behind the offer ("not understood", its keys), and a 1 meant for the hotline then
    # started the screening.
    call = Call(call_app)
    start_in(call, lang)
    offer = call.press("0")  # nobody on duty: the numbers, and the hotline offered
    assert call.say(number) == offer
    assert call.press("1")[-1].startswith("<dial"), "1 still puts them through"


@pytest.mark.parametrize("said", ["1 888 373", "uno ocho ocho ocho"])
def test_a_number_said_back_at_a_menu_is_no_pick(call_app, said):
    call = Call(call_app)
    start_in(call, "es")
    menu = call.press("#")
    assert call.say(said) == menu  # "1 888 373" had picked the main menu's 1


def test_911_said_as_digits_is_still_the_emergency(call_app):
    call = Call(call_app)
    start_in(call, "es")
    heard = call.say("9 1 1")
    assert any("llame usted al 9, 1, 1" in line for line in heard), heard


def test_unsure_speech_in_the_quiet_keeps_the_quiet(call_app):
    # The quiet follows silence, or someone near: speech Twilio is unsure of is likely
    # someone else's, and the question is never said aloud there.
    call = Call(call_app)
    start_in(call, "en")
    call.press("1")  # the screening: "Is it safe for you to talk right now?"
    call.silence()  # "Are you still there?"
    assert call.silence() == []  # the quiet
    assert call.say("yes", confidence="0.05") == []


def test_a_caller_who_fell_quiet_at_the_hotline_offer_gets_it_back(call_app):
    # Before: after the quiet, 9 gave the main menu behind the offer, and a 1 meant
    # for the hotline started the screening.
    call = Call(call_app)
    start_in(call, "en")
    offer = call.press("0")  # nobody on duty: the numbers, and the hotline offered
    assert offer[-1].startswith("[en] Press 1 now to be put through to the US national hotline.")
    call.silence()  # "Are you still there?"
    assert call.silence() == []  # the quiet: nothing said
    assert call.press("9") == offer
    assert call.press("1")[-1] == "<dial +18883737888>"


def test_at_the_hotline_offer_only_what_it_offers_is_done(call_app):
    # Before: 2 read the main menu's page on smuggling aloud (a menu never heard), and
    # "no thanks" was a miss that read out options of that menu.
    call = Call(call_app)
    start_in(call, "en")
    offer = call.press("0")  # nobody on duty: the numbers, and the hotline offered
    assert call.press("2") == offer
    assert call.say("no thanks")[0] == "[en] What would you like to do?"  # as the pound key


def test_silence_at_the_first_question_says_goodbye_in_every_language_offered(call_app):
    # Before: only in the first language (Spanish), with the numbers an English speaker needed.
    call = Call(call_app)
    call.start()
    heard = []
    for _ in range(3):
        heard = call.silence()
    assert heard[-1] == "<hang up>"
    assert heard[0].startswith("[es] No oímos nada") and heard[1].startswith("[en] We did not hear anything"), heard


@pytest.mark.parametrize("late", ["a key", "the silence redirect", "the language question"])
def test_a_request_after_the_hang_up_does_not_start_the_call_again(call_app, late):
    # A key pressed as the caller hung up: Twilio may post the <Gather>'s action after the
    # hang-up's callback erased the call. Before: a new session for the call, kept a day, and
    # a row in the live list for a call nobody was on.
    call = Call(call_app)
    if late == "the language question":
        call.start()  # "Para español, oprima 1": no session yet
    else:
        start_in(call, "es")
        call.press("1")
    call.hang_up()
    heard = {"a key": lambda: call.press("2"), "the silence redirect": call.silence,
             "the language question": lambda: call.press("1")}[late]()
    assert heard == ["<hang up>"]
    store = call_app.extensions["store"]
    assert store.load(call.cid) is None and store.call_prompts.get(call.cid) is None
    assert [k for k in store.r.keys("*") if call.cid in k.decode()] == []
    assert call.cid not in {cid for cid, _ in store.live_index.page(100)[0]}  # no row for a call nobody is on


@pytest.mark.parametrize("late", ["a key", "the silence redirect"])
def test_a_request_after_salir_does_not_start_the_call_again(call_app, late):
    # SALIR said erases the call and hangs up; a request Twilio still makes for it (a key
    # pressed as it ended, a retry) came before its hang-up's callback. Before: a new session,
    # a row in the live list, and the text's greeting ("Escriba SALIR...") read aloud.
    call = Call(call_app)
    start_in(call, "es")
    call.press("1")
    action, redirect = call.last.action, call.last.redirect
    assert call.say("salir") == ["[es] Listo. Esta llamada se borró. Adiós.", "<hang up>"]
    url, extra = {"a key": (action, {"Digits": "1"}), "the silence redirect": (redirect, {})}[late]
    heard = twiml.heard(post(call.client, url, {**call.form, "CallStatus": "in-progress", **extra}).data.decode())
    assert heard.said == [] and heard.hangup
    store = call_app.extensions["store"]
    assert [k for k in store.r.keys("*") if call.cid in k.decode()] == []
    assert call.cid not in {cid for cid, _ in store.live_index.page(100)[0]}


@pytest.mark.parametrize("status", ["busy", "no-answer"])
def test_the_dials_report_after_the_hang_up_writes_nothing_back(call_app, status):
    # Twilio reports how a <Dial> went at its action URL even when the caller hung up during it,
    # in no set order with the hang-up's own callback. Before: what the call "said" then was
    # kept again for 4 h, after the hang-up had erased the call.
    call = Call(call_app)
    start_in(call, "en")
    call.press("0")  # nobody on duty: the numbers, and the hotline offered
    assert call.press("1")[-1] == "<dial +18883737888>"
    call.hang_up()
    assert call.dialed(status) == ["<hang up>"]
    r = call_app.extensions["store"].r
    assert [k for k in r.keys("*") if call.cid in k.decode()] == []


def test_speech_and_the_callers_number_are_never_stored_or_logged(call_app, redis_client, caplog):
    caplog.set_level(logging.DEBUG)
    call = Call(call_app)
    start_in(call, "es")
    call.say("me quitaron el pasaporte")
    call.say("quiero hablar con una persona")
    stored = everything_stored(redis_client)
    assert "Qué tipo de ayuda" in stored or "voice" in stored  # it reads what is there
    assert "pasaporte" not in stored and "quiero hablar" not in stored
    assert CALLER[1:] not in stored and call.form["CallSid"] not in stored
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "pasaporte" not in logged and CALLER[1:] not in logged


@pytest.mark.parametrize("key", ["²", "٣", "½"])
def test_a_key_no_keypad_has_is_no_key(call_app, key):
    # "²" passed str.isdigit() and failed int() at the language question: the fail-safe, and
    # the call put down. Twilio sends only 0-9, * and #; anything else is read as nothing.
    call = Call(call_app)
    first = call.start()
    assert call.press(key) == first
    start_in(call, "en")
    assert call.press(key)[-1] != "<hang up>"


def test_odd_input_gets_an_answer_never_a_500(call_app):
    call = Call(call_app)
    start_in(call, "en")
    for extra in ({"Digits": "12345"}, {"Digits": "\x00"}, {"SpeechResult": "🙏" * 2000}, {"Digits": "w"},
                  {"SpeechResult": ""}):
        resp = post(call.client, call.last.action, {**call.form, **extra})
        assert resp.status_code == 200 and twiml.heard(resp.data.decode()).action
    no_sid = post(call.client, "http://localhost/twilio/voice", {"From": CALLER})
    assert twiml.heard(no_sid.data.decode()).hangup


# --- failure -------------------------------------------------------------------------------------------


# A hung Redis costs each request its timeouts (16 s in all here): with the slow tests, as test_faults.py's are.
@pytest.fixture(params=["closed port", pytest.param("server never answers", marks=pytest.mark.slow)])
def redis_down_url(request):
    if request.param == "closed port":
        yield "redis://127.0.0.1:1/0"
        return
    sock = socket.socket()  # accepts connections and never answers: a hung Redis
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    sock.close()


def test_without_redis_a_call_hears_the_failsafe_in_both_languages_and_ends(redis_down_url, tmp_path, caplog):
    app = create_app(TestConfig(redis_down_url, str(tmp_path)))
    client = app.test_client()
    form = {"CallSid": new_call_sid(), "From": CALLER, "To": HELPLINE_NUMBER}
    for url, extra in (("http://localhost/twilio/voice", {}), ("http://localhost/twilio/voice?at=language", {"Digits": "1"}),
                       ("http://localhost/twilio/voice", {"SpeechResult": "ayuda"})):
        started = time.monotonic()
        resp = post(client, url, {**form, **extra})
        assert time.monotonic() - started < 5.0  # Twilio waits 15 s for a voice webhook
        assert resp.status_code == 200
        assert_documented_twiml(resp.data.decode())
        got = twiml.heard(resp.data.decode())
        assert got.hangup and {lang for lang, _ in got.said} == {"es", "en"}
        said = " ".join(text for _, text in got.said)
        assert "9, 1, 1" in said and "1, 8, 8, 8, 3, 7, 3, 7, 8, 8, 8" in said
    status = post(client, "http://localhost/twilio/voice/status", {**form, "CallStatus": "completed"})
    assert status.status_code == 204  # kept in the spool, done once Redis answers
    assert "ayuda" not in "\n".join(r.getMessage() for r in caplog.records)


def test_voice_languages_the_flows_do_not_have_offer_the_flows_languages(redis_client, redis_url, tmp_path, caplog):
    # VOICE_LANGUAGES=fr,xx offered nothing: silence three times, then a dead line.
    caplog.set_level(logging.WARNING)
    app = create_app(TestConfig(redis_url, str(tmp_path), VOICE_LANGUAGES=("fr", "xx")))
    assert any("VOICE_LANGUAGES names fr, xx" in r.getMessage() and "calls offer es, en" in r.getMessage()
               for r in caplog.records)
    heard = Call(app).start()
    assert [line[:5] for line in heard] == ["[es] ", "[en] "], heard


@pytest.mark.parametrize("name, value", [("VOICE_LANGUAGES", "es-MX,en-US"), ("VOICE_LANGUAGES", " , "),
                                         ("VOICE_HOTLINE_NUMBER", "not-a-number"),
                                         ("VOICE_RESPONDER_NUMBER", "12"), ("VOICE_RESPONDER_NUMBER", "555-0199")])
def test_a_call_setting_that_cannot_work_stops_the_start_saying_what_to_set(monkeypatch, name, value):
    # A hotline number that is not a number put callers through to "<Dial>not-a-number</Dial>".
    from bot.config import Config

    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        Config()
    assert name in str(stopped.value) and "README" in str(stopped.value)


def test_the_static_failsafe_is_said_when_even_the_flows_cannot_be():
    got = twiml.heard(twiml.failsafe({"es": "Polly.Mia", "en": "Polly.Joanna"}))
    assert got.hangup and [lang for lang, _ in got.said] == ["en", "es"]
    assert all("1, 8, 8, 8, 3, 7, 3, 7, 8, 8, 8" in text and "9, 1, 1" in text for _, text in got.said)


# --- the terminal call -----------------------------------------------------------------------------------


def test_flask_call_speaks_the_menu_and_takes_keys_and_words(call_app):
    result = call_app.test_cli_runner().invoke(args=["call", "--lang", "es"], input="4\n9\nayuda\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "[es] Para español, oprima 1." in out and "[en] For English, press 2." in out
    assert "[es] ¿Qué desea hacer?" in out and "Oprima 4: Números de ayuda." in out
    assert out.count("[es] ¿Qué tipo de ayuda necesita?") == 3  # 4, then 9 repeated it, then after AYUDA
    assert "Oprima el número de una opción, o dígalo." in out  # AYUDA, said
    assert "(you hung up: the call is erased)" in out
    # In the simulator's key space: nothing of it among live sessions.
    assert call_app.extensions["store"].live_index.count() == 0


def test_asked_to_say_it_again_after_a_miss_says_the_question_not_the_miss(call_app):
    # A review: "mande" after "Perdón, no le entendí" said "Perdón, no le entendí" again.
    call = Call(call_app)
    start_in(call, "es")
    menu = call.press("#")
    assert call.say("qué es eso de oprima")[0].startswith("[es] Perdón, no le entendí.")
    assert call.say("mande") == menu


def test_the_numbers_are_said_again_after_a_miss_and_at_the_last_screen(call_app):
    # A review of callers: 9 after a miss at "¿Y ahora?" said only "¿Y ahora?", and at the last screen
    # "¿cómo dice?" went to the main menu: the number was never heard again. (Any other words there
    # go on: "ya puedo" after "not safe now" is not that screen again.)
    call = Call(call_app)
    start_in(call, "es")
    call.press("4")
    numbers = call.press("2")  # the emergency numbers, then "¿Y ahora?"
    assert any("9, 1, 1" in line for line in numbers)
    assert call.say("banana")[0].startswith("[es] Perdón, no le entendí.")
    assert call.press("9") == numbers
    thanks = call.say("gracias")  # a last screen: the hotline, and "9 para volver a oír esto"
    assert any("1, 8, 8, 8" in line for line in thanks)
    assert call.say("¿cómo dice?") == thanks
    assert "[es] ¿Dónde está ahora?" in call.say("me pagan poco")  # what the engine reads goes on


@pytest.mark.parametrize("lang, words", [("es", "uno"), ("es", "sí por favor"), ("en", "yes please")])
def test_the_offer_of_the_national_hotline_is_taken_in_words(call_app, lang, words):
    # A review: "uno" started the screening (option 1 of the menu) and "sí" was not understood.
    call = Call(call_app)
    start_in(call, lang)
    call.press("0")  # nobody on duty: the numbers, and 1 to be put through
    assert call.say(words)[-1] == "<dial +18883737888>"


@pytest.mark.parametrize("lang", ["es", "en"])
def test_the_last_screen_of_a_path_offers_to_put_the_caller_through_to_the_hotline(call_app, lang):
    # A caller who had just heard what happened to them was told the hotline's eleven digits
    # once more and had to hang up to dial them; 1 there went to the main menu.
    call = Call(call_app)
    start_in(call, lang)
    call.press("1")  # What happened to me
    call.press("1")  # safe to talk
    last = call.press("1")  # in the US; then 2 to every question, to the outcome
    offer = {"es": "[es] Oprima 1 ahora para que le comuniquemos con la línea nacional de Estados Unidos.",
             "en": "[en] Press 1 now to be put through to the US national hotline."}[lang]
    for _ in range(15):
        if last[-1].startswith(offer):
            break
        last = call.press("2")
    assert last[-1].startswith(offer) and any("1, 8, 8, 8, 3, 7, 3, 7, 8, 8, 8" in line for line in last)
    assert call.last.action == "http://localhost/twilio/voice?at=hotline"
    assert call.press("9") == last  # heard again, the offer with it
    assert call.press("1")[-1] == "<dial +18883737888>"
    busy = call.dialed("busy")  # not "nobody from our team can answer", nor "the hotline answers day and night"
    assert busy[0] == {"es": "[es] La línea nacional de Estados Unidos no contestó esta vez. Llame otra vez en unos minutos: "
                             "1, 8, 8, 8, 3, 7, 3, 7, 8, 8, 8. Desde un celular mexicano: 8, 0, 0, 5, 5, 3, 3, 0, 0, 0. "
                             "En peligro, llame usted al 9, 1, 1. "
                             "Otra vez: 1, 8, 8, 8, 3, 7, 3, 7, 8, 8, 8; 8, 0, 0, 5, 5, 3, 3, 0, 0, 0; 9, 1, 1.",
                       "en": "[en] The US national hotline did not answer just now. Please call it again in a few "
                             "minutes: 1, 8, 8, 8, 3, 7, 3, 7, 8, 8, 8. From a Mexican phone: 8, 0, 0, 5, 5, 3, 3, 0, 0, 0. "
                             "In danger, call 9, 1, 1 yourself. "
                             "Again: 1, 8, 8, 8, 3, 7, 3, 7, 8, 8, 8; 8, 0, 0, 5, 5, 3, 3, 0, 0, 0; 9, 1, 1."}[lang]
    assert busy[-1].startswith(("[es] Oprima 1:", "[en] Press 1:"))  # then the main menu
    # A key answers the menu just read. Before, the first was lost: the path had ended, and it only reopened it.
    assert call.press("4")[0].startswith({"es": "[es] ¿Qué tipo de ayuda necesita?", "en": "[en] What kind of help do you need?"}[lang])


@pytest.mark.parametrize("lang", ["es", "en"])
def test_a_caller_who_says_it_is_not_safe_to_talk_is_not_offered_a_put_through(call_app, lang):
    # "Hang up now to erase this call", then "Press 1 now to be put through": talking, which they just said
    # they cannot do. Their screen ends with 9 and pound only, and 1 there dials nobody.
    call = Call(call_app)
    start_in(call, lang)
    call.press("1")  # What happened to me
    last = call.press("2")  # not safe to talk
    assert last[-1] == {"es": "[es] Oprima 9 para volver a oír esto, o numeral para el menú principal.",
                        "en": "[en] Press 9 to hear this again, or pound for the main menu."}[lang]
    assert any("9, 1, 1" in line for line in last) and any("1, 8, 8, 8, 3, 7, 3, 7, 8, 8, 8" in line for line in last)
    assert "at=hotline" not in call.last.action
    assert call.press("9") == last
    assert not any(line.startswith("<dial") for line in call.press("1"))


# A yes that goes on is read as the call reads it (an adversarial review had these put through).
@pytest.mark.parametrize("words", ["no", "sí, pero no", "sí, él ya llegó", "sí, pero después", "sí gracias, adiós",
                                   "sí, repítame el número"])
def test_a_no_to_the_national_hotline_puts_nobody_through(call_app, words):
    call = Call(call_app)
    start_in(call, "es")
    call.press("0")
    assert not any(line.startswith("<dial") for line in call.say(words))


# --- with the operators' console ------------------------------------------------------------------------


def test_a_responder_on_duty_in_the_console_gets_the_call_and_the_live_list_shows_no_number(make_console,
                                                                                            redis_client):
    app = make_console(VOICE_RESPONDER_NUMBER=RESPONDER)
    rita = app.test_client()
    sign_in(rita, "rita")
    call = Call(app)
    start_in(call, "en")
    call.press("0")  # nobody on duty yet: the numbers and the hotline offered
    assert call.last.dial is None and call.last.action == "http://localhost/twilio/voice?at=hotline"
    assert post_form(rita, "/ops/duty", {"on": "1"}).status_code == 302
    time.sleep(2.1)  # the on-duty flag is read at most every 2 s
    assert call.press("0") == ["[en] Please hold. We are putting you through to a person from our team.",
                               f"<dial {RESPONDER}>"]
    assert 'callerId="+15559990000"' in call.answers[-1]  # the helpline's number, never the caller's
    page = rita.get("/ops/").get_data(as_text=True)
    assert "Phone call" in page and CALLER[-4:] not in page
    assert app.extensions["store"].live_index.in_handoff() == []  # nobody is queued for a text reply
    asked = [e["on_duty"] for e in stream_events(redis_client) if e["kind"] == "handoff_requested"]
    assert asked == ["no", "yes"]  # the figures count the first as unavailable, the second as put through


@pytest.mark.parametrize("ask", [("press", "0"), ("say", "quiero hablar con una persona")])
def test_a_person_asked_for_at_the_first_question_sees_the_helplines_number_never_the_callers(make_console, ask):
    # Before: the language question's <Dial> had no callerId, so Twilio showed the responder the caller's own number.
    app = make_console(VOICE_RESPONDER_NUMBER=RESPONDER)
    rita = app.test_client()
    sign_in(rita, "rita")
    assert post_form(rita, "/ops/duty", {"on": "1"}).status_code == 302
    call = Call(app)
    call.start()
    how, what = ask
    assert getattr(call, how)(what)[-1] == f"<dial {RESPONDER}>"
    assert 'callerId="+15559990000"' in call.answers[-1] and CALLER not in call.answers[-1]


# At the first question (the language), the words and keys that mean something anywhere in a
# call mean it there too; before, every one of them only repeated "Para español, oprima 1".


@pytest.mark.parametrize("words, first", [("emergencia", "[es] Esta línea no puede llamar al 9, 1, 1"),
                                          ("me van a matar", "[es] Esta línea no puede llamar al 9, 1, 1"),
                                          ("emergency", "[en] This line cannot call 9, 1, 1"),
                                          ("911", "[es] Esta línea no puede llamar al 9, 1, 1")])
def test_danger_at_the_language_question_gives_the_emergency_numbers_at_once(call_app, words, first):
    call = Call(call_app)
    call.start()
    heard = call.say(words)
    assert heard[0].startswith(first), heard
    assert "1, 8, 8, 8, 3, 7, 3, 7, 8, 8, 8" in heard[0] and "<hang up>" not in heard


@pytest.mark.parametrize("words", ["911", "9 1 1", "9-1-1", "SOS"])
def test_911_at_the_language_question_is_said_in_every_language_then_the_question_again(call_app, words):
    # "911" says no language: the emergency numbers as a call says them (never a text's
    # "este chat" or its text-only number), in each language's voice, then the question.
    call = Call(call_app)
    first = call.start()
    heard = call.say(words)
    assert heard[0].startswith("[es] Esta línea no puede llamar") and heard[1].startswith("[en] This line cannot call")
    assert heard[2:] == first
    assert not any("2, 3, 3, 7, 3, 3" in line or "chat" in line for line in heard)
    assert call.press("2")[0].startswith("[en] Hello.")


@pytest.mark.parametrize("words, lang", [("nine one one", "en"), ("nueve uno uno", "es")])
def test_911_said_in_words_is_the_emergency_in_that_language(call_app, words, lang):
    call = Call(call_app)
    call.start()
    heard = call.say(words)
    opening = {"es": "[es] Esta línea no puede llamar", "en": "[en] This line cannot call"}[lang]
    assert heard[0].startswith(opening), heard


@pytest.mark.parametrize("words, said", [("salir", "[es] Listo. Esta llamada se borró. Adiós."),
                                         ("exit", "[en] Done. This call is erased. Goodbye.")])
def test_salir_at_the_language_question_erases_and_ends_the_call(call_app, words, said):
    call = Call(call_app)
    call.start()
    assert call.say(words) == [said, "<hang up>"]
    r = call_app.extensions["store"].r
    assert [k for k in r.keys("*") if call.cid in k.decode()] == []


@pytest.mark.parametrize("how, what", [("press", "0"), ("say", "persona")])
def test_zero_or_persona_at_the_language_question_asks_for_a_person_in_spanish(call_app, how, what):
    call = Call(call_app)
    call.start()
    heard = getattr(call, how)(what)
    assert heard[0].startswith("[es] Nadie de nuestro equipo puede atender ahora."), heard  # nobody on duty here


@pytest.mark.parametrize("words, nobody", [("quiero hablar con una persona", "[es] Nadie de nuestro equipo"),
                                           ("can i talk to a real person", "[en] Nobody from our team")])
def test_a_person_asked_for_in_words_at_the_language_question_is_asked_for(call_app, words, nobody):
    # As PERSONA or 0 there, in the words' language (it asked the question again before).
    call = Call(call_app)
    first = call.start()
    heard = call.say(words)
    assert heard != first and any(line.startswith(nobody) for line in heard), heard


@pytest.mark.parametrize("words, help_, menu", [("ayuda", "[es] Oprima el número de una opción, o dígalo.", "[es] ¿Qué desea hacer?"),
                                                ("help", "[en] Press the number of an option, or say it.", "[en] What would you like to do?")])
def test_ayuda_at_the_language_question_is_the_help(call_app, words, help_, menu):
    # As at a later step: the help, then where the call is (here: its start, in the word's language).
    call = Call(call_app)
    call.start()
    heard = call.say(words)
    assert heard[0].startswith(help_) and menu in heard, heard


@pytest.mark.parametrize("words, hello", [("en español por favor", "[es] Hola."), ("Uno.", "[es] Hola."),
                                          ("la uno", "[es] Hola."), ("English please.", "[en] Hello."),
                                          ("dos", "[en] Hello."), ("in English", "[en] Hello.")])
def test_a_language_picked_in_the_callers_words_is_picked(call_app, words, hello):
    # The question says "oprima 1": people say "uno", or the language in a sentence (asked again before).
    call = Call(call_app)
    call.start()
    assert call.say(words)[0].startswith(hello)


@pytest.mark.parametrize("words, then", [("Hola buenas tardes, mi patrón no me ha pagado.", "[es] ¿Dónde está ahora?"),
                                         ("my boss won't pay me", "[en] Where are you now?")])
def test_what_the_caller_came_for_at_the_language_question_is_answered_in_their_language(call_app, words, then):
    # As a first text is: the greeting, then that page (here the question it opens with); asked again before.
    call = Call(call_app)
    call.start()
    heard = call.say(words)
    assert heard[0].startswith(("[es] Hola.", "[en] Hello.")) and then in heard, heard


@pytest.mark.parametrize("words", ["repita por favor", "otra vez", "no le entendí", "can you repeat that?",
                                   # a review of callers: "¿cómo?" and "¿qué?" (all around words) had been misses
                                   "¿cómo?", "¿qué?", "espere", "más despacio", "wait", "repeat the number"])
def test_asking_to_hear_it_again_in_words_is_what_9_does(call_app, words):
    # keywords.yaml `voice_repeat:`; before, "perdón, no le entendí" and the options without the question.
    call = Call(call_app)
    start_in(call, "es")
    heard = call.press("1")  # what happened to me: the first question
    assert call.say(words) == heard == call.press("9")


# MENU, BACK, IDIOMA move within the flows, where a call without a language is not yet: the question
# again, as # and * are (before, "menu" gave a text's "Text EXIT to erase this chat" and the flows'
# own language menu, where 1 is English).
@pytest.mark.parametrize("how, what", [("say", "hola buenas"), ("say", "banana"), ("press", "7"), ("press", "9"),
                                       ("press", "#"), ("press", "*"), ("say", "menu"), ("say", "atrás"),
                                       ("say", "idioma"), ("say", "yes")])
def test_anything_else_at_the_language_question_asks_it_again(call_app, how, what):
    call = Call(call_app)
    first = call.start()
    assert getattr(call, how)(what) == first
    assert call.press("1")[0].startswith("[es] Hola.")  # and 1 is still Spanish


def test_the_word_for_0_before_a_language_is_read_in_the_language_asked_first():
    fs = real_flows()
    assert said_aloud.key_word(fs, "human", "es") in {"persona", "agente", "operador"}
    assert said_aloud.key_word(fs, "human", "en") in {"human", "agent", "operator"}
    assert said_aloud.key_word(fs, "help", "es") == "ayuda" and said_aloud.key_word(fs, "help", "en") == "help"


def test_a_caller_who_says_their_age_or_tells_something_hears_why_the_question_comes_again(call_app):
    call = Call(call_app)
    start_in(call, "es")
    for key in ("1", "1", "1"):  # what happened to me; can talk safely; in the US
        heard = call.press(key)
    assert heard[0] == "[es] Pregunta 1 de 13. ¿Tiene menos de 18 años?"
    heard = call.say("tengo 16 años")  # an age answers "are you under 18?"
    assert heard[0].startswith("[es] Pregunta 2 de 13.")
    question = heard
    heard = call.say("mi patrón no me paga")  # understood, but no answer: thanked, never "no le entendí"
    # and the question itself: on a call it is not on a screen above (a review of callers)
    assert heard == ["[es] Gracias por contarnos. Para seguir, esta es otra vez la pregunta."] + question


@pytest.mark.parametrize("lang, near", [("es", "ya viene"), ("en", "he is coming")])
def test_after_someone_is_near_silence_gets_silence_and_the_call_is_put_down_without_a_word(call_app, lang, near):
    # Before, every silence said "OK. Hang up at any time..." again, aloud, and then the goodbye and its numbers.
    call = Call(call_app)
    start_in(call, lang)
    heard = call.say(near)
    assert heard == [f"[{lang}] {said_aloud.system_text(real_flows(), lang, 'watched')[0].value}"]
    for _ in range(QUIET_SILENCES - 1):
        assert call.silence() == []  # listening, without a word
    assert call.silence() == ["<hang up>"]


@pytest.mark.parametrize("lang", ["es", "en"])
def test_silence_mid_call_never_says_the_question_again_aloud(call_app, lang):
    # A review: a caller who went quiet because someone walked in heard "...by force or threats?" twice,
    # then "In danger, call 911. The US national hotline..." aloud.
    call = Call(call_app)
    start_in(call, lang)
    for pick in ("1", "1", "1", "2", "2", "2", "2"):  # into the screening, at "made you work ... by force or threats?"
        asked = call.press(pick)
    assert call.silence() == [f"[{lang}] {said_aloud.system_text(real_flows(), lang, 'still_there')[0].value}"]
    for _ in range(QUIET_SILENCES - 2):
        assert call.silence() == []  # listening, without a word
    assert call.silence() == ["<hang up>"]
    call = Call(call_app)
    start_in(call, lang)
    asked = [call.press(pick) for pick in ("1", "1", "1")][-1]
    call.silence()
    assert call.press("9") == asked  # 9, as the line says, is the question again


@pytest.mark.parametrize("key", ["1", "9"])
def test_after_someone_is_near_a_key_says_the_question_again_before_anything_is_answered(call_app, key):
    # A minute of silence later, a 1 may not answer a question no longer heard; 9 said the quiet line again.
    call = Call(call_app)
    start_in(call, "es")
    for pick in ("1", "1", "1"):  # the screening: safe to talk, in the US: at "¿Tiene menos de 18 años?"
        asked = call.press(pick)
    call.say("ya viene")
    assert call.silence() == []
    assert call.press(key) == asked
    assert "under_18" not in call_app.extensions["helpline"].store.load(call.cid).get("f", {})
    assert call.press("2")[0].startswith("[es] Pregunta 2 de 13.")  # then keys answer it


# Not "colgar", "hang up": said as a question ("¿colgar?") they ended the call, and a caller can simply hang up.
@pytest.mark.parametrize("lang, words", [("en", "erase this call"), ("en", "delete this call"),
                                         ("es", "borrar la llamada"), ("es", "borre esta llamada")])
def test_asking_in_words_to_erase_the_call_erases_it(call_app, lang, words):
    # Before, "erase this call" at the main menu picked "Numbers to call or text" by its word "call".
    call = Call(call_app)
    start_in(call, lang)
    heard = call.say(words)
    assert heard[-1] == "<hang up>" and call_app.extensions["helpline"].store.load(call.cid) is None


@pytest.mark.parametrize("words, key", [("regresar", "*"), ("go back", "*"), ("la pregunta anterior", "*"),
                                        ("mande", "9"), ("qué dijo", "9"), ("un humano", "0")])
def test_the_words_a_caller_says_for_a_key_do_what_the_key_does(call_app, words, key):
    # "Asterisco para regresar", the greeting says; "¿mande?" is how many Mexican callers ask to hear it again.
    heard = {}
    for how in ("say", "press"):
        call = Call(call_app)
        start_in(call, "es")
        for pick in ("1", "1", "1", "2"):  # the screening: safe, in the US, not under 18: at question 2
            call.press(pick)
        heard[how] = call.say(words) if how == "say" else call.press(key)
    assert heard["say"] == heard["press"]


@pytest.mark.parametrize("lang, said, not_said", [("en", "Press 2: How erasing works.", "EXIT"),
                                                  ("es", "Oprima 2: Cómo se borra.", "SALIR")])
def test_an_option_with_a_voice_label_is_said_so_on_a_call_and_picked_by_its_words(call_app, lang, said, not_said):
    # "How EXIT works" told a caller to say the word that ends the call; the text keeps its label.
    call = Call(call_app)
    start_in(call, lang)
    heard = call.press("5")  # is it safe to talk
    assert said in heard[-1] and not_said not in heard[-1], heard
    by_words = call.say({"en": "how erasing works", "es": "cómo se borra"}[lang])
    other = Call(call_app)
    start_in(other, lang)
    other.press("5")
    assert by_words == other.press("2")
    fs = real_flows()
    assert render.option_labels(fs, fs.node("safety.menu"), lang)[1] == {"en": "How EXIT works", "es": "Cómo funciona SALIR"}[lang]


@pytest.mark.parametrize("lang, words", [("en", "day and night"), ("es", "de día y de noche")])
def test_24_7_is_said_in_words_never_right_after_a_number_read_digit_by_digit(lang, words):
    # "text 2, 3, 3, 7, 3, 3, 24/7" sounded like a longer number.
    said = said_aloud.spoken(real_flows(), lang, "Call 1-888-373-7888 or text 233733, 24/7.")
    assert "24/7" not in said and f"3, {words}." in said, said


def test_24_7_that_starts_a_sentence_is_said_with_a_capital():
    # "…mande START al 8, 8, 7, 8, 8. de día y de noche.": a lower-case start after the stop.
    said = said_aloud.spoken(real_flows(), "es", "Mande START al 88788. 24/7, gratis.")
    assert "8, 8. De día y de noche, gratis." in said, said


@pytest.mark.parametrize("words", ["stop texting me my husband reads it", "nah stop texting me"])
def test_a_stop_read_from_part_of_what_is_said_ends_and_erases_the_call(call_app, words):
    # Before, the caller heard the text's "Text START to start again" and then a call that answered nothing.
    call = Call(call_app)
    start_in(call, "en")
    heard = call.say(words)
    assert heard[-1] == "<hang up>" and call_app.extensions["helpline"].store.load(call.cid) is None
