"""Which language identifier, measured on our own messages.

For every first message of the corpus in tests/understanding/ whose language
is known (es or en; "none" ones must give no answer), each candidate says a
language or nothing, with the same rule the bot uses (bot/engine/language.py:
the top language must lead the second by MARGIN, else no answer), without the
hint words and with them. Printed per candidate: accuracy, how many it would
not place, memory added to the process (RSS, in a fresh process each), the
time to build it and the time per message.

    python bench/language_id.py

Candidates: lingua (lingua-language-detector) in high and low accuracy
mode, restricted to en+es, and py3langid restricted to en+es. py3langid is
measured only if it is installed (it is not a dependency: `pip install
py3langid`). Then lingua's memory (RSS added by building the detector, and
by its first text) in each mode, for two and three languages.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_PROBE = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1])
kind, cases = sys.argv[2], json.loads(sys.argv[3])
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
import yaml
from bot.engine.text import normalize
from bot.engine import language as L
base = rss()
t0 = time.perf_counter()
if kind.startswith("lingua"):
    from lingua import IsoCode639_1, LanguageDetectorBuilder
    b = LanguageDetectorBuilder.from_iso_codes_639_1(IsoCode639_1.EN, IsoCode639_1.ES).with_preloaded_language_models()
    if kind == "lingua-low":
        b = b.with_low_accuracy_mode()
    d = b.build()
    def scores(text):
        return [(v.language.iso_code_639_1.name.lower(), v.value) for v in d.compute_language_confidence_values(text)]
else:
    import py3langid
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
    ident = LanguageIdentifier.from_modelpath(str(MODEL_DIR / MODEL_FILE), norm_probs=True)
    ident.set_languages(["en", "es"])
    def scores(text):
        return sorted(ident.rank(text), key=lambda x: -x[1])
scores("hola, trabajo en un rancho")
built, t1 = rss(), time.perf_counter()
from bot.published_flows import load
fs, _ = load(sys.argv[1] + "/flows", sys.argv[1] + "/locales")
right = unplaced = wrong = 0
right_h = 0
times = []
for text, want in cases:
    norm = normalize(text)
    s = time.perf_counter()
    ranked = scores(text) if any(c.isalpha() for c in norm) else []
    times.append(time.perf_counter() - s)
    got = None
    if ranked and sum(c.isalpha() for c in norm) >= L.MIN_LETTERS:
        (best, top), second = ranked[0], ranked[1][1] if len(ranked) > 1 else 0.0
        got = best if top - second >= L.MARGIN else None
    hinted = L._hinted(fs.system, norm)
    got_h = hinted.lang if hinted else got
    right += got == want
    right_h += got_h == want
    unplaced += got is None and want is not None
    wrong += got is not None and got != want
print(json.dumps({"kind": kind, "n": len(cases), "right": right, "right_with_hints": right_h, "unplaced": unplaced,
                  "wrong": wrong, "rss_mb": built - base, "build_ms": 1000 * (t1 - t0),
                  "us_per_message": 1e6 * sum(times) / len(times)}))
'''


# Memory and time of lingua's modes, for two and three languages, each in a fresh process.
_MEMORY = r'''
import sys, time
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
mode, codes = sys.argv[1], sys.argv[2].split(",")
from lingua import IsoCode639_1, LanguageDetectorBuilder
r0, t0 = rss(), time.perf_counter()
b = LanguageDetectorBuilder.from_iso_codes_639_1(*[IsoCode639_1.from_str(c) for c in codes])
if "low" in mode:
    b = b.with_low_accuracy_mode()
if "preloaded" in mode:
    b = b.with_preloaded_language_models()
d = b.build()
r1, t1 = rss(), time.perf_counter()
d.compute_language_confidence_values("hola, trabajo en un rancho en texas y el patron no me paga")
r2, t2 = rss(), time.perf_counter()
print(f"{r1 - r0:.1f} {1000 * (t1 - t0):.0f} {r2 - r1:.1f} {1000 * (t2 - t1):.0f}")
'''


def memory() -> None:
    print(f"\n{'lingua mode':<22}{'languages':<11}{'build MB':>9}{'ms':>6}{'1st text MB':>12}{'ms':>6}")
    for mode in ("high, lazy", "high, preloaded", "low, lazy", "low, preloaded"):
        for codes in ("en,es", "en,es,eo"):
            out = subprocess.run([sys.executable, "-c", _MEMORY, mode, codes], capture_output=True, text=True).stdout
            built, built_ms, first, first_ms = out.split()
            print(f"{mode:<22}{codes:<11}{float(built):>9.1f}{int(built_ms):>6}{float(first):>12.1f}{int(first_ms):>6}")


def cases() -> list[tuple[str, str | None]]:
    import yaml

    found = []
    for path in sorted((REPO / "tests" / "understanding").glob("*.yaml")):
        for row in yaml.safe_load(path.read_text(encoding="utf-8")):
            if row.get("at", "first") == "first" and row["expect"] not in ("quick_exit", "opt_out"):
                found.append((row["message"], None if row["language"] == "none" else row["language"]))
    return found


def main() -> None:
    data = json.dumps(cases())
    print(f"{'detector':<12}{'right':>7}{'+hints':>8}{'unplaced':>10}{'wrong':>7}{'MB':>7}{'build ms':>10}{'µs/msg':>8}")
    for kind in ("lingua-high", "lingua-low", "py3langid"):
        proc = subprocess.run([sys.executable, "-c", _PROBE, str(REPO), kind, data], capture_output=True, text=True)
        if proc.returncode:
            print(f"{kind:<12} not measured: {proc.stderr.strip().splitlines()[-1]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{kind:<12}{r['right']:>4}/{r['n']:<3}{r['right_with_hints']:>5}/{r['n']:<3}{r['unplaced']:>7}{r['wrong']:>7}"
              f"{r['rss_mb']:>7.1f}{r['build_ms']:>10.0f}{r['us_per_message']:>8.0f}")
    memory()


if __name__ == "__main__":
    main()
