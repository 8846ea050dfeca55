"""What understanding free text costs a turn, next to a turn without it.

The engine alone (no Redis, no HTTP: those cost the same whatever was
written), on the real flows, in one process, rounds interleaved so the
machine's drift hits every line alike, timed in CPU time of this process
(``time.process_time``): on a machine shared with other work, wall time
measures the neighbours too. Each line is a median of the rounds,
in µs per message, and its ratio to the baseline: a reply by number at the
main menu, which understanding never reads.

    python bench/understanding.py [--rounds 7]

Lines:

* baseline: "1" at the main menu (a number: no understanding at all);
* a reply in words at a question ("simón", "no estoy segura"...);
* free text at the main menu that a phrase places ("no me pagan"...), and
  free text nothing places (read in full, then a miss);
* a first message in free text (language model + phrases), every first
  message of tests/understanding/;
* a long first message, dictated by voice (366 characters), and a hostile
  one: 3,000 words that each start a phrase or a keyword, of which only
  ``MATCH_LIMIT`` characters are read;
* the parts alone: keywords with around words, the phrases, the language.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.published_flows import load  # noqa: E402
from bot.engine import language, matching  # noqa: E402
from bot.engine.runner import Context, Inbound, step  # noqa: E402
from bot.engine.session import Session  # noqa: E402
from bot.engine.text import clean, normalize  # noqa: E402
from bot.engine.understanding import Lexicon  # noqa: E402


def corpus(where: str) -> list[str]:
    found = []
    for path in sorted((REPO / "tests" / "understanding").glob("*.yaml")):
        for row in yaml.safe_load(path.read_text(encoding="utf-8")):
            if row.get("at", "first") == where:
                found.append(str(row["message"]))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    fs, _ = load(str(REPO / "flows"), str(REPO / "locales"))
    ctx = Context(now=1767225600.0, new_id=lambda: "conv")

    def session_at(position: str, lang: str = "es") -> Session:
        s = Session(cid="c", address="+15550000000", state="in_flow", lang=lang, conv="conv")
        s.flow, s.node = position.split(".")
        return s

    at_menu = session_at(fs.system.main_menu)
    at_question = session_at("screening.under_18")
    firsts = corpus("first")
    placed = ["no me pagan", "me quitaron mi pasaporte", "my boss is not paying me", "mi patron esta aqui",
              "quiero saber mis derechos", "I need a number", "me van a matar", "they took my passport"]
    unplaced = ["asdf qwer zxcv", "la verdad no se que decir de todo esto que me esta pasando ahorita",
                "ok gracias", "what do you mean by that", "hmm", "dale pues"]
    answers = ["simón", "no estoy segura", "quién sabe", "nel", "claro q si", "dunno", "la primera", "sip"]
    dictated = ("hola buenas noches disculpe la molestia le escribo porque yo trabajo en una construccion aqui en "
                "houston y el contratista que nos trajo de honduras nos dijo que nos iba a pagar 18 la hora pero ya "
                "van 5 semanas y solo nos da para comida y dice que primero tenemos que pagar lo del viaje y el "
                "cuarto y ademas tiene los pasaportes de todos en su troca y no se que hacer")
    words = ["borra", "no", "me", "mi", "patron", "pagar", "ya", "viene", "esta", "aqui", "de", "la"]
    hostile = " ".join(words[(i * 7) % len(words)] for i in range(3000))
    # Warm up: the detector and the lexicon are built once per process / flow set, not per turn.
    language.detect(fs.system, "hola")
    Lexicon.of(fs)

    def turns(session: Session, texts: list[str]):
        def run():
            for text in texts:
                step(session, Inbound(text), fs, ctx)
        return run, len(texts)

    def parts(fn, texts):
        def run():
            for text in texts:
                fn(text)
        return run, len(texts)

    cases = {
        "baseline: \"1\" at the main menu": turns(at_menu, ["1"] * 50),
        "a reply in words at a question": turns(at_question, answers),
        "free text at the menu, placed": turns(at_menu, placed),
        "free text at the menu, not placed (a miss)": turns(at_menu, unplaced),
        "first message in free text": turns(Session(cid="c", address="+15550000000"), firsts),
        "a long first message, dictated": turns(Session(cid="c", address="+15550000000"), [dictated] * 5),
        "a hostile first message, 3,000 words": turns(Session(cid="c", address="+15550000000"), [hostile] * 3),
        "  part: keywords with around words": parts(lambda t: matching.read_keyword(fs, normalize(clean(t))), firsts),
        "  part: phrases (understanding.yaml)": parts(lambda t: Lexicon.of(fs).place(normalize(clean(t))), firsts),
        "  part: language (hints, then lingua)": parts(lambda t: language.detect(fs.system, clean(t)), firsts),
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (run, n) in cases.items():
            t0 = time.process_time()
            run()
            samples[name].append((time.process_time() - t0) / n * 1e6)
    base = statistics.median(samples["baseline: \"1\" at the main menu"])
    print(f"{'':<46}{'CPU µs/message':>15}{'× baseline':>12}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<46}{median:>15.0f}{median / base:>12.2f}")
    print(f"({args.rounds} rounds, medians; {len(firsts)} first messages, engine only: add the store and "
          "the webhook, the same for every line, for a whole text)")


if __name__ == "__main__":
    main()
