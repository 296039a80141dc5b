"""The kiosk's languages: stdlib gettext over the catalogues in ``kiosk/locale``.

Message ids are the English texts, so English needs no catalogue; Simplified Chinese, the
default, comes from ``locale/zh/LC_MESSAGES/kiosk.mo``, compiled from ``kiosk.po`` beside it
(``pybabel compile -d kiosk/locale -D kiosk``). Babel is used by the tests only: on the Pi
this module needs nothing but the standard library.

Code marks a text with ``_("...")`` (or ``ngettext``) where it has a translator at hand,
and with ``N_("...")`` in tables built at import time, translating when it shows them.
The words follow ../shared/GLOSSARY.md.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path
from typing import Literal, get_args

DOMAIN = "kiosk"
LOCALE_DIR = Path(__file__).with_name("locale")
Language = Literal["zh", "en"]  # the config's choices
LANGUAGES: tuple[str, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "zh"
# For <html lang>: what the browser uses to pick fonts and line breaking.
HTML_LANG = {"zh": "zh-CN", "en": "en"}


def N_(message: str) -> str:  # noqa: N802 - the name gettext tools look for
    """Mark a text for the catalogue without translating it yet."""
    return message


@cache
def translations(language: str = DEFAULT_LANGUAGE) -> gettext.NullTranslations:
    """The translator for a language of ``LANGUAGES``; a missing catalogue is an error, not English."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown kiosk language {language!r}; known: {', '.join(LANGUAGES)}")
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language])
