"""``/ops/figures`` and ``/ops/figures.csv``: counts over a chosen period.

Charts are SVG drawn on the server (no script, no outside assets): bars a
person can read at a glance, each with its number written beside it. The
CSV has the same counts per day. Counts only: see :mod:`bot.figures`.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import logging

from flask import Response, flash, render_template, request

from ...engine.translations import language_name
from ...figures import Period, csv_rows
from ...handoff_context import outcome_name
from ...helpline import safe_error
from ...step_names import StepNames
from ...store import STORE_DOWN
from .blueprint import CHANNEL_NAMES, bp, console, served_flows
from .wrapup import wrapup_counts

log = logging.getLogger(__name__)

LONGEST_PERIOD = 366  # days
PRESETS = [("Today", 1), ("7 days", 7), ("30 days", 30), ("90 days", 90)]

HANDOFF_NAMES = [
    ("requested", "Asked for a person"),
    ("unavailable", "Nobody on duty: got the numbers"),
    ("lapsed", "Waited, then got the numbers: nobody on duty any more"),
    ("answered", "Answered by a person"),  # people, not claims: a take-over is not a second person
    ("replies", "Replies sent by operators"),
]


# The page and its CSV name every count the same way (languages: language_name, as everywhere).
def channel_name(key: str) -> str:
    return CHANNEL_NAMES.get(key, key)


def period_asked() -> tuple[dt.date, dt.date]:
    figures = console().figures
    today = figures.today()
    start, end = today - dt.timedelta(days=6), today
    try:
        if request.args.get("days"):
            days = max(1, min(LONGEST_PERIOD, int(request.args["days"])))
            return today - dt.timedelta(days=days - 1), today
        if request.args.get("from"):
            start = dt.date.fromisoformat(request.args["from"])
        if request.args.get("to"):
            end = dt.date.fromisoformat(request.args["to"])
    except ValueError:
        flash("Dates are written like 2025-03-31. Showing the last 7 days.", "error")
        return today - dt.timedelta(days=6), today
    if start > end:
        start, end = end, start
    if (end - start).days >= LONGEST_PERIOD:
        flash(f"The longest period is {LONGEST_PERIOD} days: showing the last {LONGEST_PERIOD} days to {end}.", "info")
        start = end - dt.timedelta(days=LONGEST_PERIOD - 1)
    return start, end


def figures_of(start: dt.date, end: dt.date) -> Period:
    c = console()
    try:
        c.figures.catch_up()
    except STORE_DOWN as exc:  # the counts already made are still worth showing
        log.warning("figures not updated: %s", safe_error(exc))
    return c.figures.read(start, end)


def bars(items: list[tuple[str, int]], extra: dict[str, int] | None = None) -> dict:
    """A horizontal bar chart's rows: label, value, width (0-100), and an optional
    second measure drawn over the bar (people who left at a node)."""
    top = max([v for _, v in items] + [1])
    rows = []
    for label, value in items:
        more = (extra or {}).get(label, 0)
        rows.append({"label": label, "value": value, "width": 100 * value / top,
                     "extra": more, "extra_width": 100 * min(more, value or more) / top})
    return {"rows": rows, "height": 34 * len(rows) + 8}


def columns(series: list[tuple[dt.date, int]]) -> dict:
    """A column chart of conversations per day."""
    top = max([n for _, n in series] + [1])
    n = max(1, len(series))
    width = 100 / n
    cols = [{"day": day, "value": v, "x": i * width, "w": width, "h": 100 * v / top}
            for i, (day, v) in enumerate(series)]
    step = max(1, n // 10)  # at most about ten date labels
    return {"cols": cols, "top": top, "label_every": step}


def _flow_order(fs) -> list:
    """As a texter meets them: the first message, the main menu, then the menu's order."""
    first = [fs.system.start.split(".")[0], fs.system.main_menu.split(".")[0]]
    menu = fs.node(fs.system.main_menu)
    first += [o.goto.split(".")[0] for o in (menu.options if menu is not None else ())]
    ids = list(dict.fromkeys(f for f in first if f in fs.flows))
    ids += [f for f in fs.flows if f not in ids]
    return [fs.flows[f] for f in ids]


def flow_charts(period: Period, fs, names: StepNames) -> list[dict]:
    """Per flow: visits per step the person saw (in the file's order; routing
    steps left out) and where people left."""
    visits = period.by_node("visit")
    left = period.left()
    misses = period.by_node("miss")
    flows = _flow_order(fs) if fs else []
    order = [(f.id, f.title, [n.id for n in f.nodes]) for f in flows]
    known = {(f, n) for f, _, nodes in order for n in nodes}
    stray = sorted({k for k in [*visits, *left] if k not in known})  # nodes since removed from the flows
    for flow_id in sorted({f for f, _ in stray}):
        order.append((flow_id, f"{flow_id} (no longer in the flows)", [n for f, n in stray if f == flow_id]))
    charts = []
    for flow_id, title, nodes in order:
        items, extra, notes, kept = [], {}, {}, set()
        for node in nodes:
            v = visits.get((flow_id, node), 0)
            gone = sum(left.get((flow_id, node), {}).values())
            if (not v and not gone) or not names.seen(flow_id, node):
                continue
            label = names.name(flow_id, node)
            items.append((label, v))
            extra[label] = gone
            kept.add(node)
            notes[label] = misses.get((flow_id, node), 0)
        if items:
            chart = bars(items, extra)
            for row, node in zip(chart["rows"], [n for n in nodes if n in kept]):
                row["full"] = names.full(flow_id, node)
                row["misses"] = notes[row["label"]]
                row["share"] = round(100 * row["extra"] / row["value"]) if row["value"] else 0
            charts.append({"id": flow_id, "title": title, "chart": chart,
                           "visits": sum(v for _, v in items), "left": sum(extra.values())})
    return charts


def stops(period: Period, names: StepNames, limit: int = 10) -> dict:
    """Where the most people left, across flows."""
    left = {k: how for k, how in period.left().items() if names.seen(*k)}
    visits = period.by_node("visit")
    ranked = sorted(left.items(), key=lambda kv: -sum(kv[1].values()))[:limit]
    items = [(f"{names.flow_title(flow)} › {names.name(flow, node)}", sum(how.values())) for (flow, node), how in ranked]
    chart = bars(items)
    for row, ((flow, node), how) in zip(chart["rows"], ranked):
        row.update(how)
        row["full"] = names.full(flow, node)
        row["visits"] = visits.get((flow, node), 0)
    return chart


@bp.get("/figures")
def figures():
    start, end = period_asked()
    period = figures_of(start, end)
    fs = served_flows()
    langs = period.group("conv|lang")
    chans = period.group("conv|ch")
    outcomes = period.group("outcome")
    handoffs = period.group("handoff")
    today = console().figures.today()
    names = StepNames(fs)
    return render_template(
        "ops/figures.html",
        start=start,
        end=end,
        today=today,
        presets=PRESETS,
        total=period.total.get("conv", 0),
        per_day=columns(period.series()),
        langs=bars(sorted((language_name(k), v) for k, v in langs.items())),
        chans=bars(sorted((channel_name(k), v) for k, v in chans.items())),
        outcomes=bars(sorted(((outcome_name(k), v) for k, v in outcomes.items()), key=lambda kv: -kv[1])),
        handoffs=bars([(name, handoffs.get(k, 0)) for k, name in HANDOFF_NAMES]),
        exits=period.total.get("exit", 0),
        optouts=period.total.get("optout", 0),
        requested=handoffs.get("requested", 0),
        flows=flow_charts(period, fs, names),
        stops=stops(period, names),
        wrapups=bars(wrapup_counts(period)),
    )


def csv_label(names: StepNames):
    """The CSV's ``what`` column: the same words as the page."""
    handoffs = dict(HANDOFF_NAMES)

    def label(measure: str, key: str) -> str:
        if measure in ("node_visits", "unrecognised_replies") or measure.startswith("left_"):
            flow, _, node = key.partition(".")
            return f"{names.flow_title(flow)} › {names.name(flow, node)}" if node else key
        if measure == "conversations_by_language":
            return language_name(key)
        if measure == "conversations_by_channel":
            return channel_name(key)
        if measure == "outcomes":
            return outcome_name(key)
        if measure == "handoffs":
            return handoffs.get(key, key.replace("_", " ").capitalize())
        return key
    return label


@bp.get("/figures.csv")
def figures_csv():
    start, end = period_asked()
    period = figures_of(start, end)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(csv_rows(period, csv_label(StepNames(served_flows()))))
    name = f"helpline-figures-{start.isoformat()}-to-{end.isoformat()}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
