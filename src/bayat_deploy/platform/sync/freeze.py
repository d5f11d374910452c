"""GitLab deploy freeze periods as the complement of the policy's enforced maintenance windows.

GitLab's model: a freeze period is a `freeze_start` cron, a `freeze_end` cron and a `cron_timezone`;
GitLab sets `$CI_DEPLOY_FREEZE` while any freeze period is active, and a period is active when its
latest `freeze_start` is more recent than its latest `freeze_end` (Ci::FreezePeriod). Freeze periods
belong to the whole project; the generated pipeline reads `$CI_DEPLOY_FREEZE` in the deploy jobs of
environments whose windows are enforced.

How the complement is computed:

* Every enforced window of every environment is laid onto one week (minutes from Sunday 00:00, the
  cron's day 0): one interval per cron start, `duration` long. The freeze lifts during any of them
  (the union): the freeze is the platform's backstop, each deploy job's own window gate
  (`bayat-deploy window check`) still checks its environment's windows.
* The gaps between the merged intervals are the freezes: each runs from the end of one opening to
  the start of the next (`Sunday 02:00 for 3h` -> `0 5 * * 0` until `0 2 * * 0`). Gaps with the same
  start time and length on several weekdays share one period with a day list (a daily window gives
  one period `0 5 * * *` until `0 2 * * *`).
* Window ends are rounded down to the minute (the freeze starts at most a minute early, never late).

What a cron pair cannot express, and what happens then:

* Windows every N weeks (`every_weeks: 2`): a freeze cron cannot skip weeks. The freeze is the weekly
  complement, so it also lifts in the off weeks; the window gate refuses deployments there. The plan
  says so in its notes.
* Windows in different time zones: a period has one `cron_timezone` and the offsets between zones
  change with daylight saving, so there is no exact union; refused (exit 2) - use one time zone for
  every enforced window, or sync without freezes (`--no-freeze`).
* Windows repeating by day of month or month (`0 2 1 * *`): not a weekly pattern; refused likewise.
* Windows that together cover the whole week: nothing to freeze, no periods.
"""

from __future__ import annotations

from dataclasses import dataclass

from bayat_deploy.errors import BadInput

DAY = 24 * 60
WEEK = 7 * DAY
DAY_NAMES = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
MAX_PERIODS = 28  # four a day: more means a window cron (every few minutes) no freeze list should mirror


@dataclass(frozen=True)
class FreezePeriod:
    freeze_start: str
    freeze_end: str
    cron_timezone: str
    description: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.freeze_start, self.freeze_end, self.cron_timezone)

    def as_api(self) -> dict:
        return {"freeze_start": self.freeze_start, "freeze_end": self.freeze_end,
                "cron_timezone": self.cron_timezone}


@dataclass(frozen=True)
class FreezePlan:
    periods: tuple[FreezePeriod, ...]
    timezone: str | None
    sources: tuple[str, ...]  # environments whose enforced windows were used
    notes: tuple[str, ...]  # what the periods do not express exactly


@dataclass(frozen=True)
class WeeklyWindow:
    """One enforced window, as the complement needs it."""

    environment: str
    index: int
    cron: object  # policy.cron.Cron
    minutes: int  # duration, rounded down to whole minutes
    timezone: str
    every_weeks: int = 1

    @property
    def where(self) -> str:
        return f"environments.{self.environment}.maintenance.windows[{self.index}]"


def enforced_windows(policy) -> list[WeeklyWindow]:
    found = []
    for name, env in policy.environments.items():
        if not (env.maintenance.enforce and env.maintenance.windows):
            continue
        for index, window in enumerate(env.maintenance.windows):
            found.append(WeeklyWindow(name, index, window.cron.cron, int(window.duration.seconds // 60),
                                      window.timezone.name, window.every_weeks))
    return found


def plan(policy) -> FreezePlan:
    return complement(enforced_windows(policy))


def complement(windows: list[WeeklyWindow]) -> FreezePlan:
    sources = tuple(dict.fromkeys(w.environment for w in windows))
    if not windows:
        return FreezePlan((), None, (), ("no environment enforces maintenance windows: nothing to freeze",))
    zones = sorted({w.timezone for w in windows})
    if len(zones) > 1:
        listed = "; ".join(f"{w.where}: {w.timezone}" for w in windows)
        raise BadInput(f"enforced maintenance windows use {len(zones)} time zones ({listed}); a GitLab freeze "
                       "period has one cron_timezone and the offsets between zones move with daylight saving, so "
                       "their union has no exact freeze: give every enforced window the same timezone, or sync "
                       "without freeze periods (--no-freeze)")
    notes = []
    intervals = []
    for window in windows:
        _check_weekly(window)
        if window.every_weeks > 1:
            notes.append(f"{window.where} opens every {window.every_weeks} weeks; a freeze cron repeats every "
                         "week, so the freeze also lifts at that time in the off weeks and the window gate "
                         "(bayat-deploy window check) refuses those deployments")
        if window.minutes <= 0:
            notes.append(f"{window.where} lasts less than a minute: ignored")
            continue
        for start in _weekly_starts(window.cron):
            intervals.append((start, start + window.minutes))
    gaps = _gaps(intervals)
    if not gaps:
        notes.append("the enforced windows cover the whole week: nothing to freeze")
        return FreezePlan((), zones[0], sources, tuple(notes))
    periods = _periods(gaps, zones[0])
    if len(periods) > MAX_PERIODS:
        raise BadInput(f"the complement of the enforced windows needs {len(periods)} freeze periods (at most "
                       f"{MAX_PERIODS} are written): windows that open every few minutes are not a maintenance "
                       "calendar; widen them, or sync without freeze periods (--no-freeze)")
    return FreezePlan(periods, zones[0], sources, tuple(notes))


def _check_weekly(window: WeeklyWindow) -> None:
    cron = window.cron
    if cron.days_restricted or len(cron.months) != 12:
        raise BadInput(f"{window.where}: cron {str(cron)!r} repeats by day of month or month; a freeze period can "
                       "only be computed for windows that repeat every week (day-of-month and month '*'), or "
                       "sync without freeze periods (--no-freeze)")


def _weekly_starts(cron) -> list[int]:
    days = cron.weekdays if cron.weekdays_restricted else frozenset(range(7))
    return sorted(day * DAY + hour * 60 + minute for day in days for hour in cron.hours for minute in cron.minutes)


def _gaps(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(start, length) of every stretch of the week outside all intervals, cyclically."""
    if any(end - start >= WEEK for start, end in intervals):
        return []
    pieces = []
    for start, end in intervals:  # split at the week's end so everything lies in [0, WEEK)
        start, end = start % WEEK, start % WEEK + (end - start)
        pieces += [(start, WEEK), (0, end - WEEK)] if end > WEEK else [(start, end)]
    merged: list[list[int]] = []
    for start, end in sorted(pieces):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if sum(end - start for start, end in merged) >= WEEK:
        return []
    gaps = []
    for (_, end), (following, _) in zip(merged, merged[1:] + [[merged[0][0] + WEEK, 0]]):
        if following > end:
            gaps.append((end % WEEK, following - end))
    return gaps


def _periods(gaps: list[tuple[int, int]], timezone: str) -> tuple[FreezePeriod, ...]:
    grouped: dict[tuple[int, int], list[int]] = {}
    for start, length in gaps:
        grouped.setdefault((start % DAY, length), []).append(start // DAY)
    periods = []
    for (time_of_day, length), days in sorted(grouped.items(), key=lambda item: (min(item[1]), item[0])):
        end_time = (time_of_day + length) % DAY
        end_days = sorted({(day + (time_of_day + length) // DAY) % 7 for day in days})
        start_cron = f"{time_of_day % 60} {time_of_day // 60} * * {_day_list(days)}"
        end_cron = f"{end_time % 60} {end_time // 60} * * {_day_list(end_days)}"
        periods.append(FreezePeriod(start_cron, end_cron, timezone,
                                    _describe(sorted(days), time_of_day, end_days, end_time, length, timezone)))
    return tuple(periods)


def _day_list(days) -> str:
    days = sorted(set(days))
    return "*" if len(days) == 7 else ",".join(str(day) for day in days)


def _describe(days, start, end_days, end, length, timezone) -> str:
    when = "daily" if len(days) == 7 else "/".join(DAY_NAMES[d] for d in days)
    until = ("/".join(DAY_NAMES[d] for d in end_days) + " ") if len(days) != 7 or length >= DAY else ""
    if until and length >= DAY and days == end_days:
        until = f"the next {until}"
    hours = f"{length // 60}h" + (f"{length % 60}m" if length % 60 else "")
    return f"{when} {start // 60:02d}:{start % 60:02d} until {until}{end // 60:02d}:{end % 60:02d} {timezone} ({hours})"
