"""Cron expressions: parsing, matching and finding the next/previous start."""

from __future__ import annotations

from datetime import datetime

import pytest

from bayat_deploy.policy.cron import Cron


@pytest.mark.parametrize("expression, after, expected", [
    ("0 2 * * SUN", datetime(2026, 11, 27, 12, 0), datetime(2026, 11, 29, 2, 0)),   # Friday -> Sunday
    ("0 2 * * 0", datetime(2026, 11, 29, 2, 0), datetime(2026, 12, 6, 2, 0)),      # strictly after
    ("0 2 * * 7", datetime(2026, 11, 29, 1, 59), datetime(2026, 11, 29, 2, 0)),    # 7 is Sunday too
    ("*/15 9-17 * * MON-FRI", datetime(2026, 11, 27, 17, 50), datetime(2026, 11, 30, 9, 0)),
    ("30 10 1 * *", datetime(2026, 12, 15), datetime(2027, 1, 1, 10, 30)),
    ("0 0 29 2 *", datetime(2026, 3, 1), datetime(2028, 2, 29, 0, 0)),             # leap day
    ("@weekly", datetime(2026, 11, 27), datetime(2026, 11, 29, 0, 0)),
    ("0 12 1 * MON", datetime(2026, 11, 27), datetime(2026, 11, 30, 12, 0)),       # dom OR dow (Vixie)
    ("0 10 * JAN,JUL TUE", datetime(2026, 11, 27), datetime(2027, 1, 5, 10, 0)),
    ("5/20 * * * *", datetime(2026, 1, 1, 0, 26), datetime(2026, 1, 1, 0, 45)),
])
def test_next_after(expression, after, expected):
    assert Cron.parse(expression).next_after(after) == expected


def test_inclusive_next_and_previous():
    cron = Cron.parse("0 2 * * SUN")
    start = datetime(2026, 11, 29, 2, 0)
    assert cron.next_after(start, inclusive=True) == start
    assert cron.previous_before(datetime(2026, 11, 29, 4, 59)) == start
    assert cron.previous_before(datetime(2026, 11, 29, 1, 59)) == datetime(2026, 11, 22, 2, 0)


def test_impossible_date_never_fires():
    assert Cron.parse("0 0 30 2 *").next_after(datetime(2026, 1, 1), horizon_days=3000) is None


@pytest.mark.parametrize("expression, message", [
    ("0 2 * *", "needs 5 fields"), ("60 * * * *", "minute: 60 is outside 0-59"),
    ("0 24 * * *", "hour: 24"), ("0 0 0 * *", "day of month: 0"), ("0 0 * 13 *", "month: 13"),
    ("0 0 * * FUNDAY", "not a number or a name"), ("0 0 * * 5-1", "runs backwards"), ("*/0 * * * *", "step"),
    ("1,,2 * * * *", "empty list item"),
])
def test_bad_expressions(expression, message):
    with pytest.raises(ValueError, match=message):
        Cron.parse(expression)
