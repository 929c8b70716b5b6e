"""Scale-to-zero schedules: the one home of what a cron expression and a time zone may be.

The settings check a stack's `aws.gpu_vm.schedule` with these before anything registers, and the GPU VM
component checks its own args with the same functions, so both refuse exactly the same values. Pure: no
Pulumi, no cloud.
"""

from __future__ import annotations

import re
import zoneinfo

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
