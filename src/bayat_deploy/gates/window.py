"""Maintenance-window arithmetic: when a window is open, and when it opens next.

A window is a cron start in local wall-clock time, a duration and a time zone (UTC unless the policy
names one), optionally only every N-th week counted from an anchor date. Starts are found in local
wall-clock time by the policy's cron parser, then turned into instants with zoneinfo.

Daylight-saving rules (one rule for the start and the end alike):

* A wall-clock time that does not exist (the spring-forward gap) means the moment the clock jumps
  past it: "Sunday 02:00" in Europe/Berlin on the last Sunday of March opens at 03:00 CEST.
* A wall-clock time that exists twice (the fall-back hour) means its first occurrence.
* The end is the start's wall-clock time plus the duration, read on the wall clock again: "Sunday
  02:00 for 3h" closes at 05:00 local on every Sunday, so on DST-change days the window is an hour
  shorter or longer in elapsed time. That is what a maintenance calendar promises to people ("02:00 to
  05:00"); elapsed-time ends would move the announced closing time by an hour twice a year.
* A window that lies wholly inside the gap (02:15 for 30 minutes) does not open on that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterator

UTC = timezone.utc
DST_SLACK = timedelta(hours=3)  # more than any daylight-saving shift (at most 2h, Antarctica/Troll)


@dataclass(frozen=True)
class Opening:
    """One occurrence of a window: [start, end) as aware datetimes in the window's time zone."""

    index: int  # position in maintenance.windows
    window: object  # policy MaintenanceWindow
    wall_start: datetime  # the cron's local wall-clock start (naive)
    start: datetime
    end: datetime
    note: str = ""  # how DST moved the start or end, if it did

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end

    def as_dict(self) -> dict:
        window = self.window
        return {
            "window": self.index, "description": window.description, "cron": str(window.cron),
            "timezone": str(window.timezone), "duration": str(window.duration), "every_weeks": window.every_weeks,
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "start_utc": utc_text(self.start), "end_utc": utc_text(self.end), "note": self.note,
        }

    def describe(self) -> str:
        """`Sun 2026-03-29 03:00 CEST (01:00 UTC) until 05:00 CEST (03:00 UTC)`, plus a DST note."""
        same_day = self.start.date() == self.end.date()
        end_local = self.end.strftime("%H:%M %Z" if same_day else "%a %Y-%m-%d %H:%M %Z")
        text = (f"{local_text(self.start)} ({utc_text(self.start)}) until {end_local} ({utc_text(self.end)})")
        label = self.window.description or f"window {self.index + 1} ({self.window.cron}, {self.window.duration})"
        return f"{text} - {label}" + (f" [{self.note}]" if self.note else "")


def local_text(moment: datetime) -> str:
    return moment.strftime("%a %Y-%m-%d %H:%M %Z")


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------------------------------------- instants
def parse_instant(text: str) -> datetime:
    """An ISO 8601 date-time with an offset or `Z`; a time without one is UTC. Raises ValueError."""
    value = text.strip()
    if not value:
        raise ValueError("an empty time")
    if value[-1] in "zZ":
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time (e.g. 2026-03-29T02:30:00+02:00 or "
                         f"2026-03-29T00:30Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _in_zone(instant: datetime, zone) -> datetime:
    # Through UTC: astimezone() to an instant's own tzinfo would not normalise a wall time in a gap.
    return instant.astimezone(UTC).astimezone(zone)


def _wall(instant: datetime, zone) -> datetime:
    return _in_zone(instant, zone).replace(tzinfo=None)


def localize(wall: datetime, zone) -> tuple[datetime, str]:
    """The instant a local wall-clock time stands for, by the module's DST rules, and a note when DST
    moved it."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    if _wall(first, zone) == wall:
        if first.utcoffset() != second.utcoffset() and _wall(second, zone) == wall:
            return _in_zone(first, zone), f"{wall:%H:%M} occurs twice (DST ends): the first occurrence counts"
        return _in_zone(first, zone), ""
    # In the gap: fold=1 reads it with the offset after the change (an instant before the jump), fold=0
    # with the offset before (an instant after it). The jump lies between; find the first instant whose
    # wall clock has reached `wall`.
    low, high = sorted((first.astimezone(UTC), second.astimezone(UTC)))
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _wall(middle, zone) >= wall:
            high = middle
        else:
            low = middle
    moment = _in_zone(high.replace(microsecond=0), zone)
    return moment, f"{wall:%H:%M} does not exist (DST starts): taken as {moment:%H:%M %Z}, when the clock jumps past it"


# ---------------------------------------------------------------------------------------------- weeks
def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _weeks_since_anchor(window, day: date) -> int:
    return (_monday(day) - _monday(window.anchor.value)).days // 7


def in_window_week(window, day: date) -> bool:
    if window.every_weeks <= 1 or window.anchor is None:
        return True
    return _weeks_since_anchor(window, day) % window.every_weeks == 0


def _next_window_week(window, day: date) -> datetime:
    """Midnight starting the next week the window runs in, after `day`'s week."""
    behind = _weeks_since_anchor(window, day) % window.every_weeks
    monday = _monday(day) + timedelta(weeks=window.every_weeks - behind)
    return datetime(monday.year, monday.month, monday.day)


def _previous_window_week_end(window, day: date) -> datetime:
    """The last minute of the latest week the window runs in, before `day`'s week."""
    behind = _weeks_since_anchor(window, day) % window.every_weeks or window.every_weeks
    monday = _monday(day) - timedelta(weeks=behind)
    return datetime(monday.year, monday.month, monday.day) + timedelta(weeks=1, minutes=-1)


# ---------------------------------------------------------------------------------------------- openings
def opening_for(index: int, window, wall_start: datetime) -> Opening | None:
    """The occurrence starting at a cron wall-clock time; None when it lies wholly in a DST gap."""
    zone = window.timezone.zoneinfo
    start, start_note = localize(wall_start, zone)
    end, end_note = localize(wall_start + window.duration.timedelta, zone)
    if end <= start:
        return None
    note = "; ".join(f"{which} {text}" for which, text in (("start", start_note), ("end", end_note)) if text)
    return Opening(index, window, wall_start, start, end, note)


def _starts(window, wall: datetime, limit: datetime | None = None) -> Iterator[datetime]:
    """Cron wall-clock starts at or after `wall` in weeks the window runs in, up to `limit`."""
    cron = window.cron.cron
    current = cron.next_after(wall, inclusive=True)
    while current is not None and (limit is None or current <= limit):
        if in_window_week(window, current.date()):
            yield current
            current = cron.next_after(current)
        else:
            current = cron.next_after(_next_window_week(window, current.date()), inclusive=True)


def _last_start_before(window, wall: datetime) -> datetime | None:
    cron = window.cron.cron
    current = cron.previous_before(wall)
    for _ in range(1000):
        if current is None or in_window_week(window, current.date()):
            return current
        current = cron.previous_before(_previous_window_week_end(window, current.date()))
    return None


def current_opening(windows, instant: datetime) -> Opening | None:
    """The occurrence of any window that is open at `instant`, or None."""
    found = []
    for index, window in enumerate(windows):
        zone = window.timezone.zoneinfo
        wall = _wall(instant, zone)
        # The latest occurrence starting at or before `instant` has the latest end (equal durations,
        # monotone localisation), so it alone decides whether this window is open.
        latest = None
        for start in _starts(window, wall - DST_SLACK, wall + DST_SLACK):
            opening = opening_for(index, window, start)
            if opening is not None and opening.start <= instant:
                latest = opening
        if latest is None:
            earlier = _last_start_before(window, wall - DST_SLACK)
            latest = opening_for(index, window, earlier) if earlier else None
        if latest is not None and latest.contains(instant):
            found.append(latest)
    return min(found, key=lambda o: (o.start, o.index)) if found else None


def upcoming_openings(windows, instant: datetime, count: int = 1) -> list[Opening]:
    """The next `count` occurrences of any window that start after `instant`, earliest first."""
    found: list[Opening] = []
    for index, window in enumerate(windows):
        zone = window.timezone.zoneinfo
        taken = 0
        for start in _starts(window, _wall(instant, zone) - DST_SLACK):
            opening = opening_for(index, window, start)
            if opening is None or opening.start <= instant:
                continue
            found.append(opening)
            taken += 1
            if taken >= count:
                break
    return sorted(found, key=lambda o: (o.start, o.index))[:count]


def announced_from(opening: Opening, maintenance) -> datetime:
    """When an opening's announcement falls due: announce_before of elapsed time ahead (in UTC, so a DST change
    in between does not move it by an hour)."""
    return opening.start.astimezone(timezone.utc) - timedelta(seconds=maintenance.announce_before.seconds)


def announcement_due(maintenance, instant: datetime, every: float) -> Opening | None:
    """The opening whose announcement falls due in (instant - every, instant]: it starts within
    `announce_before`, and did not yet an `every` earlier. A schedule that runs every `every` seconds therefore
    announces each opening exactly once, and needs no memory of what it sent."""
    if not (maintenance.announce and maintenance.windows):
        return None
    for opening in upcoming_openings(maintenance.windows, instant, count=len(maintenance.windows) * 4):
        due = announced_from(opening, maintenance)
        if instant - timedelta(seconds=every) < due <= instant:
            return opening
    return None


@dataclass(frozen=True)
class Decision:
    """Whether an environment may deploy at an instant, as far as windows go."""

    at: datetime
    restricted: bool  # the environment has windows at all
    current: Opening | None
    next: Opening | None

    @property
    def inside(self) -> bool:
        return self.current is not None

    def as_dict(self) -> dict:
        return {"at": self.at.isoformat(), "restricted": self.restricted,
                "decision": "not-restricted" if not self.restricted else "inside" if self.inside else "outside",
                "window": self.current.as_dict() if self.current else None,
                "next_opening": self.next.as_dict() if self.next else None}


def decide(maintenance, instant: datetime) -> Decision:
    windows = maintenance.windows
    if not windows:
        return Decision(instant, False, None, None)
    upcoming = upcoming_openings(windows, instant, 1)
    return Decision(instant, True, current_opening(windows, instant), upcoming[0] if upcoming else None)
