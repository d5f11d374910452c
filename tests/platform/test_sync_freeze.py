"""GitLab freeze periods as the complement of enforced maintenance windows: the table of cases, and a
check of every case against GitLab's own activity rule (a period is active while its latest
`freeze_start` is more recent than its latest `freeze_end`), minute by minute over a week."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bayat_deploy.errors import BadInput
from bayat_deploy.platform.sync.freeze import WeeklyWindow, complement, plan
from bayat_deploy.policy.cron import Cron
from bayat_deploy.policy.loader import load_policy

SUNDAY = datetime(2026, 3, 1)  # a Sunday: cron day 0


def windows(*specs) -> list[WeeklyWindow]:
    """(cron, minutes[, timezone[, every_weeks]]) -> windows of production."""
    found = []
    for index, spec in enumerate(specs):
        cron, minutes, zone, every = (*spec, "UTC", 1)[:4] if len(spec) == 2 else (*spec, 1)[:4]
        found.append(WeeklyWindow("production", index, Cron.parse(cron), minutes, zone, every))
    return found


CASES = [
    pytest.param(windows(("0 2 * * SUN", 180)), [("0 5 * * 0", "0 2 * * 0")], "UTC", None,
                 id="standard: Sunday 02:00-05:00 -> freeze Sunday 05:00 until the next Sunday 02:00"),
    pytest.param(windows(("0 2 * * SUN", 180), ("0 22 * * WED", 180)),
                 [("0 5 * * 0", "0 22 * * 3"), ("0 1 * * 4", "0 2 * * 0")], "UTC", None,
                 id="two windows a week -> two freezes between them"),
    pytest.param(windows(("0 22 * * SAT", 240)), [("0 2 * * 0", "0 22 * * 6")], "UTC", None,
                 id="a window across midnight: Saturday 22:00 until Sunday 02:00"),
    pytest.param(windows(("30 1 * * SUN", 150, "Europe/Berlin")), [("0 4 * * 0", "30 1 * * 0")], "Europe/Berlin",
                 None, id="a time zone: wall-clock crons in cron_timezone"),
    pytest.param(windows(("0 2 * * *", 180)), [("0 5 * * *", "0 2 * * *")], "UTC", None,
                 id="a daily window -> one period with every day"),
    pytest.param(windows(("0 2 * * MON-FRI", 60)), [("0 3 * * 1,2,3,4", "0 2 * * 2,3,4,5"), ("0 3 * * 5", "0 2 * * 1")],
                 "UTC", None, id="weekdays -> nights share one period, the weekend is its own"),
    pytest.param(windows(("0 2 * * SUN", 180), ("0 4 * * SUN", 120)), [("0 6 * * 0", "0 2 * * 0")], "UTC", None,
                 id="overlapping windows merge"),
    pytest.param(windows(("0 2 * * SUN", 180), ("0 5 * * SUN", 60)), [("0 6 * * 0", "0 2 * * 0")], "UTC", None,
                 id="adjacent windows merge"),
    pytest.param(windows(("0 10 * * TUE", 240, "UTC", 2)), [("0 14 * * 2", "0 10 * * 2")], "UTC",
                 "opens every 2 weeks; a freeze cron repeats every week",
                 id="bi-weekly: the weekly complement; the window gate refuses the off weeks"),
    pytest.param(windows(("0 0 * * *", 24 * 60)), [], "UTC", "cover the whole week", id="always open: no freeze"),
    pytest.param([], [], None, "nothing to freeze", id="no enforced windows: no freeze"),
]


@pytest.mark.parametrize("given, expected, zone, note", CASES)
def test_complement_table(given, expected, zone, note):
    result = complement(given)
    assert [(p.freeze_start, p.freeze_end) for p in result.periods] == expected
    assert result.timezone == zone
    assert all(p.cron_timezone == zone for p in result.periods)
    if note:
        assert any(note in text for text in result.notes), result.notes
    else:
        assert result.notes == ()


def _latest(cron: str, moment: datetime) -> datetime:
    return Cron.parse(cron).previous_before(moment, horizon_days=15) or datetime.min


def gitlab_frozen(periods, moment: datetime) -> bool:
    """Ci::FreezePeriod: active while the latest freeze_start is more recent than the latest freeze_end."""
    return any(_latest(p.freeze_start, moment) > _latest(p.freeze_end, moment) for p in periods)


def inside(given: list[WeeklyWindow], moment: datetime) -> bool:
    for window in given:
        start = window.cron.previous_before(moment, horizon_days=15)
        if start is not None and moment < start + timedelta(minutes=window.minutes):
            return True
    return False


@pytest.mark.parametrize("given, expected, zone, note", CASES)
def test_gitlab_freezes_exactly_outside_the_windows(given, expected, zone, note):
    periods = complement(given).periods
    week = [SUNDAY + timedelta(days=7, minutes=m, seconds=30) for m in range(0, 7 * 24 * 60, 10)]
    edges = []
    for period in periods:  # one minute either side of every boundary
        for cron in (period.freeze_start, period.freeze_end):
            moment = Cron.parse(cron).next_after(SUNDAY + timedelta(days=7), inclusive=True)
            edges += [moment - timedelta(seconds=30), moment + timedelta(seconds=30)]
    for moment in week + edges:  # no enforced windows: deploy any time; bi-weekly: every week (see CASES)
        assert gitlab_frozen(periods, moment) == (bool(given) and not inside(given, moment)), moment


@pytest.mark.parametrize("given, message", [
    (windows(("0 2 * * SUN", 180, "UTC"), ("0 3 * * SUN", 120, "Europe/Berlin")), "2 time zones"),
    (windows(("0 2 1 * *", 180)), "repeats by day of month or month"),
    (windows(("0 2 * 1-6 SUN", 180)), "repeats by day of month or month"),
    (windows(("*/5 * * * *", 1)), "freeze periods (at most 28"),
])
def test_windows_a_freeze_cannot_express_are_refused_with_the_way_out(given, message):
    with pytest.raises(BadInput) as caught:
        complement(given)
    assert message in str(caught.value)
    assert "--no-freeze" in str(caught.value)


def test_the_standard_policy_freezes_production_outside_sunday_2_to_5(tmp_path):
    (tmp_path / ".bayat").mkdir()
    (tmp_path / ".bayat" / "deploy.yml").write_text("project: shop\n")
    result = plan(load_policy(tmp_path / ".bayat" / "deploy.yml").policy)
    assert [p.as_api() for p in result.periods] == [
        {"freeze_start": "0 5 * * 0", "freeze_end": "0 2 * * 0", "cron_timezone": "UTC"}]
    assert result.sources == ("production",)  # staging's bi-weekly window is announced, not enforced
    assert result.periods[0].description == "Sun 05:00 until the next Sun 02:00 UTC (165h)"
