"""Scale-to-zero schedules: the one home of what a cron expression and a time zone may be.

The settings check a stack's `aws.gpu_vm.schedule` with these before anything registers, and the GPU VM
component checks its own args with the same functions, so both refuse exactly the same values. Pure: no
Pulumi, no cloud.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence

CRON_FIELDS = (
    # (name, lowest, highest, names allowed in place of numbers)
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
    # 0 and 7 are both Sunday in cron; AWS Auto Scaling recurrence is Unix cron
    # (docs.aws.amazon.com/autoscaling/ec2/userguide/scheduled-scaling-recurring-schedules.html).
    ("day of week", 0, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)
"""The five fields of a Unix cron expression and their ranges."""

_ITEM = re.compile(r"^(?P<range>\*|(?P<lo>[0-9A-Za-z]+)(-(?P<hi>[0-9A-Za-z]+))?)(/(?P<step>\d+))?$")


def cron_problem(expression: str) -> str | None:
    """What is wrong with a 5-field Unix cron expression (`0 20 * * MON-FRI`), or None when it is valid."""
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        return "a 5-field cron, e.g. '0 20 * * MON-FRI'"
    for text, (name, low, high, names) in zip(fields, CRON_FIELDS, strict=True):
        for item in text.split(","):
            match = _ITEM.match(item)
            if match is None:
                return f"{name} {item!r}: a number, a range a-b, a list a,b, a step */n or *"
            for bound in (match.group("lo"), match.group("hi")):
                if bound is None:
                    continue
                value = _cron_value(bound, names)
                if value is None or not low <= value <= high:
                    named = f" or {names[0]}-{names[-1]}" if names else ""
                    return f"{name} {bound!r}: allowed {low} to {high}{named}"
            step = match.group("step")
            if step is not None and not 1 <= int(step) <= high:
                return f"{name} step /{step}: allowed 1 to {high}"
    return None


def _cron_value(text: str, names: tuple[str, ...]) -> int | None:
    if text.isdigit():
        return int(text)
    upper = text.upper()
    if upper in names:
        # month names count from 1, day names from 0 (SUN)
        return names.index(upper) + (1 if len(names) == 12 else 0)
    return None


def time_zone_problem(name: str) -> str | None:
    """What is wrong with an IANA time zone name (`Europe/Paris`, `UTC`), or None when it is one."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "not an IANA time zone such as Europe/Paris or UTC"
    return None


# ---------------------------------------------------------------------------------------------
# Hours on per month: what a schedule leaves running, for the plan's cost (issue 19)
# ---------------------------------------------------------------------------------------------

REFERENCE_YEAR = 2026
"""The calendar a schedule is counted over: a non-leap year (365 days), so an always-on server gets
8,760 / 12 = 730 hours a month, the month sizing prices with (sizing/_common.py HOURS_PER_MONTH)."""

_MINUTES_PER_YEAR = 365 * 24 * 60
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _cron_values(text: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    """Every value one valid cron field matches (`cron_problem` has accepted the expression)."""
    values: set[int] = set()
    for item in text.split(","):
        match = _ITEM.match(item)
        assert match is not None  # validated by cron_problem first
        step = int(match.group("step") or 1)
        if match.group("range") == "*":
            first, last = low, high
        else:
            first = _cron_value(match.group("lo"), names) or 0
            hi = match.group("hi")
            last = (_cron_value(hi, names) or 0) if hi is not None else (high if match.group("step") else first)
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _cron_minutes(expression: str) -> list[int]:
    """The minutes of REFERENCE_YEAR (from its first minute) at which a 5-field cron fires.

    Unix cron semantics (the AWS Auto Scaling recurrence, docs.aws.amazon.com/autoscaling/ec2/userguide/
    scheduled-scaling-recurring-schedules.html): when both day of month and day of week are restricted, a
    day matching either fires; 7 is Sunday like 0."""
    import datetime

    fields = expression.split()
    minute, hour, dom, month, dow = (
        _cron_values(text, low, high, names) for text, (_, low, high, names) in zip(fields, CRON_FIELDS, strict=True)
    )
    dow = frozenset(d % 7 for d in dow)
    dom_any, dow_any = fields[2] == "*", fields[4] == "*"
    fired: list[int] = []
    day = datetime.date(REFERENCE_YEAR, 1, 1)
    for index in range(365):
        date = day + datetime.timedelta(days=index)
        cron_dow = (date.weekday() + 1) % 7  # cron counts from Sunday = 0
        in_dom, in_dow = date.day in dom, cron_dow in dow
        day_ok = (in_dom and in_dow) if dom_any or dow_any else (in_dom or in_dow)
        if date.month in month and day_ok:
            fired.extend(index * 1440 + h * 60 + m for h in sorted(hour) for m in sorted(minute))
    return fired


def _on_minutes(events: list[tuple[int, bool]]) -> int:
    """Minutes on in the year from (minute, turns on) events; the year wraps (its start is in the state of
    the last event), and a start and stop at the same minute leave it as the stop does."""
    if not events:
        return 0
    events = sorted(events, key=lambda e: (e[0], e[1]))  # at a tie, stop (False) first, then start
    on = events[-1][1]
    total, since = 0, 0
    for minute, turns_on in events:
        if on:
            total += minute - since
        on, since = turns_on, minute
    if on:
        total += _MINUTES_PER_YEAR - since
    return total


def cron_hours_per_month(start: str, stop: str) -> float:
    """Average hours a month a start/stop pair of crons leaves running, over REFERENCE_YEAR.

    Counted in the crons' own wall-clock time: the time zone moves when, not how long (a daylight-saving
    change adds or removes one hour twice a year, left out). Crons that never fire: 730 (always on) when
    nothing ever stops it, 0 when nothing ever starts it."""
    for expression in (start, stop):
        problem = cron_problem(expression)
        if problem is not None:
            raise ValueError(f"{expression!r}: {problem}")
    starts, stops = _cron_minutes(start), _cron_minutes(stop)
    if not stops:
        return 365 * 24 / 12
    events = [(m, True) for m in starts] + [(m, False) for m in stops]
    return _on_minutes(events) / 60 / 12


def weekly_hours_per_month(days: Sequence[str], start: str, stop: str) -> float:
    """Average hours a month of a schedule on from `start` to `stop` (HH:MM) on each of `days`, over
    REFERENCE_YEAR (Azure autoscale's recurrence profile: one window a listed day; a stop earlier than the
    start runs past midnight into the next day)."""
    import datetime

    def minutes(clock: str) -> int:
        hours, mins = clock.split(":")
        return int(hours) * 60 + int(mins)

    unknown = [d for d in days if d not in _WEEKDAYS]
    if unknown:
        raise ValueError(f"day {unknown[0]!r}: one of {', '.join(_WEEKDAYS)}")
    window = (minutes(stop) - minutes(start)) % 1440
    first = datetime.date(REFERENCE_YEAR, 1, 1)
    listed = sum(1 for i in range(365) if _WEEKDAYS[(first + datetime.timedelta(days=i)).weekday()] in days)
    return listed * window / 60 / 12
