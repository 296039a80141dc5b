"""Languages of the web UI and the API's messages: Simplified Chinese by default, English by choice.

Flask-Babel does the formatting and the lookups. The catalogue is kept as ``.po`` files only, one per
area (``server/translations/<lang>/<area>.po``), merged in memory when first needed: nothing to compile,
nothing that can drift from its source, and each domain of the product owns its own file.

Strings are written in English in the code and marked: ``_()`` in views and templates, ``N_()`` where
a string is defined before anyone reads it (tables of names, the domain services' error messages,
which the MQTT consumer uses without a request), translated when shown.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, dates, numbers
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Flask, g, request, session
from flask_babel import (
    Babel,
    Domain,
    format_currency,
    format_date,
    format_datetime,
    format_decimal,
    get_locale,
    get_timezone,
)

from server.datepatterns import compile_pattern

TRANSLATIONS = Path(__file__).parent / "translations"
LANGUAGES = {"zh": "zh_Hans_CN", "en": "en"}  # language code -> Babel locale used for formatting
DEFAULT_LANGUAGE = "zh"
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


def N_(message: str) -> str:
    """Mark a string for the catalogue without translating it now (it is translated where it is shown)."""
    return message


@cache
def catalogue(language: str) -> NullTranslations:
    """All ``.po`` files of one language merged into one translations object (read once per process)."""
    merged = Catalog(locale=language)
    for path in sorted((TRANSLATIONS / language).glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale=language):
                if message.id and message.string and not message.fuzzy:
                    merged[message.id] = message
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return Translations(buffer)


_NO_TRANSLATION = NullTranslations()


def _babel_context() -> Any:
    """Flask-Babel's per-request namespace (where it keeps the chosen locale and time zone), or None.
    One lookup through ``g``: Flask-Babel's own accessors take three, and each costs about a µs."""
    try:
        return g._flask_babel
    except (AttributeError, RuntimeError):  # not made yet in this request, or no request at all
        return None


def current_locale() -> Locale | None:
    """This request's locale (Flask-Babel's choice, made once a request); None outside a request."""
    ctx = _babel_context()
    locale = getattr(ctx, "babel_locale", None)
    return locale if locale is not None else get_locale()


def translations() -> NullTranslations:
    """This request's catalogue. Flask-Babel's ``get_domain().get_translations()`` costs about 5 µs a
    string; a page looks up a hundred. Same answer: it follows the same locale (``refresh`` and
    ``force_locale`` included)."""
    locale = current_locale()
    if locale is None or locale.language not in LANGUAGES:
        return _NO_TRANSLATION
    return catalogue(locale.language)


def gettext(string: str, **variables: Any) -> str:
    """Flask-Babel's ``gettext`` (translate, then fill in ``%(name)s``), through the quick lookup."""
    text: str = translations().ugettext(string)
    return text % variables if variables else text


class PoDomain(Domain):
    """Flask-Babel's domain, fed from the merged ``.po`` files instead of compiled ``.mo`` files."""

    def get_translations(self) -> NullTranslations:
        return translations()

    def gettext(self, string: str, **variables: Any) -> str:
        return gettext(string, **variables)


class PoBabel(Babel):
    """Flask-Babel whose default domain reads the .po files (every lookup, even in an early refusal)."""

    @property
    def domain_instance(self) -> Domain:
        return _PO_DOMAIN


_PO_DOMAIN = PoDomain()


def current_language() -> str:
    """The language of this request ("zh" or "en"): that of the locale chosen by ``select_locale``."""
    locale = current_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT_LANGUAGE


def chosen_language() -> str:
    """The user's setting, then the session's choice, then Accept-Language."""
    chosen = getattr(g, "user_language", None) or session.get("language")
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT_LANGUAGE) or DEFAULT_LANGUAGE


def select_locale() -> str:
    return LANGUAGES[chosen_language()]


# --- formatting for templates: dates, times and money in the reader's locale ---
# The same text as Flask-Babel's format_date(v, "long"), format_datetime(v, "short") and
# format_currency(v, "CNY", "¤#,##0.00") (tests/test_web_foundation.py compares them on many values),
# with the locale's patterns parsed once: Flask-Babel looks the locale and zone up again and Babel
# re-reads its tables on every call, 9 to 22 µs each, and a list page formats fifty values.

@dataclass(frozen=True)
class Style:
    locale: Locale
    date_long: Callable[[date], str]
    date_short: Callable[[date], str]
    time_short: Callable[[datetime], str]
    datetime_short: str  # "{1} {0}": where the date and the time go
    money_prefix: str  # the currency symbol
    group: str
    decimal: str


@cache
def style(locale: Locale) -> Style:
    def pattern(text: str) -> Callable[[Any], str]:
        return compile_pattern(dates.parse_pattern(text), locale)

    return Style(locale, pattern(locale.date_formats["long"]), pattern(locale.date_formats["short"]),
                 pattern(locale.time_formats["short"]), str(locale.datetime_formats["short"]).replace("'", ""),
                 numbers.get_currency_symbol("CNY", locale), numbers.get_group_symbol(locale),
                 numbers.get_decimal_symbol(locale))


def _zone() -> tzinfo:
    """The office's zone (Flask-Babel's, a pytz zone) as a ``zoneinfo`` zone: the same offsets (both
    from the tz database), and its conversion runs in C where pytz's ``fromutc`` bisects in Python."""
    ctx = _babel_context()
    zone = getattr(ctx, "babel_tzinfo", None)
    return _zoneinfo(zone if zone is not None else get_timezone())


@cache
def _zoneinfo(zone: tzinfo) -> tzinfo:
    name = getattr(zone, "zone", None) or getattr(zone, "key", None)
    try:
        return ZoneInfo(name) if name else zone
    except (ZoneInfoNotFoundError, ValueError):
        return zone


def _local(value: datetime, zone: tzinfo) -> datetime:
    """As Babel: a naive time is UTC; then in the office's zone (pytz zones normalized)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(zone)
    normalize = getattr(zone, "normalize", None)
    return normalize(value) if normalize is not None else value


def fmt_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    locale = current_locale()
    if locale is None:
        return str(format_date(value, "long"))
    if isinstance(value, datetime):  # a datetime is shown in the office's time zone first
        value = _local(value, _zone()).date()
    return style(locale).date_long(value)


def fmt_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    locale = current_locale()
    if locale is None:
        return str(format_datetime(value, "short"))
    shown, how = _local(value, _zone()), style(locale)
    return how.datetime_short.replace("{0}", how.time_short(shown)).replace("{1}", how.date_short(shown))


def fmt_money(value: Decimal | float | int | None) -> str:
    if value is None:
        return ""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    locale = current_locale()
    if locale is None or not number.is_finite():
        return str(format_currency(value, "CNY", format="¤#,##0.00", currency_digits=True))
    how = style(locale)
    text = f"{abs(number):,.2f}"  # rounded half to even, as Babel's quantize
    if how.group != "," or how.decimal != ".":
        text = text.replace(",", "\0").replace(".", how.decimal).replace("\0", how.group)
    return ("-" if number.is_signed() else "") + how.money_prefix + text


def fmt_number(value: Decimal | float | int | None) -> str:
    return "" if value is None else str(format_decimal(value))


def init_app(app: Flask, timezone: str) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = LANGUAGES[DEFAULT_LANGUAGE]
    app.config["BABEL_DEFAULT_TIMEZONE"] = timezone
    PoBabel(app, locale_selector=select_locale)
    # Templates' _() and gettext() through the quick lookup (Flask-Babel installed its own: same
    # result, newstyle as before: the translation is autoescaped markup filled in with %).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True)

    from server import names

    app.jinja_env.filters.update(
        date=fmt_date, datetime=fmt_datetime, money=fmt_money, number=fmt_number,
        status_name=names.status, method_name=names.method, event_name=names.event, role_name=names.role,
        approval_state=names.approval_state, approval_level=names.approval_level, decision_name=names.decision,
        kiosk_mode_name=names.kiosk_mode, reason_name=names.reason, kiosk_state_name=names.kiosk_state,
        token_state_name=names.token_state,
    )
    app.jinja_env.globals.update(LANGUAGE_NAMES=LANGUAGE_NAMES, current_language=current_language)


def locale_for(language: str) -> Locale:
    return Locale.parse(LANGUAGES.get(language, LANGUAGES[DEFAULT_LANGUAGE]))

