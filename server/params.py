"""Numbers, years and dates read from text a caller sent (query strings, path ids, report arguments).

One strict reading for all of them, so that nothing unbounded reaches the database or the
calendar: digits are ASCII only (``"²".isdigit()`` and ``int("١٢")`` both say yes to what is not
a number here), an integer is bounded before it is used (SQLite and PostgreSQL integers are 64-bit;
Python's are not), and years and dates stay within ``MIN_YEAR``..``MAX_YEAR``, far enough from the
ends of Python's calendar that a day added or a time zone applied cannot overflow it.
"""

from __future__ import annotations

import re
from datetime import date

from server.errors import Invalid
from server.i18n import N_

INT64_MAX = 2**63 - 1
MIN_YEAR, MAX_YEAR = 1900, 2200
_WHOLE = re.compile(r"-?[0-9]{1,19}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def whole_number(raw: str, name: str, low: int = 0, high: int = INT64_MAX) -> int:
    """``raw`` as an integer from ``low`` to ``high``, or Invalid naming the parameter."""
    text = raw.strip()
    if _WHOLE.fullmatch(text):
        number = int(text)
        if low <= number <= high:
            return number
    raise Invalid(N_("%(name)s must be a whole number from %(low)s to %(high)s"), code="bad_parameter",
                  name=name, low=low, high=high)


def year(raw: str, name: str = "year") -> int:
    return whole_number(raw, name, MIN_YEAR, MAX_YEAR)


def day(raw: str, name: str) -> date:
    """An ISO date (YYYY-MM-DD) within the years the ledger accepts."""
    text = raw.strip()
    try:
        parsed = date.fromisoformat(text) if _DAY.fullmatch(text) else None
    except ValueError:
        parsed = None
    if parsed is None or not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise Invalid(N_("%(name)s must be a date (YYYY-MM-DD) in the years %(low)s to %(high)s"), code="bad_parameter",
                      name=name, low=MIN_YEAR, high=MAX_YEAR)
    return parsed


def row_id(raw: str | int) -> int | None:
    """A database row id from a path, or None when it cannot be one (so the caller answers 404)."""
    if isinstance(raw, int):
        return raw if 1 <= raw <= INT64_MAX else None
    text = raw.strip()
    if not _WHOLE.fullmatch(text):
        return None
    number = int(text)
    return number if 1 <= number <= INT64_MAX else None
