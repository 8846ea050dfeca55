"""What the limits on flow files cost, and what they bound.

    python bench/flow_limits.py [--repeat 5]

1. Reading the real flow files with the guarded YAML loader (anchors and
   aliases refused, nesting counted) against PyYAML's own SafeLoader
   composing the same files: the guard's overhead, as a ratio.
2. The editor's check of a draft (``flow_editing.materialize``: the whole set
   with the draft in place, catalogs updated, every check, the conversation
   tests) with main.yaml at the size limit, against the same check with
   main.yaml as it is: how long the largest draft a file may be holds a
   thread, as a ratio. Two shapes of a file at the limit (many small nodes,
   each a new text to translate; one node with one long text), and as many
   files of many nodes at the limit as a draft may hold.
3. Peak memory (tracemalloc) of refusing a 300-byte alias bomb and 5,000
   nested lists, against reading main.yaml.

Everything is measured in the same run; the figures go in BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bot.engine.yamlsource import MAX_BYTES, YamlSyntaxError, parse  # noqa: E402
from bot.flow_editing import MAX_DRAFT_BYTES, Paths, materialize  # noqa: E402

FLOWS = os.path.join(ROOT, "flows")
LOCALES = os.path.join(ROOT, "locales")
BROKEN = os.path.join(ROOT, "tests", "broken_flows")


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def flow_texts() -> dict[str, str]:
    found = {}
    for name in sorted(os.listdir(FLOWS)):
        if name.endswith(".yaml"):
            with open(os.path.join(FLOWS, name), encoding="utf-8") as fh:
                found[name] = fh.read()
    return found


def many_nodes(flow: str, tag: str = "extra") -> str:
    """A flow file with message nodes added (each a new English text) until it is at the limit."""
    out, k = [flow.rstrip("\n") + "\n"], 0
    size = len(out[0].encode("utf-8"))
    while True:
        node = (f"  - id: {tag}_{k}\n    kind: message\n    text: \"The {tag} message number {k}, to fill the file.\"\n"
                f"    next: main.menu\n")
        if size + len(node.encode("utf-8")) > MAX_BYTES:
            return "".join(out)
        out.append(node)
        size += len(node.encode("utf-8"))
        k += 1


def one_long_text(main: str) -> str:
    """main.yaml with one message node whose text fills the file to the limit."""
    head = main.rstrip("\n") + "\n  - id: extra\n    kind: message\n    next: main.menu\n    text: \""
    room = MAX_BYTES - len(head.encode("utf-8")) - 2
    return head + ("word " * (room // 5))[:room] + "\"\n"


def peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
    except YamlSyntaxError:
        pass
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    texts = flow_texts()

    def guarded():
        for name, text in texts.items():
            parse(text, name)

    def plain():
        for text in texts.values():
            yaml.compose(text, Loader=yaml.SafeLoader)

    t_guarded, t_plain = median_time(guarded, args.repeat * 4), median_time(plain, args.repeat * 4)
    print(f"1. reading the {len(texts)} flow files, median of {args.repeat * 4}:")
    print(f"   guarded loader (with line map)  {t_guarded * 1000:6.1f} ms")
    print(f"   PyYAML SafeLoader, compose only {t_plain * 1000:6.1f} ms   ratio {t_guarded / t_plain:.2f}")

    paths = Paths(FLOWS, LOCALES)
    main_yaml = texts["main.yaml"]
    as_is = main_yaml.replace("What would you like to do?", "What would you like to do?")
    # As many files at the limit as a draft may hold (flow_editing.MAX_DRAFT_BYTES).
    most = MAX_DRAFT_BYTES // MAX_BYTES
    fullest = {name: many_nodes(texts[name], name[:-5])
               for name in ("main.yaml", "help.yaml", "safety.yaml", "numbers.yaml")[:most]}
    drafts = {"main.yaml as it is": {"main.yaml": as_is},
              "a file at the limit, many nodes": {"main.yaml": many_nodes(main_yaml)},
              "a file at the limit, one text": {"main.yaml": one_long_text(main_yaml)},
              f"{most} files at the limit (a full draft)": fullest}
    timed = {}
    for label, files in drafts.items():
        timed[label] = median_time(lambda files=files: materialize(paths, files, {}), args.repeat)
    base = timed["main.yaml as it is"]
    print(f"2. the editor's check of a draft, median of {args.repeat}:")
    for label, t in timed.items():
        size = sum(len(text.encode("utf-8")) for text in drafts[label].values())
        print(f"   {label:32s} {size / 1024:6.1f} KB  {t * 1000:7.1f} ms   ratio {t / base:.1f}")

    with open(os.path.join(BROKEN, "yaml_alias_bomb", "flows", "bomb.yaml"), encoding="utf-8") as fh:
        bomb = fh.read()
    with open(os.path.join(BROKEN, "yaml_deep_nesting", "flows", "deep.yaml"), encoding="utf-8") as fh:
        deep = fh.read()
    base_peak = peak(lambda: parse(main_yaml, "main.yaml"))
    print("3. peak memory while reading (tracemalloc):")
    print(f"   main.yaml ({len(main_yaml)} bytes)        {base_peak / 1024:7.1f} KB")
    for label, text in (("alias bomb", bomb), ("5,000 nested lists", deep)):
        top = peak(lambda text=text: parse(text, "x.yaml"))
        print(f"   {label} ({len(text.encode('utf-8'))} bytes) refused  {top / 1024:7.1f} KB   ratio {top / base_peak:.2f}")


if __name__ == "__main__":
    main()
