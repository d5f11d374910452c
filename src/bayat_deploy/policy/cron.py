"""Five-field cron expressions (minute hour day-of-month month day-of-week).

Maintenance windows and GitLab freeze periods are written as cron starts, so the policy parses them
once, here, and the window gate asks this class for the next start in local wall-clock time. Time
zones and daylight-saving transitions are the window module's business, not this one's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

_MONTHS = {name: i for i, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
_DAYS = {name: i for i, name in enumerate("SUN MON TUE WED THU FRI SAT".split())}
_MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# (name, low, high, names)
_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)


def _number(text: str, low: int, high: int, names: dict[str, int], field: str) -> int:
    value = names.get(text.upper())
    if value is None:
        if not text.isdigit():
            raise ValueError(f"{field}: {text!r} is not a number" + (" or a name" if names else ""))
        value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{field}: {value} is outside {low}-{high}")
    return value


def _parse_field(text: str, low: int, high: int, names: dict[str, int], field: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ValueError(f"{field}: empty list item in {text!r}")
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{field}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _number(a, low, high, names, field), _number(b, low, high, names, field)
            if start > end:
                raise ValueError(f"{field}: range {part!r} runs backwards")
        else:
            start = _number(part, low, high, names, field)
            end = high if step > 1 else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, expression: str) -> "Cron":
        text = " ".join(str(expression).split())
        fields = _MACROS.get(text.lower(), text).split(" ")
        if len(fields) != 5:
            raise ValueError(
                f"cron {expression!r} needs 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
            )
        parsed = [_parse_field(f, lo, hi, names, name) for f, (name, lo, hi, names) in zip(fields, _FIELDS)]
        weekdays = frozenset(d % 7 for d in parsed[4])
        return cls(text, parsed[0], parsed[1], parsed[2], parsed[3], weekdays,
                   fields[2] != "*", fields[4] != "*")

    def __str__(self) -> str:
        return self.expression

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        # Vixie cron: when both day fields are restricted, either one matching is enough.
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        return dom and dow

    def matches(self, moment: datetime) -> bool:
        return (moment.minute in self.minutes and moment.hour in self.hours and self.matches_day(moment.date()))

    def next_after(self, moment: datetime, *, inclusive: bool = False, horizon_days: int = 366 * 5) -> datetime | None:
        """The first matching minute after ``moment`` (wall-clock, naive or aware kept as given)."""
        start = moment.replace(second=0, microsecond=0)
        if not (inclusive and start == moment):
            start += timedelta(minutes=1)
        day = start.date()
        for offset in range(horizon_days):
            current = day + timedelta(days=offset)
            if not self.matches_day(current):
                continue
            for hour in sorted(self.hours):
                for minute in sorted(self.minutes):
                    candidate = start.replace(year=current.year, month=current.month, day=current.day,
                                              hour=hour, minute=minute)
                    if candidate >= start:
                        return candidate
        return None

    def previous_before(self, moment: datetime, *, horizon_days: int = 366 * 5) -> datetime | None:
        """The last matching minute at or before ``moment``."""
        end = moment.replace(second=0, microsecond=0)
        for offset in range(horizon_days):
            current = end.date() - timedelta(days=offset)
            if not self.matches_day(current):
                continue
            for hour in sorted(self.hours, reverse=True):
                for minute in sorted(self.minutes, reverse=True):
                    candidate = end.replace(year=current.year, month=current.month, day=current.day,
                                            hour=hour, minute=minute)
                    if candidate <= end:
                        return candidate
        return None
