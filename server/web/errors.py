"""Error pages in the product's layout and language; JSON errors for the API.

One handler for every HTTP error: paths under /api/ answer ``{"error": {"code", "message"}}``,
the rest a page. Werkzeug's own pages are never shown.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions

from server.i18n import N_

TITLES = {
    400: N_("The request was not understood"),
    401: N_("Please sign in"),
    403: N_("You may not do this"),
    404: N_("Not found"),
    405: N_("Not allowed here"),
    409: N_("Conflict"),
    413: N_("The upload is too large"),
    422: N_("The input was not accepted"),
    429: N_("Too many requests"),
    500: N_("Something went wrong on our side"),
}
GENERIC = N_("Error")
HINTS = {
    400: N_("Check the form and send it again. If it was open a long time, reload the page first."),
    403: N_("Your role does not allow this page or action. Ask an administrator if you need it."),
    404: N_("The page or item does not exist. Check the code or the link."),
    413: N_("The file is larger than the server accepts. Split it or ask an administrator."),
    500: N_("The error has been logged. Try again; if it happens again, tell an administrator."),
}


_EXCEPTIONS: dict[int, type[HTTPException]] = dict(default_exceptions)


def _is_api() -> bool:
    return request.path.startswith("/api/")


def page(status: int, detail: str | None = None) -> Any:
    title = gettext(TITLES.get(status, GENERIC))
    hint = gettext(HINTS[status]) if status in HINTS else ""
    return render_template("errors/error.html", status=status, title=title, hint=hint, detail=detail), status


def handle_http(exc: HTTPException) -> Any:
    status = exc.code or 500
    if _is_api():
        code = (exc.name or "error").lower().replace(" ", "_")
        return jsonify(error={"code": code, "message": exc.description or code}), status
    # Our own aborts may carry a translated description; Werkzeug's stock English ones are not shown.
    detail = exc.description if getattr(exc, "assetgate_detail", False) else None
    return page(status, detail)


def fail(status: int, message: str) -> NoReturn:
    """Abort with a page that says ``message`` (already translated) under the status's title."""
    exc = _EXCEPTIONS.get(status, InternalServerError)(description=message)
    exc.assetgate_detail = True  # type: ignore[attr-defined]
    raise exc


def register(app: Flask) -> None:
    # InternalServerError is an HTTPException: an unhandled error is logged by Flask, then lands here.
    app.register_error_handler(HTTPException, handle_http)
