"""Templates compiled once per language, with their constant strings already translated.

A page calls ``_("...")`` fifty to a hundred times, and in a template each call costs about 7 µs
(Jinja's call protocol twice, the catalogue lookup, the markup wrapping): 0.5 ms of a page's CPU
for text that never changes within a language. So each language gets its own overlay of the
app's Jinja environment, and while a template is compiled there, a call with one string literal
and nothing else (``_('Status')``, ``gettext('Sign out')``) is replaced by its translation, marked
safe exactly as the newstyle ``gettext`` marks it at run time (the catalogue is ours and trusted).
Calls with variables (``_('By %(who)s', who=...)``) stay calls, and are translated when rendered.

The templates' sources do not change: Babel still extracts ``_()`` from them for the catalogue.
Outside a request (no language) the app's own environment renders, translating at run time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Flask
from flask.templating import Environment
from jinja2 import BytecodeCache, Template
from jinja2.bccache import Bucket
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream
from markupsafe import Markup

from server.i18n import LANGUAGES, catalogue, current_locale

GETTEXT_NAMES = ("_", "gettext")


class LanguageEnvironment(Environment):
    """The app's Jinja environment; ``get_template`` hands each request the overlay of its language."""

    language: str | None = None  # set on the overlays only

    def get_template(self, name: Any, parent: str | None = None, globals: Any = None) -> Template:
        overlay = self._for_request()
        if overlay is not None:
            return overlay.get_template(name, parent, globals)
        return super().get_template(name, parent, globals)

    def select_template(self, names: Any, parent: str | None = None, globals: Any = None) -> Template:
        overlay = self._for_request()
        if overlay is not None:
            return overlay.select_template(names, parent, globals)
        return super().select_template(names, parent, globals)

    def _for_request(self) -> LanguageEnvironment | None:
        if self.language is not None:  # an overlay: compile and cache here
            return None
        locale = current_locale()
        if locale is None or locale.language not in LANGUAGES:
            return None
        overlays: dict[str, LanguageEnvironment] = self.__dict__.setdefault("_language_overlays", {})
        overlay = overlays.get(locale.language)
        if overlay is None:
            # A cache of its own (the default copies the app's, whose templates were compiled untranslated).
            overlay = self.overlay(extensions=[ConstantTranslations], cache_size=400,  # type: ignore[assignment]
                                   bytecode_cache=CompiledTemplates(locale.language))
            overlay.language = locale.language
            overlay.__dict__.pop("_language_overlays", None)
            overlays[locale.language] = overlay
        return overlay


class ConstantTranslations(Extension):
    """Replaces ``_('literal')`` by ``('translation'|safe)`` while a language's overlay compiles a
    template; Jinja's optimizer then folds it into the template's text."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        language = getattr(self.environment, "language", None)
        autoescape = self.environment.autoescape
        if callable(autoescape):
            autoescape = autoescape(stream.name)
        if language is None or not autoescape:  # without autoescape gettext gives plain text: leave it
            yield from stream
            return
        tokens = list(stream)
        table = catalogue(language)
        i = 0
        while i < len(tokens):
            constant = _constant_call(tokens, i)
            if constant is not None:
                text = _markup(table.ugettext(constant))
                if text is not None:
                    line = tokens[i].lineno
                    yield from (Token(line, "lparen", "("), Token(line, "string", text), Token(line, "pipe", "|"),
                                Token(line, "name", "safe"), Token(line, "rparen", ")"))
                    i += 4
                    continue
            yield tokens[i]
            i += 1


def _constant_call(tokens: list[Token], i: int) -> str | None:
    """The literal of ``_('literal')`` starting at token ``i`` (not ``x._(...)``), else None."""
    if tokens[i].type != "name" or tokens[i].value not in GETTEXT_NAMES or i + 3 >= len(tokens):
        return None
    if i > 0 and tokens[i - 1].type == "dot":
        return None
    call = tokens[i + 1:i + 4]
    if [t.type for t in call] != ["lparen", "string", "rparen"]:
        return None
    return str(call[1].value)


def _markup(translation: str) -> str | None:
    """What the newstyle ``gettext`` returns for a call without variables: ``Markup(t) % {}``."""
    try:
        return str(Markup(translation) % {})
    except (TypeError, ValueError, KeyError):
        return None  # left to run time, which would say the same


class CompiledTemplates(BytecodeCache):
    """Compiled templates shared by every app in the process, per language (None: untranslated).

    Compiling a template costs 10 to 60 ms; a gunicorn worker does it once per template, but the
    test suite builds an app per test and compiled the same pages again for each. The code depends
    only on the source (Jinja checks its checksum), the language and the environment's options,
    which are the same for every app of this process.
    """

    _code: dict[tuple[str | None, str], tuple[str, Any]] = {}

    def __init__(self, language: str | None) -> None:
        self.language = language

    def load_bytecode(self, bucket: Bucket) -> None:
        found = self._code.get((self.language, bucket.key))
        if found is not None and found[0] == bucket.checksum:
            bucket.code = found[1]

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[(self.language, bucket.key)] = (bucket.checksum, bucket.code)


def init_app(app: Flask) -> None:
    """Before anything touches ``app.jinja_env``: it is made from this class on first use."""
    app.jinja_environment = LanguageEnvironment  # type: ignore[assignment]
    app.jinja_options = {**app.jinja_options, "bytecode_cache": CompiledTemplates(None)}
