"""The day of the plan, for the rules whose facts carry dates (deprecations, end of support).

Rules call ``clock.today()`` at run time, never at import, so tests fix the date with
``monkeypatch.setattr(clock, "today", lambda: date(...))`` and don't depend on when they run.
"""

from __future__ import annotations

from datetime import date


def today() -> date:
    return date.today()
