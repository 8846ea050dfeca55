"""`flows graph`: Mermaid flowcharts with every node and every way out of it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import published_flows
from bot.graph import _id, mermaid

REPO = Path(__file__).resolve().parents[1]
FS, _ = published_flows.load(str(REPO / "flows"), str(REPO / "locales"))


@pytest.mark.parametrize("flow_id", sorted(FS.flows))
def test_every_node_and_every_goto_is_drawn(flow_id):
    text = mermaid(FS, flow_id)
    assert text.startswith("flowchart TD\n")
    flow = FS.flows[flow_id]
    for node in flow.nodes:
        here = _id(f"{flow_id}.{node.id}")
        assert re.search(rf"^  {here}[\[({{]", text, re.M), node.id
        for target, _ in node.targets():
            assert re.search(rf"^  {here} (-- \"[^\"]*\" )?--> {_id(target)}$", text, re.M), (node.id, target)


def test_counts_are_shown_per_node():
    text = mermaid(FS, "main", counts={"main.menu": 42})
    assert "42 visits" in text and "0 visits" not in text.split("main__menu", 1)[1].split("\n", 1)[0]


@pytest.mark.slow
def test_cli_prints_one_flow_or_writes_all(app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["flows", "graph", "screening"])
    assert result.exit_code == 0 and "screening__route" in result.output
    result = runner.invoke(args=["flows", "graph", "--out", str(tmp_path)])
    assert result.exit_code == 0
    assert sorted(p.stem for p in tmp_path.glob("*.mmd")) == sorted(FS.flows)
    assert runner.invoke(args=["flows", "graph", "nope"]).exit_code != 0
