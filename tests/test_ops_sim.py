"""The simulator: the same engine, its own key space, a reset button."""
from __future__ import annotations

import pytest

from tests.helpers import everything_stored, inbound, option, post_signed
from tests.fixtures_console import post_form, sign_in

pytestmark = pytest.mark.slow  # most tests here take a second or more: an app each, servers, waits


@pytest.fixture
def vic(console_app):
    client = console_app.test_client()
    sign_in(client, "vic")  # a viewer may practise too
    return client


def test_start_as_a_spanish_sms_texter(vic, redis_client):
    page = post_form(vic, "/ops/simulator/start", {"lang": "es", "channel": "sms"}, follow_redirects=True).text
    assert "Practice only" in page
    assert "Hola. Esta es una línea de información confidencial" in page
    assert "SMS segment" in page
    page = post_form(vic, "/ops/simulator/send", {"text": option("numbers")}, follow_redirects=True).text
    assert "¿Qué tipo de ayuda necesita?" in page


def test_start_as_an_english_whatsapp_texter(vic):
    page = post_form(vic, "/ops/simulator/start", {"lang": "en", "channel": "whatsapp"}, follow_redirects=True).text
    assert "Hello. This is a confidential information line" in page
    assert "WhatsApp · trial texter" in page


def test_without_twilio_settings_the_webhook_refuses_but_the_simulator_works(make_console, redis_client, twilio_api):
    """DESIGN.md, "Contracts", Environment: with no TWILIO_AUTH_TOKEN the webhook
    refuses every request, and the console's simulator still works."""
    # A newcomer's machine: no token (and nothing else of Twilio either).
    app = make_console(TWILIO_AUTH_TOKEN=None, PUBLIC_URL=None, TWILIO_ACCOUNT_SID=None, TWILIO_FROM_NUMBER=None,
                       TWILIO_API_BASE=None)
    client = app.test_client()
    refused = post_signed(client, "/twilio/messages", inbound("hola", sender="+15550007001"))
    assert refused.status_code == 403
    assert not list(redis_client.scan_iter("hl:{*}:session"))

    assert sign_in(client, "vic").status_code == 302
    page = post_form(client, "/ops/simulator/start", {"lang": "es", "channel": "sms"}, follow_redirects=True)
    assert page.status_code == 200
    assert "Hola. Esta es una línea de información confidencial" in page.text
    page = post_form(client, "/ops/simulator/send", {"text": option("numbers")}, follow_redirects=True)
    assert page.status_code == 200 and "¿Qué tipo de ayuda necesita?" in page.text
    assert list(redis_client.scan_iter("hl:sim:{*}:session")), "the trial is kept in the simulator's key space"
    assert twilio_api.requests == []


def test_salir_in_a_trial_leaves_nothing_typed_in_it(vic, redis_client):
    """Staff may paste a person's words to try a flow: SALIR erases the trial as
    it erases a person's chat, its log (what was typed, and the why lines that
    quote it) with it."""
    post_form(vic, "/ops/simulator/start", {"lang": "es", "channel": "sms"})
    post_form(vic, "/ops/simulator/send", {"text": "mi patron Ramiro me debe 3 semanas, mi cel 555 0142"})
    page = post_form(vic, "/ops/simulator/send", {"text": "SALIR"}, follow_redirects=True).text
    # The number as typed, space and all: "0142" alone turns up in a password hash or a token now and then.
    assert "Ramiro" not in page and "555 0142" not in page
    assert "The trial conversation was erased" in page
    stored = everything_stored(redis_client)
    assert "Ramiro" not in stored and "555 0142" not in stored


def test_trials_live_in_their_own_key_space(vic, redis_client):
    post_form(vic, "/ops/simulator/start", {"lang": "es", "channel": "sms"})
    post_form(vic, "/ops/simulator/send", {"text": "1"})
    keys = set(redis_client.scan_iter("*"))
    assert keys and all(k.startswith("hl:sim:") or k.startswith("hl:ops:") for k in keys), keys
    assert not redis_client.exists("hl:events")
    assert "Live conversations <span class=\"count\" id=\"sessions-count\">0</span>" in vic.get("/ops/").text


def test_a_trial_ended_by_salir_queues_nothing_for_the_live_events_stream(vic, redis_client):
    post_form(vic, "/ops/simulator/start", {"lang": "es", "channel": "sms"})
    post_form(vic, "/ops/simulator/send", {"text": "1"})
    page = post_form(vic, "/ops/simulator/send", {"text": "SALIR"}, follow_redirects=True).text
    assert "Listo. Chat cerrado." in page
    keys = set(redis_client.scan_iter("*"))
    assert all(k.startswith("hl:sim:") or k.startswith("hl:ops:") for k in keys), keys
    assert not [k for k in keys if k.endswith(":erased")], "a trial's path is no one's: nothing to drop"


def test_reset_erases_the_trial(vic, redis_client):
    post_form(vic, "/ops/simulator/start", {"lang": "es", "channel": "sms"})
    post_form(vic, "/ops/simulator/send", {"text": "1"})
    assert list(redis_client.scan_iter("hl:sim:{*}:session"))
    page = post_form(vic, "/ops/simulator/reset", follow_redirects=True).text
    assert "The trial conversation was erased" in page
    assert not list(redis_client.scan_iter("hl:sim:{*}:session"))
    assert not list(redis_client.scan_iter("hl:sim:{*}:log"))
    assert "Hola. Esta es" not in page


def test_pretending_someone_is_on_duty_shows_the_bot_going_quiet(vic, redis_client):
    post_form(vic, "/ops/simulator/start", {"lang": "es", "channel": "sms", "duty": "1"})
    post_form(vic, "/ops/simulator/send", {"text": "PERSONA"})
    page = post_form(vic, "/ops/simulator/send", {"text": "hola?"}, follow_redirects=True).text
    assert "The bot stays quiet" in page
    assert not redis_client.exists("hl:events")  # the live queue never sees a trial


def test_two_browsers_have_two_trials(console_app, vic):
    other = console_app.test_client()
    sign_in(other, "rita")
    post_form(vic, "/ops/simulator/start", {"lang": "es", "channel": "sms"})
    assert "Hola. Esta es" not in other.get("/ops/simulator").text


def test_on_whatsapp_the_simulator_shows_lists_and_buttons_and_a_tap_picks_by_id(vic):
    page = post_form(vic, "/ops/simulator/start", {"lang": "es", "channel": "whatsapp"}, follow_redirects=True).text
    assert "Bot · WhatsApp list" in page
    assert "&#9776; Elegir</summary>" in page  # the list's button, in Spanish
    assert 'name="choice" value="main.menu#numbers.by_need"' in page
    assert "1. ¿Qué me pasó?" not in page.split("WhatsApp list")[-1], "a list, not numbered text"
    # The tap's id picks, whatever its title says.
    page = post_form(vic, "/ops/simulator/tap", {"choice": "main.menu#numbers.by_need", "title": "(renamed)"},
                     follow_redirects=True).text
    assert "¿Qué tipo de ayuda necesita?" in page and "You · tapped" in page
    page = post_form(vic, "/ops/simulator/tap", {"choice": "main.menu#rights.place", "title": "Mis derechos"},
                     follow_redirects=True).text
    assert "Esa opción es de un mensaje anterior" in page, "a tap on an earlier message is said so"
    page = post_form(vic, "/ops/simulator/tap", {"choice": "numbers.by_need#numbers.emergency", "title": "Emergencia"},
                     follow_redirects=True).text
    assert "Bot · WhatsApp call button" in page and "\N{TELEPHONE RECEIVER} 1-888-373-7888" in page


def test_on_sms_the_simulator_shows_numbered_text(vic):
    page = post_form(vic, "/ops/simulator/start", {"lang": "es", "channel": "sms"}, follow_redirects=True).text
    assert "WhatsApp list" not in page and "1. ¿Qué me pasó?" in page
