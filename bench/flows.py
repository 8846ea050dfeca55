"""How long loading and checking the flows takes, for the real set and for 50 flows.

    python bench/flows.py [--flows 50] [--repeat 5]

The 50-flow set is the real one plus copies of rights.yaml chained through
their "I am not in the US" option, so every copy is reachable and translated (the
copies share the English texts, so the Spanish catalog covers them). Each
copy's eight pages that only free text leads to (flows/understanding.yaml
names the real flow's) are reported unreachable: the errors the large set
prints, all of them `unreachable-node`. Both
sets go through the same `bot.published_flows.load` the server and `flows check` use:
YAML with line numbers, schema, catalogs, every cross-check and the segment
budget in both languages. Reported as time per set and per flow, and as the
ratio of the two sets, measured in the same run.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bot import published_flows  # noqa: E402
from bot.engine.problems import errors  # noqa: E402


# The option of the US menu that leads on (to the question of where the person is).
LINK = 'label: "I am not in the US"\n        goto: where'


def make_set(folder: str, total: int) -> int:
    """Copy flows/ into ``folder`` and add chained copies of rights.yaml up to ``total`` flows."""
    shutil.copytree(os.path.join(ROOT, "flows"), folder)
    real = len([f for f in os.listdir(folder) if f.endswith(".yaml")]) - 3  # keywords, system, hotlines
    with open(os.path.join(folder, "rights.yaml"), encoding="utf-8") as fh:
        rights = fh.read()
    copies = max(0, total - real)
    if copies and LINK not in rights:
        raise SystemExit(f"flows/rights.yaml has no {LINK!r} to chain the copies through: update bench/flows.py")
    for k in range(1, copies + 1):
        text = re.sub(r"^flow: rights$", f"flow: rights_{k}", rights, flags=re.M)
        nxt = f"rights_{k + 1}" if k < copies else "main.menu"
        # That option of copy k leads to copy k+1: every copy is reachable.
        text = text.replace(LINK, LINK.replace("where", nxt))
        with open(os.path.join(folder, f"rights_{k}.yaml"), "w", encoding="utf-8") as fh:
            fh.write(text)
    if copies:
        path = os.path.join(folder, "rights.yaml")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(rights.replace(LINK, LINK.replace("where", "rights_1")))
    return real + copies


def time_load(folder: str, repeat: int) -> tuple[float, int, int]:
    locales = os.path.join(ROOT, "locales")
    times = []
    for _ in range(repeat):
        published_flows.forget_checked()  # a check from nothing, as at a worker's start
        t = time.perf_counter()
        fs, problems = published_flows.load(folder, locales)
        times.append(time.perf_counter() - t)
    nodes = sum(len(f.nodes) for f in fs.flows.values())
    return statistics.median(times), nodes, len(errors(problems))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="helpline-flows-")
    try:
        small = os.path.join(tmp, "real")
        big = os.path.join(tmp, "big")
        n_small = make_set(small, 0)
        n_big = make_set(big, args.flows)
        t_small, nodes_small, err_small = time_load(small, args.repeat)
        t_big, nodes_big, err_big = time_load(big, args.repeat)
        print(f"load + check, median of {args.repeat}:")
        print(f"  real set  {n_small:3d} flows {nodes_small:5d} nodes  {t_small * 1000:7.1f} ms  "
              f"({t_small / n_small * 1000:.1f} ms per flow)  errors {err_small}")
        print(f"  large set {n_big:3d} flows {nodes_big:5d} nodes  {t_big * 1000:7.1f} ms  "
              f"({t_big / n_big * 1000:.1f} ms per flow)  errors {err_big}")
        print(f"ratio large/real: {t_big / t_small:.1f}x the time for {n_big / n_small:.1f}x the flows")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
