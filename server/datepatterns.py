"""Babel's date and time patterns, applied without Babel's per-field dispatch.

``DateTimePattern.apply`` builds a ``DateTimeFormat`` for each value and looks every field up
through a chain of tests (3 µs a date, 7 µs a date and time; a history page shows dozens). The
patterns the pages use (``y/M/d``, ``HH:mm``, ``MMMM d, y``, ``h:mm a``...) need only numbers, month
names and AM/PM: ``compile_pattern`` turns such a pattern into one %-format and a getter per field,
and hands any pattern with another field to Babel. tests/test_web_speed.py checks both languages
against Babel on many values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from babel import Locale, dates

Value = date | datetime | time
_FIELD = re.compile(r"%\((\w+)\)s")


def compile_pattern(pattern: dates.DateTimePattern, locale: Locale) -> Callable[[Value], str]:
    """A function giving ``pattern.apply(value, locale)``'s text."""
    text = str(pattern.format)  # the pattern as a %-format (Babel annotates it wrongly)
    getters: dict[str, Callable[[Any], str]] = {}
    for name in _FIELD.findall(text):
        getter = _getter(name, locale)
        if getter is None:
            return lambda value: str(pattern.apply(value, locale))
        getters[name] = getter

    def apply(value: Value) -> str:
        return text % {name: get(value) for name, get in getters.items()}

    return apply


def _number(attribute: str, width: int, change: Callable[[int], int] = int) -> Callable[[Any], str]:
    return lambda value: f"{change(getattr(value, attribute)):0{width}d}"


def _getter(name: str, locale: Locale) -> Callable[[Any], str] | None:
    char, width = name[0], len(name)
    if char == "y":
        if width == 2:
            return lambda value: f"{value.year:02d}"[-2:]
        return _number("year", width)
    if char in "ML":
        if width <= 2:
            return _number("month", width)
        wide: Any = {3: "abbreviated", 4: "wide", 5: "narrow"}[width]
        months = dates.get_month_names(wide, "format" if char == "M" else "stand-alone", locale)
        return lambda value: str(months[value.month])
    if char == "a":
        names = {hour: dates.DateTimeFormat(time(hour), locale)[name] for hour in (0, 12)}
        return lambda value: str(names[12 if value.hour >= 12 else 0])
    changes: dict[str, tuple[str, Callable[[int], int]]] = {
        "d": ("day", int), "H": ("hour", int), "h": ("hour", lambda h: h % 12 or 12),
        "K": ("hour", lambda h: h % 12), "k": ("hour", lambda h: h or 24), "m": ("minute", int),
        "s": ("second", int)}
    if char in changes:
        attribute, change = changes[char]
        return _number(attribute, width, change)
    return None
