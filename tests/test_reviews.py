"""Content review dates: every hotline and rights page carries `reviewed:`, and
`flows check` warns when a review is missing or older than 6 months."""
from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from bot.published_flows import load
from bot.engine.problems import WARNING
from bot.engine.validate import REVIEW_DAYS, reviews

REPO = Path(__file__).resolve().parents[1]


def review_warnings(today):
    _, problems = load(str(REPO / "flows"), str(REPO / "locales"), today=today)
    return [p for p in problems if p.severity == WARNING and "review" in p.message]


def test_every_hotline_and_rights_page_carries_a_review_date():
    fs, _ = load(str(REPO / "flows"), str(REPO / "locales"))
    items = reviews(fs, datetime.date.today())
    assert {r.what for r in items} >= {f"hotline `{h}`" for h in fs.hotlines}
    pages = [r for r in items if r.what.startswith("page `rights.")]
    assert len(pages) >= 6  # pay and work, documents, police, visas, children, Mexico (+ asylum)
    assert all(r.reviewed for r in items), [r.what for r in items if not r.reviewed]


def test_no_warning_while_reviews_are_recent():
    newest = max(datetime.date.fromisoformat(r.reviewed) for r in reviews(load(str(REPO / "flows"), str(REPO / "locales"))[0], datetime.date.today()))
    assert review_warnings(newest) == []


@pytest.mark.slow
def test_a_review_older_than_six_months_is_a_warning_that_says_where_and_what():
    fs, _ = load(str(REPO / "flows"), str(REPO / "locales"))
    oldest = min(datetime.date.fromisoformat(r.reviewed) for r in reviews(fs, datetime.date.today()))
    later = oldest + datetime.timedelta(days=REVIEW_DAYS + 1)
    warnings = review_warnings(later)
    assert warnings
    first = warnings[0]
    assert first.path.endswith((".yaml",)) and first.line > 1
    assert "more than 6 months ago" in first.message and "update `reviewed:`" in first.message
    # Still only a warning: the service keeps running on content due for review.
    _, problems = load(str(REPO / "flows"), str(REPO / "locales"), today=later)
    assert not [p for p in problems if p.severity != WARNING]
