"""Instructions to read a message's phrases: a repeatable measure of understanding.yaml's reader.

    python bench/phrases.py [--code DIR] [--flows DIR] [--rounds 3]

Reads every message of tests/understanding/ with ``Lexicon.place`` (the
phrases, with stems and typos: the costly part of free text) ``--rounds``
times, under valgrind's callgrind, and prints the instructions per message.
Instructions, not seconds: the same count for the same work whatever else
the machine is doing, so two versions can be compared one after the other.

``--code`` is the checkout whose reader runs (default: this one), ``--flows``
the checkout whose flows/ and locales/ it reads (default: the same). To
compare a change of the reader alone, give both versions the same flows:

    git worktree add /tmp/before <commit>
    python bench/phrases.py --code /tmp/before --flows /tmp/before
    python bench/phrases.py --flows /tmp/before   # this reader, the old phrases
    python bench/phrases.py

The messages are always this checkout's corpus. Needs valgrind (Debian
package ``valgrind``). About 30 s per run.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def child(code: str, flows: str, rounds: int) -> None:
    """Runs under callgrind: load the flows, warm up, count ``rounds`` readings of the corpus."""
    import yaml

    sys.path.insert(0, code)
    from bot.engine.text import normalize
    from bot.engine.understanding import Lexicon
    from bot.published_flows import load

    fs, problems = load(os.path.join(flows, "flows"), os.path.join(flows, "locales"))
    if fs is None:
        sys.exit(f"the flows at {flows} do not load: {problems[:3]}")
    lexicon = Lexicon.of(fs)
    messages = [normalize(row["message"])
                for path in sorted(glob.glob(os.path.join(ROOT, "tests", "understanding", "*.yaml")))
                for row in yaml.safe_load(open(path, encoding="utf-8"))]
    for message in messages[:50]:
        lexicon.place(message)  # built and warm before counting
    subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True, check=False)
    for _ in range(rounds):
        for message in messages:
            lexicon.place(message)
    subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], capture_output=True, check=False)
    print(f"messages={len(messages) * rounds}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", default=ROOT, help="the checkout whose reader runs")
    parser.add_argument("--flows", default=None, help="the checkout whose flows/ and locales/ are read")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    code, flows = os.path.abspath(args.code), os.path.abspath(args.flows or args.code)
    if args.child:
        child(code, flows, args.rounds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        run = subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                              sys.executable, __file__, "--child", "--code", code, "--flows", flows,
                              "--rounds", str(args.rounds)], capture_output=True, text=True, check=False)
        total = re.search(r"Collected : (\d+)", run.stderr)
        count = re.search(r"messages=(\d+)", run.stdout)
        if run.returncode or not total or not count:
            sys.exit(f"the run under callgrind failed:\n{run.stdout}\n{run.stderr[-2000:]}")
    per_message = int(total.group(1)) / int(count.group(1))
    print(f"reader: {code}\nflows:  {flows}\n{int(count.group(1))} messages read, "
          f"{int(total.group(1)):,} instructions, {per_message:,.0f} a message")


if __name__ == "__main__":
    main()
