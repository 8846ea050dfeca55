"""`flows check` for phone calls (bot/engine/voice_check.py): each rule, on a copy of the real flows.

Each case changes one thing in a copy of flows/ and locales/ and names the
problem `flows check` must print for it, at its path and line; the real set
passes (test_the_real_flows_pass).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from bot.published_flows import load
from bot.engine import voice
from tests.fixtures_voice import Call, start_in
from tests.helpers import REPO, real_flows


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def voice_problems(project: Path) -> list[str]:
    _, problems = load(str(project / "flows"), str(project / "locales"))
    return [f"{Path(p.path).name}:{p.line}: {p.message}" for p in problems
            if p.code.startswith("voice-") or p.code == "missing-system-text"]


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def test_the_real_flows_pass(project):
    assert voice_problems(project) == []


def test_a_text_that_says_to_type_exit_needs_a_voice_text(project):
    screening = project / "flows" / "screening.yaml"
    edit(screening, '    voice: "OK. If someone comes near, just hang up: we erase this call at once."\n', "")
    line = line_of(screening, 'text: "OK. If someone comes near, text EXIT')
    assert voice_problems(project) == [
        f"screening.yaml:{line}: `careful` tells people to type EXIT, which a caller cannot: add `voice:` with what to"
        " say in a phone call instead (the keys of keywords.yaml's `voice_keys:`; hanging up ends and erases a call)"
    ]


def test_an_option_label_that_names_exit_needs_a_voice_label(project):
    safety = project / "flows" / "safety.yaml"
    edit(safety, '        voice: "How erasing works"\n', "")
    line = line_of(safety, 'label: "How EXIT works"')
    assert voice_problems(project) == [
        f"safety.yaml:{line}: option \"How EXIT works\" of `menu` names EXIT, and a caller who says it to pick the"
        " option ends the call: add `voice:` to the option with the label to say in a phone call"
    ]


def test_a_menu_with_more_options_than_free_keys(project):
    keywords = project / "flows" / "keywords.yaml"
    edit(keywords, '  "9": repeat\n', '  "9": repeat\n  "5": help\n')  # 5 taken: options 1 to 4 only
    found = voice_problems(project)
    main = project / "flows" / "main.yaml"
    assert f"main.yaml:{line_of(main, '- id: menu')}: menu `menu` has 7 options, and a phone keypad can pick only 4 of" \
           " them (the other keys are keywords.yaml's `voice_keys:`): split it into two menus" in found


def test_a_voice_text_too_long_to_follow(project):
    screening = project / "flows" / "screening.yaml"
    long = "OK. " + "If someone comes near, just hang up. " * 20
    edit(screening, '    voice: "OK. If someone comes near, just hang up: we erase this call at once."\n',
         f'    voice: "{long.strip()}"\n')
    line = line_of(screening, "    voice: \"OK. If someone comes near, just hang up. If")
    found = voice_problems(project)
    assert len(found) == 1 and found[0].startswith(f"screening.yaml:{line}: `careful` takes about 56.4 s to say in")
    assert "over the 45 s a caller can follow before answering" in found[0]


def test_an_audio_file_that_is_not_there_and_one_for_an_unknown_language(project):
    screening = project / "flows" / "screening.yaml"
    edit(screening, '    voice: "OK. If someone comes near, just hang up: we erase this call at once."\n',
         '    voice: "OK. If someone comes near, just hang up: we erase this call at once."\n'
         '    audio: {es: audio/careful.es.mp3, fr: audio/careful.fr.mp3}\n')
    line = line_of(screening, "- id: careful")
    assert voice_problems(project) == [
        f"screening.yaml:{line}: `audio:` of `careful` has a file for `fr`, which is not under `languages:` in"
        " system.yaml (es, en): remove it or add the language",
        f"screening.yaml:{line}: `audio:` of `careful` plays audio/careful.es.mp3 for Spanish (es), and the flows"
        " folder has no such file: add the recording there, or correct the path",
    ]
    (project / "flows" / "audio").mkdir()
    (project / "flows" / "audio" / "careful.es.mp3").write_bytes(b"ID3")
    assert len(voice_problems(project)) == 1  # only the unknown language is left


def test_the_voice_texts_a_call_needs(project):
    system = project / "flows" / "system.yaml"
    edit(system, '  voice_press: "Press {digit}: {label}"\n', "")
    assert voice_problems(project) == [
        "system.yaml:1: `texts` is missing `voice_press:`, a text the bot sends by this name: add it under `texts:`"
    ]


def test_without_voice_keys_nothing_is_checked_for_calls(project):
    keywords = project / "flows" / "keywords.yaml"
    text = keywords.read_text(encoding="utf-8")
    keywords.write_text(text[: text.index("voice_keys:")], encoding="utf-8")
    edit(project / "flows" / "system.yaml", '  voice_press: "Press {digit}: {label}"\n', "")
    assert voice_problems(project) == []


def test_every_spoken_prompt_of_the_real_flows_fits_the_limit():
    fs = real_flows()
    longest = max(
        voice.seconds(" ".join(line.value for line in voice.prompt(fs, node, lang)))
        for lang in fs.system.languages for flow in fs.flows.values() for node in flow.nodes if node.waits
    )
    assert 5 < longest <= voice.MAX_SPOKEN_SECONDS


def test_a_recording_is_played_from_the_apps_own_url_and_served_there(call_app, tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(REPO / "flows", flows)
    (flows / "audio").mkdir()
    (flows / "audio" / "greeting.es.mp3").write_bytes(b"ID3 recorded greeting")
    edit(flows / "welcome.yaml", "  - id: greeting\n", "  - id: greeting\n    audio: {es: audio/greeting.es.mp3}\n")
    call_app.config["FLOWS_DIR"] = str(flows)
    fs, problems = load(str(flows), str(REPO / "locales"))
    assert fs is not None and not [p for p in problems if p.code.startswith("voice-")]
    call_app.extensions["helpline"].flows = lambda: fs
    call = Call(call_app)
    start_in(call, "es")
    assert call.last.said[0] == ("play", "http://localhost/voice/audio/greeting.es.mp3")
    got = call.client.get("/voice/audio/greeting.es.mp3")
    assert got.status_code == 200 and got.data == b"ID3 recorded greeting"
    assert call.client.get("/voice/audio/../welcome.yaml").status_code == 404
