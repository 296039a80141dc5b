"""What every request's input must be before any view sees it (issue 15): checked once, for every route.

- JSON is read by orjson (``StrictJSONProvider``): nesting deeper than 1024 levels, a lone surrogate
  escape (``"\\ud800"``), NaN and Infinity are malformed JSON, a 400 like any other. The standard
  library's reader recursed until a RecursionError (a 500) on JSON nested 5,000 deep.
- No NUL character in a query string, a path or a posted form field: a 400. PostgreSQL refuses NUL in
  text, so one used to reach the database and come back as a 500 (a sign-in name, a plan reference).
  JSON bodies are checked field by field by the API's body model (server/api/body.py), files by
  whoever reads them (plan import).
- A route's ``<int:...>`` takes at most 2**63 - 1 (the databases' integers): a longer number matches no
  route, a 404, instead of reaching ``session.get`` and overflowing there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter, Map

from server.params import INT64_MAX
from server.web.errors import fail


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, but read with orjson: bounded depth, strict about surrogates and NaN."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:  # a caller with its own hooks (Flask's session serializer): the standard reader
            return super().loads(s, **kwargs)
        return orjson.loads(s)


def _has_nul(values: Iterable[str]) -> bool:
    return any("\x00" in value for value in values)


def refuse_nul() -> None:
    """before_request: a NUL in the path, the query string or a form field is a 400."""
    fields = request.form.items(multi=True) if request.mimetype in _FORMS else ()
    if (_has_nul(str(v) for v in (request.view_args or {}).values())
            or _has_nul(k + v for k, v in request.args.items(multi=True))
            or _has_nul(k + v for k, v in fields)):
        fail(400, _("The request contains a NUL character, which no field accepts."))


_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class Int64Converter(IntegerConverter):
    """Werkzeug's ``int`` converter, bounded to what the databases store."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        bound = INT64_MAX if max is None or max > INT64_MAX else max
        super().__init__(map, fixed_digits, min, bound, signed)


def init_app(app: Flask) -> None:
    """Before any blueprint is registered: the converter is read when a route is added."""
    app.json = StrictJSONProvider(app)
    app.url_map.converters["int"] = Int64Converter
    app.before_request(refuse_nul)
