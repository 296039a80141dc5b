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
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Flask, g, request, session
from flask_babel import Babel, Domain, format_currency, format_date, format_datetime, format_decimal, get_locale

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


class PoDomain(Domain):
    """Flask-Babel's domain, fed from the merged ``.po`` files instead of compiled ``.mo`` files."""

    def get_translations(self) -> NullTranslations:
        locale = get_locale()
        if locale is None or locale.language not in LANGUAGES:
            return NullTranslations()
        return catalogue(locale.language)


class PoBabel(Babel):
    """Flask-Babel whose default domain reads the .po files (every lookup, even in an early refusal)."""

    @property
    def domain_instance(self) -> Domain:
        return _PO_DOMAIN


_PO_DOMAIN = PoDomain()


def current_language() -> str:
    """The language of this request: the user's setting, then the session's choice, then Accept-Language."""
    chosen = getattr(g, "user_language", None) or session.get("language")
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT_LANGUAGE) or DEFAULT_LANGUAGE


def select_locale() -> str:
    return LANGUAGES[current_language()]


# --- formatting for templates: dates, times and money in the reader's locale ---

def fmt_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return str(format_date(value, "long"))  # a datetime is shown in the office's time zone first


def fmt_datetime(value: datetime | None) -> str:
    return "" if value is None else str(format_datetime(value, "short"))


def fmt_money(value: Decimal | float | int | None) -> str:
    return "" if value is None else str(format_currency(value, "CNY", format="¤#,##0.00", currency_digits=True))


def fmt_number(value: Decimal | float | int | None) -> str:
    return "" if value is None else str(format_decimal(value))


def init_app(app: Flask, timezone: str) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = LANGUAGES[DEFAULT_LANGUAGE]
    app.config["BABEL_DEFAULT_TIMEZONE"] = timezone
    PoBabel(app, locale_selector=select_locale)

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

